"""Quiet hours as a function of time: is this moment quiet, and when does the next quiet window
begin? Pure (no clock, no database).

The gate judges a request at the moment it is reserved; the number is released a little later,
when the grant is used. So that the call itself can never land in quiet hours, a grant is valid
until :func:`grant_expiry`: the shorter of its time-to-live and the start of the next quiet
window in the debtor's zone. The dial re-checks :func:`is_quiet` at use time as well (a pack
tightened in between, or a grant issued before this rule existed).

"Quiet" is read exactly as the gate reads it: the debtor's local minute of the day looked up in
the compiled pack's table, for the channels the pack's quiet hours cover.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from lendcore.collections.model import Channel, Party
from lendcore.collections.pack import CompiledPack, kind_bit

_MINUTE = timedelta(minutes=1)


def is_quiet(
    pack: CompiledPack, zone: ZoneInfo, moment: datetime, party: Party, channel: Channel
) -> bool:
    """True when ``moment`` falls in the pack's quiet hours in ``zone`` for this kind of contact."""
    if moment.utcoffset() is None:
        raise ValueError("moment must carry an offset")
    if not kind_bit(party, channel) & pack.quiet_mask:
        return False
    local = moment.astimezone(zone)
    return bool(pack.quiet[local.hour * 60 + local.minute])


def grant_expiry(
    pack: CompiledPack,
    zone: ZoneInfo,
    reserved_at: datetime,
    ttl: timedelta,
    party: Party,
    channel: Channel,
) -> datetime:
    """When a grant reserved at ``reserved_at`` stops being valid: ``reserved_at + ttl``, or the
    first instant of the next quiet window in ``zone`` if that comes sooner.

    Walks the debtor's local minute boundaries up to the time-to-live (a few minutes: a handful
    of look-ups). Stepping in elapsed time, not wall time, keeps it exact across a DST change.
    A reservation inside quiet hours (the gate denies it anyway) expires at once.
    """
    if ttl <= timedelta(0):
        raise ValueError("a grant's time-to-live must be positive")
    if is_quiet(pack, zone, reserved_at, party, channel):
        return reserved_at
    limit = reserved_at + ttl
    if not kind_bit(party, channel) & pack.quiet_mask:
        return limit
    local = reserved_at.astimezone(zone)
    # The next local minute boundary: quiet windows start on whole local minutes.
    boundary = reserved_at + (
        _MINUTE - timedelta(seconds=local.second, microseconds=local.microsecond)
    )
    while boundary < limit:
        if is_quiet(pack, zone, boundary, party, channel):
            return boundary
        boundary += _MINUTE
    return limit
