"""The statutory limits per jurisdiction, fixed in code, outside the pack legal staff edit.

A rule pack is data its owners change without a deploy; the law is not. If the bound lived in
the same file (as ``legal_bound``/``legal_max`` fields once did) whoever edits the threshold
could delete the bound with it. So every pack is checked against its jurisdiction's row here,
whatever the file says: a pack may be stricter than the law, never laxer; a limit the law
imposes may not be left out; a pack for a jurisdiction with no row is refused (nobody has
written down its law yet, so nothing proves the pack lawful). Changing this table is a code
change, reviewed and deployed like one.

Sources are those of ``REGULATIONS.md`` ([P] primary text read, [S] secondary source, [R] a
project requirement the lender adopted as binding, not statute). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from lendcore.collections.model import Channel, Party
from lendcore.collections.pack import Cap, RulePack, kind_mask, window_minutes

_CALL, _SMS = Channel.CALL, Channel.SMS
_BORROWER, _CONTACT = Party.BORROWER, Party.CONTACT


@dataclass(frozen=True)
class QuietBound:
    """No contact from ``start`` to ``end`` local time: the pack's quiet hours must cover it."""

    start: time
    end: time
    channels: tuple[Channel, ...]
    source: str


@dataclass(frozen=True)
class CapBound:
    """The pack's section ``rule`` must exist, count at least these kinds, and stay within
    ``max`` (and, for windowed caps, use a window of at least ``min_days``)."""

    rule: str
    max: int
    channels: tuple[Channel, ...]
    parties: tuple[Party, ...]
    source: str
    min_days: int | None = None


@dataclass(frozen=True)
class MinimumBound:
    """The pack's ``rule.field`` must exist and be at least ``minimum`` (an interval, a pause,
    a days-past-due threshold, failed calls before the borrower counts as unreachable)."""

    rule: str
    field: str
    minimum: int
    source: str
    channels: tuple[Channel, ...] = ()  # the kinds it must apply to (interval, pause)
    parties: tuple[Party, ...] = ()


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    quiet: QuietBound
    caps: tuple[CapBound, ...]
    minimums: tuple[MinimumBound, ...]


_NOT_OVERDUE = (
    "[R] issue 5: calling about, or a contact of, a loan that is not overdue is impossible in code"
)

BOUNDS: dict[str, Jurisdiction] = {
    "CN": Jurisdiction(
        code="CN",
        quiet=QuietBound(
            time(22),
            time(8),
            (_CALL, _SMS),
            "[S] NIFA 互联网金融贷后催收业务指引 (2024); GB/T 45251-2025; 中国银行业协会 "
            "金融机构个人消费类贷款催收工作指引(试行) (2026-01-30): none 22:00-08:00",
        ),
        caps=(
            CapBound(
                "debtor_daily_conversations",
                3,
                (_CALL,),
                (_BORROWER, _CONTACT),
                "[S] NIFA 2024 guideline; GB/T 45251-2025: <= 3 effective conversations a day",
            ),
            CapBound(
                "number_daily_unanswered",
                6,
                (_CALL,),
                (_BORROWER, _CONTACT),
                "[S] 中国银行业协会 催收工作指引(试行) (2026-01-30): <= 6 unanswered dials a day",
            ),
        ),
        minimums=(
            MinimumBound("overdue", "min_days_past_due", 1, _NOT_OVERDUE),
            MinimumBound("contacts", "min_days_past_due", 1, _NOT_OVERDUE),
            MinimumBound(
                "contacts.borrower_unreachable",
                "consecutive_unanswered",
                3,
                "[S] GB/T 45251-2025; CBA 2026: contacts only when the debtor is unreachable "
                "(number invalid, or 3 consecutive failed attempts)",
            ),
            MinimumBound(
                "contact_interval",
                "hours",
                48,
                "[R] project requirement (document 000): the same contact person <= 1 call "
                "per 48 hours",
                channels=(_CALL,),
            ),
        ),
    ),
    "US": Jurisdiction(
        code="US",
        quiet=QuietBound(
            time(21),
            time(8),
            (_CALL, _SMS),
            "[P] 12 CFR 1006.6(b)(1)(i): before 8 a.m. or after 9 p.m. is inconvenient",
        ),
        caps=(
            CapBound(
                "weekly_cap",
                7,
                (_CALL,),
                (_BORROWER,),
                "[P] 12 CFR 1006.14(b)(2)(i): more than 7 calls in 7 consecutive days",
                min_days=7,
            ),
            CapBound(
                "contact_lifetime_cap",
                1,
                (_CALL, _SMS),
                (_CONTACT,),
                "[P] 12 CFR 1006.10(c): a third party not more than once",
            ),
        ),
        minimums=(
            MinimumBound("overdue", "min_days_past_due", 1, _NOT_OVERDUE),
            MinimumBound("contacts", "min_days_past_due", 1, _NOT_OVERDUE),
            MinimumBound(
                "post_conversation_pause",
                "days",
                7,
                "[P] 12 CFR 1006.14(b)(2)(ii): no call within 7 days after a conversation",
                channels=(_CALL,),
                parties=(_BORROWER,),
            ),
        ),
    ),
}


@dataclass(frozen=True)
class Breach:
    """One way a pack is laxer than its law: machine-readable, with the law's source."""

    rule: str
    problem: str  # MISSING | LAXER | NARROWER (counts fewer kinds of contact than the law)
    pack_value: str | None
    bound: str
    source: str

    def as_dict(self) -> dict[str, str | None]:
        return {
            "rule": self.rule,
            "problem": self.problem,
            "pack_value": self.pack_value,
            "bound": self.bound,
            "source": self.source,
        }


def bounds_for(jurisdiction: str) -> Jurisdiction | None:
    return BOUNDS.get(jurisdiction)


def _section(pack: RulePack, dotted: str) -> object | None:
    value: object | None = pack.rules
    for name in dotted.split("."):
        value = getattr(value, name, None)
        if value is None:
            return None
    return value


def _covers(have: tuple[object, ...], need: tuple[object, ...]) -> bool:
    return set(need) <= set(have)


def breaches(pack: RulePack, law: Jurisdiction) -> list[Breach]:
    """Every way ``pack`` is laxer than ``law`` (empty: within the law)."""
    found: list[Breach] = []
    quiet, bound = pack.rules.quiet_hours, law.quiet
    window = f"{bound.start:%H:%M}-{bound.end:%H:%M} {','.join(bound.channels)}"
    ours = window_minutes(quiet.start, quiet.end)
    if not window_minutes(bound.start, bound.end) <= ours:
        found.append(
            Breach(
                "quiet_hours",
                "LAXER",
                f"{quiet.start:%H:%M}-{quiet.end:%H:%M}",
                window,
                bound.source,
            )
        )
    if not _covers(quiet.channels, bound.channels):
        found.append(
            Breach("quiet_hours", "NARROWER", ",".join(quiet.channels), window, bound.source)
        )
    for cap in law.caps:
        section = _section(pack, cap.rule)
        need = f"max <= {cap.max}" + (f", days >= {cap.min_days}" if cap.min_days else "")
        if section is None:
            found.append(Breach(cap.rule, "MISSING", None, need, cap.source))
            continue
        limit = int(getattr(section, "max"))  # noqa: B009 -- every cap section has max
        if limit > cap.max:
            found.append(Breach(cap.rule, "LAXER", f"max {limit}", need, cap.source))
        days = getattr(section, "days", None)
        if cap.min_days is not None and (days is None or days < cap.min_days):
            found.append(Breach(cap.rule, "LAXER", f"days {days}", need, cap.source))
        parties = section.parties if isinstance(section, Cap) else cap.parties
        channels = tuple(getattr(section, "channels", ()))
        if kind_mask(cap.channels, cap.parties) & ~kind_mask(channels, parties):
            kinds = f"channels {','.join(channels)} parties {','.join(parties)}"
            found.append(Breach(cap.rule, "NARROWER", kinds, need, cap.source))
    for minimum in law.minimums:
        section = _section(pack, minimum.rule)
        need = f"{minimum.field} >= {minimum.minimum}"
        where = f"{minimum.rule}.{minimum.field}"
        value = None if section is None else getattr(section, minimum.field, None)
        if value is None:
            found.append(Breach(where, "MISSING", None, need, minimum.source))
            continue
        if int(value) < minimum.minimum:
            found.append(Breach(where, "LAXER", str(value), need, minimum.source))
        channels = tuple(getattr(section, "channels", ()))
        parties = tuple(getattr(section, "parties", minimum.parties))
        if minimum.channels and not _covers(channels, minimum.channels):
            found.append(Breach(where, "NARROWER", ",".join(channels), need, minimum.source))
        if minimum.parties and not _covers(parties, minimum.parties):
            found.append(Breach(where, "NARROWER", ",".join(parties), need, minimum.source))
    return found
