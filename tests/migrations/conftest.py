"""pytest-alembic runs against an empty database of each backend."""

import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from psycopg import sql
from pytest_alembic.config import Config
from sqlalchemy import Engine

from convobase.config import Settings
from convobase.db.engine import create_database_engine
from convobase.db.migrate import alembic_config as convobase_alembic_config
from tests.databases import admin_connection, postgres_admin_url


@pytest.fixture
def alembic_config() -> Config:
    return Config(alembic_config=convobase_alembic_config())


@pytest.fixture
def alembic_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    if backend == "sqlite":
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
        engine = create_database_engine(settings, as_owner=True)
        yield engine
        engine.dispose()
        return
    admin_url = postgres_admin_url()
    name = f"convobase_migrations_{uuid.uuid4().hex[:8]}"
    with closing(admin_connection(admin_url)) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin_url.set(drivername="postgresql", database=name)
    engine = create_database_engine(
        Settings(database_url=url.render_as_string(False)), as_owner=True
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with closing(admin_connection(admin_url)) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
