"""Field encryption (envelope AES-256-GCM) and blind indexes.

Every :meth:`FieldCipher.encrypt` draws a fresh 256-bit data key (DEK) and a 96-bit nonce,
encrypts with AES-256-GCM binding ``context`` as associated data, and wraps the DEK under the
provider's current key-encryption key (KEK). The result is one ASCII token::

    v1.<kek_id>.<wrapped_dek>.<nonce>.<ciphertext>

with the last three parts base64url without padding (the ciphertext ends with the 16-byte GCM
tag). A DEK per value rather than per record: each token stands alone (a field can be rewritten,
re-wrapped or copied to an archive without its row mates), and a key that encrypts exactly once
can never repeat a nonce. The price, one more local AES-GCM call per field, is microseconds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.privacy.keys import (
    KEY_BYTES,
    KEY_ID_PATTERN,
    NONCE_BYTES,
    TAG_BYTES,
    KeyProvider,
    PrivacyError,
)

TOKEN_VERSION = "v1"
_FIELD_AAD = b"lendcore/field/v1|"
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class FieldToken:
    """A parsed token; :meth:`encode` gives back the exact text :func:`parse_token` read."""

    key_id: str
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes
    version: str = TOKEN_VERSION

    def encode(self) -> str:
        parts = (self.wrapped_key, self.nonce, self.ciphertext)
        return ".".join((self.version, self.key_id, *(_b64(part) for part in parts)))


def parse_token(token: str) -> FieldToken:
    parts = token.split(".")
    if len(parts) != 5:
        raise _failed("malformed", "not a field token")
    version, key_id, wrapped_key, nonce, ciphertext = parts
    if version != TOKEN_VERSION:
        raise _failed("unsupported_version", f"unsupported token version {version[:8]!r}")
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise _failed("malformed", "malformed key id")
    parsed = FieldToken(key_id, _unb64(wrapped_key), _unb64(nonce), _unb64(ciphertext))
    if len(parsed.nonce) != NONCE_BYTES or len(parsed.ciphertext) < TAG_BYTES:
        raise _failed("malformed", "nonce or ciphertext has the wrong length", key_id)
    return parsed


class FieldCipher:
    """Encrypts one personal-data field value to a token and back.

    ``context`` names the field and the record it belongs to (``"contact.phone:loan=123"``). It is
    authenticated, not stored: a token copied into another field or record fails to decrypt
    there, so a leaked token cannot be replayed as someone else's data.
    """

    def __init__(self, provider: KeyProvider) -> None:
        self._provider = provider

    def encrypt(self, plaintext: str, *, context: str) -> str:
        associated = _associated_data(context)
        data = _utf8(plaintext, "plaintext")
        data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(nonce, data, associated)
        key_id = self._provider.current_key_id()
        wrapped = self._provider.wrap(key_id, data_key)
        return FieldToken(key_id, wrapped, nonce, ciphertext).encode()

    def decrypt(self, token: str, *, context: str) -> str:
        """The plaintext, or a DECRYPTION_FAILED :class:`PrivacyError`; never wrong plaintext."""
        associated = _associated_data(context)
        parsed = parse_token(token)
        data_key = self._unwrap(parsed)
        try:
            data = AESGCM(data_key).decrypt(parsed.nonce, parsed.ciphertext, associated)
        except InvalidTag:
            raise _failed(
                "authentication_failed",
                "ciphertext failed authentication: wrong context or a tampered token",
                parsed.key_id,
            ) from None
        return data.decode("utf-8")

    def rewrap(self, token: str) -> str:
        """The same ciphertext with its data key re-wrapped under the current KEK.

        How an old KEK is retired after a rotation: rewrap every token, then drop the key.
        Needs no context and never sees the plaintext.
        """
        parsed = parse_token(token)
        key_id = self._provider.current_key_id()
        if parsed.key_id == key_id:
            return token
        wrapped = self._provider.wrap(key_id, self._unwrap(parsed))
        return FieldToken(key_id, wrapped, parsed.nonce, parsed.ciphertext).encode()

    def _unwrap(self, parsed: FieldToken) -> bytes:
        try:
            data_key = self._provider.unwrap(parsed.key_id, parsed.wrapped_key)
        except PrivacyError as exc:
            if exc.code != ErrorCode.KEY_NOT_FOUND:
                raise
            # A token naming a KEK nobody holds is as unreadable as a tampered one; one code for
            # callers, the reason for operators.
            raise _failed("unknown_key", exc.message, parsed.key_id) from None
        if len(data_key) != KEY_BYTES:
            raise _failed("wrapped_key", "unwrapped data key has the wrong length", parsed.key_id)
        return data_key


class IndexKind(StrEnum):
    PHONE = "phone"
    ID_NUMBER = "id_number"
    BANK_CARD = "bank_card"
    NAME = "name"


def normalise(value: str, kind: IndexKind) -> str:
    """The form two spellings of the same phone, ID, card or name share."""
    text = unicodedata.normalize("NFKC", value)  # full-width digits are digits
    if kind is IndexKind.PHONE:
        digits = "".join(ch for ch in text if ch.isdecimal())
        # +86 / 0086 in front of an 11-digit mobile is the same number.
        for prefix in ("0086", "86"):
            if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
                return digits[len(prefix) :]
        return digits
    if kind is IndexKind.BANK_CARD:
        return "".join(ch for ch in text if ch.isdecimal())
    if kind is IndexKind.ID_NUMBER:
        return "".join(text.split()).upper()  # the check character is X or x
    return " ".join(text.casefold().split())


def blind_index(value: str, key: bytes, *, kind: IndexKind) -> str:
    """HMAC-SHA256 (hex) of the normalised value, keyed by the provider's index key.

    Equal values give equal indexes, so the fraud graph and look-ups can match phones without
    decrypting anything; without the key the index reveals nothing. The kind is part of the MAC
    input, so a phone and a card with the same digits never collide. An empty value is refused:
    indexing "" would link every borrower with a missing field.
    """
    if len(key) < KEY_BYTES:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "a blind-index key has 32 bytes or more")
    normal = normalise(value, kind)
    if not normal:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"nothing to index in this {kind}")
    message = str(kind).encode("ascii") + b"\x00" + _utf8(normal, "value")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _associated_data(context: str) -> bytes:
    if not context:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, "an encryption context (field and record) is required"
        )
    return _FIELD_AAD + _utf8(context, "context")


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"{what} is not valid unicode") from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise _failed("malformed", "token part is not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _failed("malformed", "token part is not base64url") from None
    # Only the canonical spelling is accepted, so a token has exactly one text form.
    if _b64(data) != text:
        raise _failed("malformed", "token part is not canonical base64url")
    return data


def _failed(reason: str, message: str, key_id: str | None = None) -> PrivacyError:
    details: dict[str, str] = {"reason": reason}
    if key_id is not None:
        details["key_id"] = key_id
    return PrivacyError(ErrorCode.DECRYPTION_FAILED, f"cannot decrypt: {message}", details)
