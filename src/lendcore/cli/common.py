"""Shared CLI plumbing: the Typer app, bilingual one-line errors, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

app = typer.Typer(
    name="lendcore",
    help="lendcore — 合规优先的消费信贷核心 / compliance-first consumer-lending core",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (CI logs, `| less`) gets a wide table instead of 80 truncated columns.
console = Console(width=None if sys.stdout.isatty() else 130)
err_console = Console(stderr=True)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


def fail(code: str, message: str) -> NoReturn:
    """One clear line on stderr (错误 / error), exit status 2."""
    err_console.print(
        f"错误 error: {code}: {message}", markup=False, highlight=False, soft_wrap=True
    )
    raise SystemExit(2)
