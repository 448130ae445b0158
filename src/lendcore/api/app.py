"""The FastAPI application. `lendcore api` serves it; tests use `create_app(engine)`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from lendcore import __version__
from lendcore.api import (
    collections,
    decisions,
    errors,
    investigations,
    negotiation,
    rules,
    servicing,
)
from lendcore.store.db import make_engine
from lendcore.store.migrate import upgrade


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    queue = getattr(app.state, "applications", None)
    if queue is not None:  # the in-process application worker, when one was started
        queue.stop()


def create_app(engine: Engine | None = None, migrate: bool = True) -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan,
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
    app.include_router(investigations.router)
    app.include_router(decisions.router)
    app.include_router(negotiation.router)
    app.include_router(rules.router)

    @app.get("/api/health", tags=["ops"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
