"""``lendcore model train | list | promote | score | monitor``: the credit models as versioned
artifacts, and their monitoring over the stored decisions.

Training imports pandas, optbinning and LightGBM only when it runs; the other commands stay
light (scoring a card needs none of them).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from lendcore.cli.common import app, console, print_json
from lendcore.decisioning.artifacts import (
    KINDS,
    ModelArtifact,
    current_versions,
    list_models,
    load_model,
    models_dir,
    set_current,
    train,
)
from lendcore.decisioning.monitoring import MIN_PSI_SAMPLE, PSI_ALERT, RejectSpikeRule
from lendcore.kernel.clock import SystemClock
from lendcore.kernel.errors import ErrorCode, ValidationError

model_app = typer.Typer(help="信用评分模型 / Credit scoring models", no_args_is_help=True)
app.add_typer(model_app, name="model")

DIR_HELP = "模型目录 models directory (default: $LENDCORE_MODELS_DIR, ./models, the shipped one)"


def _summary(artifact: ModelArtifact, current: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": artifact.kind,
        "version": artifact.version,
        "current": current.get(artifact.kind) == artifact.version,
        "file": artifact.path.name if artifact.path else None,
        "created_at": artifact.provenance.get("created_at"),
        "metrics": artifact.metrics,
    }


def _metric_cells(metrics: dict[str, Any]) -> list[str]:
    return [
        f"{metrics[part][name]:.3f}" for part in ("test", "train") for name in ("auc", "ks", "gini")
    ]


@model_app.command("train")
def train_cmd(
    out: Path = typer.Option(None, "--out", help=DIR_HELP),
    promote: bool = typer.Option(
        False, "--promote", help="将新版本设为当前版本 make the new versions current"
    ),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """训练评分卡与挑战者模型 / Train the scorecard and the challenger on the fixed split."""
    directory = out or models_dir()
    result = train(directory, promote=promote)
    rows: list[dict[str, Any]] = [
        {
            "kind": a.kind,
            "version": a.version,
            "file": str(result.paths[a.kind]),
            "written": result.written[a.kind],
            "promoted": result.promoted[a.kind],
            "current": current_versions(directory).get(a.kind) == a.version,
            "metrics": a.metrics,
        }
        for a in result.artifacts
    ]
    if json_out:
        print_json({"models_dir": str(directory), "models": rows})
        return
    table = Table(title=f"模型 Models — {directory}")
    for column in ("模型 Kind", "版本 Version", "测试 AUC", "KS", "Gini", "训练 AUC", "KS", "Gini"):
        table.add_column(column, justify="right")
    table.add_column("文件 File")
    for row in rows:
        state = "new" if row["written"] else "unchanged"
        if row["current"]:
            state += ", current"
        table.add_row(
            row["kind"],
            row["version"][:12],
            *_metric_cells(row["metrics"]),
            f"{Path(row['file']).name} ({state})",
        )
    console.print(table)


@model_app.command("list")
def list_cmd(
    models: Path = typer.Option(None, "--models-dir", help=DIR_HELP),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """模型版本列表 / Model versions on disk, the current one marked."""
    directory = models or models_dir()
    current = current_versions(directory)
    rows = [_summary(a, current) for a in list_models(directory)]
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"模型 Models — {directory}")
    for column in ("模型 Kind", "版本 Version", "当前 Current", "测试 AUC", "KS", "Gini"):
        table.add_column(column)
    table.add_column("创建 Created")
    for row in rows:
        table.add_row(
            row["kind"],
            row["version"][:12],
            "✓" if row["current"] else "",
            *_metric_cells(row["metrics"])[:3],
            row["created_at"] or "",
        )
    console.print(table)


@model_app.command("promote")
def promote_cmd(
    version: str = typer.Argument(..., help="版本 sha256 (or a prefix of it)"),
    models: Path = typer.Option(None, "--models-dir", help=DIR_HELP),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """将某版本设为当前版本 / Make a model version the current one of its kind."""
    directory = models or models_dir()
    artifact = load_model(version, directory=directory)
    set_current(artifact.kind, artifact.version, directory)
    if json_out:
        print_json({"kind": artifact.kind, "version": artifact.version, "current": True})
        return
    console.print(
        f"当前 current {artifact.kind} → {artifact.version[:12]}", markup=False, highlight=False
    )


def _read_profile(text: str | None) -> dict[str, Any]:
    text = text if text is not None else sys.stdin.read()
    try:
        profile = json.loads(text)
    except ValueError as exc:
        raise ValidationError(
            ErrorCode.INVALID_PROFILE, f"credit_profile is not valid JSON: {exc}"
        ) from None
    if not isinstance(profile, dict):
        raise ValidationError(ErrorCode.INVALID_PROFILE, "credit_profile must be a JSON object")
    return profile


@model_app.command("score")
def score_cmd(
    profile: str = typer.Option(None, "--profile", help="credit_profile JSON (default: stdin)"),
    kind: str = typer.Option("scorecard", "--kind", help=" | ".join(KINDS)),
    version: str = typer.Option(None, "--model-version", help="版本 version (default: current)"),
    models: Path = typer.Option(None, "--models-dir", help=DIR_HELP),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """为一份信用档案评分 / Score one credit_profile: score, PD and reason codes."""
    if kind not in KINDS:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"kind must be one of {KINDS}: {kind!r}")
    artifact = load_model(version, kind=kind, directory=models or models_dir())
    result = artifact.score(_read_profile(profile))
    if json_out:
        print_json({"kind": artifact.kind, "version": artifact.version, **result.to_dict()})
        return
    console.print(
        f"{artifact.kind} {artifact.version[:12]}  评分 score {result.score}  "
        f"违约概率 PD {result.pd:.2%}",
        markup=False,
        highlight=False,
    )
    for reason in result.reasons:
        console.print(
            f"  {reason.code}  -{reason.points_lost}  {reason.message_zh} / {reason.message_en}",
            markup=False,
            highlight=False,
        )
    if result.missing:
        console.print(
            f"  缺失 missing (scored as unknown): {', '.join(result.missing)}",
            markup=False,
            highlight=False,
        )


# ---- monitoring ----------------------------------------------------------------------------


def _until(text: str | None) -> date:
    if text is None:
        return SystemClock().business_date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(ErrorCode.INVALID_DATE, f"not a YYYY-MM-DD date: {text!r}") from None


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _psi(stats: dict[str, Any]) -> str:
    if stats.get("psi") is None:
        return "—"
    mark = " ⚠" if stats["alert"] else ""
    return f"{stats['psi']:.3f}{mark}"


def _worst_characteristic(characteristics: dict[str, Any]) -> str:
    if not characteristics:
        return "—"
    name, stats = max(characteristics.items(), key=lambda item: item[1]["psi"])
    return f"{name} {_psi(stats)}"


def _print_monitor(document: dict[str, Any]) -> None:
    model, window = document["model"], document["window"]
    console.print(
        f"模型监控 model monitoring: {model['kind']} {model['version'][:12]} "
        f"({window['start']} .. {window['until']}, 开发样本 dev sample n={model['dev_n']}, "
        f"PSI 阈值 threshold {document['settings']['psi_threshold']})",
        markup=False,
        highlight=False,
    )
    table = Table()
    columns = ("月份 Month", "申请 Apps", "拒绝率 Reject", "基线 Baseline", "评分 PSI")
    for column in (*columns, "最大特征 PSI Worst characteristic", "AUC", "KS", "告警 Alerts"):
        table.add_column(column, justify="left" if column.startswith("最大") else "right")
    for month in document["months"]:
        rejects = month["reject_rate"]
        performance = month["performance"] or {}
        label = month["month"] + ("" if month["complete"] else "*")
        table.add_row(
            label,
            str(month["applications"]),
            _rate(rejects["rate"]) + (" ⚠" if rejects["spike"] else ""),
            _rate(rejects["baseline"]),
            _psi(month["score"]),
            _worst_characteristic(month["characteristics"]),
            f"{performance['auc']:.3f}" if performance else "—",
            f"{performance['ks']:.3f}" if performance else "—",
            str(len(month["alerts"])),
        )
    console.print(table)
    if any(not m["complete"] for m in document["months"]):
        console.print("* 本月未结束 month still running", markup=False, highlight=False)
    if not document["alerts"]:
        console.print("无告警 no alerts", markup=False, highlight=False)
        return
    alerts = Table(title="告警 Alerts")
    for heading in ("类型 Kind", "对象 Subject", "月份 Month", "值 Value", "阈值 Threshold"):
        alerts.add_column(heading)
    alerts.add_column("ID")
    alerts.add_column("新 New")
    for alert in document["alerts"]:
        alerts.add_row(
            alert["kind"],
            alert["subject"],
            alert["month"],
            f"{alert['value']:.4f}",
            f"{alert['threshold']:.4f}",
            str(alert["alert_id"]),
            "新 new" if alert["new"] else "已记录 recorded",
        )
    console.print(alerts)


@model_app.command("monitor")
def monitor_cmd(
    database: str = typer.Option(
        None,
        "--database-url",
        "--database",
        help="database URL (default: $LENDCORE_DATABASE_URL or sqlite:///var/lendcore.db)",
    ),
    until: str = typer.Option(
        None, "--until", help="最后一天 last day YYYY-MM-DD (default: today's business date)"
    ),
    months: int = typer.Option(6, "--months", min=1, max=120, help="月数 calendar months"),
    psi_threshold: float = typer.Option(
        PSI_ALERT, "--psi-threshold", min=0.001, help="PSI 告警阈值 alert threshold"
    ),
    reject_points: float = typer.Option(
        RejectSpikeRule.points,
        "--reject-spike-points",
        min=0.001,
        max=1.0,
        help="拒绝率较基线上升（绝对值）alert when the reject rate rises this much (0.15 = 15 pts)",
    ),
    reject_ratio: float = typer.Option(
        1.5,
        "--reject-spike-ratio",
        min=0.0,
        help="...or to this multiple of the baseline (at least 5 pts up); 0 turns it off",
    ),
    baseline_months: int = typer.Option(
        RejectSpikeRule.baseline_months,
        "--baseline-months",
        min=1,
        max=24,
        help="拒绝率基线月数 months in the trailing reject-rate baseline",
    ),
    min_sample: int = typer.Option(
        MIN_PSI_SAMPLE,
        "--min-sample",
        min=1,
        help="月度最少样本 a month's PSI alerts from this many applications",
    ),
    labels: Path = typer.Option(
        None,
        "--labels",
        help="表现标签 outcome labels .json/.csv (application_id, bad: 90+ DPD or written off)",
    ),
    version: str = typer.Option(
        None, "--model-version", help="版本 version (default: current scorecard, the champion)"
    ),
    models: Path = typer.Option(None, "--models-dir", help=DIR_HELP),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """模型监控 / Score and characteristic PSI, reject rate, KS/AUC by month; records alerts.

    Exit status 0 whether or not there are alerts: the report lists them.
    """
    from lendcore.cli.audit_cmd import open_engine
    from lendcore.decisioning.monitor_service import monitor
    from lendcore.decisioning.outcome_labels import read_labels
    from lendcore.store.db import UnitOfWork

    rule = RejectSpikeRule(
        points=reject_points,
        ratio=reject_ratio or None,
        min_points=min(RejectSpikeRule.min_points, reject_points),
        baseline_months=baseline_months,
    )
    label_map = read_labels(labels) if labels is not None else None
    last_day = _until(until)
    engine = open_engine(database)
    try:
        with UnitOfWork(engine) as uow:
            report = monitor(
                uow.connection,
                until=last_day,
                model_version=version,
                months=months,
                psi_threshold=psi_threshold,
                reject_spike=rule,
                min_psi_sample=min_sample,
                labels=label_map,
                models_dir=models,
            )
            uow.commit()
    finally:
        engine.dispose()
    document = report.to_dict()
    if json_out:
        print_json(document)
    else:
        _print_monitor(document)
