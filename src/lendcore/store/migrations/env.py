"""Alembic environment: runs against the connection lendcore hands it (see store/migrate.py),
or against ``LENDCORE_DATABASE_URL`` when alembic is run by hand."""

from alembic import context

from lendcore.store.db import make_engine
from lendcore.store.schema import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or None)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
