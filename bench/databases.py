"""Databases to measure on: a fresh, migrated one per backend and run."""

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import URL, make_url

from convobase.config import Settings
from convobase.db import migrate

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class BenchDatabase:
    backend: str
    settings: Settings

    @property
    def url(self) -> URL:
        return self.settings.url


def postgres_admin_url() -> URL:
    return make_url(os.environ.get("CONVOBASE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))


def postgres_connect(
    url: URL, *, autocommit: bool = False
) -> psycopg.Connection[tuple[object, ...]]:
    """A plain psycopg connection to `url`."""
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(conninfo, autocommit=autocommit)


@contextmanager
def bench_database(backend: str) -> Iterator[BenchDatabase]:
    """A new database of `backend`, migrated to head, removed after the block."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="convobase-bench-") as directory:
            path = Path(directory) / "bench.db"
            settings = Settings(database_url=f"sqlite:///{path}", backup_before_migrate=False)
            migrate.upgrade(settings)
            yield BenchDatabase(backend, settings)
        return
    admin_url = postgres_admin_url()
    name = f"convobase_bench_{uuid.uuid4().hex[:8]}"
    with closing(postgres_connect(admin_url, autocommit=True)) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin_url.set(drivername="postgresql", database=name)
    try:
        settings = Settings(
            database_url=url.render_as_string(False),
            jwt_secret="bench-secret-that-is-long-enough-0123456789",  # type: ignore[arg-type]
        )
        migrate.upgrade(settings)
        yield BenchDatabase(backend, settings)
    finally:
        with closing(postgres_connect(admin_url, autocommit=True)) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
