"""Test databases: one migrated database per backend and run, cloned where a test
must commit for real."""

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import URL, Engine, make_url

from convobase.config import Settings
from convobase.db import migrate
from convobase.db.engine import create_database_engine

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
_MIGRATION_LOCK = 0x636F6E766F  # any fixed key: "convo"


def postgres_admin_url() -> URL:
    return make_url(os.environ.get("CONVOBASE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))


def postgres_unreachable_reason() -> str | None:
    """Why PostgreSQL tests cannot run, or None when they can."""
    url = postgres_admin_url()
    try:
        with closing(admin_connection(url)):
            return None
    except psycopg.Error as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        return f"PostgreSQL at {url.render_as_string(hide_password=True)}: {first_line}"


def admin_connection(url: URL) -> psycopg.Connection[tuple[object, ...]]:
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(conninfo, autocommit=True, connect_timeout=3)


@dataclass(frozen=True)
class TemplateDatabase:
    """A migrated database that is never connected to, only copied."""

    backend: str
    settings: Settings

    @contextmanager
    def clone(self) -> Iterator["LiveDatabase"]:
        """A fresh copy of the template that lives for the block."""
        if self.backend == "sqlite":
            source = self.settings.sqlite_path
            assert source is not None
            target = source.with_name(f"clone-{uuid.uuid4().hex[:12]}.db")
            shutil.copyfile(source, target)
            settings = self.settings.model_copy(update={"database_url": f"sqlite:///{target}"})
            with LiveDatabase.open(settings) as database:
                yield database
            return
        url = self.settings.url
        name = f"{url.database}_{uuid.uuid4().hex[:8]}"
        with closing(admin_connection(postgres_admin_url())) as admin:
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(url.database or "")
                )
            )
        settings = self.settings.model_copy(
            update={"database_url": url.set(database=name).render_as_string(False)}
        )
        try:
            with LiveDatabase.open(settings) as database:
                yield database
        finally:
            _drop_postgres_database(name)


@dataclass(frozen=True)
class LiveDatabase:
    settings: Settings
    engine: Engine

    @classmethod
    @contextmanager
    def open(cls, settings: Settings) -> Iterator["LiveDatabase"]:
        # Service-level tests act as the table owner: row level security is the second
        # wall, tested through the HTTP API and on its own.
        engine = create_database_engine(settings, as_owner=True)
        try:
            yield cls(settings, engine)
        finally:
            engine.dispose()


@contextmanager
def migrated_template(backend: str, workdir: Path) -> Iterator[TemplateDatabase]:
    """Build the schema with `alembic upgrade head`, as production does."""
    if backend == "sqlite":
        path = workdir / "template.db"
        settings = Settings(database_url=f"sqlite:///{path}", backup_before_migrate=False)
        migrate.upgrade(settings)
        _checkpoint_sqlite(path)
        yield TemplateDatabase(backend, settings)
        return
    with empty_postgres_database("convobase_test") as settings:
        with one_migration_at_a_time():
            migrate.upgrade(settings)
        yield TemplateDatabase(backend, settings)


@contextmanager
def one_migration_at_a_time() -> Iterator[None]:
    """Hold the cluster's test-migration lock for the block. Migrations create roles and
    grant one to another, and roles are cluster-wide: two test processes (pytest-xdist)
    building their templates at once would race to create the same role."""
    with closing(admin_connection(postgres_admin_url())) as admin:
        # Advisory locks belong to a database: every test process takes it in the admin one.
        admin.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            yield
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))


@contextmanager
def empty_postgres_database(prefix: str) -> Iterator[Settings]:
    """A new, empty PostgreSQL database for the block, dropped afterwards."""
    admin_url = postgres_admin_url()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with closing(admin_connection(admin_url)) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin_url.set(drivername="postgresql", database=name)
    try:
        yield Settings(database_url=url.render_as_string(False), backup_before_migrate=False)
    finally:
        _drop_postgres_database(name)


def _checkpoint_sqlite(path: Path) -> None:
    # Fold the WAL into the main file so that a plain file copy is a complete database.
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode = DELETE")


def _drop_postgres_database(name: str) -> None:
    with closing(admin_connection(postgres_admin_url())) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
