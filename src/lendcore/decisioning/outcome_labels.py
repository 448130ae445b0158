"""Outcome labels for model monitoring: which decided applications turned out bad.

A label maps an application id to 1 (bad: the loan the decision funded reached 90+ days past due
or was written off) or 0 (good: matured or performing past the observation window). servicing's
``loans`` carry no application or decision id yet, so monitoring takes outcomes from a file an
analyst exports -- JSON or CSV -- until that link exists.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from lendcore.kernel.errors import ErrorCode, ValidationError


def _label(value: Any, where: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
        return 1 if value.strip().lower() in ("1", "true") else 0
    raise ValidationError(
        ErrorCode.INVALID_ARGUMENT, f"{where}: bad must be 0/1 or true/false, got {value!r}"
    )


def _application_id(value: Any, where: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"{where}: application_id must be an integer: {value!r}"
        ) from None


def parse_labels(content: str, fmt: str) -> dict[int, int]:
    """Outcome labels: ``application_id -> 1`` (bad: 90+ DPD or written off) ``/ 0`` (good).

    ``fmt="json"``: ``[{"application_id": 1, "bad": 0}, ...]`` or ``{"1": 0, ...}``;
    ``fmt="csv"``: a header row with ``application_id`` and ``bad`` columns.
    """
    labels: dict[int, int] = {}
    if fmt == "json":
        try:
            document = json.loads(content)
        except ValueError as exc:
            raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"labels: not JSON: {exc}") from None
        if isinstance(document, dict):
            items = [(k, v, f"labels[{k!r}]") for k, v in document.items()]
        elif isinstance(document, list) and all(isinstance(r, dict) for r in document):
            items = [
                (r.get("application_id"), r.get("bad"), f"labels[{i}]")
                for i, r in enumerate(document)
            ]
        else:
            raise ValidationError(
                ErrorCode.INVALID_ARGUMENT,
                "labels: expected a list of {application_id, bad} objects or an id -> bad map",
            )
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(content))
        if not reader.fieldnames or not {"application_id", "bad"} <= set(reader.fieldnames):
            raise ValidationError(
                ErrorCode.INVALID_ARGUMENT, "labels: the CSV needs application_id and bad columns"
            )
        items = [
            (r["application_id"], r["bad"], f"labels line {i + 2}") for i, r in enumerate(reader)
        ]
    else:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"labels: unknown format {fmt!r}")
    for raw_id, raw_bad, where in items:
        labels[_application_id(raw_id, where)] = _label(raw_bad, where)
    return labels


def read_labels(path: Path) -> dict[int, int]:
    """:func:`parse_labels` of a ``.json`` or ``.csv`` file (by its suffix)."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("json", "csv"):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"labels: {path.name} must be a .json or .csv file"
        )
    try:
        content = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"labels: cannot read {path}: {exc.strerror}"
        ) from None
    return parse_labels(content, fmt)
