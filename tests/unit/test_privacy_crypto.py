import base64
import dataclasses
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.privacy.crypto import FieldCipher, parse_token
from lendcore.privacy.keys import InMemoryKeyProvider, PrivacyError

PHONE = "13812341234"
CONTEXT = "contact.phone:loan=123"

_provider = InMemoryKeyProvider()
_cipher = FieldCipher(_provider)


def _flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _decrypt_fails(token: str, context: str = CONTEXT) -> PrivacyError:
    with pytest.raises(PrivacyError) as caught:
        _cipher.decrypt(token, context=context)
    assert caught.value.code == ErrorCode.DECRYPTION_FAILED
    return caught.value


@given(plaintext=st.text(), context=st.text(min_size=1))
def test_any_unicode_text_round_trips(plaintext, context):
    assert (
        _cipher.decrypt(_cipher.encrypt(plaintext, context=context), context=context) == plaintext
    )


def test_the_same_plaintext_encrypts_differently_every_time():
    first, second = (_cipher.encrypt(PHONE, context=CONTEXT) for _ in range(2))
    assert first != second
    a, b = parse_token(first), parse_token(second)
    assert a.wrapped_key != b.wrapped_key and a.nonce != b.nonce and a.ciphertext != b.ciphertext


def test_a_token_is_versioned_ascii_naming_its_key_and_hiding_the_value():
    token = _cipher.encrypt(PHONE, context=CONTEXT)
    assert re.fullmatch(r"v1\.kek-1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+", token)
    assert PHONE not in token
    assert parse_token(token).encode() == token


def test_a_token_moved_to_another_field_or_record_does_not_decrypt():
    token = _cipher.encrypt(PHONE, context=CONTEXT)
    _decrypt_fails(token, context="contact.phone:loan=124")
    _decrypt_fails(token, context="borrower.id_number:loan=123")


@pytest.mark.parametrize("part", ["wrapped_key", "nonce", "ciphertext"])
def test_tampering_with_any_part_fails_with_decryption_failed(part):
    parsed = parse_token(_cipher.encrypt(PHONE, context=CONTEXT))
    tampered = dataclasses.replace(parsed, **{part: _flip(getattr(parsed, part))})
    error = _decrypt_fails(tampered.encode())
    assert PHONE not in str(error.to_dict())


def test_a_token_relabelled_with_another_key_id_fails():
    provider = InMemoryKeyProvider()
    cipher = FieldCipher(provider)
    token = cipher.encrypt(PHONE, context=CONTEXT)
    provider.rotate()
    relabelled = dataclasses.replace(parse_token(token), key_id="kek-2").encode()
    with pytest.raises(PrivacyError) as caught:
        cipher.decrypt(relabelled, context=CONTEXT)
    assert caught.value.details["reason"] == "wrapped_key"


def test_a_token_naming_an_unknown_key_fails_with_decryption_failed():
    relabelled = dataclasses.replace(
        parse_token(_cipher.encrypt(PHONE, context=CONTEXT)), key_id="kek-99"
    )
    assert _decrypt_fails(relabelled.encode()).details["reason"] == "unknown_key"


def test_a_token_from_another_key_provider_fails():
    foreign = FieldCipher(InMemoryKeyProvider()).encrypt(PHONE, context=CONTEXT)
    _decrypt_fails(foreign)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: "",
        lambda t: t + ".extra",
        lambda t: "v2" + t[2:],
        lambda t: t.rsplit(".", 1)[0] + ".!!!!",
        lambda t: t.rsplit(".", 1)[0] + ".A",  # not decodable: 6 bits
        lambda t: t[:-1] + ("B" if t[-1] == "A" else "A"),  # one character of the tag
    ],
)
def test_malformed_tokens_fail_with_decryption_failed(mangle):
    _decrypt_fails(mangle(_cipher.encrypt(PHONE, context=CONTEXT)))


def test_a_second_spelling_of_the_same_bytes_is_refused():
    # A 1-character value gives 17 ciphertext bytes: 23 base64 characters, the last carrying 2
    # spare bits. Setting one changes the text but not the bytes; a token has one spelling only.
    token = _cipher.encrypt("1", context=CONTEXT)
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    sloppy = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
    ciphertext, sloppy_ciphertext = token.rsplit(".", 1)[1], sloppy.rsplit(".", 1)[1]
    assert base64.urlsafe_b64decode(ciphertext + "=") == base64.urlsafe_b64decode(
        sloppy_ciphertext + "="
    )
    _decrypt_fails(sloppy)


def test_an_empty_context_is_refused():
    with pytest.raises(ValidationError) as caught:
        _cipher.encrypt(PHONE, context="")
    assert caught.value.code == ErrorCode.INVALID_ARGUMENT


def test_rewrap_moves_a_token_to_the_current_key_without_changing_the_ciphertext():
    provider = InMemoryKeyProvider()
    cipher = FieldCipher(provider)
    old = cipher.encrypt(PHONE, context=CONTEXT)
    provider.rotate()
    new = cipher.rewrap(old)
    assert parse_token(new).key_id == "kek-2"
    assert parse_token(new).ciphertext == parse_token(old).ciphertext
    assert cipher.decrypt(new, context=CONTEXT) == PHONE
    assert cipher.rewrap(new) == new
