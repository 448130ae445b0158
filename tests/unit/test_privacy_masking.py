import pytest
from hypothesis import given
from hypothesis import strategies as st

from lendcore.privacy.masking import mask_bank_card, mask_id_number, mask_name, mask_phone


@pytest.mark.parametrize(
    ("mask", "value", "masked"),
    [
        (mask_phone, "13812341234", "138****1234"),
        (mask_id_number, "110101199003071234", "110101********1234"),
        (mask_id_number, "11010119900307123X", "110101********123X"),
        (mask_id_number, "110101900307123", "110101*****7123"),  # the old 15-digit form
        (mask_bank_card, "6222021234567890123", "***************0123"),
        (mask_name, "张三", "张*"),
        (mask_name, "欧阳娜娜", "欧***"),
        (mask_name, "Alice Smith", "A**** S****"),
        (mask_name, "J  Smith", "*  S****"),
    ],
)
def test_masking_examples(mask, value, masked):
    assert mask(value) == masked


@pytest.mark.parametrize(
    ("mask", "value"),
    [
        (mask_phone, "1381234123"),
        (mask_id_number, "1101011990123"),
        (mask_bank_card, "1234567"),
        (mask_name, "张"),
        (mask_phone, ""),
    ],
)
def test_a_value_too_short_to_hide_enough_is_masked_completely(mask, value):
    assert mask(value) == "*" * len(value)


# (mask, characters kept at the start, at the end): the most any value may show.
RULES = [(mask_phone, 3, 4), (mask_id_number, 6, 4), (mask_bank_card, 0, 4)]


@pytest.mark.parametrize(("mask", "head", "tail"), RULES)
@given(value=st.text())
def test_a_number_mask_shows_only_its_ends_and_hides_at_least_four(mask, head, tail, value):
    masked = mask(value)
    assert len(masked) == len(value)
    shown = [i for i, ch in enumerate(masked) if ch != "*"]
    allowed = set(range(head)) | set(range(len(value) - tail, len(value)))
    assert all(i in allowed and masked[i] == value[i] for i in shown)
    if shown:
        assert masked.count("*") >= 4


@given(value=st.text())
def test_a_name_mask_shows_at_most_the_first_character_of_each_word(value):
    masked = mask_name(value)
    assert len(masked) == len(value)
    for i, ch in enumerate(masked):
        if ch == "*":
            continue
        assert ch == value[i]
        if not ch.isspace():
            starts_word = i == 0 or value[i - 1].isspace()
            ends_word = i + 1 == len(value) or value[i + 1].isspace()
            assert starts_word and not ends_word
