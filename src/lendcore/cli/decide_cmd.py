"""``lendcore decide`` (an application on stdin through the model and the decision policies;
``--store`` records it) and ``lendcore fraud rings`` (the batch ring finder)."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from lendcore.cli.common import app, console, print_json
from lendcore.decisioning.decide import Outcome
from lendcore.decisioning.documents import response_document
from lendcore.decisioning.fraud import (
    HUB_DEGREES,
    HashIdentifier,
    IndexRow,
    InMemoryBlacklist,
    find_rings,
    identifiers_of,
    keyed_hasher,
    sha256_hasher,
)
from lendcore.decisioning.ip_list import default_ip_reputation
from lendcore.decisioning.policy import PolicyEngine, PolicyStore
from lendcore.decisioning.scoring import ModelRegistry, with_shadow_reasons
from lendcore.decisioning.service import DecisionService, Facts, production_hasher
from lendcore.kernel.clock import DEFAULT_TIMEZONE, FixedClock, SystemClock
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.products.loader import load_products

fraud_app = typer.Typer(help="反欺诈关系图 / fraud graph", no_args_is_help=True)
app.add_typer(fraud_app, name="fraud")

_COLOURS = {Outcome.APPROVE: "green", Outcome.MANUAL_REVIEW: "yellow", Outcome.REJECT: "bold red"}


def _moment(text: str | None) -> datetime:
    """``--at``: an ISO datetime with an offset, or a date (09:00 Beijing time); default now."""
    if text is None:
        return SystemClock().now()
    try:
        if len(text) == 10:
            return FixedClock.at_date(date.fromisoformat(text)).now()
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            ErrorCode.INVALID_DATE, f"--at is not an ISO date or datetime: {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(DEFAULT_TIMEZONE))
    return moment


def _hasher(key_file: Path | None, store: bool = False) -> HashIdentifier:
    if key_file is None:
        if store:  # the database's index and blacklist are keyed with the local key file
            return production_hasher()
        return sha256_hasher()  # sandbox: a fixed salt, not a secret
    from lendcore.privacy.keys import LocalKeyFileProvider

    return keyed_hasher(LocalKeyFileProvider(key_file).index_key())


def _blacklist_entries(path: Path) -> list[tuple[str, str]]:
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kind, sep, value = line.partition(":")
        if not sep or not value.strip():
            raise ValidationError(
                ErrorCode.INVALID_ARGUMENT,
                f"{path.name}:{number}: write kind:value, e.g. phone:138...",
            )
        entries.append((kind.strip(), value.strip()))
    return entries


def _read_application() -> Any:
    text = sys.stdin.read()
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValidationError(
            ErrorCode.INVALID_APPLICATION, f"stdin is not JSON: {exc}", {"field": ""}
        ) from None


def _pins(values: list[str] | None) -> dict[str, str]:
    pins: dict[str, str] = {}
    for value in values or []:
        key, sep, digest = value.partition("=")
        if not sep:
            raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"--pin takes key=hash: {value!r}")
        pins[key.strip()] = digest.strip()
    return pins


@app.command("decide")
def decide_cmd(
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
    at: str = typer.Option(
        None, help="决策时间 decision time: ISO datetime, or a date (default: now)"
    ),
    policies: Path = typer.Option(
        None, help="决策策略目录 policy directory (default: policies/decision)"
    ),
    models: Path = typer.Option(
        None, help="模型目录 models directory (default: $LENDCORE_MODELS_DIR, ./models)"
    ),
    pin: list[str] = typer.Option(
        None, "--pin", help="回放 replay: pin a policy version, key=hash (repeatable)"
    ),
    index_db: str = typer.Option(
        None, help="标识索引数据库 database URL of the identifier index (default: not consulted)"
    ),
    application_id: int = typer.Option(
        None, help="申请编号 application id (arm draw, index); default: 0, or a new id with --store"
    ),
    blacklist: Path = typer.Option(None, help="黑名单文件 blacklist file, one kind:value a line"),
    key_file: Path = typer.Option(
        None,
        help="blind-index key file (default: sandbox salt; with --store the local key file "
        "$LENDCORE_KEY_FILE or var/keys/)",
    ),
    trace: bool = typer.Option(True, "--trace/--no-trace", help="include the rule trace"),
    store: bool = typer.Option(
        False,
        "--store",
        help="记录决策 decide against the database (index, blacklist) and record the decision",
    ),
    database_url: str = typer.Option(
        None, help="数据库 database URL for --store (default: LENDCORE_DATABASE_URL)"
    ),
) -> None:
    """申请决策（从标准输入读取申请JSON） / Decide an application read as JSON from stdin."""
    body = _read_application()
    moment = _moment(at)
    service = DecisionService(
        PolicyEngine(PolicyStore(directory=policies)),
        load_products(),
        ModelRegistry(models),
        _hasher(key_file, store),
        ip_reputation=default_ip_reputation(),  # $LENDCORE_IP_LIST, else the sandbox
        clock=FixedClock(moment),
    )
    if store:
        if blacklist is not None or index_db or pin:
            raise ValidationError(
                ErrorCode.INVALID_ARGUMENT,
                "--store decides against the database: drop --blacklist, --index-db and --pin",
            )
        document = _decide_and_store(service, body, database_url, application_id)
        if not trace:
            document.pop("trace", None)
    else:
        document = _decide_only(
            service, body, moment, application_id or 0, index_db, blacklist, _pins(pin), trace
        )
    if json_out:
        print_json(document)
    else:
        show_decision(document)


def _decide_only(
    service: DecisionService,
    body: Any,
    moment: datetime,
    application_id: int,
    index_db: str | None,
    blacklist: Path | None,
    pins: dict[str, str],
    trace: bool,
) -> dict[str, Any]:
    """A what-if: decide without recording anything."""
    application = service.validate(body)
    applicant_key, identifiers = identifiers_of(application, service.hasher)
    counts = None
    hit = None
    line = None
    if blacklist is not None:
        entries = _blacklist_entries(blacklist)
        hit = InMemoryBlacklist.of(service.hasher, entries).first_hit(identifiers)
    if index_db:
        from lendcore.decisioning.credit_line_tables import line_of_applicant
        from lendcore.decisioning.fraud_tables import identifier_facts_db
        from lendcore.store.db import make_engine

        with make_engine(index_db).connect() as connection:
            found = identifier_facts_db(
                connection,
                identifiers,
                application_id=application_id,
                applicant_key=applicant_key,
                at=moment,
            )
            counts, hit = found.counts, hit or found.blacklist_hit
            line = line_of_applicant(connection, applicant_key)
    verdict = service.ip_reputation.check(application.device.ip)
    facts = Facts(counts, hit.kind if hit else None, str(verdict.risk), counts is not None, line)
    evaluation = service.evaluate(
        application,
        application_id=application_id,
        at=moment,
        facts=facts,
        versions=pins,
        trace=trace,
    )
    document = response_document(
        evaluation.decision,
        evaluation.scoring.acted,
        decision_id=None,
        application_id=application_id,
    )
    document["decision_date"] = evaluation.decision_date.isoformat()
    document["shadow"] = with_shadow_reasons(
        [s.to_dict() for s in evaluation.scoring.shadow], application.credit_profile, service.models
    )
    if trace:
        document["trace"] = evaluation.decision.policy.trace
    return document


def _decide_and_store(
    service: DecisionService, body: Any, database_url: str | None, application_id: int | None
) -> dict[str, Any]:
    from lendcore.cli.audit_cmd import open_engine
    from lendcore.decisioning.service import get_decision
    from lendcore.store.db import UnitOfWork

    engine = open_engine(database_url)
    try:
        with UnitOfWork(engine) as uow:
            response = service.decide(uow, body, channel="cli", application_id=application_id)
            uow.commit()
        with engine.connect() as connection:
            recorded = get_decision(connection, int(response["decision_id"]), service.models)
    finally:
        engine.dispose()
    return {**response, "decision_date": recorded["decision_date"], "trace": recorded["trace"]}


def show_decision(document: dict[str, Any]) -> None:
    """A decision document (from ``decide``, ``decision show`` or a replay) for people."""
    outcome = Outcome(document["outcome"])
    colour = _COLOURS[outcome]
    recorded = (
        f"决策 decision {document['decision_id']}  ·  " if document.get("decision_id") else ""
    )
    console.print(
        f"{recorded}结果 outcome: [{colour}]{outcome}[/]  ·  等级 tier {document['tier']} "
        f"({document['segment']}, band {document['score_band']})"
    )
    console.print(
        f"评分 score {document['score']}  ·  违约概率 PD {document['pd']:.4f}  ·  "
        f"模型 model {document['model_kind']} {document['model_version'][:12]} "
        f"(arm {document['arm']})",
        highlight=False,
    )
    if document["reasons"]:
        table = Table(title="原因 Reasons")
        for column in ("代码 Code", "来源 Source", "结果 Outcome", "说明", "Message"):
            table.add_column(column)
        for reason in document["reasons"]:
            table.add_row(
                reason["code"],
                reason["source"],
                reason["outcome"] or "",
                reason["message_zh"],
                reason["message_en"],
            )
        console.print(table)
    offer = document.get("offer")
    if offer is not None:
        console.print(
            f"报价 offer: {offer['product']} {offer['amount']} × {offer['term']} {offer['term_unit']}"
            f" @ {offer['annual_rate']} (IRR {offer['apr_irr']} ≤ cap {offer['cap']}), "
            f"额度 limit {offer['limit']}, 上限 tier max {offer['tier_max']}"
        )
    refused = document.get("offer_refused")
    if refused is not None:
        console.print(f"[bold red]无报价 no offer[/]: {refused['message']}")
    versions = ", ".join(f"{k} {v[:12]}" for k, v in document["policy_versions"].items())
    console.print(f"策略版本 policy versions: {versions}")


def _rows_from_file(path: Path) -> list[IndexRow]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [
            IndexRow(
                int(r["application_id"]),
                str(r["applicant_key"]),
                str(r["kind"]),
                str(r["value_hash"]),
                datetime.fromisoformat(r["created_at"]),
            )
            for r in data
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"{path}: not a list of index rows ({exc})"
        ) from None


@fraud_app.command("rings")
def rings_cmd(
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
    input_file: Path = typer.Option(
        None, "--input", help="index rows as a JSON list (default: read the database)"
    ),
    database_url: str = typer.Option(None, help="database URL (default: LENDCORE_DATABASE_URL)"),
    days: int = typer.Option(90, min=1, help="窗口 look-back window in days"),
    until: str = typer.Option(None, help="window end, ISO datetime or date (default: now)"),
    hub_degree: int = typer.Option(
        HUB_DEGREES["ip"], min=2, help="an IP shared by more applications than this is a hub"
    ),
    min_applicants: int = typer.Option(3, min=2, help="smallest ring reported (people)"),
) -> None:
    """团伙识别：申请-标识关系图的连通分量 / Fraud rings: components of the application–identifier graph."""
    from datetime import timedelta

    end = _moment(until)
    start = end - timedelta(days=days)
    if input_file is not None:
        rows = [r for r in _rows_from_file(input_file) if start <= r.created_at <= end]
    else:
        from sqlalchemy.exc import SQLAlchemyError

        from lendcore.decisioning.fraud_tables import load_index_rows
        from lendcore.store.db import make_engine

        try:
            with make_engine(database_url).connect() as connection:
                rows = load_index_rows(connection, start, end)
        except SQLAlchemyError as exc:
            raise ValidationError(
                ErrorCode.INVALID_ARGUMENT,
                f"cannot read the identifier index (migrated?): {str(exc).splitlines()[0]}",
            ) from None
    report = find_rings(rows, hub_degrees={"ip": hub_degree}, min_applicants=min_applicants)
    document = {"window": {"from": start.isoformat(), "until": end.isoformat()}, **report.to_dict()}
    if json_out:
        print_json(document)
        return
    table = Table(title=f"团伙 Rings ({len(report.rings)})")
    for column in ("Ring", "分数 Score", "人数 People", "申请 Apps", "共享 Shared", "强 Strong"):
        table.add_column(column)
    for ring in report.rings:
        shared = ", ".join(f"{k} {n}" for k, n in ring.to_dict()["shared_identifiers"].items())
        table.add_row(
            ring.ring_id,
            f"{ring.score:.2f}",
            str(len(ring.applicants)),
            str(len(ring.applications)),
            shared,
            f"{ring.strong_share:.0%}",
        )
    console.print(table)
    console.print(f"剪除的枢纽 pruned hubs: {len(report.pruned_hubs)}  ·  rows {report.rows}")
