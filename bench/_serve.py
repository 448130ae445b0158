"""``python bench/_serve.py <uvicorn arguments>``: uvicorn with its listening socket marked TCP.

With ``--workers N`` (N > 1) uvicorn binds the socket itself with ``proto`` 0; accepted sockets
inherit it, asyncio then skips TCP_NODELAY, and every keep-alive request after the first waits
~40 ms on the client's delayed ACK (Kludex/uvicorn#3149, open in uvicorn 0.54). This wrapper
re-wraps the bound socket as IPPROTO_TCP so a multi-worker run measures the server, not Nagle.
A single worker is unaffected (asyncio builds that listener itself).
"""

from __future__ import annotations

import socket
import sys

import uvicorn
from uvicorn import config

_bind = config.Config.bind_socket


def _bind_tcp(self: config.Config) -> socket.socket:
    sock = _bind(self)
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
        tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        tcp.set_inheritable(True)
        return tcp
    return sock


config.Config.bind_socket = _bind_tcp  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(uvicorn.main())
