"""Real concurrent clients: ``count`` threads released together at a barrier (this module holds
no tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def race(
    count: int, attempt: Callable[[int, threading.Barrier], T]
) -> tuple[list[T], list[BaseException]]:
    """Run ``attempt(n, barrier)`` on ``count`` threads at once (each waits on the shared barrier
    where it wants the race to start); the verdicts' reasons and any errors raised."""
    barrier = threading.Barrier(count)
    verdicts: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        try:
            reasons = attempt(n, barrier)
            with lock:
                verdicts.append(reasons)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return verdicts, errors
