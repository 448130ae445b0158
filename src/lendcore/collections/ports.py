"""The dialer and SMS ports, and their SANDBOX implementations.

Production plugs a CTI dialer / privacy-number (AXB) platform and an SMS gateway behind these
Protocols. The sandboxes are NOT telephone networks; they behave like them so the code around
them is exercised for real:

- a call takes time (``latency_seconds``) and sometimes fails outright (``failure_rate``: the
  platform answered 5xx, no call was placed: :class:`DialerUnavailable`);
- outcomes follow a seeded distribution (answered / unanswered / refused), and a number is
  invalid or not as a property of the number (a stable hash), as on a real network;
- an answered call has a recording reference;
- the agent never sees the real number: each call is bridged through a privacy (virtual) number
  bound to the real one for the call, which is what the agent's screen shows.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from lendcore.collections.model import Outcome


class DialerUnavailable(Exception):
    """The platform refused the request; no call was placed."""


@dataclass(frozen=True)
class DialRequest:
    phone: str  # plaintext: exists only inside the service and the port
    attempt_id: int
    agent_id: str


@dataclass(frozen=True)
class DialResult:
    call_ref: str
    virtual_number: str  # the privacy number the agent's call is bridged through
    outcome: Outcome  # what the network saw: a refusal is for the agent to report
    recording_ref: str | None  # answered calls are recorded


class Dialer(Protocol):
    def dial(self, request: DialRequest) -> DialResult: ...


@dataclass(frozen=True)
class SmsRequest:
    phone: str
    text: str
    attempt_id: int


@dataclass(frozen=True)
class SmsResult:
    message_ref: str
    delivered: bool  # False: the carrier rejected the number (invalid)


class SmsSender(Protocol):
    def send(self, request: SmsRequest) -> SmsResult: ...


def _number_draw(phone: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}|{phone}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class SandboxDialer:
    """SANDBOX dialer (see module doc). ``calls`` keeps (attempt_id, masked result) for tests;
    it never keeps a plaintext number."""

    seed: int = 0
    latency_seconds: float = 0.0
    failure_rate: float = 0.0
    invalid_rate: float = 0.03  # share of numbers that do not exist
    answer_rate: float = 0.35  # picked up and talked
    refuse_rate: float = 0.05  # picked up and refused further contact (the agent reports it)
    virtual_prefix: str = "1700000"
    calls: list[tuple[int, DialResult]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._serial = 0

    def dial(self, request: DialRequest) -> DialResult:
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        with self._lock:
            self._serial += 1
            serial = self._serial
            draw = self._random.random()
            failed = self._random.random() < self.failure_rate
        if failed:
            raise DialerUnavailable("sandbox dialer: platform unavailable (simulated)")
        if _number_draw(request.phone, "invalid") < self.invalid_rate:
            outcome = Outcome.INVALID_NUMBER
        elif draw < self.answer_rate + self.refuse_rate:
            outcome = Outcome.ANSWERED  # connected; a refusal is for the agent to report
        else:
            outcome = Outcome.UNANSWERED
        call_ref = f"SBX-CALL-{self.seed}-{serial}"
        result = DialResult(
            call_ref=call_ref,
            virtual_number=f"{self.virtual_prefix}{serial % 10_000:04d}",
            outcome=outcome,
            recording_ref=f"sandbox://recordings/{call_ref}.wav"
            if outcome is Outcome.ANSWERED
            else None,
        )
        with self._lock:
            self.calls.append((request.attempt_id, result))
        return result

    def refuses(self, attempt_id: int) -> bool:
        """Whether the person who answered this attempt refuses to talk (seeded, stable)."""
        return _number_draw(str(attempt_id), f"refuse-{self.seed}") < self.refuse_rate / max(
            self.answer_rate + self.refuse_rate, 1e-9
        )


@dataclass
class SandboxSmsSender:
    """SANDBOX SMS gateway: latency, outright failures, carrier rejection of invalid numbers.
    ``sent`` keeps (attempt_id, text, delivered) for tests; never the number."""

    seed: int = 0
    latency_seconds: float = 0.0
    failure_rate: float = 0.0
    invalid_rate: float = 0.03
    sent: list[tuple[int, str, bool]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._serial = 0

    def send(self, request: SmsRequest) -> SmsResult:
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        with self._lock:
            self._serial += 1
            serial = self._serial
            failed = self._random.random() < self.failure_rate
        if failed:
            raise DialerUnavailable("sandbox SMS gateway: unavailable (simulated)")
        delivered = _number_draw(request.phone, "invalid") >= self.invalid_rate
        with self._lock:
            self.sent.append((request.attempt_id, request.text, delivered))
        return SmsResult(f"SBX-SMS-{self.seed}-{serial}", delivered)
