"""``lendcore audit verify|head`` (the tamper-evident audit chain) and ``lendcore compliance
report`` (what the collections gate did over a period)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy import Engine, func, select

from lendcore.cli.common import app, console, print_json
from lendcore.collections.audit import records_between, verify_table
from lendcore.collections.tables import collection_alerts, collection_attempts
from lendcore.kernel.clock import DEFAULT_TIMEZONE
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.privacy.chain import ChainHead
from lendcore.store.db import database_url, make_engine
from lendcore.store.migrate import upgrade

audit_app = typer.Typer(help="审计链 / Tamper-evident audit chain", no_args_is_help=True)
compliance_app = typer.Typer(help="合规报告 / Compliance reporting", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(compliance_app, name="compliance")

DatabaseOption = typer.Option(
    None,
    "--database",
    help="database URL (default: $LENDCORE_DATABASE_URL or sqlite:///var/lendcore.db)",
)


def open_engine(url: str | None) -> Engine:
    engine = make_engine(url or database_url())
    upgrade(engine)  # idempotent: a fresh or older database gets the current schema
    return engine


def _anchor(text: str) -> ChainHead:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"an anchor is SEQ:HASH (64 hex digits): {text!r}"
        )
    return ChainHead(int(seq), digest)


@audit_app.command("verify")
def verify_cmd(
    anchor: list[str] = typer.Option(
        [], "--anchor", help="an exported head SEQ:HASH the chain must still contain (repeatable)"
    ),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
    database: str = DatabaseOption,
) -> None:
    """校验审计链 / Verify the audit chain; names the first edited, inserted, deleted or moved
    record. Exit status 1 when the chain is broken."""
    anchors = [_anchor(a) for a in anchor]
    engine = open_engine(database)
    try:
        with engine.connect() as connection:
            result = verify_table(connection, anchors)
    finally:
        engine.dispose()
    if json_out:
        print_json(result.to_dict())
    elif result.ok:
        console.print(
            f"[bold green]审计链完好 audit chain intact[/]: {result.records} records, "
            f"head {result.verified.seq}:{result.verified.hash}",
            highlight=False,
        )
    else:
        console.print(
            f"[bold red]审计链被篡改 audit chain BROKEN[/] at seq {result.first_bad_seq}: "
            f"{result.problem} ({result.detail})",
            highlight=False,
        )
        if result.record:
            r = result.record
            console.print(
                f"  record {r['seq']}: {r['kind']} by {r['actor']} at {r['at']}", highlight=False
            )
        console.print(
            f"  last intact: seq {result.verified.seq} ({result.records} records read)",
            highlight=False,
        )
    if not result.ok:
        raise SystemExit(1)


@audit_app.command("head")
def head_cmd(
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
    database: str = DatabaseOption,
) -> None:
    """审计链头 / Print the verified head (SEQ:HASH) to anchor outside the database. Refuses a
    broken chain: anchoring it would vouch for the tampering."""
    engine = open_engine(database)
    try:
        with engine.connect() as connection:
            result = verify_table(connection)
    finally:
        engine.dispose()
    if not result.ok:
        raise ValidationError(
            ErrorCode.AUDIT_CHAIN_BROKEN,
            f"the chain is broken at seq {result.first_bad_seq} ({result.problem}); "
            "run `lendcore audit verify`",
        )
    head = result.verified
    if json_out:
        print_json({"seq": head.seq, "hash": head.hash, "anchor": f"{head.seq}:{head.hash}"})
    else:
        console.print(f"{head.seq}:{head.hash}", highlight=False)


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            ErrorCode.INVALID_DATE, f"{option} is not a YYYY-MM-DD date: {text!r}"
        ) from None


def compliance_report(engine: Engine, first: date, last: date, zone: ZoneInfo) -> dict[str, Any]:
    """Counts over [first 00:00, last+1 00:00) in ``zone``, from the audit chain (the record of
    every check) and the alert and attempt tables."""
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last + timedelta(days=1), time(0), zone)
    kinds: Counter[str] = Counter()
    denied_by_reason: Counter[str] = Counter()
    by_call_type: Counter[str] = Counter()
    by_party: Counter[str] = Counter()
    violations: Counter[str] = Counter()
    refused_decrypts: Counter[str] = Counter()
    suspended_agents: set[str] = set()
    allowed = denied = 0
    with engine.connect() as connection:
        for kind, _actor, payload in records_between(connection, start, end):
            kinds[kind] += 1
            if kind == "gate.check":
                by_call_type[str(payload.get("call_type"))] += 1
                by_party[str(payload.get("party"))] += 1
                if payload.get("allowed"):
                    allowed += 1
                else:
                    denied += 1
                    denied_by_reason.update(payload.get("reasons") or [])
            elif kind == "alert.raised":
                violations[str(payload.get("kind"))] += 1
            elif kind == "agent.suspended":
                suspended_agents.add(str(payload.get("agent_id")))
            elif kind == "contact.decrypt_refused":
                refused_decrypts[str(payload.get("reason"))] += 1
        utc_start, utc_end = start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))
        a, al = collection_attempts.c, collection_alerts.c
        outcomes: dict[Any, Any] = dict(
            connection.execute(
                select(func.coalesce(a.outcome, a.status), func.count())
                .where(a.requested_at >= utc_start, a.requested_at < utc_end)
                .group_by(func.coalesce(a.outcome, a.status))
            ).all()
        )
        webhook: dict[Any, Any] = dict(
            connection.execute(
                select(al.webhook_status, func.count())
                .where(al.at >= utc_start, al.at < utc_end)
                .group_by(al.webhook_status)
            ).all()
        )
        chain = verify_table(connection)
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "timezone": zone.key,
        "checks": allowed + denied,
        "allowed": allowed,
        "denied": denied,
        "denied_by_reason": dict(denied_by_reason.most_common()),
        "checks_by_call_type": dict(by_call_type),
        "checks_by_party": dict(by_party),
        "violations_blocked": sum(violations.values()),
        "violations_by_kind": dict(violations),
        "alerts": kinds["alert.raised"],
        "alert_webhooks": webhook,
        "decrypts": kinds["contact.decrypt"],
        "decrypts_refused": sum(refused_decrypts.values()),
        "decrypts_refused_by_reason": dict(refused_decrypts),
        "dials": kinds["contact.dial"],
        "sms_sent": kinds["sms.send"],
        "outcomes": {str(k): int(v) for k, v in outcomes.items()},
        "suspensions": kinds["agent.suspended"],
        "agents_suspended": sorted(suspended_agents),
        "restorations": kinds["agent.restored"],
        "audit_chain": {"ok": chain.ok, "records": chain.records, "problem": chain.problem},
    }


@compliance_app.command("report")
def report_cmd(
    from_: str = typer.Option(..., "--from", help="first day, YYYY-MM-DD (business time zone)"),
    to: str = typer.Option(..., "--to", help="last day, YYYY-MM-DD (inclusive)"),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
    timezone: str = typer.Option(DEFAULT_TIMEZONE, "--timezone", help="zone the days are in"),
    database: str = DatabaseOption,
) -> None:
    """催收合规报告 / Gate checks, allowed and denied by reason, violations blocked, alerts,
    decrypts and suspensions over a period."""
    first, last = _day(from_, "--from"), _day(to, "--to")
    if last < first:
        raise ValidationError(ErrorCode.INVALID_DATE, "--to is before --from")
    try:
        zone = ZoneInfo(timezone)
    except Exception:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"unknown zone {timezone!r}") from None
    engine = open_engine(database)
    try:
        report = compliance_report(engine, first, last, zone)
    finally:
        engine.dispose()
    if json_out:
        print_json(report)
        return
    table = Table(title=f"催收合规报告 Compliance report {report['from']} – {report['to']}")
    table.add_column("项目 Item")
    table.add_column("数量 Count", justify="right")
    for label, key in (
        ("合规检查 checks", "checks"),
        ("准许 allowed", "allowed"),
        ("拒绝 denied", "denied"),
        ("拦截违规 violations blocked", "violations_blocked"),
        ("告警 alerts", "alerts"),
        ("解密 decrypts", "decrypts"),
        ("拒绝解密 decrypts refused", "decrypts_refused"),
        ("外呼 dials", "dials"),
        ("短信 SMS", "sms_sent"),
        ("停权 suspensions", "suspensions"),
        ("恢复 restorations", "restorations"),
    ):
        table.add_row(label, str(report[key]))
    console.print(table)
    if report["denied_by_reason"]:
        reasons = Table(title="拒绝原因 Denied by reason")
        reasons.add_column("原因 Reason")
        reasons.add_column("次数 Count", justify="right")
        for reason, count in report["denied_by_reason"].items():
            reasons.add_row(reason, str(count))
        console.print(reasons)
    chain = report["audit_chain"]
    state = "完好 intact" if chain["ok"] else f"被篡改 BROKEN ({chain['problem']})"
    console.print(f"审计链 audit chain: {state}, {chain['records']} records", highlight=False)
