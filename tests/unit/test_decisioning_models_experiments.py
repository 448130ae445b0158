"""Champion/challenger arms: deterministic by application id, shares honoured, shadow mode."""

import hashlib
import subprocess
import sys

import pytest

from lendcore.decisioning.experiments import Experiment, bucket
from lendcore.kernel.errors import ErrorCode, LendcoreError

SHARES = {"champion": 0.9, "challenger": 0.1}


def test_the_bucket_is_the_sha256_of_key_and_id_as_a_fraction():
    digest = hashlib.sha256(b"card-2026q1\x1fAPP-1").digest()
    assert bucket("card-2026q1", "APP-1") == int.from_bytes(digest[:8], "big") / 2**64
    assert 0 <= bucket("k", 123) < 1


def test_the_same_application_always_gets_the_same_arm():
    experiment = Experiment("card-2026q1", SHARES)
    first = [experiment.assign(f"APP-{i}").arm for i in range(1000)]
    again = [
        Experiment("card-2026q1", dict(reversed(SHARES.items()))).assign(f"APP-{i}").arm
        for i in range(1000)
    ]
    assert first == again


def test_assignment_is_the_same_in_another_process():
    code = (
        "from lendcore.decisioning.experiments import Experiment\n"
        "e = Experiment('card-2026q1', {'champion': 0.9, 'challenger': 0.1})\n"
        "print(','.join(e.assign(f'APP-{i}').arm for i in range(200)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONHASHSEED": "1"}
    )
    experiment = Experiment("card-2026q1", SHARES)
    assert result.stdout.strip().split(",") == [
        experiment.assign(f"APP-{i}").arm for i in range(200)
    ]


def test_shares_are_honoured_over_100k_applications():
    experiment = Experiment("exp", {"champion": 0.8, "challenger_a": 0.15, "challenger_b": 0.05})
    counts: dict[str, int] = {}
    for i in range(100_000):
        arm = experiment.assign(i).arm
        counts[arm] = counts.get(arm, 0) + 1
    # 4 standard deviations of a binomial at n = 100k is under 0.6 percentage points
    assert counts["champion"] / 1e5 == pytest.approx(0.80, abs=0.006)
    assert counts["challenger_a"] / 1e5 == pytest.approx(0.15, abs=0.006)
    assert counts["challenger_b"] / 1e5 == pytest.approx(0.05, abs=0.004)


def test_growing_the_challenger_only_moves_champion_applications():
    small = Experiment("ramp", {"champion": 0.9, "challenger": 0.1})
    large = Experiment("ramp", {"champion": 0.8, "challenger": 0.2})
    for i in range(5000):
        if small.assign(i).arm == "challenger":
            assert large.assign(i).arm == "challenger"


def test_a_different_key_reshuffles_the_applications():
    a = [Experiment("a", SHARES).assign(i).arm for i in range(2000)]
    b = [Experiment("b", SHARES).assign(i).arm for i in range(2000)]
    assert a != b


def test_shadow_mode_acts_on_the_champion_and_logs_the_challenger():
    experiment = Experiment("shadow", SHARES, shadow=True)
    drawn = set()
    for i in range(500):
        assignment = experiment.assign(i)
        assert assignment.arm == "champion"
        assert assignment.shadow_arms == ("challenger",)
        drawn.add(assignment.drawn_arm)
    assert drawn == {"champion", "challenger"}
    live = Experiment("shadow", SHARES).assign(7)
    assert live.shadow_arms == () and live.arm == live.drawn_arm


@pytest.mark.parametrize(
    "shares",
    [
        {},
        {"champion": 0.9, "challenger": 0.2},
        {"champion": 1.1, "challenger": -0.1},
        {"champion": float("nan"), "challenger": 0.1},
        {"champion": True},
        {"champion": "0.9", "challenger": 0.1},
        {"challenger": 1.0},
        {"": 0.5, "champion": 0.5},
    ],
)
def test_invalid_shares_are_refused(shares):
    with pytest.raises(LendcoreError) as caught:
        Experiment("exp", shares)
    assert caught.value.code == ErrorCode.INVALID_EXPERIMENT


def test_an_experiment_loads_from_config_data():
    experiment = Experiment.from_dict({"key": "k", "shares": SHARES, "shadow": True})
    assert experiment.shadow and experiment.champion == "champion"
    with pytest.raises(LendcoreError):
        Experiment.from_dict({"key": "k", "shares": SHARES, "shadow": "yes"})
    with pytest.raises(LendcoreError):
        Experiment.from_dict({"shares": SHARES})
