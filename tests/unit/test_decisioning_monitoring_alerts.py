"""Monitoring by month: calendar windows, the reject-rate spike rule, PSI verdicts with a
minimum sample, and outcome labels."""

from datetime import date
from pathlib import Path

import pytest

from lendcore.decisioning.artifacts import load_model
from lendcore.decisioning.monitoring import (
    Month,
    PopulationCounts,
    RejectSpikeRule,
    calendar_months,
    known_performance,
    reject_rate_verdicts,
)
from lendcore.decisioning.outcome_labels import parse_labels, read_labels
from lendcore.kernel.errors import LendcoreError

MODELS = Path(__file__).resolve().parents[2] / "models"

# A small development distribution: score deciles collapsed to 3 bins, one characteristic.
DEV = {
    "score": {"edges": [500, 550], "counts": [30, 40, 30]},
    "characteristics": {
        "housing": {
            "kind": "categorical",
            "bins": [{"categories": ["own"]}, {"categories": ["rent", "for_free"]}],
            "counts": [70, 30, 0],
        }
    },
}


# ---- calendar months -----------------------------------------------------------------------


def test_the_window_is_whole_calendar_months_ending_with_the_running_one():
    months = calendar_months(date(2026, 3, 15), 3)
    assert [m.label for m in months] == ["2026-01", "2026-02", "2026-03"]
    assert months[-1] == Month(date(2026, 3, 1), date(2026, 3, 31))


def test_the_window_crosses_a_year_and_knows_leap_februaries():
    months = calendar_months(date(2028, 2, 10), 4)
    assert [m.label for m in months] == ["2027-11", "2027-12", "2028-01", "2028-02"]
    assert months[-1].end == date(2028, 2, 29)
    assert Month.of(date(2027, 12, 31)).end == date(2027, 12, 31)


def test_a_window_needs_at_least_one_month():
    with pytest.raises(LendcoreError):
        calendar_months(date(2026, 3, 15), 0)


# ---- reject-rate spikes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "trigger"),
    [
        (0.20, 0.30),  # 1.5x the baseline comes first
        (0.50, 0.65),  # +15 points comes first
        (0.02, 0.07),  # 1.5x would be 3%: the ratio test needs at least +5 points
        (0.00, 0.05),
    ],
)
def test_the_trigger_is_the_nearer_of_plus_15_points_and_one_and_a_half_times(baseline, trigger):
    assert RejectSpikeRule().trigger(baseline) == pytest.approx(trigger)


def test_without_a_ratio_only_the_absolute_rise_counts():
    assert RejectSpikeRule(ratio=None).trigger(0.2) == pytest.approx(0.35)


def _verdict(history, **rule):
    return reject_rate_verdicts(history, RejectSpikeRule(**rule))[-1]


def test_a_month_at_the_trigger_is_not_a_spike_and_one_reject_more_is():
    baseline = [(100, 20)] * 3  # 20%: trigger 30%
    assert _verdict([*baseline, (100, 30)]).status == "normal"
    spike = _verdict([*baseline, (100, 31)])
    assert spike.spike and spike.baseline == pytest.approx(0.2)
    assert spike.trigger == pytest.approx(0.3) and spike.rate == pytest.approx(0.31)


def test_the_absolute_rise_trips_on_a_high_baseline():
    baseline = [(100, 50)] * 3  # 50%: 1.5x is 75%, +15 points is 65%
    assert _verdict([*baseline, (100, 64)]).status == "normal"
    assert _verdict([*baseline, (100, 66)]).spike


def test_the_baseline_is_pooled_over_applications_not_averaged_over_months():
    verdict = _verdict([(1000, 100), (100, 90), (100, 27)], baseline_months=2)
    assert verdict.baseline == pytest.approx(190 / 1100)
    assert verdict.spike  # 27% > 1.5 x 17.3%; the mean of the months (50%) would hide it
    assert verdict.trigger == pytest.approx(min(190 / 1100 + 0.15, 1.5 * 190 / 1100))


def test_the_baseline_only_reaches_back_baseline_months():
    history = [(100, 90), (100, 10), (100, 10), (100, 10), (100, 26)]
    assert _verdict(history).spike  # baseline 10% from the last three months: trigger 15%
    assert not _verdict(history, baseline_months=4).spike  # the 90% month lifts it to 30%


@pytest.mark.parametrize(
    ("history", "status"),
    [
        ([(100, 20)] * 3 + [(0, 0)], "no_data"),
        ([(100, 20)] * 3 + [(49, 40)], "insufficient_sample"),
        ([(100, 90)], "no_baseline"),  # the first month has nothing before it
        ([(20, 2), (20, 2), (100, 90)], "no_baseline"),  # a 40-application baseline is too thin
    ],
)
def test_months_without_enough_evidence_are_not_judged(history, status):
    verdict = _verdict(history)
    assert verdict.status == status and not verdict.spike


def test_every_month_gets_a_verdict_in_order():
    verdicts = reject_rate_verdicts([(100, 10), (100, 10), (100, 40)])
    assert [v.status for v in verdicts] == ["no_baseline", "normal", "spike"]
    assert verdicts[2].to_dict()["rate"] == 0.4


@pytest.mark.parametrize(
    "rule",
    [
        {"points": 0},
        {"points": 1.5},
        {"ratio": 1.0},
        {"min_points": 0.2},  # more than points
        {"baseline_months": 0},
        {"min_applications": 0},
    ],
)
def test_a_nonsensical_rule_is_refused(rule):
    with pytest.raises(LendcoreError):
        RejectSpikeRule(**rule)


def test_rejects_cannot_outnumber_applications():
    with pytest.raises(LendcoreError):
        reject_rate_verdicts([(10, 11)])


# ---- PSI by month --------------------------------------------------------------------------


def _population(scores, housing):
    counts = PopulationCounts(DEV)
    for score in scores:
        counts.add_score(score)
    for value in housing:
        counts.add_profile({"housing": value})
    return counts


def test_a_population_like_the_development_sample_is_stable():
    counts = _population([400] * 30 + [520] * 40 + [600] * 30, ["own"] * 70 + ["rent"] * 30)
    result = counts.stability()
    assert result["score"]["psi"] == pytest.approx(0.0)
    assert result["score"]["actual"] == [30, 40, 30]
    assert result["characteristics"]["housing"]["actual"] == [70, 30, 0]
    assert result["alerts"] == [] and not result["alert"]


def test_a_shifted_population_alerts_on_the_score_and_the_characteristic():
    counts = _population([400] * 80 + [520] * 20, ["rent"] * 90 + ["own"] * 10)
    result = counts.stability(threshold=0.25)
    assert result["alerts"] == ["score", "housing"]
    assert result["score"]["psi"] >= 0.25 and result["score"]["level"] == "alert"


def test_a_sample_below_the_minimum_reports_its_psi_but_raises_nothing():
    counts = _population([400] * 80 + [520] * 20, ["rent"] * 90 + ["own"] * 10)
    result = counts.stability(threshold=0.25, min_sample=101)
    assert result["score"]["psi"] >= 0.25
    assert result["score"]["level"] == "insufficient_sample" and not result["score"]["alert"]
    assert result["alerts"] == []
    assert counts.stability(threshold=0.25, min_sample=100)["alert"]


def test_a_value_of_the_wrong_type_counts_as_missing():
    counts = _population([], ["own", 7, None])
    housing = counts.stability()["characteristics"]["housing"]
    assert housing["actual"] == [1, 0, 2] and housing["invalid"] == 1


def test_the_shipped_card_keeps_a_dev_distribution_its_own_bins_reproduce():
    card = load_model(kind="scorecard", directory=MODELS)
    counts = PopulationCounts(card.dev_distribution)
    assert set(counts.characteristics) == {
        c["name"] for c in card.content["points_table"]["characteristics"]
    }
    # Binning the development counts back as a population gives PSI 0 everywhere.
    dev = card.dev_distribution
    assert counts.stability()["score"]["level"] == "no_data"
    for name, spec in dev["characteristics"].items():
        counts.actual[name] = list(spec["counts"])
    counts.profiles = dev["n"]
    assert all(c["psi"] == 0 for c in counts.stability()["characteristics"].values())


def test_performance_needs_known_goods_and_bads():
    assert known_performance([600, 500], [0, None]) is None
    assert known_performance([600, 500, 550], [0, 1, None])["auc"] == 1.0
    with pytest.raises(LendcoreError):
        known_performance([600], [0, 1])


# ---- outcome labels ------------------------------------------------------------------------


def test_labels_read_from_json_lists_maps_and_csv(tmp_path):
    rows = '[{"application_id": 7, "bad": 1}, {"application_id": "8", "bad": false}]'
    assert parse_labels(rows, "json") == {7: 1, 8: 0}
    assert parse_labels('{"7": 0, "9": "1"}', "json") == {7: 0, 9: 1}
    path = tmp_path / "labels.csv"
    path.write_text("application_id,bad,note\n7,1,x\n8,0,\n", encoding="utf-8")
    assert read_labels(path) == {7: 1, 8: 0}


@pytest.mark.parametrize(
    ("content", "fmt", "message"),
    [
        ('{"7": 2}', "json", "bad must be 0/1"),
        ('[{"application_id": "x", "bad": 1}]', "json", "application_id must be an integer"),
        ("[1, 2]", "json", "expected a list"),
        ("not json", "json", "not JSON"),
        ("id,bad\n7,1\n", "csv", "application_id and bad"),
        ("application_id,bad\n7,maybe\n", "csv", "labels line 2"),
    ],
)
def test_bad_labels_are_refused_with_the_place_named(content, fmt, message):
    with pytest.raises(LendcoreError, match=message):
        parse_labels(content, fmt)


def test_labels_must_be_json_or_csv_files(tmp_path):
    with pytest.raises(LendcoreError, match=r"\.json or \.csv"):
        read_labels(tmp_path / "labels.txt")
    with pytest.raises(LendcoreError, match="cannot read"):
        read_labels(tmp_path / "missing.csv")
