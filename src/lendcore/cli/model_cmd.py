"""``lendcore model train | list | promote | score``: the credit models as versioned artifacts.

Training imports pandas, optbinning and LightGBM only when it runs; the other commands stay
light (scoring a card needs none of them).
"""

from __future__ import annotations

import json
import sys
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
