"""Masked forms of personal data for logs, screens and exports (``138****1234``).

Rules, all total functions (any string in, no exception out):

- every character is either kept in place or replaced by ``*``, so the output has the input's
  length and lines up in tables;
- a number is only partly shown when at least :data:`MIN_HIDDEN` characters stay hidden; anything
  shorter (a typo, a truncated value, garbage) is masked completely, because showing 7 of 8
  characters is not masking (a name word needs one hidden character: its initial alone is not
  identifying);
- nothing is normalised first: a mask shows what was stored, and reformatting would need parsing
  that garbage input can break.
"""

from __future__ import annotations

import re

MASK = "*"
MIN_HIDDEN = 4
_WHITESPACE = re.compile(r"(\s+)")


def mask_phone(value: str) -> str:
    """First 3 and last 4: ``13812341234`` -> ``138****1234`` (carrier prefix and the digits people
    recognise their own number by)."""
    return _keep_ends(value, head=3, tail=4)


def mask_id_number(value: str) -> str:
    """First 6 (region code) and last 4: ``110101199003071234`` -> ``110101********1234``.

    The birth date in the middle is what identity thieves want, so it is what goes.
    """
    return _keep_ends(value, head=6, tail=4)


def mask_bank_card(value: str) -> str:
    """Last 4 only: ``6222021234567890123`` -> ``***************0123``."""
    return _keep_ends(value, head=0, tail=4)


def mask_name(value: str) -> str:
    """First character of each whitespace-separated word: ``张三`` -> ``张*``,
    ``欧阳娜娜`` -> ``欧***``, ``Alice Smith`` -> ``A**** S****``.

    A Chinese name has no spaces, so it keeps its surname's first character only. A word of one
    character is masked too (``J Smith`` -> ``* S****``): keeping it would show it whole.
    Whitespace is kept so a masked English name still reads as a name.
    """
    return "".join(
        part if part.isspace() else _keep_ends(part, head=1, tail=0, min_hidden=1)
        for part in _WHITESPACE.split(value)
    )


def _keep_ends(value: str, *, head: int, tail: int, min_hidden: int = MIN_HIDDEN) -> str:
    hidden = len(value) - head - tail
    if hidden < min_hidden:
        return MASK * len(value)
    return value[:head] + MASK * hidden + value[len(value) - tail :]
