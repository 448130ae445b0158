"""The FastAPI application. `lendcore api` serves it; tests use `create_app(engine)`."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from lendcore import __version__
from lendcore.api import collections, decisions, errors, servicing
from lendcore.store.db import make_engine
from lendcore.store.migrate import upgrade


def create_app(engine: Engine | None = None, migrate: bool = True) -> FastAPI:
    app = FastAPI(
        title="lendcore",
        version=__version__,
        description="合规优先的消费信贷核心 / compliance-first consumer-lending core. "
        'Errors: {"error": {"code", "message", "details"}}; POSTs that change state '
        "take an Idempotency-Key header.",
    )
    app.state.engine = engine or make_engine()
    if migrate:
        upgrade(app.state.engine)
    errors.install(app)
    app.include_router(servicing.router)
    app.include_router(collections.router)
    app.include_router(decisions.router)

    @app.get("/api/health", tags=["ops"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
