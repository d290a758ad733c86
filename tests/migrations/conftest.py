"""pytest-alembic runs against an empty database of each backend."""

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from pytest_alembic.config import Config
from sqlalchemy import Engine

from convobase import table_registry
from convobase.config import Settings
from convobase.db.engine import create_database_engine
from convobase.db.migrate import alembic_config as convobase_alembic_config
from tests.databases import empty_postgres_database


@pytest.fixture
def alembic_config() -> Config:
    return Config(
        config_options={"target_metadata": table_registry.metadata},
        alembic_config=convobase_alembic_config(),
    )


@pytest.fixture
def alembic_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    with ExitStack() as stack:
        if backend == "sqlite":
            settings = Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
        else:
            settings = stack.enter_context(empty_postgres_database("convobase_migrations"))
        engine = create_database_engine(settings, as_owner=True)
        stack.callback(engine.dispose)
        yield engine
