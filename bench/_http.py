"""The HTTP half of bench/decide.py: a uvicorn server in a subprocess and two load generators.

Open loop: request ``i`` is *due* at ``start + i / rate`` whatever happened to the ones before
it; a pool of threads (each with its own keep-alive connection, the standard library's
http.client, so the client itself costs little CPU) takes the next due request, sleeps until it
is due, sends it. Latency is measured from the due time, not from the send: when the server falls
behind and every thread is waiting on it, the requests that could not be sent on time are charged
the wait (no coordinated omission). Closed loop: N clients each send their next request as soon as
the last one answered: the server's maximum throughput.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# (method, path, body bytes or None, headers) for request number i
Request = tuple[str, str, bytes | None, dict[str, str]]
Make = Callable[[int], Request]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(
    directory: Path,
    database_url: str,
    port: int,
    app: str = "lendcore.api.app:create_app",
    workers: int = 1,
) -> Iterator[subprocess.Popen[bytes]]:
    """``uvicorn --factory <app>`` with ``workers`` processes, everything it writes (database,
    key file, policy versions) under ``directory``."""
    env = {
        **os.environ,
        "LENDCORE_DATABASE_URL": database_url,
        "LENDCORE_KEY_FILE": str(directory / "keys" / "local.key"),
        "LENDCORE_POLICY_VERSIONS_DIR": str(directory / "policy-versions"),
        "LENDCORE_POLICIES_DIR": str(ROOT / "policies"),
        "LENDCORE_MODELS_DIR": str(ROOT / "models"),
        "LENDCORE_WARM_START": "1",  # as `lendcore api` serves: ready before the first request
    }
    env.pop("LENDCORE_BROKER_URL", None)
    command = [
        sys.executable,
        str(Path(__file__).with_name("_serve.py")),  # uvicorn, its TCP_NODELAY bug worked round
        "--factory",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    log = (directory / "uvicorn.log").open("wb")
    process = subprocess.Popen(command, cwd=directory, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {(directory / 'uvicorn.log').read_text()}")
            try:
                status, _ = once(port, ("GET", "/api/health", None, {}))
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not answer within 60 s")
            time.sleep(0.1)
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """The user + system CPU time so far of a process and its children (uvicorn's workers when
    there are several); Linux, 0 elsewhere."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[1]) == pid:
            pids.append(int(entry.name))
    ticks = sum(int(f[11]) + int(f[12]) for p in pids if (f := _stat(p)))
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """The whole machine's busy CPU time so far (every process: the server, a database server,
    the load generator), from /proc/stat; 0 elsewhere."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # without guest (counted in user)


def once(port: int, request: Request, timeout: float = 30) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        method, path, body, headers = request
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass
class Load:
    label: str
    latencies: list[float] = field(default_factory=list)  # seconds, from due (open) or send
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0  # connection errors and timeouts
    elapsed: float = 0.0
    not_sent: int = 0  # due requests abandoned when the run overran its grace period
    server_cpu: float = 0.0  # the server's CPU seconds during the run
    client_cpu: float = 0.0  # this process's (the load generator's)
    machine_cpu: float = 0.0  # the whole machine's busy CPU seconds during the run

    @property
    def completed(self) -> int:
        return len(self.latencies)

    def measure(self, pid: int, run: Callable[[Load], None]) -> Load:
        server, client, machine = cpu_seconds(pid), time.process_time(), machine_cpu_seconds()
        run(self)
        self.server_cpu = cpu_seconds(pid) - server
        self.client_cpu = time.process_time() - client
        self.machine_cpu = machine_cpu_seconds() - machine
        return self

    @property
    def rate(self) -> float:
        return self.completed / self.elapsed if self.elapsed else 0.0


def _worker(port: int, load: Load, lock: threading.Lock, work: Callable[[], Any]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def send(request: Request, since: float) -> None:
        nonlocal connection
        method, path, body, headers = request
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with lock:
                load.errors += 1
            return
        took = time.perf_counter() - since
        with lock:
            load.latencies.append(took)
            load.statuses[status] = load.statuses.get(status, 0) + 1

    try:
        work_item = work()
        while work_item is not None:
            request, since = work_item
            send(request, since)
            work_item = work()
    finally:
        connection.close()


def open_loop(
    port: int,
    make: Make,
    rate: float,
    seconds: float,
    threads: int = 64,
    label: str = "",
    pid: int = 0,
) -> Load:
    """``rate`` requests a second for ``seconds``, latency from each request's due time."""
    return Load(label).measure(pid, lambda load: _open(load, port, make, rate, seconds, threads))


def _open(load: Load, port: int, make: Make, rate: float, seconds: float, threads: int) -> None:
    total = int(rate * seconds)
    lock = threading.Lock()
    counter = iter(range(total))
    start = time.perf_counter() + 0.05
    grace = start + seconds * 3 + 10  # a server far slower than the rate: stop waiting

    def next_due() -> tuple[Request, float] | None:
        with lock:
            i = next(counter, None)
        if i is None:
            return None
        due = start + i / rate
        now = time.perf_counter()
        if now > grace:
            with lock:
                load.not_sent += 1
            return next_due()
        if due > now:
            time.sleep(due - now)
        return make(i), due

    pool = [
        threading.Thread(target=_worker, args=(port, load, lock, next_due)) for _ in range(threads)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    load.elapsed = time.perf_counter() - start


def closed_loop(
    port: int, make: Make, clients: int, seconds: float, label: str = "", pid: int = 0
) -> Load:
    """``clients`` clients back to back for ``seconds``: the most the server does."""
    return Load(label).measure(pid, lambda load: _closed(load, port, make, clients, seconds))


def _closed(load: Load, port: int, make: Make, clients: int, seconds: float) -> None:
    lock = threading.Lock()
    counter = iter(range(10**9))
    stop = time.perf_counter() + seconds

    def next_request() -> tuple[Request, float] | None:
        if time.perf_counter() >= stop:
            return None
        with lock:
            i = next(counter)
        request = make(i)
        return request, time.perf_counter()

    started = time.perf_counter()
    pool = [
        threading.Thread(target=_worker, args=(port, load, lock, next_request))
        for _ in range(clients)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    load.elapsed = time.perf_counter() - started


def decision_requests(bodies: list[dict[str, Any]], run: str) -> Make:
    """POST /api/decisions with body ``i`` (cycled) and a key unique to this run and ``i``."""
    encoded = [json.dumps(body).encode() for body in bodies]

    def make(i: int) -> Request:
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"{run}-{i}"}
        return "POST", "/api/decisions", encoded[i % len(encoded)], headers

    return make


def health_requests(_: int) -> Request:
    return "GET", "/api/health", None, {}
