"""Serving the API with uvicorn: one process, or ``workers`` processes sharing one socket.

With ``workers > 1`` uvicorn binds the listening socket itself with ``proto`` 0; accepted sockets
inherit it, asyncio then skips ``TCP_NODELAY``, and every keep-alive request after the first waits
~40 ms on the client's delayed ACK (Kludex/uvicorn#3149, open in uvicorn 0.54). :func:`serve`
re-wraps the bound socket as ``IPPROTO_TCP`` so the workers answer without Nagle's delay. A single
process is unaffected (asyncio builds that listener itself).

Workers are separate processes: each builds the app from :func:`lendcore.api.app.create_app`
(``LENDCORE_DATABASE_URL`` names the database); on SQLite their units of work take turns at
the database's writer lock (``store.db``), on PostgreSQL they are independent clients.
"""

from __future__ import annotations

import os
import socket

import uvicorn
from uvicorn import config

from lendcore.api.app import WARM_START

APP_FACTORY = "lendcore.api.app:create_app"
_bind = config.Config.bind_socket


def _bind_tcp(self: config.Config) -> socket.socket:
    sock = _bind(self)
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
        tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        tcp.set_inheritable(True)
        return tcp
    return sock


def install_tcp_nodelay_fix() -> None:
    config.Config.bind_socket = _bind_tcp  # type: ignore[method-assign]


def serve(host: str, port: int, database_url: str, workers: int = 1) -> None:
    os.environ[WARM_START] = "1"  # each process builds its decision service before serving
    from lendcore.store.db import make_engine

    if workers == 1:
        from lendcore.api.app import create_app

        uvicorn.run(create_app(make_engine(database_url)), host=host, port=port)
        return
    from lendcore.store.migrate import upgrade

    engine = make_engine(database_url)
    upgrade(engine)  # once, here: N workers migrating a fresh database at once would race
    engine.dispose()
    os.environ["LENDCORE_DATABASE_URL"] = database_url  # read by each worker's create_app
    install_tcp_nodelay_fix()
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers)
