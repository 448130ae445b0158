"""The payment channel port and its sandbox.

``SandboxPaymentChannel`` is a SANDBOX, not a bank: it behaves like one so the code around it is
exercised for real — it takes time (latency), fails sometimes (a timeout after which the payment
may or may not have happened, or an outright rejection), is idempotent by the request serial
(a retried serial never pays twice and returns the first outcome), and signs its callbacks with
HMAC-SHA256 so the receiver can verify them. Production channels implement the same Protocol.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol


class ChannelTimeout(Exception):
    """The channel did not answer in time: the payment may or may not have been made."""


@dataclass(frozen=True)
class PayoutRequest:
    serial: str  # unique per disbursement; the channel deduplicates on it
    amount: int  # fen
    payee_account: str


@dataclass(frozen=True)
class PayoutResult:
    serial: str
    status: str  # SUCCEEDED | REJECTED
    channel_ref: str
    reason: str = ""


class PaymentChannel(Protocol):
    name: str

    def payout(self, request: PayoutRequest) -> PayoutResult: ...

    def query(self, serial: str) -> PayoutResult | None:
        """The outcome of an earlier payout, for recovery after a timeout."""
        ...


@dataclass
class SandboxPaymentChannel:
    """SANDBOX payment channel (see module doc). ``paid`` records every payout actually made, so
    tests can prove nothing was paid twice."""

    secret: bytes = b"sandbox-callback-secret"
    latency_seconds: float = 0.0
    timeout_rate: float = 0.0  # the payment goes through but the answer is lost
    reject_rate: float = 0.0
    seed: int = 0
    name: str = "sandbox"
    paid: dict[str, PayoutResult] = field(default_factory=dict)
    payouts_made: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def payout(self, request: PayoutRequest) -> PayoutResult:
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        with self._lock:
            if request.serial in self.paid:  # idempotent: a retry returns the first outcome
                return self.paid[request.serial]
            draw = self._random.random()
            if draw < self.reject_rate:
                result = PayoutResult(request.serial, "REJECTED", "", "payee account rejected")
                self.paid[request.serial] = result
                return result
            result = PayoutResult(request.serial, "SUCCEEDED", f"SBX-{request.serial}")
            self.paid[request.serial] = result
            self.payouts_made += 1
            if draw < self.reject_rate + self.timeout_rate:
                raise ChannelTimeout(request.serial)
            return result

    def query(self, serial: str) -> PayoutResult | None:
        with self._lock:
            return self.paid.get(serial)

    def signed_callback(self, result: PayoutResult) -> tuple[bytes, str]:
        """The body and signature the channel would POST to lendcore's callback endpoint."""
        body = json.dumps(result.__dict__, sort_keys=True).encode()
        return body, hmac.new(self.secret, body, hashlib.sha256).hexdigest()


def verify_callback(secret: bytes, body: bytes, signature: str) -> bool:
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)
