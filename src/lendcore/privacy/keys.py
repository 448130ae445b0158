"""Key-encryption keys (KEKs) behind a port, so field encryption never holds a master key itself.

A :class:`KeyProvider` keeps KEKs by id and wraps or unwraps 256-bit data keys (DEKs) under them;
it also hands out the separate blind-index key. Three implementations:

- :class:`LocalKeyFileProvider` -- a JSON key file (mode 0600) for development, the embedded
  SQLite setup and small single-host installs;
- :class:`InMemoryKeyProvider` -- for tests;
- :class:`KmsKeyProvider` -- a stub marking where a production KMS/HSM plugs in.

A wrapped DEK is ``nonce (12 bytes) || AES-256-GCM(KEK, DEK)`` with the key id bound as associated
data, so relabelling a token with another key id fails instead of trying the wrong key silently.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError

KEY_BYTES = 32  # AES-256 and HMAC-SHA256 keys alike
NONCE_BYTES = 12  # the 96-bit nonce GCM is specified for
TAG_BYTES = 16
KEY_FILE_FORMAT = "lendcore-keys/1"
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # no "." so an id can sit inside a token
_WRAP_AAD = b"lendcore/dek/v1|"
_SEQUENTIAL_ID = re.compile(r"kek-(\d+)")


class PrivacyError(LendcoreError):
    """Key material or stored ciphertext is unusable.

    A user's input never causes this: it means a missing key, a broken key file or tampered data,
    so the API must treat it as a server fault to alert on, not as a 4xx.
    """


class KeyProvider(Protocol):
    """The port field encryption depends on; KEKs never leave the provider."""

    def current_key_id(self) -> str:
        """The KEK new data keys are wrapped under."""
        ...

    def wrap(self, key_id: str, data_key: bytes) -> bytes: ...

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        """The data key, or a :class:`PrivacyError` (KEY_NOT_FOUND, DECRYPTION_FAILED)."""
        ...

    def index_key(self) -> bytes:
        """The HMAC key for blind indexes; independent of the KEKs and never rotated with them."""
        ...


@dataclass(frozen=True)
class KeyRing:
    keks: dict[str, bytes]
    current: str
    index_key: bytes

    @classmethod
    def generate(cls) -> KeyRing:
        key_id = next_key_id(())
        return cls({key_id: _random_key()}, key_id, _random_key())

    def rotated(self) -> KeyRing:
        """A new current KEK; older ones stay so existing tokens still unwrap."""
        key_id = next_key_id(self.keks)
        return replace(self, keks={**self.keks, key_id: _random_key()}, current=key_id)

    def wrap(self, key_id: str, data_key: bytes) -> bytes:
        if len(data_key) != KEY_BYTES:
            raise ValidationError(
                ErrorCode.INVALID_ARGUMENT, f"a data key has {KEY_BYTES} bytes, not {len(data_key)}"
            )
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self._kek(key_id)).encrypt(nonce, data_key, _wrap_aad(key_id))

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        kek = self._kek(key_id)
        if len(wrapped) != NONCE_BYTES + KEY_BYTES + TAG_BYTES:
            raise _wrapped_key_failed(key_id)
        try:
            return AESGCM(kek).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(key_id)
            )
        except InvalidTag:
            raise _wrapped_key_failed(key_id) from None

    def _kek(self, key_id: str) -> bytes:
        try:
            return self.keks[key_id]
        except KeyError:
            raise PrivacyError(
                ErrorCode.KEY_NOT_FOUND, f"no key-encryption key {key_id!r}", {"key_id": key_id}
            ) from None


def next_key_id(existing: Iterable[str]) -> str:
    """``kek-<n>``: sequential ids read well in tokens and in an operator's rotation log."""
    numbers = [int(m.group(1)) for k in existing if (m := _SEQUENTIAL_ID.fullmatch(k))]
    return f"kek-{max(numbers, default=0) + 1}"


class _RingProvider:
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    def current_key_id(self) -> str:
        return self._ring.current

    def wrap(self, key_id: str, data_key: bytes) -> bytes:
        return self._ring.wrap(key_id, data_key)

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        return self._ring.unwrap(key_id, wrapped)

    def index_key(self) -> bytes:
        return self._ring.index_key

    def key_ids(self) -> list[str]:
        return sorted(self._ring.keks)


class InMemoryKeyProvider(_RingProvider):
    """Random keys that live as long as the object: for tests, never for data that must survive."""

    def __init__(self) -> None:
        super().__init__(KeyRing.generate())

    def rotate(self) -> str:
        self._ring = self._ring.rotated()
        return self._ring.current


class LocalKeyFileProvider(_RingProvider):
    """KEKs in a JSON file readable by its owner only.

    Fit for development and single-host installs; the file must live outside the database and its
    backups, or an attacker who gets a dump gets the keys with it. Production uses a KMS/HSM.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        super().__init__(_read_key_file(self.path))

    @classmethod
    def create(cls, path: Path | str, *, exist_ok: bool = False) -> LocalKeyFileProvider:
        """Write a new key file with one KEK and an index key, mode 0600.

        Never overwrites: replacing a key file would make every stored token unreadable, so an
        existing file is an error unless ``exist_ok``, which loads it instead.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if exist_ok:
                return cls(path)
            raise PrivacyError(
                ErrorCode.INVALID_KEY_FILE,
                f"{path.name} already exists; refusing to overwrite keys",
                {"file": str(path)},
            ) from None
        try:
            os.fchmod(fd, 0o600)  # the umask may only remove bits; make the mode exact
            with os.fdopen(fd, "wb") as out:
                out.write(_serialise(KeyRing.generate()))
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return cls(path)

    def rotate(self) -> str:
        """Add a new current KEK to the file and return its id.

        Re-reads the file under a lock first, so two operators rotating at once both land instead
        of one silently discarding the other's key (and every token encrypted under it).
        """
        with self._locked():
            ring = _read_key_file(self.path).rotated()
            _replace_file(self.path, _serialise(ring))
        self._ring = ring
        return ring.current

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        # Another process may have rotated since this one loaded the file: its tokens name a KEK
        # this process has not seen yet, so reload once before calling the key missing.
        if key_id not in self._ring.keks:
            self._ring = _read_key_file(self.path)
        return self._ring.unwrap(key_id, wrapped)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


class KmsKeyProvider:
    """Port stub -- the production integration point for a KMS or HSM, not an implementation.

    No adapter to any KMS is shipped. Selected with ``LENDCORE_KEY_PROVIDER=kms`` (and the key's
    URI in ``LENDCORE_KMS_KEY_URI``), every call fails closed: ``KEY_PROVIDER_NOT_CONFIGURED``
    without a key URI, ``KMS_UNAVAILABLE`` with one (nothing here can reach it). Nothing is ever
    encrypted or decrypted, so no plaintext is released; callers deny and audit.

    The intended shape: the KMS holds a master key that never leaves it; at start-up the provider
    asks it to decrypt a locally stored, KMS-wrapped KEK ring and index key, then wraps and unwraps
    per-field data keys in memory. One KMS round trip per field would be far too slow for batch
    work, and a ring lets KEKs rotate without the KMS.
    """

    def __init__(self, key_uri: str = "") -> None:
        self.key_uri = key_uri

    def current_key_id(self) -> str:
        raise self._unavailable()

    def wrap(self, key_id: str, data_key: bytes) -> bytes:
        raise self._unavailable()

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        raise self._unavailable()

    def index_key(self) -> bytes:
        raise self._unavailable()

    def _unavailable(self) -> PrivacyError:
        if not self.key_uri:
            return PrivacyError(
                ErrorCode.KEY_PROVIDER_NOT_CONFIGURED,
                "KMS key provider selected without a key: set LENDCORE_KMS_KEY_URI "
                "/ 已选择KMS但未配置密钥",
                {"provider": "kms"},
            )
        return PrivacyError(
            ErrorCode.KMS_UNAVAILABLE,
            f"cannot reach the KMS for {self.key_uri}: no KMS/HSM adapter is shipped (a port "
            "only); use LENDCORE_KEY_PROVIDER=local / 无法连接KMS（未提供适配器）",
            {"provider": "kms", "key_uri": self.key_uri},
        )


def _random_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def _wrap_aad(key_id: str) -> bytes:
    return _WRAP_AAD + key_id.encode("ascii")


def _wrapped_key_failed(key_id: str) -> PrivacyError:
    return PrivacyError(
        ErrorCode.DECRYPTION_FAILED,
        f"wrapped data key failed authentication under {key_id!r}",
        {"key_id": key_id, "reason": "wrapped_key"},
    )


def _serialise(ring: KeyRing) -> bytes:
    document = {
        "format": KEY_FILE_FORMAT,
        "current_key_id": ring.current,
        "keks": {key_id: _b64(key) for key_id, key in sorted(ring.keks.items())},
        "index_key": _b64(ring.index_key),
    }
    return (json.dumps(document, indent=2) + "\n").encode("ascii")


def _read_key_file(path: Path) -> KeyRing:
    try:
        mode = path.stat().st_mode & 0o777
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _bad_file(
            path, "does not exist (create it with LocalKeyFileProvider.create)"
        ) from None
    # Like ssh with a private key: a key file others can read is already a leak, so refuse it.
    if mode & 0o077:
        raise _bad_file(path, f"is accessible to other users (mode {mode:o}); chmod 600 it")
    try:
        document = json.loads(raw)
        if document.get("format") != KEY_FILE_FORMAT:
            raise _bad_file(path, f"is not a {KEY_FILE_FORMAT} key file")
        keks = {str(k): _key_from_b64(v) for k, v in dict(document["keks"]).items()}
        ring = KeyRing(keks, str(document["current_key_id"]), _key_from_b64(document["index_key"]))
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise _bad_file(path, "is not valid JSON with base64 256-bit keys") from None
    bad_ids = [k for k in ring.keks if not KEY_ID_PATTERN.fullmatch(k)]
    if bad_ids or ring.current not in ring.keks:
        raise _bad_file(path, "has a malformed key id or a current key id it does not hold")
    return ring


def _replace_file(path: Path, content: bytes) -> None:
    # Write-then-rename: a crash mid-write must never leave a half key file behind.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def _key_from_b64(text: Any) -> bytes:
    key = base64.b64decode(str(text), validate=True)
    if len(key) != KEY_BYTES:
        raise ValueError("key length")
    return key


def _bad_file(path: Path, problem: str) -> PrivacyError:
    return PrivacyError(
        ErrorCode.INVALID_KEY_FILE, f"key file {path.name} {problem}", {"file": str(path)}
    )
