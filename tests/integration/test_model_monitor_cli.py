"""`lendcore model monitor`: the JSON report with its alerts, exit status 0, the bilingual table."""

from __future__ import annotations

import json

import pytest

from lendcore.cli.main import main
from lendcore.decisioning.artifacts import load_model
from lendcore.decisioning.data import load_german_credit

from .test_model_monitor import MODELS, _populate


@pytest.fixture(scope="module")
def card():
    return load_model(kind="scorecard", directory=MODELS)


@pytest.fixture(scope="module")
def german():
    data = load_german_credit()
    return data.profiles(), [int(b) for b in data.bad]


def _run(monkeypatch, *args: str) -> None:
    monkeypatch.setattr("sys.argv", ["lendcore", *args])
    try:
        main()
    except SystemExit as exc:
        if exc.code:
            raise


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def test_monitor_json_lists_the_alerts_and_exits_zero(
    engine, db_url, card, german, tmp_path, monkeypatch, capsys
):
    labels = _populate(engine, card, german, shift_june=True)
    labels_file = tmp_path / "labels.csv"
    labels_file.write_text(
        "application_id,bad\n" + "".join(f"{k},{v}\n" for k, v in labels.items()),
        encoding="utf-8",
    )
    args = ["model", "monitor", "--json", "--database-url", _plain(db_url),
            "--until", "2026-06-30", "--labels", str(labels_file),
            "--models-dir", str(MODELS)]  # fmt: skip
    _run(monkeypatch, *args)
    report = json.loads(capsys.readouterr().out)
    assert report["model"]["version"] == card.version
    assert [m["month"] for m in report["months"]][-1] == "2026-06"
    kinds = {(a["kind"], a["subject"]) for a in report["alerts"]}
    assert ("PSI_DRIFT", "score") in kinds and ("REJECT_RATE_SPIKE", "reject_rate") in kinds
    assert report["new_alert_count"] == report["alert_count"] > 0
    assert report["settings"]["labels"] == len(labels)
    assert report["performance"]["auc"] > 0.7
    assert report["months"][0]["alerts"] == []

    _run(monkeypatch, *args)  # again: the same alerts, none new
    again = json.loads(capsys.readouterr().out)
    assert again["new_alert_count"] == 0
    assert [a["alert_id"] for a in again["alerts"]] == [a["alert_id"] for a in report["alerts"]]


def test_monitor_prints_a_bilingual_table(engine, db_url, card, german, monkeypatch, capsys):
    _populate(engine, card, german, shift_june=True)
    _run(monkeypatch, "model", "monitor", "--database", _plain(db_url), "--until", "2026-06-30",
         "--psi-threshold", "0.25", "--models-dir", str(MODELS))  # fmt: skip
    out = capsys.readouterr().out
    assert "模型监控 model monitoring" in out and "2026-06" in out
    assert "告警 Alerts" in out and "REJECT_RATE_SPIKE" in out and "新 new" in out


def test_monitor_refuses_a_bad_date_with_one_line(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        _run(monkeypatch, "model", "monitor", "--until", "June", "--json")
    assert exit_.value.code == 2
    assert "INVALID_DATE" in capsys.readouterr().err
