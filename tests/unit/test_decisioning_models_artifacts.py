"""Model artifacts: content-hash versions, the current pointer, replay by hash, the CLI."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lendcore.cli.main  # noqa: F401  (registers the commands)
from lendcore.cli.common import app
from lendcore.decisioning.artifacts import (
    content_version,
    current_versions,
    list_models,
    load_model,
    make_artifact,
    set_current,
    write_artifact,
)
from lendcore.kernel.errors import ErrorCode, LendcoreError

MODELS = Path(__file__).resolve().parents[2] / "models"
PROFILE = {
    "checking_status": "lt_0",
    "duration_months": 48,
    "credit_history": "past_delay",
    "purpose": "education",
    "credit_amount": 9000,
    "savings": "lt_100",
    "age_years": 22,
}


@pytest.fixture
def models(tmp_path):
    for path in MODELS.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def run(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "lendcore", *args], capture_output=True, text=True, input=stdin
    )


def test_the_version_is_the_hash_of_the_content(models):
    for artifact in list_models(models):
        assert artifact.version == content_version(artifact.content)
        assert artifact.path.name == f"{artifact.kind}-{artifact.version[:12]}.json"
        assert {"created_at", "libraries"} <= set(artifact.provenance)
        training = artifact.content["training"]["data"]
        assert training["split"]["seed"] and len(training["sha256"]) == 64


def test_load_model_returns_the_current_card_by_default(models):
    assert load_model(directory=models).version == current_versions(models)["scorecard"]


def test_an_older_version_loads_by_hash_prefix(models):
    card = load_model(directory=models)
    older = make_artifact("scorecard", {**card.content, "note": "an older card"}, card.provenance)
    write_artifact(older, models)
    assert load_model(older.version[:12], directory=models).version == older.version
    assert load_model(older.version, directory=models).content["note"] == "an older card"
    assert load_model(directory=models).version == card.version  # current unchanged


def test_promoting_moves_the_current_pointer(models):
    card = load_model(directory=models)
    newer = make_artifact("scorecard", {**card.content, "note": "newer"}, card.provenance)
    write_artifact(newer, models)
    set_current("scorecard", newer.version[:10], models)
    assert load_model(directory=models).version == newer.version
    assert (
        current_versions(models)["challenger"]
        == load_model(kind="challenger", directory=models).version
    )


def test_writing_the_same_version_twice_keeps_the_first_file(models):
    card = load_model(directory=models)
    before = card.path.read_bytes()
    path, written = write_artifact(
        make_artifact("scorecard", card.content, {"created_at": "later"}), models
    )
    assert (path, written) == (card.path, False)
    assert path.read_bytes() == before


def test_an_edited_artifact_is_refused(models):
    path = load_model(directory=models).path
    document = json.loads(path.read_text())
    document["content"]["points_table"]["characteristics"][0]["bins"][0]["points"] += 10
    path.write_text(json.dumps(document))
    with pytest.raises(LendcoreError) as caught:
        load_model(directory=models)
    assert caught.value.code == ErrorCode.INVALID_MODEL


@pytest.mark.parametrize("version", ["0000000000000000", "zz", "abc"])
def test_an_unknown_version_is_unknown_model(models, version):
    with pytest.raises(LendcoreError) as caught:
        load_model(version, directory=models)
    assert caught.value.code == ErrorCode.UNKNOWN_MODEL


def test_a_directory_without_a_current_model_is_unknown_model(tmp_path):
    with pytest.raises(LendcoreError) as caught:
        load_model(directory=tmp_path)
    assert caught.value.code == ErrorCode.UNKNOWN_MODEL


def test_scoring_a_card_imports_neither_pandas_nor_optbinning():
    code = (
        "import sys, pathlib\n"
        "from lendcore.decisioning.artifacts import load_model\n"
        f"card = load_model(directory=pathlib.Path({str(MODELS)!r}))\n"
        f"print(card.score({PROFILE!r}).score)\n"
        "heavy = {'pandas', 'numpy', 'optbinning', 'lightgbm', 'sklearn'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_cli_score_json_gives_score_pd_and_four_reasons():
    result = CliRunner().invoke(
        app, ["model", "score", "--json", "--models-dir", str(MODELS)], input=json.dumps(PROFILE)
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["kind"] == "scorecard"
    assert len(document["reasons"]) == 4
    assert set(document["reasons"][0]) == {
        "code",
        "characteristic",
        "points_lost",
        "message_zh",
        "message_en",
    }
    assert 0 < document["pd"] < 1


def test_cli_score_refuses_a_bad_profile_in_one_line():
    result = run("model", "score", "--models-dir", str(MODELS), "--profile", '{"age_years": "x"}')
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "INVALID_PROFILE" in result.stderr


def test_cli_list_json_marks_the_current_versions():
    result = CliRunner().invoke(app, ["model", "list", "--json", "--models-dir", str(MODELS)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["kind"] for r in rows if r["current"]} == {"scorecard", "challenger"}
