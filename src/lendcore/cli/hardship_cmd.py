"""``lendcore hardship calculate`` (a request on stdin through the engine), ``import-policy``
(a draft policy from an announcement, for review) and ``policies`` (the policies in force)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.table import Table

from lendcore.cli.common import app, console, err_console, print_json
from lendcore.hardship.calculate import calculate
from lendcore.hardship.policy_import import draft_policy
from lendcore.hardship.statement_parse import decode
from lendcore.hardship.store import default_store
from lendcore.kernel.clock import SystemClock
from lendcore.kernel.errors import ErrorCode, ValidationError

hardship_app = typer.Typer(
    help="困难客户协商 / Hardship negotiation: policies, plans, scripts", no_args_is_help=True
)
app.add_typer(hardship_app, name="hardship")

_LEVEL_COLOUR = {"green": "green", "yellow": "yellow", "red": "bold red"}
_KIND_TEXT = {"aggressive": "进取 aggressive", "balanced": "均衡 balanced",
              "conservative": "稳健 conservative"}  # fmt: skip


def _request_from_stdin() -> dict[str, Any]:
    text = sys.stdin.read()
    if not text.strip():
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, "no request on stdin (expected a JSON object)"
        )
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"the request is not JSON: {exc.msg} (line {exc.lineno})"
        ) from None
    if not isinstance(document, dict):
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "the request must be a JSON object")
    return document


def _as_of(text: str | None) -> date:
    if text is None:
        return SystemClock().business_date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(ErrorCode.INVALID_DATE, f"not a YYYY-MM-DD date: {text!r}") from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"cannot read {path}: {exc.strerror}"
        ) from None


@hardship_app.command("calculate")
def calculate_cmd(
    statement: list[Path] = typer.Option(
        None, "--statement", help="银行流水 CSV/XLSX (repeatable) / a bank statement export"
    ),
    seed: int = typer.Option(1, "--seed", help="压力测试随机种子 / stress-test seed"),
    as_of: str = typer.Option(None, "--as-of", help="业务日期 YYYY-MM-DD (default: today)"),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """协商方案测算（请求 JSON 从标准输入读取）/ Ability, stress test, three plans and a script
    for the request on stdin."""
    request = _request_from_stdin()
    if statement:
        request["statements"] = [(path.name, _read(path)) for path in statement]
    result = calculate(request, seed=seed, as_of=_as_of(as_of))
    if json_out:
        print_json(result)
        return
    _print_result(result)


def _print_result(result: dict[str, Any]) -> None:
    if result["eligible"]:
        console.print("[bold green]可协商 ELIGIBLE[/]")
    else:
        console.print("[bold red]不可协商 NOT ELIGIBLE[/]")
    for item in result["reasons"]:
        console.print(
            f"  {item['code']}  {item['message_zh']} / {item['message_en']}", highlight=False
        )
    if result["recommendation"]:
        rec = result["recommendation"]
        console.print(
            f"建议 recommendation: {rec['message_zh']} / {rec['message_en']}", highlight=False
        )
    if result["statements"]:
        s = result["statements"]
        console.print(
            f"流水 statements: {', '.join(s['files'])}  {s['period']['start']}..{s['period']['end']}"
            f"  月收入 income {s['monthly_net_income']}  必要支出 essential {s['monthly_essential']}",
            highlight=False,
        )
        for signal in s["signals"]:
            console.print(
                f"  [red]{signal['code']}[/] {signal['file']} rows {signal['lines']}: "
                f"{signal['message_zh']} / {signal['message_en']}",
                highlight=False,
            )
    if result["ability"]:
        a = result["ability"]
        console.print(
            f"还款能力 ability: income {a['monthly_net_income']} ({a['income_source']}), "
            f"essential {a['essential_expenses']} (city {a['city_matched']} baseline "
            f"{a['city_baseline']}), score {a['ability_score']}, surplus {a['surplus']}, "
            f"max instalment {a['max_installment']}",
            highlight=False,
        )
    if result["stress"]:
        st = result["stress"]
        colour = _LEVEL_COLOUR[st["level"]]
        console.print(
            f"压力测试 stress: [{colour}]{st['level']}[/]  breach probability "
            f"{st['default_probability']:.1%} ({st['paths']} paths x {st['horizon_months']} months, "
            f"seed {st['seed']})",
            highlight=False,
        )
    if result["plans"]:
        table = Table(title="协商方案 Plans")
        for column in ("方案 Plan", "首付 Down", "期数 Periods", "月供 Instalment", "减免 Waiver",
                       "总还款 Total", "IRR", "履约 Success", "回收现值 Recovery PV"):  # fmt: skip
            table.add_column(column)
        for plan in result["plans"]:
            table.add_row(
                _KIND_TEXT[plan["kind"]],
                plan["down_payment"],
                str(plan["periods"]),
                plan["installment"],
                plan["waiver"],
                plan["total_repayment"],
                plan["apr_irr"],
                f"{plan['success_probability']:.1%}",
                plan["recovery_pv"],
            )
        console.print(table)
    if result["script"]:
        console.print(f"\n话术 script ({result['script']['plan']}):", highlight=False)
        console.print(result["script"]["zh"], markup=False, highlight=False)
        console.print(result["script"]["en"], markup=False, highlight=False)
    policy = result["policy"]
    console.print(f"政策 policy: {policy['id']} @ {policy['version'][:12]}", highlight=False)


@hardship_app.command("import-policy")
def import_policy_cmd(
    file: Path = typer.Argument(..., help="政策公告文本 (UTF-8 或 GBK) / announcement text"),
    out: Path = typer.Option(None, "--out", help="把草稿写成 YAML / write the draft as YAML"),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """从政策公告提取草稿（需人工审核，不会自动生效）/ Draft a policy from an announcement for a
    person to review; it is never applied automatically."""
    text = decode(file.name, _read(file))
    draft = draft_policy(text, source_name=file.name)
    if out is not None:
        out.write_text(
            "# DRAFT — extracted automatically; review every value before use.\n"
            "# 草稿：自动提取，须人工审核后方可使用。\n"
            + yaml.safe_dump(draft, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    if json_out:
        print_json(draft)
        return
    console.print("[bold yellow]草稿 DRAFT[/] — " + draft["notice"]["zh-CN"], highlight=False)
    console.print(draft["notice"]["en"], highlight=False)
    table = Table(title="提取结果 Findings")
    for column in ("字段 Field", "值 Value", "原文 Sentence"):
        table.add_column(column)
    for finding in draft["findings"]:
        table.add_row(
            finding["field"], json.dumps(finding["value"], ensure_ascii=False), finding["sentence"]
        )
    console.print(table)
    if draft["missing"]:
        console.print(f"未找到 not found: {', '.join(draft['missing'])}", highlight=False)
    if out is not None:
        console.print(f"草稿已写入 draft written to {out}", highlight=False)


@hardship_app.command("policies")
def policies_cmd(
    scope: str = typer.Option(None, "--scope", help="platform | product"),
    product: str = typer.Option(None, "--product", help="产品代码 / product code"),
    days_past_due: int = typer.Option(None, "--days-past-due", min=0, help="逾期天数 / DPD"),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """困难客户协商政策列表 / The hardship policies in policies/hardship with their versions."""
    rows, invalid = default_store().search(
        scope=scope, product=product, days_past_due=days_past_due
    )
    for bad in invalid:  # on stderr: the JSON on stdout stays the list of policies
        err_console.print(f"无法加载 skipped {bad['file']}: {bad['message']}", highlight=False)
    if json_out:
        print_json(rows)
        return
    table = Table(title="困难客户协商政策 Hardship policies")
    table.add_column("代码 Id", no_wrap=True)
    for column in ("名称 Name", "范围 Scope", "逾期 DPD >", "最高减免 Waiver",
                   "期数 Periods", "首付 Down", "生效 Effective", "版本 Version"):  # fmt: skip
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["id"],
            f"{r['name']['zh-CN']} / {r['name']['en']}",
            r["scope"] + (f" ({', '.join(r['products'])})" if r["products"] else ""),
            str(r["eligibility"]["days_past_due_over"]),
            r["max_waiver_ratio"],
            f"{r['periods']['min']}-{r['periods']['max']}",
            f"{r['down_payment']['min_ratio']}-{r['down_payment']['max_ratio']}",
            r["effective_from"],
            f"v{r['version']} {r['version_hash'][:12]}",
        )
    console.print(table)
