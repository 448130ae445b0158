"""The SANDBOX dialer and SMS gateway behave like a network: seeded outcomes, numbers invalid
by their own nature, privacy numbers, recordings of answered calls, failures."""

from __future__ import annotations

from collections import Counter

import pytest

from lendcore.collections.model import Outcome
from lendcore.collections.ports import (
    DialerUnavailable,
    DialRequest,
    SandboxDialer,
    SandboxSmsSender,
    SmsRequest,
)


def _numbers(n):
    return [f"138{i:08d}" for i in range(n)]


def test_outcomes_follow_the_seeded_distribution():
    dialer = SandboxDialer(seed=1)
    outcomes = Counter(
        dialer.dial(DialRequest(p, i, "a")).outcome for i, p in enumerate(_numbers(4000))
    )
    assert 0.35 < outcomes[Outcome.ANSWERED] / 4000 < 0.45
    assert 0.01 < outcomes[Outcome.INVALID_NUMBER] / 4000 < 0.05
    assert outcomes[Outcome.UNANSWERED] > outcomes[Outcome.ANSWERED]


def test_the_same_seed_gives_the_same_calls():
    a, b = SandboxDialer(seed=7), SandboxDialer(seed=7)
    run = [a.dial(DialRequest(p, i, "x")) for i, p in enumerate(_numbers(50))]
    assert run == [b.dial(DialRequest(p, i, "x")) for i, p in enumerate(_numbers(50))]


def test_an_invalid_number_is_invalid_on_every_call():
    dialer = SandboxDialer(seed=2, invalid_rate=0.5)
    for phone in _numbers(20):
        results = {
            dialer.dial(DialRequest(phone, 1, "a")).outcome is Outcome.INVALID_NUMBER
            for _ in range(3)
        }
        assert len(results) == 1


def test_answered_calls_are_recorded_and_bridged_through_a_privacy_number():
    dialer = SandboxDialer(seed=3, invalid_rate=0.0, answer_rate=1.0, refuse_rate=0.0)
    result = dialer.dial(DialRequest("13812341234", 9, "a"))
    assert result.outcome is Outcome.ANSWERED and result.recording_ref
    assert result.virtual_number.startswith("1700000") and "13812341234" not in str(dialer.calls)


def test_the_platform_sometimes_fails():
    dialer = SandboxDialer(seed=4, failure_rate=1.0)
    with pytest.raises(DialerUnavailable):
        dialer.dial(DialRequest("13812341234", 1, "a"))


def test_sms_to_an_invalid_number_is_not_delivered():
    gateway = SandboxSmsSender(seed=1, invalid_rate=1.0)
    assert gateway.send(SmsRequest("13812341234", "hi", 1)).delivered is False
    assert SandboxSmsSender(invalid_rate=0.0).send(SmsRequest("13812341234", "hi", 2)).delivered
