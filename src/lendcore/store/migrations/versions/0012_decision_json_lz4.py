"""decisions: the JSON columns compressed with lz4, not pglz (PostgreSQL)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 02:40:00.000000

A decision record is ~8.7 KB of JSON (the result with its rule trace ~6 KB, the context ~1.5 KB,
the masked request ~0.9 KB), over PostgreSQL's 2 KB threshold, so every insert compresses it.
pglz, the default, cost ~200 µs of the server's CPU per insert of such a row on the build
machine; lz4 ~105 µs, for rows ~10 % larger (docs/performance.md). Only new values are compressed
with lz4; stored ones stay as they are and read as before. A server built without lz4 keeps
pglz (the revision then changes nothing). SQLite stores JSON as text, uncompressed: nothing to
do.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_COLUMNS = ("inputs", "context", "result")


def _set_compression(method: str) -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    offered = connection.execute(
        sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    ).scalar()
    if method not in (offered or []):
        return
    for column in _COLUMNS:
        op.execute(f"ALTER TABLE decisions ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    _set_compression("lz4")


def downgrade() -> None:
    _set_compression("pglz")
