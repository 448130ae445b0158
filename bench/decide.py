"""Credit decisions: in-process decisions/s and latency percentiles, then over HTTP the latency at
a fixed request rate and the maximum throughput, each against a floor measured in the same run.

Not a test: prints figures, never fails on timing. Run:
`.venv/bin/python bench/decide.py [--n 2000] [--rate 200] [--seconds 10] [--clients 8]
[--closed-seconds 5] [--postgres URL [--http-postgres]] [--workers 1] [--index-rows 200000]
[--no-http]
[--profile TOP] [--json]` (`--quick`: n 500, 3 s at the rate, 2 s closed loop: ~25 s).

In-process, over N seeded, varied applicants (bench/_applicants.py: real German-credit profiles,
the rules' inputs varied around their boundaries):
- floor: the bare zen-engine evaluation of the admission policy alone (one ``ZenEngine`` with a
  loader returning pre-parsed content, no trace) on the same applicants' rule contexts; beside it
  the champion scorecard's points table alone;
- parts: scoring (champion + the shadow challenger, as models/experiment.json ships), the three
  policies with their trace, the policies plus the priced offer, validation;
- validate + evaluate: ``DecisionService.validate`` + ``.evaluate``: the whole decision without
  I/O (the target of issue 4: p99 under 2 ms);
- decide + commit: ``.decide`` in its own unit of work and commit on a SQLite file in a temporary
  directory migrated with ``lendcore.store.migrate.upgrade`` (fraud counts, blacklist, index rows,
  the decision record); ``--postgres URL`` adds PostgreSQL (schema ``bench_decide``, dropped);
- ASGI, serial: GET /api/health and POST /api/decisions through the FastAPI app in this thread
  (httpx2's ASGI transport, sync endpoints run inline): the HTTP layer's own cost (validation,
  Idempotency-Key read and write, JSON) without a server, a socket or a thread pool.
  ``--profile TOP`` prints a cProfile of these requests.

Over HTTP (bench/_http.py): uvicorn serving ``lendcore.api.app:create_app`` (``--app`` to compare a
variant) with ``--workers`` processes (default 1) on 127.0.0.1 and a fresh SQLite file (and, with
``--http-postgres``, a PostgreSQL schema) whose fraud identifier index already holds
``--index-rows`` entries (default 200,000: 40,000 earlier applications spread over the 90-day
window, as a lender's index would; then settled: on PostgreSQL vacuumed, analysed and
checkpointed, on SQLite the WAL checkpointed into the file),
warmed up (the first decision builds the models), then
- open loop at ``--rate`` for ``--seconds``: GET /api/health (the floor: the same server's bare
  endpoint), then POST /api/decisions with a new Idempotency-Key and a new applicant per request;
  latency from each request's due time, so queueing is not hidden (no coordinated omission);
- closed loop, ``--clients`` clients for ``--closed-seconds``: the maximum throughput of each and
  the ratio decisions/s ÷ health/s;
- the server's CPU per request (from /proc) and the load generator's own CPU share; and the
  whole machine's ("box": the server, PostgreSQL's backends, the load generator) per request
  and in cores (200% = both cores of the build machine busy).
The target: HTTP p99 under 30 ms at 200 req/s on the 2-core build machine.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import zen
from sqlalchemy import Engine, create_engine, text

import _applicants
import _http
from lendcore.decisioning.decide import decide, evaluate_policies
from lendcore.decisioning.fraud import IndexRow, keyed_hasher
from lendcore.decisioning.fraud_tables import record_application_db
from lendcore.decisioning.policy import PolicyEngine, PolicyStore, decision_policies_dir
from lendcore.decisioning.scoring import ModelRegistry
from lendcore.decisioning.service import DecisionService, Facts
from lendcore.products.loader import load_products
from lendcore.store.db import UnitOfWork, make_engine
from lendcore.store.migrate import upgrade

AT = datetime(2026, 3, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SCHEMA = "bench_decide"
HEALTH, POST = "GET /api/health", "POST /api/decisions"
TARGET_INPROCESS_P99_MS = 2.0
TARGET_HTTP_P99_MS = 30.0


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """count, per second (of the summed latencies), mean and p50/p95/p99/max in ms."""
    ordered = sorted(seconds)
    if not ordered:
        return {"count": 0}

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    total = sum(ordered)
    return {
        "count": len(ordered),
        "per_second": len(ordered) / total if total else 0.0,
        "mean_ms": total / len(ordered) * 1000,
        "p50_ms": at(0.50),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": ordered[-1] * 1000,
    }


def timed(items: Sequence[Any], work: Callable[[Any], object], warm: int = 50) -> list[float]:
    for item in items[:warm]:
        work(item)
    out: list[float] = []
    clock = time.perf_counter
    for item in items:
        started = clock()
        work(item)
        out.append(clock() - started)
    return out


def build_service(directory: Path) -> DecisionService:
    """The shipped policies, products and models; a keyed hasher (HMAC, as in production) under
    a random key; policy versions kept under ``directory``."""
    store = PolicyStore(decision_policies_dir(), directory / "policy-versions")
    return DecisionService(
        PolicyEngine(store), load_products(), ModelRegistry(), keyed_hasher(os.urandom(32))
    )


def in_process(service: DecisionService, bodies: list[dict[str, Any]]) -> dict[str, Any]:
    applications = [service.validate(body) for body in bodies]
    evaluations = [
        service.evaluate(a, application_id=i, at=AT, facts=Facts())
        for i, a in enumerate(applications)
    ]
    outcomes: dict[str, int] = {}
    for e in evaluations:
        outcomes[str(e.decision.outcome)] = outcomes.get(str(e.decision.outcome), 0) + 1

    # Floors: zen alone on the admission policy, the points table alone.
    admission = (decision_policies_dir() / "admission.json").read_text(encoding="utf-8")
    content = zen.ZenDecisionContent(admission)
    bare = zen.ZenEngine({"loader": lambda _key: content})
    contexts = [{**e.context, "score_band": e.decision.policy.score_band} for e in evaluations]
    card = service.models.current().arms["champion"]
    profiles = [a.credit_profile for a in applications]
    indexed = list(enumerate(applications))
    rows = {
        "zen admission alone (floor)": timed(contexts, lambda c: bare.evaluate("a", c)),
        "scorecard alone": timed(profiles, card.score),
        "score: champion + shadow": timed(
            indexed, lambda p: service.models.score(p[0], p[1].credit_profile)
        ),
        "3 policies with trace": timed(
            evaluations, lambda e: evaluate_policies(service.engine, e.context)
        ),
        "3 policies + priced offer": timed(
            evaluations,
            lambda e: decide(
                service.engine,
                e.application,
                e.context,
                service.products,
                start=e.decision_date,
                cap=service.cap,
            ),
        ),
        "validate": timed(bodies, service.validate),
        "validate + evaluate": timed(
            list(enumerate(bodies)),
            lambda p: service.evaluate(
                service.validate(p[1]), application_id=p[0], at=AT, facts=Facts()
            ),
        ),
    }
    return {"rows": {k: percentiles(v) for k, v in rows.items()}, "outcomes": outcomes}


def stored(service: DecisionService, engine: Engine, bodies: list[dict[str, Any]]) -> list[float]:
    def one(body: dict[str, Any]) -> None:
        with UnitOfWork(engine) as uow:
            service.decide(uow, body, channel="api")
            uow.commit()

    return timed(bodies, one, warm=0)  # every body a new person: no reuse for warming


@contextmanager
def postgres_schema(url: str, schema: str) -> Iterator[str]:
    """A fresh schema on the server at ``url``, dropped afterwards; yields a URL that uses it."""
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(url)
    drop = text(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    with admin.begin() as connection:
        connection.execute(drop)
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(drop)
        admin.dispose()


def prefill_index(database_url: str, rows: int, at: datetime) -> None:
    """Migrate the database and fill its identifier index with ``rows`` entries of earlier
    applications (5 identifiers each, random blind indexes, created over the last 89 days)."""
    engine = make_engine(database_url)
    upgrade(engine)
    rng = random.Random(11)
    kinds = ("id_number", "phone", "device_id", "ip", "bank_card")
    chunk: list[IndexRow] = []
    for application in range(rows // len(kinds)):
        created = at - timedelta(seconds=rng.randrange(89 * 86_400))
        person = f"{rng.getrandbits(256):064x}"
        for kind in kinds:
            value = person if kind == "id_number" else f"{rng.getrandbits(256):064x}"
            chunk.append(IndexRow(10**12 + application, person, kind, value, created))
        if len(chunk) >= 10_000:
            with UnitOfWork(engine) as uow:
                record_application_db(uow.connection, chunk)
                uow.commit()
            chunk = []
    if chunk:
        with UnitOfWork(engine) as uow:
            record_application_db(uow.connection, chunk)
            uow.commit()
    # Settled, as a steady-state database is, so the run does not pay for the fill: on
    # PostgreSQL vacuumed and analysed (not autovacuum catching up with 200,000 new rows in the
    # middle of the run) and checkpointed (the fill's dirty pages written now, not by the
    # checkpointer while the run's commits wait on the same disk); SQLite's WAL folded into the
    # database file.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("VACUUM ANALYZE fraud_identifier_index")
            connection.exec_driver_sql("CHECKPOINT")
        else:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


def over_http(
    args: argparse.Namespace, directory: Path, database_url: str, backend: str
) -> dict[str, Any]:
    if args.index_rows:
        prefill_index(database_url, args.index_rows, datetime.now(UTC))
    port = _http.free_port()
    run = f"bench-{os.getpid()}-{int(time.time())}"
    per_phase = int(args.rate * args.seconds) + 2000
    warm_bodies = _applicants.bodies(100, seed=args.seed + 1, offset=100_000)
    open_bodies = _applicants.bodies(per_phase, seed=args.seed + 2, offset=200_000)
    closed_bodies = _applicants.bodies(per_phase * 2, seed=args.seed + 3, offset=300_000)
    with _http.server(directory, database_url, port, args.app, args.workers) as process:
        pid = process.pid
        warm = _http.decision_requests(warm_bodies, f"{run}-w")
        started = time.perf_counter()
        status, body = _http.once(port, warm(0))
        first = time.perf_counter() - started
        if status != 201:
            raise RuntimeError(f"first decision: {status} {body[:300]!r}")
        _http.closed_loop(port, warm, 4, 1.0)
        _http.closed_loop(port, _http.health_requests, 4, 0.5)
        health = _http.health_requests
        decisions_open = _http.decision_requests(open_bodies, f"{run}-o")
        decisions_closed = _http.decision_requests(closed_bodies, f"{run}-c")
        loads = [
            _http.open_loop(port, health, args.rate, args.seconds, label=HEALTH, pid=pid),
            _http.open_loop(port, decisions_open, args.rate, args.seconds, label=POST, pid=pid),
            _http.closed_loop(port, health, args.clients, args.closed_seconds, HEALTH, pid),
            _http.closed_loop(port, decisions_closed, args.clients, args.closed_seconds, POST, pid),
        ]
    documents = [
        {
            "label": load.label,
            "mode": "open" if n < 2 else "closed",
            "completed": load.completed,
            "rate": load.rate,
            "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
            "errors": load.errors,
            "not_sent": load.not_sent,
            "server_cpu_ms_per_request": load.server_cpu / load.completed * 1000
            if load.completed
            else 0.0,
            "server_cpu_share": load.server_cpu / load.elapsed if load.elapsed else 0.0,
            "client_cpu_share": load.client_cpu / load.elapsed if load.elapsed else 0.0,
            # everything the machine did per request: server, database server, load generator
            "machine_cpu_ms_per_request": load.machine_cpu / load.completed * 1000
            if load.completed
            else 0.0,
            "machine_cpu_share": load.machine_cpu / load.elapsed if load.elapsed else 0.0,
            **{k: v for k, v in percentiles(load.latencies).items() if k.endswith("_ms")},
        }
        for n, load in enumerate(loads)
    ]
    at_rate = documents[1]
    return {
        "backend": backend,
        "first_decision_seconds": first,
        "loads": documents,
        "throughput_ratio": documents[3]["rate"] / documents[2]["rate"]
        if documents[2]["rate"]
        else 0.0,
        "target_met": at_rate.get("p99_ms", float("inf")) < TARGET_HTTP_P99_MS
        and at_rate["errors"] + at_rate["not_sent"] == 0
        and abs(at_rate["rate"] - args.rate) / args.rate < 0.05,
    }


def asgi_requests(
    directory: Path, count: int, profile_top: int = 0
) -> tuple[list[float], list[float], str]:
    """``count`` POST /api/decisions (and GET /api/health) through the ASGI app in this thread,
    one at a time (sync endpoints run inline, so there is no thread pool and one profiler sees
    everything): the HTTP layer's own cost without a server, a socket or concurrency. With
    ``profile_top``, also a cProfile of the decisions."""
    import anyio.to_thread
    import fastapi.routing
    import httpx2

    from lendcore.api.app import create_app

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    async def inline_sync(func: Callable[..., Any], *args: Any, **_options: Any) -> Any:
        return func(*args)

    threadpool = fastapi.routing.run_in_threadpool
    fastapi.routing.run_in_threadpool = inline  # type: ignore[assignment]
    # POST /api/decisions hands its work to its own limited thread (api/decisions.py): inline too
    to_thread = anyio.to_thread.run_sync
    anyio.to_thread.run_sync = inline_sync  # type: ignore[assignment]
    os.environ["LENDCORE_KEY_FILE"] = str(directory / "keys" / "local.key")
    os.environ["LENDCORE_POLICY_VERSIONS_DIR"] = str(directory / "policy-versions")
    app = create_app(make_engine(f"sqlite:///{directory / 'asgi.db'}"))
    bodies = _applicants.bodies(count * 2 + 50, seed=11, offset=400_000)
    make = _http.decision_requests(bodies, "asgi")
    profiler = cProfile.Profile()

    async def drive(numbers: range, make: _http.Make, status: int, out: list[float]) -> None:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://bench") as client:
            for i in numbers:
                method, path, body, headers = make(i)
                started = time.perf_counter()
                response = await client.request(method, path, content=body, headers=headers)
                out.append(time.perf_counter() - started)
                assert response.status_code == status, response.text

    try:
        health: list[float] = []
        decisions: list[float] = []
        asyncio.run(drive(range(50), make, 201, []))  # build the service, warm up
        asyncio.run(drive(range(count), _http.health_requests, 200, health))
        asyncio.run(drive(range(50, 50 + count), make, 201, decisions))
        if not profile_top:
            return health, decisions, ""
        profiler.enable()
        asyncio.run(drive(range(50 + count, 50 + 2 * count), make, 201, []))
        profiler.disable()
    finally:
        fastapi.routing.run_in_threadpool = threadpool  # type: ignore[assignment]
        anyio.to_thread.run_sync = to_thread  # type: ignore[assignment]
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(profile_top)
    stats.sort_stats("cumulative").print_stats(
        r"src/lendcore|idempotency|json/|routing|_exec_single", profile_top
    )
    return health, decisions, out.getvalue()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="applicants in-process")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="open-loop duration")
    parser.add_argument("--clients", type=int, default=8, help="closed-loop clients")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--closed-seconds", type=float, default=5.0)
    parser.add_argument(
        "--index-rows",
        type=int,
        default=200_000,
        help="fraud index entries in the HTTP databases before the run",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", metavar="URL", help="also .decide on PostgreSQL")
    parser.add_argument("--no-http", action="store_true", help="in-process figures only")
    parser.add_argument(
        "--http-postgres",
        action="store_true",
        help="with --postgres: also serve HTTP on PostgreSQL (schema bench_decide_http)",
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="TOP", help="cProfile the ASGI decisions"
    )
    parser.add_argument(
        "--app",
        default="lendcore.api.app:create_app",
        help="the app factory uvicorn serves (to compare a variant; on PYTHONPATH)",
    )
    parser.add_argument("--quick", action="store_true", help="n 500, 3 s open, 2 s closed")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    if args.quick:
        args.n, args.seconds, args.closed_seconds = 500, 3.0, 2.0
    return args


def report(result: dict[str, Any]) -> None:
    rows = result["in_process"]["rows"]
    floor = rows["zen admission alone (floor)"]["per_second"]
    print(f"in-process, {result['n']} applicants; outcomes {result['in_process']['outcomes']}")
    print(
        f"{'path':<32} {'per s':>9} {'÷ floor':>8} {'mean':>7} {'p50':>7} {'p95':>7} "
        f"{'p99':>7} {'max':>7}  (ms)"
    )
    for label, row in rows.items():
        print(
            f"{label:<32} {row['per_second']:>9,.0f} {row['per_second'] / floor:>8.3f} "
            f"{row['mean_ms']:>7.3f} {row['p50_ms']:>7.3f} {row['p95_ms']:>7.3f} "
            f"{row['p99_ms']:>7.3f} {row['max_ms']:>7.2f}"
        )
    p99 = rows["validate + evaluate"]["p99_ms"]
    met = "met" if p99 < TARGET_INPROCESS_P99_MS else "NOT met"
    print(f"target in-process p99 < {TARGET_INPROCESS_P99_MS} ms (validate + evaluate): {met}")
    for http in result.get("http", []):
        print(
            f"\nHTTP: uvicorn, {result['workers']} worker(s), {http['backend']}, "
            f"{result['index_rows']:,} index entries before; first decision {http['first_decision_seconds']:.2f} s (builds the models)"
        )
        print(
            f"{'endpoint':<20} {'mode':<6} {'done':>5} {'req/s':>7} {'p50':>8} {'p95':>8} "
            f"{'p99':>8} {'max':>7} {'err':>3} {'srv cpu/req':>11} {'srv cpu':>7} {'gen cpu':>7} "
            f"{'box cpu/req':>11} {'box cpu':>7}"
        )
        for load in http["loads"]:
            print(
                f"{load['label']:<20} {load['mode']:<6} {load['completed']:>5} "
                f"{load['rate']:>7.1f} {load.get('p50_ms', 0):>8.2f} {load.get('p95_ms', 0):>8.2f} "
                f"{load.get('p99_ms', 0):>8.2f} {load.get('max_ms', 0):>7.1f} "
                f"{load['errors'] + load['not_sent']:>3} "
                f"{load['server_cpu_ms_per_request']:>9.2f}ms {load['server_cpu_share']:>7.0%} "
                f"{load['client_cpu_share']:>7.0%} "
                f"{load['machine_cpu_ms_per_request']:>9.2f}ms {load['machine_cpu_share']:>7.0%}"
            )
        print(f"max throughput, decisions ÷ health: {http['throughput_ratio']:.3f}")
        at_rate, floor_load = http["loads"][1], http["loads"][0]
        print(
            f"p99 at {result['rate']:.0f} req/s: decisions {at_rate.get('p99_ms', 0):.1f} ms, "
            f"health {floor_load.get('p99_ms', 0):.1f} ms (floor); target < "
            f"{TARGET_HTTP_P99_MS:.0f} ms: {'met' if http['target_met'] else 'NOT met'}"
        )


def main() -> None:
    args = parse_args()
    result: dict[str, Any] = {
        "n": args.n,
        "rate": args.rate,
        "seconds": args.seconds,
        "clients": args.clients,
        "workers": args.workers,
        "index_rows": args.index_rows,
    }
    with tempfile.TemporaryDirectory(prefix="bench-decide-") as name:
        directory = Path(name)
        service = build_service(directory)
        bodies = _applicants.bodies(args.n, seed=args.seed)
        result["in_process"] = in_process(service, bodies)
        rows = result["in_process"]["rows"]
        engine = make_engine(f"sqlite:///{directory / 'decide.db'}")
        upgrade(engine)
        rows["decide + commit, SQLite"] = percentiles(stored(service, engine, bodies))
        engine.dispose()
        if args.postgres:
            with postgres_schema(args.postgres, SCHEMA) as url:
                engine = make_engine(url)
                upgrade(engine)
                fresh = _applicants.bodies(args.n, seed=args.seed, offset=50_000)
                rows["decide + commit, PostgreSQL"] = percentiles(stored(service, engine, fresh))
                engine.dispose()
        health, asgi, profile = asgi_requests(directory, min(args.n, 1000), args.profile)
        rows["ASGI GET /api/health, serial"] = percentiles(health)
        rows["ASGI POST /api/decisions, serial"] = percentiles(asgi)
        if profile:
            result["profile"] = profile
        if not args.no_http:
            sqlite_url = f"sqlite:///{directory / 'http.db'}"
            result["http"] = [over_http(args, directory, sqlite_url, "SQLite")]
            if args.postgres and args.http_postgres:
                with postgres_schema(args.postgres, SCHEMA + "_http") as url:
                    result["http"].append(over_http(args, directory, url, "PostgreSQL"))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    report(result)
    if "profile" in result:
        print("\n" + result["profile"])


if __name__ == "__main__":
    main()
