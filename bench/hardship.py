"""Hardship calculation throughput: a whole ``calculate`` (eligibility, affordability, a
10,000-path Monte Carlo stress test, the three-plan search, the scripts) per second and its
latency, against the floor of the stress simulation alone (the same paths, no search).

Not a test: prints figures, never fails on timing. Run:
`.venv/bin/python bench/hardship.py [--n 50] [--paths 10000] [--statements] [--json]`

Each calculation is a different borrower (seeded): debt 5,000-80,000 yuan, 91-400 days past due,
net income 4,000-20,000 yuan, a different seed for the stress test. ``--statements`` also parses
and analyses a generated six-month CSV bank statement per calculation.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

from lendcore.hardship import stress
from lendcore.hardship.calculate import calculate
from lendcore.hardship.store import default_store

TARGET_MS = 200.0


def _request(rng: random.Random, statements: bool) -> dict[str, Any]:
    principal = rng.randrange(5_000, 80_000)
    income = rng.randrange(4_000, 20_000)
    body: dict[str, Any] = {
        "debt": {
            "principal": f"{principal}.00",
            "interest": f"{principal * rng.randrange(2, 12) // 100}.00",
            "penalty": f"{principal * rng.randrange(1, 8) // 100}.00",
            "fees": f"{rng.randrange(0, 500)}.00",
        },
        "days_past_due": rng.randrange(91, 400),
        "policy": "default",
        "city": rng.choice(["北京", "上海", "成都", "武汉", "西安"]),
        "household_size": rng.randrange(1, 4),
        "other_debt_payments": f"{rng.randrange(0, 1500)}.00",
        "proof_of_hardship": True,
    }
    if statements:
        body["statements"] = [("statement.csv", _statement(rng, income))]
    else:
        body["monthly_net_income"] = f"{income}.00"
    return body


def _statement(rng: random.Random, salary: int) -> bytes:
    rows = ["交易日期,收入金额,支出金额,账户余额,对方户名,摘要"]
    balance = 10_000 * 100
    for month in range(5, 11):
        for day, inflow, outflow, party, memo in (
            (10, salary * 100, 0, "某某科技有限公司", "代发工资"),
            (12, 0, rng.randrange(1_500, 3_000) * 100, "房东", "房租"),
            (15, 0, rng.randrange(100, 400) * 100, "国家电网", "电费"),
            (20, 0, rng.randrange(500, 2_000) * 100, "某超市", "消费"),
        ):
            balance += inflow - outflow
            rows.append(
                f"2026-{month:02d}-{day:02d},{inflow / 100:.2f},{outflow / 100:.2f},"
                f"{balance / 100:.2f},{party},{memo}"
            )
    return "\n".join(rows).encode("utf-8")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="calculations")
    parser.add_argument("--paths", type=int, default=10_000, help="stress-test paths")
    parser.add_argument("--statements", action="store_true", help="derive income from a CSV")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    store = default_store()
    policy = store.get("default").policy
    rng = random.Random(20261122)
    requests = [_request(rng, args.statements) for _ in range(args.n)]
    calculate(requests[0], store, seed=1, paths=args.paths)  # warm: policy files, templates

    floor: list[float] = []
    for seed in range(args.n):
        inputs = stress.StressInputs(800_000, 300_000, 50_000, 100_000)
        started = time.perf_counter()
        stress.simulate_cash(
            inputs,
            policy.stress.shocks,
            horizon=policy.stress.horizon_months,
            paths=args.paths,
            seed=seed,
        )
        floor.append((time.perf_counter() - started) * 1000)

    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    for seed, body in enumerate(requests):
        started = time.perf_counter()
        document = calculate(body, store, seed=seed, paths=args.paths)
        latencies.append((time.perf_counter() - started) * 1000)
        key = "plans" if document["plans"] else (document["reasons"] or [{"code": "?"}])[0]["code"]
        outcomes[key] = outcomes.get(key, 0) + 1

    p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    floor_p50 = statistics.median(floor)
    figures = {
        "calculations": args.n,
        "paths": args.paths,
        "statements": args.statements,
        "per_second": round(1000 / statistics.mean(latencies), 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(max(latencies), 2),
        "floor_stress_only_p50_ms": round(floor_p50, 2),
        "ratio_to_floor": round(p50 / floor_p50, 2),
        "target_ms": TARGET_MS,
        "target_met": p99 < TARGET_MS,
        "outcomes": outcomes,
    }
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    print(f"困难协商测算 hardship calculations: {args.n} × {args.paths:,} paths")
    print(
        f"  {figures['per_second']}/s   p50 {p50:.1f} ms   p99 {p99:.1f} ms   max {max(latencies):.1f} ms"
    )
    print(
        f"  floor (the stress simulation alone) p50 {floor_p50:.1f} ms; ratio {p50 / floor_p50:.2f}×"
    )
    print(f"  target p99 < {TARGET_MS:.0f} ms: {'met' if figures['target_met'] else 'NOT met'}")
    print(f"  outcomes: {outcomes}")


if __name__ == "__main__":
    main()
