"""Scoring in the decision flow: the champion card by default, arms drawn from the application id,
the challenger arm, shadow arms, model reasons that are the points lost, and models reloaded when
the pointer or the experiment changes."""

import json
import os
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lendcore.decisioning.artifacts import load_model, models_dir
from lendcore.decisioning.experiments import Experiment
from lendcore.decisioning.scorecard import MAX_REASONS
from lendcore.decisioning.scoring import ModelRegistry, ModelSet
from lendcore.kernel.errors import ErrorCode, LendcoreError

PROFILE = {
    "checking_status": "lt_0",
    "duration_months": 36,
    "credit_history": "critical_or_other_credits",
    "savings": "lt_100",
    "purpose": "car_new",
    "age_years": 23,
}
ARMS = {"champion": {"kind": "scorecard"}, "challenger": {"kind": "challenger"}}


def _experiment(key="t", shares=None, shadow=False, arms=None):
    return {
        "key": key,
        "champion": "champion",
        "shadow": shadow,
        "shares": shares or {"champion": 0.5, "challenger": 0.5},
        "arms": arms or ARMS,
    }


@pytest.fixture
def models(tmp_path):
    for path in models_dir().glob("*-*.json"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copy(models_dir() / "current.json", tmp_path / "current.json")
    return tmp_path


def _write(directory, experiment):
    path = directory / "experiment.json"
    path.write_text(json.dumps(experiment), encoding="utf-8")
    # A new mtime even within one timestamp tick: the registry keys on (mtime, size, inode).
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_without_an_experiment_the_current_scorecard_scores_everyone(models):
    scoring = ModelSet.load(models).score(17, PROFILE)
    card = load_model(kind="scorecard", directory=models)
    assert scoring.assignment is None and scoring.shadow == ()
    assert (scoring.acted.arm, scoring.acted.kind) == ("champion", "scorecard")
    assert scoring.acted.version == card.version
    assert scoring.acted.result == card.score(PROFILE)


def test_the_model_reasons_are_the_largest_point_losses(models):
    result = ModelSet.load(models).score(1, PROFILE).acted.result
    table = load_model(kind="scorecard", directory=models).scorer()
    losses = []
    for characteristic in table.characteristics:
        got = characteristic.points[characteristic.bins.locate(PROFILE.get(characteristic.name))]
        if got < characteristic.best:
            losses.append((characteristic.best - got, characteristic.code))
    expected = sorted(losses, key=lambda loss: -loss[0])[:MAX_REASONS]
    assert len(result.reasons) == MAX_REASONS
    assert [(r.points_lost, r.code) for r in result.reasons] == expected


def test_the_arm_is_the_experiments_draw_for_the_application_id(models):
    _write(models, _experiment())
    loaded = ModelSet.load(models)
    experiment = Experiment.from_dict(_experiment())
    seen = set()
    for application_id in range(40):
        scoring = loaded.score(application_id, PROFILE)
        assert scoring.acted.arm == experiment.assign(application_id).arm
        expected_kind = "scorecard" if scoring.acted.arm == "champion" else "challenger"
        assert scoring.acted.kind == expected_kind
        seen.add(scoring.acted.arm)
    assert seen == {"champion", "challenger"}


def test_two_registries_on_one_models_directory_put_each_application_in_the_same_arm(models):
    # Two independently loaded registries (no shared state), one process; the real
    # other-process check is test_decisioning_models_experiments.py::
    # test_assignment_is_the_same_in_another_process.
    _write(models, _experiment(shares={"champion": 0.7, "challenger": 0.3}))
    first, second = ModelRegistry(models), ModelRegistry(models)
    arms = [first.score(i, PROFILE).acted.arm for i in range(200)]
    assert arms == [second.score(i, PROFILE).acted.arm for i in range(200)]
    assert 0.15 < arms.count("challenger") / len(arms) < 0.45


def test_shadow_arms_are_scored_but_the_champion_acts(models):
    _write(models, _experiment(shares={"champion": 0.0, "challenger": 1.0}, shadow=True))
    scoring = ModelSet.load(models).score(3, PROFILE)
    challenger = load_model(kind="challenger", directory=models)
    assert scoring.acted.arm == "champion" and scoring.acted.kind == "scorecard"
    [shadow] = scoring.shadow
    assert (shadow.arm, shadow.version) == ("challenger", challenger.version)
    full = challenger.score(PROFILE)
    assert (shadow.result.score, shadow.result.missing) == (full.score, full.missing)
    assert shadow.result.pd == pytest.approx(full.pd, rel=1e-12)
    # its reasons are left for the record's reader (with_shadow_reasons), not computed here
    assert shadow.reasons_deferred and shadow.to_dict()["reasons"] is None
    assert scoring.assignment.drawn_arm == "challenger"


@settings(max_examples=200, deadline=None)
@given(
    profile=st.fixed_dictionaries(
        {},
        optional={
            "checking_status": st.sampled_from(
                ["lt_0", "0_to_200", "ge_200_or_salary", "none", "odd"]
            ),
            "duration_months": st.integers(1, 120),
            "credit_amount": st.integers(100, 30_000),
            "savings": st.sampled_from(["lt_100", "100_to_500", "unknown"]),
            "age_years": st.integers(18, 75),
            "installment_rate": st.integers(1, 4),
        },
    )
)
def test_a_challenger_scored_without_reasons_gives_the_same_score_and_pd(profile):
    # the shadow path sums the trees' raw margin; the full path sums the SHAP contributions
    challenger = _shipped_challenger()
    full, quick = challenger.score(profile), challenger.score(profile, reasons=False)
    assert quick.reasons == () and quick.missing == full.missing
    assert abs(quick.score - full.score) <= 0.01  # both rounded to 2 places from one margin
    assert quick.pd == pytest.approx(full.pd, rel=1e-9)


def _shipped_challenger():
    return load_model(kind="challenger", directory=models_dir())


def test_an_arm_can_pin_a_model_version(models):
    card = load_model(kind="scorecard", directory=models)
    arms = {**ARMS, "challenger": {"kind": "scorecard", "version": card.version[:12]}}
    _write(models, _experiment(shares={"champion": 0.0, "challenger": 1.0}, arms=arms))
    scoring = ModelSet.load(models).score(5, PROFILE)
    assert (scoring.acted.arm, scoring.acted.version) == ("challenger", card.version)


def test_the_registry_picks_up_a_changed_experiment_without_a_restart(models):
    registry = ModelRegistry(models)
    assert registry.score(9, PROFILE).acted.arm == "champion"
    _write(models, _experiment(shares={"champion": 0.0, "challenger": 1.0}))
    assert registry.score(9, PROFILE).acted.arm == "challenger"
    (models / "experiment.json").unlink()
    assert registry.score(9, PROFILE).assignment is None


def test_a_recorded_version_is_loaded_for_replay(models):
    registry = ModelRegistry(models)
    challenger = load_model(kind="challenger", directory=models)
    artifact = registry.version(challenger.version, "challenger")
    assert artifact.version == challenger.version
    assert registry.version(challenger.version, "challenger") is artifact  # compiled once
    with pytest.raises(LendcoreError) as caught:
        registry.version("0" * 64, "scorecard")
    assert caught.value.code is ErrorCode.UNKNOWN_MODEL


@pytest.mark.parametrize(
    "experiment",
    [
        _experiment(arms={"champion": {"kind": "scorecard"}}),  # an arm with a share but no model
        _experiment(arms={**ARMS, "challenger": {"kind": "neural_net"}}),
        _experiment(shares={"champion": 0.6, "challenger": 0.6}),
        {"key": "t", "shares": {"champion": 1.0}},  # no arms at all
    ],
    ids=["missing-arm", "unknown-kind", "shares-above-one", "no-arms"],
)
def test_a_malformed_experiment_is_refused(models, experiment):
    _write(models, experiment)
    with pytest.raises(LendcoreError) as caught:
        ModelSet.load(models)
    assert caught.value.code is ErrorCode.INVALID_EXPERIMENT


def test_the_shipped_experiment_loads(tmp_path):
    shipped = ModelSet.load(models_dir())
    assert shipped.experiment is not None
    assert set(shipped.arms) == set(shipped.experiment.shares)
