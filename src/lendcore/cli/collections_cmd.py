"""``lendcore collections check`` (what-if contact gate) and ``lendcore collections packs``."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.table import Table

from lendcore.cli.common import app, console, print_json
from lendcore.collections.facts import parse_facts
from lendcore.collections.gate import evaluate
from lendcore.collections.loader import get_pack, load_packs
from lendcore.collections.model import REASON_TEXT, Reason
from lendcore.collections.pack import CompiledPack
from lendcore.kernel.errors import ErrorCode, ValidationError

collections_app = typer.Typer(
    help="催收联系合规 / Collections contact compliance", no_args_is_help=True
)
app.add_typer(collections_app, name="collections")


def _read_stdin() -> str:
    # An empty stdin is a missing document, never an implicit "no facts, so allow".
    text = sys.stdin.read()
    if not text.strip():
        raise ValidationError(
            ErrorCode.INVALID_FACTS, "no facts on stdin (expected a JSON document)"
        )
    return text


@collections_app.command()
def check(json_out: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """模拟检查一次联系（事实从标准输入读取） / What-if: may this contact be made? Facts on stdin."""
    code, facts = parse_facts(_read_stdin())
    pack = get_pack(code)
    result = evaluate(pack, facts)
    if json_out:
        print_json(
            {
                "allowed": result.allowed,
                "reasons": [str(r) for r in result.reasons],
                "pack_version": result.pack_version,
            }
        )
        return
    if result.allowed:
        console.print("[bold green]准许 ALLOWED[/]")
    else:
        console.print("[bold red]拒绝 DENIED[/]")
        for reason in result.reasons:
            zh, en = REASON_TEXT.get(Reason(reason), ("", ""))
            console.print(f"  {reason}  {zh} / {en}", highlight=False)
    console.print(f"规则包 pack: {result.pack_version}", highlight=False)


def _pack_row(pack: CompiledPack) -> dict[str, Any]:
    rules = pack.pack.rules
    return {
        "code": pack.code,
        "name": {"zh-CN": pack.pack.name.zh_CN, "en": pack.pack.name.en},
        "jurisdiction": pack.pack.jurisdiction,
        "version": pack.pack.version,
        "effective_from": pack.pack.effective_from.isoformat(),
        "version_hash": pack.version_hash,
        "pack_version": pack.version,
        "rules": [name for name in type(rules).model_fields if getattr(rules, name) is not None],
    }


@collections_app.command()
def packs(json_out: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """合规规则包列表 / List the compliance packs in policies/compliance with their versions."""
    rows = [_pack_row(p) for p in load_packs().values()]
    if json_out:
        print_json(rows)
        return
    table = Table(title="合规规则包 Compliance packs")
    for column in ("代码 Code", "名称 Name", "辖区 Jurisdiction", "生效 Effective", "版本 Version"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["code"],
            f"{r['name']['zh-CN']} / {r['name']['en']}",
            r["jurisdiction"],
            r["effective_from"],
            f"v{r['version']} {r['version_hash'][:12]}",
        )
    console.print(table)
