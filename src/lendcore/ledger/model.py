"""Journal entries as values — pure. An entry is balanced by construction: every amount is added
as a debit/credit pair, and :meth:`Entry.lines` nets each account to one line."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.ledger.accounts import Account


@dataclass(frozen=True, slots=True)
class Line:
    account: Account
    debit: int
    credit: int


@dataclass
class Entry:
    kind: str
    business_date: date
    reference: str | None = None
    _net: dict[Account, int] = field(default_factory=lambda: defaultdict(int))

    def move(self, debit: Account, credit: Account, amount: int) -> Entry:
        """Debit one account and credit another by ``amount`` fen (zero is a no-op)."""
        if amount < 0:
            raise LendcoreError(ErrorCode.INVALID_AMOUNT, "a posting amount cannot be negative")
        if amount:
            self._net[debit] += amount
            self._net[credit] -= amount
        return self

    def lines(self) -> list[Line]:
        lines = [
            Line(account, max(net, 0), max(-net, 0))
            for account, net in sorted(self._net.items())
            if net != 0
        ]
        if sum(line.debit for line in lines) != sum(line.credit for line in lines):
            raise LendcoreError(ErrorCode.UNBALANCED_ENTRY, f"{self.kind} entry does not balance")
        return lines

    def net(self, account: Account) -> int:
        """Debit-positive net movement of ``account`` in this entry."""
        return self._net.get(account, 0)
