"""Schema migrations (Alembic), run programmatically: ``lendcore db upgrade`` and tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from lendcore.store.db import WRITE_OPTION

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        url = engine.url.render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser escaping
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config(engine)
    connection = engine.connect().execution_options(**{WRITE_OPTION: True})
    with connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
