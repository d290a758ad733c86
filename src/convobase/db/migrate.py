"""Schema migrations: Alembic driven from Python, with a backup before SQLite changes."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData

from convobase.config import Settings
from convobase.db import backup
from convobase.db.engine import create_database_engine

SCRIPT_LOCATION = "convobase.db:migrations"


def alembic_config() -> Config:
    """Alembic's configuration for convobase's migration history; no ini file needed."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    return config


def head_revision() -> str:
    """The newest revision in the history."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migration history is empty"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return revision_of(connection)


def revision_of(connection: Connection) -> str | None:
    """The revision the database behind `connection` is at."""
    return MigrationContext.configure(connection).get_current_revision()


@dataclass(frozen=True, slots=True)
class MigrationResult:
    before: str | None
    after: str | None
    backup: Path | None
    pruned: tuple[Path, ...] = ()
    """Older automatic backups removed after taking `backup` (`backups_kept`)."""


def upgrade(settings: Settings, revision: str = "head") -> MigrationResult:
    """Bring the database up to `revision`, backing up an existing SQLite file first."""
    return _migrate(settings, revision, command.upgrade)


def downgrade(settings: Settings, revision: str) -> MigrationResult:
    """Take the database down to `revision`, backing up an existing SQLite file first."""
    return _migrate(settings, revision, command.downgrade)


def new_revision(settings: Settings, message: str, *, target_metadata: MetaData | None) -> Path:
    """Write the next revision file (numbered after the head); with `target_metadata`,
    filled in by comparing the database, which must be at head, with it. Returns the
    file's path."""
    config = alembic_config()
    config.attributes["target_metadata"] = target_metadata
    next_id = f"{int(head_revision()) + 1:04d}"
    with _engine(settings) as engine, engine.connect() as connection:
        config.attributes["connection"] = connection
        script = command.revision(
            config, message, autogenerate=target_metadata is not None, rev_id=next_id
        )
    assert isinstance(script, Script)
    return Path(script.path)


def revisions() -> list[str]:
    """Every revision id in the history, oldest first: the head is the last."""
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in script.walk_revisions()][::-1]


def history() -> list[str]:
    """One line per revision, newest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [f"{revision.revision}  {revision.doc}" for revision in script.walk_revisions()]


def _migrate(
    settings: Settings, revision: str, step: Callable[[Config, str], None]
) -> MigrationResult:
    with _engine(settings) as engine:
        before = current_revision(engine)
        automatic = None
        if settings.backup_before_migrate and _is_pending(before, revision):
            automatic = backup.take_automatic(settings)
        config = alembic_config()
        # The environment begins and commits the transaction itself (on SQLite it has
        # to switch foreign keys off before beginning).
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            step(config, revision)
            connection.commit()
        after = current_revision(engine)
        if automatic is None:
            return MigrationResult(before, after, None)
        return MigrationResult(before, after, automatic.path, automatic.pruned)


def _is_pending(current: str | None, target: str) -> bool:
    if current is None:
        return False  # nothing stored yet, nothing to lose
    if target == "head":
        return current != head_revision()
    return current != target


@contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    engine = create_database_engine(settings, as_owner=True)
    try:
        yield engine
    finally:
        engine.dispose()
