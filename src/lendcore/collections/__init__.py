"""Collections: the contact-compliance gate (pure), its rule packs, and their loader.

``evaluate(get_pack("cn"), facts)`` answers whether a collection contact may be made now and
every reason it may not. The database-backed service (``service.check_and_reserve``: atomic
reservation under row locks, encrypted contacts released by single-use grants, the audit chain,
alerts) builds on it; see docs/concepts/collections.md.
"""

from lendcore.collections.gate import evaluate
from lendcore.collections.loader import get_pack, load_packs
from lendcore.collections.model import (
    DEFAULT_PACK,
    CallType,
    Channel,
    ContactRequest,
    ContactScope,
    GateFacts,
    GateResult,
    HistoryEntry,
    LoanState,
    Outcome,
    Party,
    Reason,
)
from lendcore.collections.pack import CompiledPack, RulePack

__all__ = [
    "DEFAULT_PACK",
    "CallType",
    "Channel",
    "CompiledPack",
    "ContactRequest",
    "ContactScope",
    "GateFacts",
    "GateResult",
    "HistoryEntry",
    "LoanState",
    "Outcome",
    "Party",
    "Reason",
    "RulePack",
    "evaluate",
    "get_pack",
    "load_packs",
]
