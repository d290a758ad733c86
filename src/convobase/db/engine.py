"""Engines configured the way convobase needs each database to behave."""

import json
import sqlite3
from dataclasses import dataclass
from functools import partial
from typing import Any

from psycopg import sql as psycopg_sql
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

from convobase.config import Settings

# Execution option read by the SQLite `begin` hook: "IMMEDIATE" takes the write lock
# at BEGIN, so two writers queue on the busy timeout instead of one failing when it
# upgrades a read lock.
SQLITE_BEGIN = "convobase_sqlite_begin"
# Execution option read by `db/identity.py`: the PostgreSQL roles transactions act as,
# when the engine acts as a role at all.
ROLES = "convobase_roles"


@dataclass(frozen=True, slots=True)
class Roles:
    """The roles a transaction may act as: a caller's, staff's, and the job queue's."""

    caller: str
    staff: str
    jobs: str


_json_serializer = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def _json_deserializer(text: str) -> Any:
    # Most metadata and context documents are empty: no need to run the parser.
    return {} if text == "{}" else json.loads(text)


def create_database_engine(
    settings: Settings, *, as_owner: bool = False, **overrides: Any
) -> Engine:
    """Create the engine for `settings.database_url`.

    On PostgreSQL the service acts as `settings.db_role`, which owns no tables, so row
    level security applies to it; `as_owner` keeps the login role, for migrations.
    """
    options: dict[str, Any] = {
        "echo": settings.db_echo,
        "json_serializer": _json_serializer,
        "json_deserializer": _json_deserializer,
        "pool_pre_ping": False,
    }
    if settings.is_sqlite:
        options["connect_args"] = {
            "timeout": settings.sqlite_busy_timeout_ms / 1000,
            "check_same_thread": False,
        }
        if settings.sqlite_path is not None:
            options |= {"pool_size": settings.db_pool_size, "max_overflow": 0}
        engine = create_engine(settings.url, **(options | overrides))
        _configure_sqlite(engine, settings)
        return engine
    options |= {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_recycle": 1800,
    }
    engine = create_engine(settings.url, **(options | overrides))
    if settings.db_role and not as_owner:
        _act_as_role(engine, settings.db_role)
        roles = Roles(settings.db_role, settings.db_staff_role, settings.db_jobs_role)
        return engine.execution_options(**{ROLES: roles})
    return engine


def _act_as_role(engine: Engine, role: str) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(psycopg_sql.SQL("SET ROLE {}").format(psycopg_sql.Identifier(role)))
        dbapi_connection.commit()


_BEGIN = {mode: f"BEGIN {mode}" for mode in ("DEFERRED", "IMMEDIATE")}


def _configure_sqlite(engine: Engine, settings: Settings) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: sqlite3.Connection, _: ConnectionPoolEntry) -> None:
        # Hand transaction control to SQLAlchemy's `begin` hook below: pysqlite's own
        # implicit BEGIN does not cover SAVEPOINTs or DDL and cannot take a lock mode.
        dbapi_connection.isolation_level = None
        for pragma in (
            "journal_mode = WAL",
            f"synchronous = {settings.sqlite_synchronous}",
            "foreign_keys = ON",
            f"busy_timeout = {settings.sqlite_busy_timeout_ms}",
        ):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        # Straight to the driver: every unit of work begins here, and SQLAlchemy's
        # execution machinery costs more than SQLite's BEGIN itself.
        driver_connection = connection.connection.driver_connection
        assert driver_connection is not None
        driver_connection.execute(_BEGIN[mode])
