"""Backups of an SQLite database: taken with SQLite's online backup API while the
service runs, restored over the configured file, and kept automatically before a
migration or a restore, the oldest of those removed past `CONVOBASE_BACKUPS_KEPT`.

PostgreSQL is backed up with its own tools; `postgresql_advice` says how."""

import re
import shlex
import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL

from convobase.config import Settings
from convobase.core.time import utc_now

# `<file>.backup-<UTC time to the microsecond>`, so that names sort oldest first.
_AUTOMATIC_SUFFIX = ".backup-"
_STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
_STAMP_PATTERN = r"\d{8}T\d{12}Z"
# How long the online backup API sleeps before retrying a database that is busy.
_RETRY_SECONDS = 0.05


class BackupError(RuntimeError):
    """A backup or a restore that cannot be done; its message says why."""


@dataclass(frozen=True, slots=True)
class Backup:
    database: Path
    path: Path
    revision: str | None


@dataclass(frozen=True, slots=True)
class AutomaticBackup:
    path: Path
    pruned: tuple[Path, ...]
    """Older automatic backups removed to keep `backups_kept` of them."""


@dataclass(frozen=True, slots=True)
class Restored:
    database: Path
    source: Path
    revision: str
    head: str
    previous: Path | None
    """Where the database was copied before it was overwritten (None if there was none)."""
    pruned: tuple[Path, ...]


def take(settings: Settings, target: Path) -> Backup:
    """Copy the configured SQLite database to `target`, which must not exist, with the
    online backup API: a consistent snapshot of what was committed, taken while other
    connections read and write."""
    database = _existing_database(settings)
    if target.exists():
        raise BackupError(f"{target} exists already: choose a new file for the backup.")
    if not target.parent.is_dir():
        raise BackupError(f"There is no directory {target.parent} to write {target.name} in.")
    _copy_database(settings, database, target)
    with closing(_open_read_only(target)) as copy:
        revision = _revision(copy)
    return Backup(database, target, revision)


def take_automatic(settings: Settings) -> AutomaticBackup | None:
    """Copy the configured SQLite database aside as `<file>.backup-<UTC time>`, then
    remove the oldest such copies beyond `backups_kept`. None when there is no file."""
    path = _copy_aside(settings)
    if path is None:
        return None
    return AutomaticBackup(path, prune(settings))


def automatic_backups(database: Path) -> list[Path]:
    """The automatic backups of `database` (the files beside it named
    `<its name>.backup-<UTC time>`), oldest first."""
    pattern = re.compile(re.escape(database.name + _AUTOMATIC_SUFFIX) + _STAMP_PATTERN)
    if not database.parent.is_dir():
        return []
    found = [
        path
        for path in database.parent.iterdir()
        if pattern.fullmatch(path.name) and path.is_file()
    ]
    return sorted(found, key=lambda path: path.name)


def prune(settings: Settings, *, sparing: Path | None = None) -> tuple[Path, ...]:
    """Remove the configured database's oldest automatic backups until `backups_kept`
    are left (0 keeps them all), never `sparing`; return what was removed."""
    database = settings.sqlite_path
    if database is None or settings.backups_kept == 0:
        return ()
    backups = automatic_backups(database)
    excess = backups[: max(len(backups) - settings.backups_kept, 0)]
    spared = None if sparing is None else sparing.resolve()
    removed = tuple(path for path in excess if path.resolve() != spared)
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def restore(settings: Settings, source: Path, *, revisions: Sequence[str]) -> Restored:
    """Copy the backup at `source` over the configured SQLite database, after copying the
    database as it is aside (an automatic backup).

    `revisions` is this code's migration history, oldest first. A file that is not an
    SQLite database, fails SQLite's quick check, has no convobase schema revision, or is
    at a revision this code does not know (written by a newer convobase) is refused,
    and nothing changes. The copy goes through SQLite's backup API and its locks, so
    connections open on the database see the restored one at their next transaction.
    """
    database = _sqlite_file(settings)
    if not source.is_file():
        raise BackupError(f"There is no file at {source}.")
    if database.exists() and source.samefile(database):
        raise BackupError(f"{source} is the configured database itself.")
    if not database.parent.is_dir():
        raise BackupError(f"There is no directory {database.parent} for {database.name}.")
    with closing(_open_read_only(source)) as backup:
        revision = _restorable_revision(backup, source, revisions)
        previous = _copy_aside(settings)
        try:
            with closing(sqlite3.connect(database, timeout=_busy_seconds(settings))) as target:
                _online_copy(backup, target, settings)
        except sqlite3.Error as error:
            raise BackupError(f"Could not restore {database}: {error}; it is unchanged.") from error
    return Restored(
        database, source, revision, revisions[-1], previous, prune(settings, sparing=source)
    )


def postgresql_advice(settings: Settings, path: Path, *, restoring: bool) -> str:
    """What to run instead on PostgreSQL, which convobase leaves to pg_dump and
    pg_restore: the commands for the configured database, without its password."""
    url = settings.url
    conninfo = URL.create(
        "postgresql", url.username, None, url.host, url.port, url.database, url.query
    ).render_as_string()
    dump = ["pg_dump", "--format=custom", "--no-owner", f"--file={path}", conninfo]
    load = ["pg_restore", "--clean", "--if-exists", "--no-owner", "-d", conninfo, str(path)]
    action = "restore" if restoring else "back up"
    lines = [
        f"convobase does not {action} PostgreSQL itself: use PostgreSQL's own tools.",
        "Back up (a consistent snapshot, taken while the service runs):",
        f"  {shlex.join(dump)}",
        "Restore, as the role that owns the tables (docs/operations.md, Backups):",
        f"  {shlex.join(load)}",
    ]
    if settings.url.password is not None:
        lines.append("The password is left out: give it in PGPASSWORD or ~/.pgpass.")
    return "\n".join(lines)


def _sqlite_file(settings: Settings) -> Path:
    path = settings.sqlite_path
    if path is None:
        if settings.is_sqlite:
            raise BackupError("The database is in memory, not in a file.")
        raise BackupError("The database is not SQLite.")
    return path


def _existing_database(settings: Settings) -> Path:
    database = _sqlite_file(settings)
    if not database.is_file():
        raise BackupError(f"There is no database at {database}.")
    return database


def _copy_aside(settings: Settings) -> Path | None:
    database = settings.sqlite_path
    if database is None or not database.is_file():
        return None
    stamp = utc_now().strftime(_STAMP_FORMAT)
    target = database.with_name(f"{database.name}{_AUTOMATIC_SUFFIX}{stamp}")
    _copy_database(settings, database, target)
    return target


def _copy_database(settings: Settings, database: Path, target: Path) -> None:
    """Copy `database` into the new file `target`, whole or not at all."""
    partial = target.with_name(f"{target.name}.partial")
    try:
        with (
            closing(sqlite3.connect(database, timeout=_busy_seconds(settings))) as source,
            closing(sqlite3.connect(partial)) as copy,
        ):
            _online_copy(source, copy, settings)
            # A file that stands alone: no -wal or -shm beside it when it is opened.
            copy.execute("PRAGMA journal_mode = DELETE")
        partial.replace(target)
    except sqlite3.Error as error:
        raise BackupError(f"Could not back up {database}: {error}") from error
    finally:
        partial.unlink(missing_ok=True)


def _online_copy(
    source: sqlite3.Connection, target: sqlite3.Connection, settings: Settings
) -> None:
    """SQLite's online backup API, in one step: it reads one snapshot of `source`, so
    the copy holds exactly the transactions committed when it began (in WAL mode,
    writers carry on meanwhile). Gives up after the busy timeout if a lock it needs
    stays taken (a restore waits for the writer of the moment)."""
    deadline = time.monotonic() + _busy_seconds(settings)

    def give_up_when_busy_too_long(status: int, remaining: int, total: int) -> None:
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and time.monotonic() > deadline:
            raise BackupError(
                f"The database stayed locked for {_busy_seconds(settings):g} s "
                "(CONVOBASE_SQLITE_BUSY_TIMEOUT_MS); try again."
            )

    source.backup(target, progress=give_up_when_busy_too_long, sleep=_RETRY_SECONDS)


def _busy_seconds(settings: Settings) -> float:
    return settings.sqlite_busy_timeout_ms / 1000


def _open_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)


def _restorable_revision(backup: sqlite3.Connection, source: Path, revisions: Sequence[str]) -> str:
    try:
        check = backup.execute("PRAGMA quick_check").fetchall()
        revision = _revision(backup)
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{source} is not an SQLite database ({error}).") from error
    if check != [("ok",)]:
        problems = "; ".join(str(row[0]) for row in check[:3])
        raise BackupError(f"{source} is damaged (SQLite's quick check: {problems}).")
    if revision is None:
        raise BackupError(
            f"{source} is not a convobase database: it has no schema revision (alembic_version)."
        )
    if revision not in revisions:
        raise BackupError(
            f"{source} is at schema revision {revision}, which this convobase does not "
            f"know (its newest is {revisions[-1]}): it was written by a newer release. "
            "Restore it with that release."
        )
    return revision


def _revision(connection: sqlite3.Connection) -> str | None:
    """The schema revision stored in the database, or None without one."""
    has_table = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if has_table is None:
        return None
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])
