"""Alembic environment: runs on the connection convobase hands over, or on the
configured database when none is given.

The models' MetaData is handed in as `config.attributes["target_metadata"]` by the
commands that compare against it (`convobase db revision --autogenerate`, the
migration tests), so the migrations import nothing above the storage layer.
"""

from alembic import context
from sqlalchemy import Connection, Engine, make_url, text

from convobase.config import Settings
from convobase.db.engine import create_database_engine

config = context.config

# How long a migration's statement waits for a lock on PostgreSQL before it fails.
LOCK_TIMEOUT = "10s"


class ForeignKeyViolation(RuntimeError):
    """A migration left rows whose foreign keys point nowhere; it was rolled back."""


def _configure(**options: object) -> None:
    context.configure(
        target_metadata=config.attributes.get("target_metadata"),
        compare_type=True,
        compare_server_default=True,
        **options,  # type: ignore[arg-type]
    )


def run_online(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        _run_sqlite(connection)
        return
    _configure(connection=connection)
    with context.begin_transaction():
        _set_lock_timeout()
        context.run_migrations()


def _set_lock_timeout() -> None:
    # Fail fast instead of queueing every query behind a migration's lock: a statement
    # that waits longer than this for a lock (behind a long transaction, say) fails and
    # the migration rolls back. For this transaction only.
    context.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def _run_sqlite(connection: Connection) -> None:
    # SQLite changes a table by rebuilding it: create a copy, drop the original. With
    # foreign keys on, dropping the original would delete the rows that refer to it
    # (ON DELETE CASCADE), so they are off for the migration and checked at its end,
    # as SQLite's documentation prescribes. The pragma only takes effect outside a
    # transaction.
    if connection.in_transaction():
        raise RuntimeError("SQLite migrations need a connection outside a transaction")
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        _configure(connection=connection, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
            violations = connection.execute(text("PRAGMA foreign_key_check")).all()
            if violations:
                raise ForeignKeyViolation(f"{len(violations)} rows, first: {violations[0]}")
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def run_offline() -> None:
    """Write the SQL of the migrations instead of running it (`alembic upgrade --sql`);
    PostgreSQL only: SQLite's migrations rebuild tables, which needs the database."""
    url = make_url(config.get_main_option("sqlalchemy.url") or Settings().url)
    if url.get_backend_name() != "postgresql":
        raise RuntimeError(f"offline SQL is written for PostgreSQL only, not {url.drivername}")
    _configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        _set_lock_timeout()
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif isinstance(given := config.attributes.get("connection"), Connection):
    run_online(given)
else:
    engine = (
        given if isinstance(given, Engine) else create_database_engine(Settings(), as_owner=True)
    )
    try:
        with engine.connect() as connection:
            run_online(connection)
            connection.commit()
    finally:
        if engine is not given:
            engine.dispose()
