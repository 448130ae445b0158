"""The LightGBM challenger: held-out AUC, SHAP reasons, monotone constraints, the card's scale."""

from pathlib import Path

import numpy as np
import pytest

from lendcore.decisioning.artifacts import load_model
from lendcore.decisioning.data import BY_NAME, load_german_credit, split_rows
from lendcore.decisioning.monitoring import auc
from lendcore.decisioning.scorecard import MAX_REASONS
from lendcore.kernel.errors import ErrorCode, LendcoreError

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def artifact():
    return load_model(kind="challenger", directory=MODELS)


@pytest.fixture(scope="module")
def model(artifact):
    return artifact.scorer()


@pytest.fixture(scope="module")
def sample():
    data = load_german_credit()
    split = split_rows(data.bad)
    return data.profiles(split.test), [int(b) for b in data.bad[split.test]]


def test_held_out_auc_is_reported_and_at_least_075(artifact, model, sample):
    profiles, bads = sample
    scores = [model.score(p).score for p in profiles]
    assert artifact.metrics["test"]["auc"] == pytest.approx(auc(scores, bads), abs=1e-6)
    assert artifact.metrics["test"]["auc"] >= 0.75
    assert 0 < artifact.metrics["test"]["ks"] < 1


def test_contributions_plus_the_base_value_sum_to_the_raw_margin(model, sample):
    rows = np.asarray([model.encode(p)[0] for p in sample[0][:50]])
    contributions = model.booster.predict(rows, pred_contrib=True)
    margins = model.booster.predict(rows, raw_score=True)
    assert contributions.shape == (50, len(model.features) + 1)  # the base value is last
    assert np.allclose(contributions.sum(axis=1), margins, atol=1e-9)


def test_reasons_are_the_top_four_contributions_towards_default(model, sample):
    for profile in sample[0][:100]:
        row, _ = model.encode(profile)
        contributions = model.booster.predict(np.asarray([row]), pred_contrib=True)[0][:-1]
        pushing = sorted(
            ((c, model.features[j]["code"]) for j, c in enumerate(contributions) if c > 0),
            reverse=True,
        )
        result = model.score(profile)
        assert [r.code for r in result.reasons] == [code for _, code in pushing[:MAX_REASONS]]
        for reason, (contribution, _) in zip(result.reasons, pushing, strict=False):
            assert reason.points_lost == pytest.approx(
                contribution * model.scaling.factor, abs=0.01
            )
            assert reason.points_lost > 0
            assert reason.code == BY_NAME[reason.characteristic].code


def test_the_score_is_on_the_cards_scale(model, sample):
    for profile in sample[0][:50]:
        result = model.score(profile)
        assert model.scaling.pd(result.score) == pytest.approx(result.pd, rel=1e-3)


@pytest.mark.parametrize(
    ("name", "values", "direction"),
    [
        ("duration_months", range(4, 73, 4), +1),
        ("credit_amount", range(250, 18_500, 750), +1),
        ("installment_rate", range(1, 5), +1),
        ("age_years", range(19, 76, 3), -1),
    ],
)
def test_monotone_constraints_hold(model, sample, name, values, direction):
    for profile in sample[0][:20]:
        pds = [model.score({**profile, name: v}).pd for v in values]
        steps = np.diff(pds) * direction
        assert (steps >= -1e-12).all(), (name, pds)


def test_a_missing_value_is_imputed_never_rewarded(model, sample):
    profile = dict(sample[0][0])
    del profile["duration_months"]
    feature = next(f for f in model.features if f["name"] == "duration_months")
    imputed = model.score({**profile, "duration_months": feature["impute"]})
    result = model.score(profile)
    assert result.pd == imputed.pd
    assert result.missing == ("duration_months",)
    assert model.score({**profile, "purpose": "no_such_code"}).missing == (
        "duration_months",
        "purpose",
    )


def test_a_value_of_the_wrong_type_is_invalid_profile(model):
    with pytest.raises(LendcoreError) as caught:
        model.score({"credit_amount": "5000"})
    assert caught.value.code == ErrorCode.INVALID_PROFILE
