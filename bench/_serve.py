"""``python bench/_serve.py <uvicorn arguments>``: uvicorn with the TCP_NODELAY fix that
``lendcore api --workers N`` applies (see :mod:`lendcore.api.serve`), so the bench's multi-worker
runs measure the server, not Nagle's algorithm."""

from __future__ import annotations

import sys

import uvicorn

from lendcore.api.serve import install_tcp_nodelay_fix

if __name__ == "__main__":
    install_tcp_nodelay_fix()
    sys.exit(uvicorn.main())
