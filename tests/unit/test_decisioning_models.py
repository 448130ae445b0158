"""The shipped scorecard: held-out discrimination, the pure scorer, reasons, missing values."""

import math
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score

from lendcore.decisioning.artifacts import current_versions, load_model
from lendcore.decisioning.data import BY_NAME, CHARACTERISTICS, load_german_credit, split_rows
from lendcore.decisioning.monitoring import auc
from lendcore.decisioning.scorecard import MAX_REASONS, PointsTable, Scaling, score
from lendcore.kernel.errors import ErrorCode, LendcoreError

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def card():
    return load_model(kind="scorecard", directory=MODELS)


@pytest.fixture(scope="module")
def table(card):
    return PointsTable(card.content["points_table"])


@pytest.fixture(scope="module")
def sample():
    data = load_german_credit()
    split = split_rows(data.bad)
    return data, split, data.profiles(split.test), [int(b) for b in data.bad[split.test]]


def test_shipped_card_is_the_current_version(card):
    assert current_versions(MODELS)["scorecard"] == card.version
    assert card.path.name == f"scorecard-{card.version[:12]}.json"


def test_held_out_auc_is_at_least_075(table, sample):
    _, _, profiles, bads = sample
    scores = [score(table, p).score for p in profiles]
    held_out = auc(scores, bads)
    assert held_out >= 0.75
    # the same number sklearn computes (risk = minus the score)
    assert held_out == pytest.approx(roc_auc_score(bads, [-s for s in scores]), abs=1e-12)


def test_recorded_metrics_match_a_rescore(card, table, sample):
    _, _, profiles, bads = sample
    scores = [table.score(p).score for p in profiles]
    assert card.metrics["test"]["auc"] == pytest.approx(auc(scores, bads), abs=1e-6)
    assert card.metrics["test"]["gini"] == pytest.approx(2 * auc(scores, bads) - 1, abs=1e-6)


def test_score_is_the_sum_of_the_bin_points(table, sample):
    profile = sample[2][0]
    expected = 0
    for c in table.characteristics:
        expected += c.points[c.bins.locate(profile.get(c.name))]
    assert score(table, profile).score == expected


def test_pd_follows_the_points_to_double_the_odds_scaling():
    scaling = Scaling(600, 50, 20)
    assert scaling.pd(600) == pytest.approx(1 / 51)
    assert scaling.pd(620) == pytest.approx(1 / 101)
    assert scaling.pd(580) == pytest.approx(1 / 26)
    assert scaling.score_from_pd(1 / 51) == pytest.approx(600)
    assert 0 < scaling.pd(10_000) < scaling.pd(0) < 1


def test_reasons_are_exactly_the_top_four_point_losses(table, sample):
    for profile in sample[2]:
        result = score(table, profile)
        losses = []
        for c in table.characteristics:
            lost = c.best - c.points[c.bins.locate(profile.get(c.name))]
            if lost > 0:
                losses.append((lost, c.name))
        ranked = sorted(losses, key=lambda x: -x[0])
        assert len(result.reasons) == min(MAX_REASONS, len(losses))
        assert all(r.points_lost > 0 for r in result.reasons)
        got = [(r.points_lost, r.characteristic) for r in result.reasons]
        assert [lost for lost, _ in got] == [lost for lost, _ in ranked[: len(got)]]
        worst_left_out = ranked[len(got)][0] if len(ranked) > len(got) else 0
        assert all(lost >= worst_left_out for lost, _ in got)
        by_name = {name: lost for lost, name in losses}
        assert all(by_name[name] == lost for lost, name in got)
        for reason in result.reasons:
            assert reason.code == BY_NAME[reason.characteristic].code
            assert reason.message_zh and reason.message_en


def test_the_best_profile_has_no_reasons(table):
    best = {}
    for c in table.characteristics:
        index = c.points.index(c.best)
        assert index != c.bins.missing_index
        spec = next(x for x in table.data["characteristics"] if x["name"] == c.name)
        b = spec["bins"][index]
        if c.bins.kind == "categorical":
            best[c.name] = b["categories"][0]
        else:
            best[c.name] = b["upper"] - 1 if b["lower"] is None else b["lower"]
    result = score(table, best)
    assert result.reasons == ()
    assert result.score == sum(c.best for c in table.characteristics)


@pytest.mark.parametrize("value", [None, float("nan"), "no_such_code"])
def test_missing_or_unknown_values_score_the_missing_bin(table, sample, value):
    profile = dict(sample[2][0])
    profile["checking_status"] = value
    checking = table.by_name["checking_status"]
    result = score(table, profile)
    reference = dict(profile, checking_status="none")  # the best bin
    delta = score(table, reference).score - result.score
    assert delta == checking.best - checking.points[checking.bins.missing_index]
    assert "checking_status" in result.missing


def test_an_absent_characteristic_scores_the_missing_bin(table, sample):
    profile = dict(sample[2][0])
    del profile["duration_months"]
    result = score(table, profile)
    assert result.missing == ("duration_months",)
    assert result.score == sum(
        c.points[c.bins.locate(profile.get(c.name))] for c in table.characteristics
    )


def test_an_empty_profile_scores_every_missing_bin(table):
    result = score(table, {})
    assert result.score == sum(c.points[c.bins.missing_index] for c in table.characteristics)
    assert set(result.missing) == set(table.by_name)
    assert math.isclose(result.pd, table.scaling.pd(result.score))


@pytest.mark.parametrize(
    ("name", "value"),
    [("duration_months", "24"), ("duration_months", True), ("checking_status", 1)],
)
def test_a_value_of_the_wrong_type_is_invalid_profile(table, name, value):
    with pytest.raises(LendcoreError) as caught:
        score(table, {name: value})
    assert caught.value.code == ErrorCode.INVALID_PROFILE
    assert caught.value.details["characteristic"] == name


def test_a_profile_that_is_not_an_object_is_invalid_profile(table):
    with pytest.raises(LendcoreError) as caught:
        score(table, [("age_years", 30)])  # type: ignore[arg-type]
    assert caught.value.code == ErrorCode.INVALID_PROFILE


def test_unknown_keys_in_the_profile_are_ignored(table, sample):
    profile = sample[2][3]
    assert score(table, {**profile, "nickname": "x"}) == score(table, profile)


def test_numeric_bins_are_closed_on_the_left(table):
    duration = table.by_name["duration_months"]
    edge = duration.bins.splits[0]
    assert duration.bins.locate(edge) == 1
    assert duration.bins.locate(edge - 1e-9) == 0
    assert duration.bins.locate(10**9) == duration.bins.missing_index - 1


def test_elderly_applicants_get_the_best_age_points(table):
    # Reg B 12 CFR 1002.6(b)(2)(ii): age may not count against an applicant aged 62 or older.
    age = table.by_name["age_years"]
    assert all(age.points[age.bins.locate(a)] == age.best for a in range(62, 100))


def test_protected_columns_are_not_characteristics(card):
    names = {c.name for c in CHARACTERISTICS} | {c.column for c in CHARACTERISTICS}
    assert not names & {"personal_status_and_sex", "foreign_worker"}
    assert set(card.content["training"]["data"]["excluded_columns"]) == {
        "personal_status_and_sex",
        "foreign_worker",
    }


def test_a_points_table_passed_as_plain_data_scores_the_same(card, table, sample):
    profile = sample[2][5]
    assert score(card.content["points_table"], profile) == score(table, profile)


def test_a_malformed_points_table_is_invalid_model():
    with pytest.raises(LendcoreError) as caught:
        PointsTable({"format": "something else"})
    assert caught.value.code == ErrorCode.INVALID_MODEL
