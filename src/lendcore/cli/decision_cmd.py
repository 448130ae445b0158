"""Recorded decisions from the command line: ``lendcore decision show | replay``, the manual-review
queue (``lendcore review list | verdict``) and the blacklist (``lendcore blacklist add | remove |
list``). Every command takes ``--database-url`` (default: ``$LENDCORE_DATABASE_URL``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.table import Table
from sqlalchemy import Engine

from lendcore.cli.common import app, console, print_json
from lendcore.cli.decide_cmd import show_decision
from lendcore.decisioning import blacklist as entries
from lendcore.decisioning import reviews
from lendcore.decisioning.fraud import HashIdentifier, keyed_hasher
from lendcore.decisioning.service import get_decision, production_hasher
from lendcore.kernel.clock import SystemClock
from lendcore.store.db import UnitOfWork

decision_app = typer.Typer(help="决策记录 / recorded decisions", no_args_is_help=True)
review_app = typer.Typer(help="人工审核 / manual review", no_args_is_help=True)
blacklist_app = typer.Typer(help="黑名单 / identifier blacklist", no_args_is_help=True)
app.add_typer(decision_app, name="decision")
app.add_typer(review_app, name="review")
app.add_typer(blacklist_app, name="blacklist")

T = TypeVar("T")
JsonOption = typer.Option(False, "--json", help="machine-readable output")
DatabaseUrlOption = typer.Option(
    None, "--database-url", help="database URL (default: $LENDCORE_DATABASE_URL)"
)
KeyFileOption = typer.Option(
    None, "--key-file", help="blind-index key file (default: $LENDCORE_KEY_FILE or var/keys/)"
)


@contextmanager
def _engine(database_url: str | None) -> Iterator[Engine]:
    from lendcore.cli.audit_cmd import open_engine

    engine = open_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _read(database_url: str | None, query: Callable[[Any], T]) -> T:
    with _engine(database_url) as engine, engine.connect() as connection:
        return query(connection)


def _write(database_url: str | None, work: Callable[[Any], T]) -> T:
    with _engine(database_url) as engine, UnitOfWork(engine) as uow:
        result = work(uow.connection)
        uow.commit()
        return result


def _hasher(key_file: Path | None) -> HashIdentifier:
    if key_file is None:
        return production_hasher()
    from lendcore.privacy.keys import LocalKeyFileProvider

    return keyed_hasher(LocalKeyFileProvider(key_file).index_key())


# -- decisions ---------------------------------------------------------------------------------


@decision_app.command("show")
def show_cmd(
    decision_id: int = typer.Argument(..., help="决策编号 decision id"),
    json_out: bool = JsonOption,
    database_url: str = DatabaseUrlOption,
    models: Path = typer.Option(None, help="模型目录 models directory (for shadow reasons)"),
) -> None:
    """查看决策（含规则轨迹） / A recorded decision with its trace, inputs (masked) and review."""
    from lendcore.decisioning.scoring import ModelRegistry

    registry = ModelRegistry(models)
    document = _read(database_url, lambda c: get_decision(c, decision_id, registry))
    if json_out:
        print_json(document)
        return
    show_decision(document)
    review = document["review"]
    if review is not None:
        console.print(
            f"审核 review: {review['verdict']} by {review['operator']} at {review['reviewed_at']}"
            f" — {review['note']}",
            highlight=False,
        )


@decision_app.command("replay")
def replay_cmd(
    decision_id: int = typer.Argument(..., help="决策编号 decision id"),
    json_out: bool = JsonOption,
    database_url: str = DatabaseUrlOption,
    policies: Path = typer.Option(None, help="决策策略目录 policy directory (versions: recorded)"),
    models: Path = typer.Option(None, help="模型目录 models directory (versions: recorded)"),
) -> None:
    """回放决策（使用记录的策略与模型版本） / Replay with the recorded policy and model versions.
    Exit status 1 when the replay differs."""
    from lendcore.decisioning.policy import PolicyEngine, PolicyStore
    from lendcore.decisioning.scoring import ModelRegistry
    from lendcore.decisioning.service import DecisionService
    from lendcore.products.loader import load_products

    service = DecisionService(
        PolicyEngine(PolicyStore(directory=policies)), load_products(), ModelRegistry(models)
    )
    document = _read(database_url, lambda c: service.replay(c, decision_id))
    if json_out:
        print_json(document)
    elif document["equal"]:
        console.print(f"[green]回放一致 replay equal[/]: decision {decision_id}")
    else:
        console.print(f"[bold red]回放不一致 replay differs[/]: decision {decision_id}")
        for difference in document["differences"]:
            console.print(
                f"  {difference['field']}: {difference['original']!r} → {difference['replayed']!r}",
                highlight=False,
            )
    if not document["equal"]:
        raise typer.Exit(1)


# -- manual review -----------------------------------------------------------------------------


@review_app.command("list")
def review_list_cmd(
    json_out: bool = JsonOption,
    database_url: str = DatabaseUrlOption,
    limit: int = typer.Option(50, min=1, max=500, help="最多条数 at most this many"),
) -> None:
    """待审核队列（最早的在前） / Decisions waiting for a verdict, oldest first."""
    items = _read(database_url, lambda c: reviews.review_queue(c, limit))
    if json_out:
        print_json({"items": items, "count": len(items)})
        return
    table = Table(title=f"待审核 Waiting for review ({len(items)})")
    for column in (
        "决策 Decision",
        "时间 At",
        "产品 Product",
        "金额 Amount",
        "评分 Score",
        "原因 Reasons",
    ):
        table.add_column(column)
    for item in items:
        table.add_row(
            item["decision_id"],
            item["created_at"],
            item["product"],
            item["amount"],
            str(item["score"]),
            ", ".join(r["code"] for r in item["reasons"]),
        )
    console.print(table)


@review_app.command("verdict")
def review_verdict_cmd(
    decision_id: int = typer.Argument(..., help="决策编号 decision id"),
    verdict: str = typer.Option(..., "--verdict", help="审核结论 APPROVE or REJECT"),
    operator: str = typer.Option(..., "--operator", help="审核员 operator id"),
    note: str = typer.Option("", "--note", help="审核意见 note"),
    json_out: bool = JsonOption,
    database_url: str = DatabaseUrlOption,
) -> None:
    """记录审核结论（每个决策一次） / Record the verdict on a manual review (once)."""
    now = SystemClock().now()
    document = _write(
        database_url,
        lambda c: reviews.record_verdict(c, decision_id, operator, verdict, note, now),
    )
    if json_out:
        print_json(document)
    else:
        console.print(
            f"已记录 recorded: decision {decision_id} → {document['verdict']} "
            f"({document['operator']})",
            highlight=False,
        )


# -- blacklist ---------------------------------------------------------------------------------


@blacklist_app.command("add")
def blacklist_add_cmd(
    kind: str = typer.Option(..., "--kind", help="id_number, phone, device_id, ip, bank_card"),
    value: str = typer.Option(..., "--value", help="标识值 the identifier (stored as a hash only)"),
    reason: str = typer.Option(..., "--reason", help="原因 why it is listed"),
    source: str = typer.Option("internal", "--source", help="来源 internal, court list, partner"),
    json_out: bool = JsonOption,
    database_url: str = DatabaseUrlOption,
    key_file: Path = KeyFileOption,
) -> None:
    """加入黑名单 / List an identifier."""
    hasher = _hasher(key_file)
    now = SystemClock().now()
    document = _write(
        database_url,
        lambda c: entries.add_entry(c, hasher, kind, value, reason=reason, source=source, at=now),
    )
    if json_out:
        print_json(document)
    else:
        console.print(
            f"已加入 listed: {document['kind']} {document['identifier_hash'][:16]}…",
            highlight=False,
        )


@blacklist_app.command("remove")
def blacklist_remove_cmd(
    kind: str = typer.Option(..., "--kind", help="id_number, phone, device_id, ip, bank_card"),
    value: str = typer.Option(None, "--value", help="标识值 the identifier"),
    identifier_hash: str = typer.Option(None, "--hash", help="or its hash, as the list shows it"),
    json_out: bool = JsonOption,
    database_url: str = DatabaseUrlOption,
    key_file: Path = KeyFileOption,
) -> None:
    """移出黑名单 / Remove an entry, by value or by hash."""
    hasher = _hasher(key_file) if value is not None else None
    document = _write(
        database_url,
        lambda c: entries.remove_entry(c, kind, value=value, digest=identifier_hash, hasher=hasher),
    )
    if json_out:
        print_json({"removed": document})
    else:
        console.print(
            f"已移除 removed: {document['kind']} {document['identifier_hash'][:16]}…",
            highlight=False,
        )


@blacklist_app.command("list")
def blacklist_list_cmd(
    kind: str = typer.Option(None, "--kind", help="只看此类 only this kind"),
    limit: int = typer.Option(100, min=1, max=1000, help="最多条数 at most this many"),
    offset: int = typer.Option(0, min=0, help="跳过 skip this many"),
    json_out: bool = JsonOption,
    database_url: str = DatabaseUrlOption,
) -> None:
    """黑名单列表（只显示哈希） / Blacklist entries, newest first (hashes, never values)."""
    listed = _read(
        database_url, lambda c: entries.list_entries(c, kind=kind, limit=limit, offset=offset)
    )
    if json_out:
        print_json(listed)
        return
    table = Table(title=f"黑名单 Blacklist ({listed['total']})")
    for column in ("类型 Kind", "哈希 Hash", "原因 Reason", "来源 Source", "加入时间 Added"):
        table.add_column(column)
    for item in listed["items"]:
        table.add_row(
            item["kind"],
            item["identifier_hash"][:16] + "…",
            item["reason"],
            item["source"],
            item["created_at"],
        )
    console.print(table)


@app.command("worker")
def worker_cmd(
    threads: int = typer.Option(2, min=1, max=64, help="工作线程 worker threads"),
    database_url: str = typer.Option(None, help="database URL (default: LENDCORE_DATABASE_URL)"),
) -> None:
    """异步申请工作进程 / Decide queued applications from the broker (LENDCORE_BROKER_URL=amqp://...)."""
    import os
    import signal
    import threading

    from lendcore.decisioning.queue import build_queue
    from lendcore.decisioning.service import default_service
    from lendcore.kernel.errors import ErrorCode, ValidationError
    from lendcore.store.db import make_engine

    if not os.environ.get("LENDCORE_BROKER_URL"):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            "set LENDCORE_BROKER_URL=amqp://...: without a broker the API decides in-process",
        )
    service = default_service()
    queue = build_queue(make_engine(database_url), lambda: service)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    queue.start(threads)
    requeued = queue.requeue_stale()
    console.print(f"工作中 working: {threads} threads, requeued {requeued} stale; Ctrl-C stops")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        queue.stop()
