"""Training: the exported table reproduces optbinning, and retraining reproduces the artifact."""

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

import lendcore.cli.main  # noqa: F401  (registers the commands)
from lendcore.cli.common import app
from lendcore.decisioning.artifacts import build_models, current_versions, load_model
from lendcore.decisioning.data import CHARACTERISTICS, load_german_credit, split_rows
from lendcore.decisioning.scorecard import PointsTable, export_points_table, fit_scorecard

# optbinning 1.0.0 itself trips pandas 3 deprecation warnings
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:optbinning")

MODELS = Path(__file__).resolve().parents[2] / "models"
NAMES = [c.name for c in CHARACTERISTICS]


@pytest.fixture(scope="module")
def fitted():
    data = load_german_credit()
    split = split_rows(data.bad)
    card = fit_scorecard(data.frame.iloc[split.train], data.bad[split.train])
    return data, split, card


@pytest.fixture(scope="module")
def built():
    return build_models(datetime(2026, 1, 1, tzinfo=UTC))


def test_the_split_is_stratified_70_30_and_disjoint():
    data = load_german_credit()
    split = split_rows(data.bad)
    assert len(data.bad) == 1000 and data.bad.sum() == 300
    assert (len(split.train), len(split.test)) == (700, 300)
    assert data.bad[split.test].sum() == 90
    assert not set(split.train) & set(split.test)
    assert (split_rows(data.bad).test == split.test).all()


def test_exported_points_table_scores_every_test_row_like_optbinning(fitted):
    data, split, card = fitted
    table = PointsTable(export_points_table(card))
    reference = card.score(data.frame.iloc[split.test][NAMES])
    ours = [table.score(p).score for p in data.profiles(split.test)]
    assert [float(r) for r in reference] == [float(s) for s in ours]


def test_optbinning_own_probabilities_reach_the_auc_target(fitted):
    data, split, card = fitted
    proba = card.predict_proba(data.frame.iloc[split.test][NAMES])[:, 1]
    assert roc_auc_score(data.bad[split.test], proba) >= 0.75


def test_every_characteristic_counts_in_the_same_direction(fitted):
    # WoE grows with the share of goods, so all coefficients share one sign: no reversals.
    _, _, card = fitted
    coefficients = card.estimator_.coef_[0]
    assert (coefficients < 0).all()


def test_retraining_reproduces_the_shipped_scorecard(built):
    card, challenger = built
    assert card.version == current_versions(MODELS)["scorecard"]
    shipped = load_model(kind="challenger", directory=MODELS)
    assert challenger.metrics["test"]["auc"] == pytest.approx(
        shipped.metrics["test"]["auc"], abs=1e-3
    )


def test_the_train_command_trains_again_to_the_same_versions(built, tmp_path):
    result = CliRunner().invoke(app, ["model", "train", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    versions = {m["kind"]: m["version"] for m in report["models"]}
    assert versions == {a.kind: a.version for a in built}  # deterministic training
    assert all(m["current"] and m["written"] for m in report["models"])
    assert report["models"][0]["metrics"]["test"]["auc"] >= 0.75
    assert current_versions(tmp_path) == versions
    for kind, version in versions.items():
        assert (tmp_path / f"{kind}-{version[:12]}.json").is_file()


def test_importing_optbinning_prints_nothing():
    # CVXPY's failed HIGHS probe (OR-Tools ships its own libhighs) must not reach stderr.
    code = "from lendcore.decisioning.scorecard import import_optbinning; import_optbinning()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stderr == ""
