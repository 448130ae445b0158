"""Champion/challenger experiments: deterministic arm assignment by application id. Pure.

An application's bucket is ``u = int(sha256(key + "\\x1f" + application_id)[:8]) / 2**64``, a
uniform number in [0, 1) that is the same in every process, on every machine and under every
Python version (unlike ``hash()``, which is salted per process). The arms cover [0, 1) in a
fixed order -- challengers in name order first, the champion last -- each with a width equal to
its share. Growing one challenger's share therefore only moves applications from the champion
into it; nobody flips between challengers.

In shadow mode every application is decided by the champion; the other arms are computed and
logged beside it (``shadow_arms``) but never acted on.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lendcore.kernel.errors import ErrorCode, ValidationError

SHARE_TOLERANCE = 1e-9


def _refuse(message: str, details: dict[str, Any] | None = None) -> ValidationError:
    return ValidationError(ErrorCode.INVALID_EXPERIMENT, message, details)


def bucket(key: str, application_id: str | int) -> float:
    """The application's uniform position in [0, 1) for the experiment ``key``."""
    digest = hashlib.sha256(f"{key}\x1f{application_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass(frozen=True)
class Assignment:
    experiment: str
    bucket: float
    drawn_arm: str  # the arm the bucket falls in
    arm: str  # the arm whose decision is acted on (the champion in shadow mode)
    shadow: bool
    shadow_arms: tuple[str, ...]  # computed and logged, not acted on

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "bucket": self.bucket,
            "drawn_arm": self.drawn_arm,
            "arm": self.arm,
            "shadow": self.shadow,
            "shadow_arms": list(self.shadow_arms),
        }


@dataclass(frozen=True)
class Experiment:
    key: str  # also the hash salt: a new key reshuffles everyone
    shares: Mapping[str, float]
    champion: str = "champion"
    shadow: bool = False
    _bounds: tuple[tuple[float, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise _refuse("experiment key must be a non-empty string")
        if not isinstance(self.shadow, bool):
            raise _refuse(f"shadow must be true or false: {self.shadow!r}")
        if not isinstance(self.shares, Mapping) or not self.shares:
            raise _refuse("an experiment needs at least one arm")
        for arm, share in self.shares.items():
            if not isinstance(arm, str) or not arm:
                raise _refuse(f"arm names must be non-empty strings: {arm!r}")
            if (
                isinstance(share, bool)
                or not isinstance(share, (int, float))
                or not math.isfinite(share)
                or not 0 <= share <= 1
            ):
                raise _refuse(f"share of {arm!r} must be a number in [0, 1]: {share!r}")
        total = math.fsum(float(s) for s in self.shares.values())
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise _refuse(f"shares must sum to 1, got {total}", {"shares": dict(self.shares)})
        if self.champion not in self.shares:
            raise _refuse(f"champion arm {self.champion!r} is not among the arms")
        order = [*sorted(a for a in self.shares if a != self.champion), self.champion]
        bounds: list[tuple[float, str]] = []
        upper = 0.0
        for arm in order:
            upper += float(self.shares[arm])
            bounds.append((upper, arm))
        object.__setattr__(self, "_bounds", tuple(bounds))

    def arm_for(self, u: float) -> str:
        for upper, arm in self._bounds:
            if u < upper and self.shares[arm] > 0:
                return arm
        return self.champion  # u beyond a total rounded just below 1

    def assign(self, application_id: str | int) -> Assignment:
        u = bucket(self.key, application_id)
        drawn = self.arm_for(u)
        if self.shadow:
            others = tuple(a for _, a in self._bounds if a != self.champion)
            return Assignment(self.key, u, drawn, self.champion, True, others)
        return Assignment(self.key, u, drawn, drawn, False, ())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Experiment:
        try:
            return cls(
                key=data["key"],
                shares=dict(data["shares"]),
                champion=data.get("champion", "champion"),
                shadow=data.get("shadow", False),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _refuse(f"malformed experiment: {exc!r}") from None
