"""Alembic environment: runs on the connection convobase hands over, or on the
configured database when none is given."""

from alembic import context
from sqlalchemy import Connection, Engine

from convobase.config import Settings
from convobase.db.engine import create_database_engine
from convobase.schema import metadata

config = context.config


def _configure(**options: object) -> None:
    context.configure(
        target_metadata=metadata,
        compare_type=True,
        compare_server_default=True,
        **options,  # type: ignore[arg-type]
    )


def run_online(connection: Connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    _configure(connection=connection, render_as_batch=is_sqlite)
    with context.begin_transaction():
        if not is_sqlite:
            # Fail fast instead of queueing every query behind a migration's lock.
            context.execute("SET LOCAL lock_timeout = '10s'")
        context.run_migrations()


def run_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or Settings().url
    _configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif isinstance(given := config.attributes.get("connection"), Connection):
    run_online(given)
elif isinstance(given, Engine):
    with given.begin() as connection:
        run_online(connection)
else:
    engine = create_database_engine(Settings(), as_owner=True)
    try:
        with engine.begin() as connection:
            run_online(connection)
    finally:
        engine.dispose()
