"""Numbers as Chinese announcements write them: 三十六, 一百八十, 两, 百分之三十, 十二点五, and
full-width digits (３６). Exact: results are ``Decimal``."""

from __future__ import annotations

from decimal import Decimal

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
          "七": 7, "八": 8, "九": 9}  # fmt: skip
UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000}
NUMERAL_CHARS = "".join(DIGITS) + "".join(UNITS) + "点"
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．％，", "0123456789.%,")


def to_half_width(text: str) -> str:
    return text.translate(_FULL_WIDTH)


def _integer(text: str) -> int:
    """一百八十 -> 180, 三十六 -> 36, 十五 -> 15, 二〇二五 -> 2025 (digit by digit)."""
    if not text:
        raise ValueError("empty numeral")
    if all(ch in DIGITS for ch in text):  # digit by digit: 二〇二五, 三六
        value = 0
        for ch in text:
            value = value * 10 + DIGITS[ch]
        return value
    total = section = 0
    digit: int | None = None
    for ch in text:
        if ch in DIGITS:
            digit = DIGITS[ch]
        elif ch in UNITS:
            unit = UNITS[ch]
            if unit == 10_000:
                total += (section + (digit or 0)) * unit
                section, digit = 0, None
            else:
                section += (1 if digit is None else digit) * unit  # 十五: the 1 is implied
                digit = None
        else:
            raise ValueError(f"not a Chinese numeral: {text!r}")
    return total + section + (digit or 0)


def parse_number(text: str) -> Decimal:
    """Arabic or Chinese numerals, with a decimal point (点 or .): '36', '三十六', '十二点五'."""
    text = to_half_width(text.strip()).replace(",", "")
    if not text:
        raise ValueError("empty number")
    try:
        number = Decimal(text)
    except ArithmeticError:
        pass
    else:
        if not number.is_finite():
            raise ValueError(f"not a number: {text!r}")
        return number
    whole, _, fraction = text.partition("点")
    value = Decimal(_integer(whole)) if whole else Decimal(0)
    if fraction:
        if not all(ch in DIGITS for ch in fraction):
            raise ValueError(f"not a Chinese numeral: {text!r}")
        value += Decimal("0." + "".join(str(DIGITS[ch]) for ch in fraction))
    return value


def parse_percent(text: str) -> Decimal:
    """A percentage as a ratio: '30%', '百分之三十', '三成' -> Decimal('0.3')."""
    text = to_half_width(text.strip())
    if text.startswith("百分之"):
        return parse_number(text[3:]) / 100
    if text.endswith("%"):
        return parse_number(text[:-1]) / 100
    if text.endswith("成"):
        return parse_number(text[:-1]) / 10
    raise ValueError(f"not a percentage: {text!r}")
