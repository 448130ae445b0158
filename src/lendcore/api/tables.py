"""Stored responses of idempotent requests: a retried POST with the same Idempotency-Key gets
the first response back instead of doing the work twice."""

from sqlalchemy import Column, DateTime, Integer, String, Table, Text

from lendcore.store.metadata import metadata

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(80), primary_key=True),  # method + route template
    Column("key", String(80), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
