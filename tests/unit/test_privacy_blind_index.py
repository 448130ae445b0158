import pytest

from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.privacy.crypto import IndexKind, blind_index
from lendcore.privacy.keys import InMemoryKeyProvider

KEY = InMemoryKeyProvider().index_key()


@pytest.mark.parametrize(
    "spelling",
    [
        "13812341234",
        "138-1234-1234",
        "+86 138 1234 1234",
        "0086 13812341234",
        "１３８１２３４１２３４",
    ],
)
def test_every_spelling_of_a_phone_has_the_same_index(spelling):
    assert blind_index(spelling, KEY, kind=IndexKind.PHONE) == blind_index(
        "13812341234", KEY, kind=IndexKind.PHONE
    )


def test_an_id_number_check_character_matches_in_either_case():
    upper = blind_index("11010119900307123X", KEY, kind=IndexKind.ID_NUMBER)
    assert blind_index("11010119900307123x", KEY, kind=IndexKind.ID_NUMBER) == upper


def test_different_phones_have_different_indexes():
    assert blind_index("13812341234", KEY, kind=IndexKind.PHONE) != blind_index(
        "13812341235", KEY, kind=IndexKind.PHONE
    )


def test_the_index_is_a_keyed_hmac_that_does_not_reveal_the_value():
    index = blind_index("13812341234", KEY, kind=IndexKind.PHONE)
    assert len(index) == 64 and "1234" not in index
    other_key = InMemoryKeyProvider().index_key()
    assert blind_index("13812341234", other_key, kind=IndexKind.PHONE) != index


def test_the_same_digits_in_different_kinds_never_collide():
    digits = "6222021234567890"
    assert blind_index(digits, KEY, kind=IndexKind.PHONE) != blind_index(
        digits, KEY, kind=IndexKind.BANK_CARD
    )


@pytest.mark.parametrize("empty", ["", "   ", "---"])
def test_an_empty_value_is_not_indexed_so_missing_fields_never_link_borrowers(empty):
    with pytest.raises(ValidationError) as caught:
        blind_index(empty, KEY, kind=IndexKind.PHONE)
    assert caught.value.code == ErrorCode.INVALID_ARGUMENT


def test_a_short_index_key_is_refused():
    with pytest.raises(ValidationError):
        blind_index("13812341234", b"short", kind=IndexKind.PHONE)
