"""Backups: `convobase db backup` and `db restore` on SQLite, the automatic backups
before a migration and how many are kept, and on PostgreSQL the pg_dump and pg_restore
commands convobase prints instead, run for real.

The PostgreSQL test needs pg_dump and pg_restore. Without them it is skipped, saying
why; with CI=true that is a failure, as a missing PostgreSQL is (tests/conftest.py).
"""

import os
import shlex
import shutil
import sqlite3
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from convobase import bootstrap, table_registry
from convobase.cli import app
from convobase.config import Settings
from convobase.core.principal import Principal
from convobase.db import backup, migrate
from convobase.db.engine import create_database_engine
from convobase.db.session import Database
from convobase.db.verify import verify
from convobase.users import service as user_service
from convobase.users.models import User
from tests import factories
from tests.databases import LiveDatabase, empty_postgres_database

IN_CI = os.environ.get("CI", "").lower() == "true"
TOOL_SECONDS = 120

runner = CliRunner()
postgresql_only = pytest.mark.parametrize("template_database", ["postgresql"], indirect=True)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A migrated SQLite database of the test's own, alone in its directory."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}")
    migrate.upgrade(settings)
    return settings


@pytest.fixture
def database_file(settings: Settings) -> Path:
    assert settings.sqlite_path is not None
    return settings.sqlite_path


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """The database as the service uses it, its connections kept open."""
    database = Database.from_settings(settings, bootstrap.event_bus(settings))
    yield database
    database.dispose()


@pytest.fixture
def configured(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The database the `convobase` command is configured with."""
    monkeypatch.setenv("CONVOBASE_DATABASE_URL", settings.database_url)
    return settings


def add_user(database: Database) -> uuid.UUID:
    principal = Principal.user(uuid.uuid4())
    with database.transaction(principal) as session:
        user_service.register_caller(session, principal)
    assert principal.user_id is not None
    return principal.user_id


def query(path: Path, statement: str, *parameters: object) -> list[tuple[object, ...]]:
    """Rows from the SQLite file at `path`, opened read-only."""
    with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as connection:
        return connection.execute(statement, parameters).fetchall()


def user_ids(path: Path) -> set[uuid.UUID]:
    return {uuid.UUID(str(row[0])) for row in query(path, "SELECT id FROM users")}


def assert_intact(path: Path) -> None:
    assert query(path, "PRAGMA integrity_check") == [("ok",)]
    assert query(path, "PRAGMA foreign_key_check") == []


# Backing up while the service writes


def test_a_backup_taken_during_a_write_transaction_holds_what_was_committed_before_it(
    settings: Settings, database_file: Path, database: Database, tmp_path: Path
) -> None:
    committed = add_user(database)
    uncommitted = Principal.user(uuid.uuid4())

    with database.transaction(uncommitted) as session:  # holds SQLite's write lock
        user_service.register_caller(session, uncommitted)
        session.flush()
        taken = backup.take(settings, tmp_path / "during.db")

    assert_intact(taken.path)
    assert user_ids(taken.path) == {committed}
    assert taken.revision == migrate.head_revision()
    assert user_ids(database_file) == {committed, uncommitted.user_id}  # it went on to commit


def test_backups_taken_while_messages_are_appended_hold_whole_appends(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    owner = Principal.user(uuid.uuid4())
    with database.transaction(owner) as session:
        user_service.register_caller(session, owner)
        conversation = factories.conversation(session, owner)
    appended = threading.Event()
    stop = threading.Event()

    def append_until_stopped() -> None:
        number = 0
        while not stop.is_set():
            number += 1
            with database.transaction(owner) as session:
                factories.message(session, owner, conversation, f"message {number}")
            appended.set()

    writer = threading.Thread(target=append_until_stopped)
    writer.start()
    try:
        assert appended.wait(timeout=30)
        taken = [backup.take(settings, tmp_path / f"during-{n}.db").path for n in range(5)]
    finally:
        stop.set()
        writer.join(timeout=30)

    for path in taken:
        assert_intact(path)
        # An append raises the conversation's last_seq and inserts its message in one
        # transaction: a consistent copy has a message for every seq up to last_seq.
        ((last_seq, messages, highest_seq),) = query(
            path,
            "SELECT c.last_seq, count(m.seq), max(m.seq) FROM conversations AS c "
            "JOIN messages AS m ON m.conversation_id = c.id GROUP BY c.id",
        )
        assert messages == highest_seq == last_seq


def test_backup_refuses_to_overwrite_a_file(configured: Settings, tmp_path: Path) -> None:
    existing = tmp_path / "nightly.db"
    existing.write_text("yesterday's")

    result = runner.invoke(app, ["db", "backup", str(existing)])

    assert result.exit_code == 1
    assert f"{existing} exists already" in result.stderr
    assert existing.read_text() == "yesterday's"


# Restoring


def test_restore_brings_back_the_rows_as_they_were_backed_up(
    configured: Settings, database_file: Path, database: Database, tmp_path: Path
) -> None:
    kept = add_user(database)
    nightly = tmp_path / "nightly.db"
    backed_up = runner.invoke(app, ["db", "backup", str(nightly)])
    added_later = add_user(database)
    with closing(sqlite3.connect(database_file)) as connection, connection:
        connection.execute("DELETE FROM users WHERE id = ?", (kept.hex,))

    restored = runner.invoke(app, ["db", "restore", str(nightly)])

    assert backed_up.exit_code == 0, backed_up.output
    head = migrate.head_revision()
    assert backed_up.stdout == f"Backed up {database_file} to {nightly} (schema {head})\n"
    assert restored.exit_code == 0, restored.output
    assert restored.stdout == f"Restored {database_file} from {nightly} (schema {head})\n"
    assert user_ids(database_file) == {kept}
    # The database as it was before the restore is kept aside, and said where.
    (previous,) = backup.automatic_backups(database_file)
    assert f"Copied the database as it was to {previous}" in restored.stderr
    assert user_ids(previous) == {added_later}
    # Connections the service holds open see the restored database.
    with database.transaction(readonly=True) as session:
        assert set(session.scalars(select(User.id))) == {kept}


def test_restoring_an_older_backup_says_to_upgrade(
    configured: Settings, database_file: Path, tmp_path: Path
) -> None:
    first_revision = migrate.revisions()[0]
    older = tmp_path / "older.db"
    migrate.upgrade(Settings(database_url=f"sqlite:///{older}"), first_revision)

    result = runner.invoke(app, ["db", "restore", str(older)])

    assert result.exit_code == 0, result.output
    assert f"(schema {first_revision})" in result.stdout
    assert "run `convobase db upgrade`" in result.stdout
    assert query(database_file, "SELECT version_num FROM alembic_version") == [(first_revision,)]


def a_text_file(path: Path, settings: Settings) -> None:
    path.write_text("id,email\n1,ana@example.com\n")


def another_applications_database(path: Path, settings: Settings) -> None:
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")


def a_backup_from_a_newer_convobase(path: Path, settings: Settings) -> None:
    backup.take(settings, path)
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")


@pytest.mark.parametrize(
    ("make_file", "reason"),
    [
        (a_text_file, "is not an SQLite database"),
        (another_applications_database, "is not a convobase database"),
        (a_backup_from_a_newer_convobase, "is at schema revision 9999, which this convobase"),
    ],
)
def test_restore_refuses_what_is_not_a_backup_of_this_convobase_and_changes_nothing(
    configured: Settings,
    database_file: Path,
    database: Database,
    tmp_path: Path,
    make_file: Callable[[Path, Settings], None],
    reason: str,
) -> None:
    present = add_user(database)
    candidate = tmp_path / "candidate.db"
    make_file(candidate, configured)

    result = runner.invoke(app, ["db", "restore", str(candidate)])

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Nothing was restored: {candidate} {reason}")
    assert result.stdout == ""
    assert user_ids(database_file) == {present}
    assert backup.automatic_backups(database_file) == []


def test_restore_gives_up_on_a_writer_that_keeps_the_lock_past_the_busy_timeout(
    settings: Settings, database_file: Path, database: Database, tmp_path: Path
) -> None:
    present = add_user(database)
    nightly = backup.take(settings, tmp_path / "nightly.db").path
    impatient = settings.model_copy(update={"sqlite_busy_timeout_ms": 200})
    writer = Principal.user(uuid.uuid4())

    with database.transaction(writer) as session:  # holds SQLite's write lock
        user_service.register_caller(session, writer)
        session.flush()
        with pytest.raises(backup.BackupError, match=r"stayed locked for 0\.2 s"):
            backup.restore(impatient, nightly, revisions=migrate.revisions())

    assert user_ids(database_file) == {present, writer.user_id}


# Automatic backups and how many are kept


def test_a_migration_announces_its_backup_and_the_old_ones_it_removed(
    configured: Settings, database_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVOBASE_BACKUPS_KEPT", "1")
    downgraded = runner.invoke(app, ["db", "downgrade", migrate.revisions()[0]])
    (before_downgrade,) = backup.automatic_backups(database_file)

    upgraded = runner.invoke(app, ["db", "upgrade"])

    assert downgraded.exit_code == 0, downgraded.output
    assert f"Backed up the database to {before_downgrade}\n" in downgraded.stderr
    assert upgraded.exit_code == 0, upgraded.output
    (before_upgrade,) = backup.automatic_backups(database_file)
    assert f"Backed up the database to {before_upgrade}\n" in upgraded.stderr
    assert f"Removed the older automatic backup {before_downgrade}" in upgraded.stderr


def automatic_name(stamp: str) -> str:
    return f"app.db.backup-{stamp}T000000000000Z"


def test_retention_keeps_the_newest_automatic_backups_and_nothing_else_is_touched(
    settings: Settings, database_file: Path, tmp_path: Path
) -> None:
    older = {day: tmp_path / automatic_name(f"202401{day:02d}") for day in (3, 1, 4, 2)}
    for path in older.values():
        shutil.copyfile(database_file, path)
    others = [
        tmp_path / "nightly.db",  # taken with `convobase db backup`
        tmp_path / "app.db.secret",
        tmp_path / "other.db.backup-20240101T000000000000Z",
        tmp_path / f"{automatic_name('20240101')}.partial",
    ]
    for path in others:
        path.write_text("not an automatic backup of app.db")

    taken = backup.take_automatic(settings.model_copy(update={"backups_kept": 3}))

    assert taken is not None
    assert backup.automatic_backups(database_file) == [older[3], older[4], taken.path]
    assert sorted(taken.pruned) == [older[1], older[2]]
    assert all(path.exists() for path in others)


def test_retention_of_0_keeps_every_automatic_backup(
    settings: Settings, database_file: Path
) -> None:
    keep_all = settings.model_copy(update={"backups_kept": 0})

    taken = [backup.take_automatic(keep_all) for _ in range(7)]

    assert [automatic.path for automatic in taken if automatic is not None] == (
        backup.automatic_backups(database_file)
    )
    assert all(automatic is not None and automatic.pruned == () for automatic in taken)


def test_restoring_the_oldest_automatic_backup_keeps_it(
    settings: Settings, database_file: Path, database: Database
) -> None:
    keep_two = settings.model_copy(update={"backups_kept": 2})
    user = add_user(database)
    oldest = backup.take_automatic(keep_two)
    newer = backup.take_automatic(keep_two)
    assert oldest is not None
    assert newer is not None

    restored = backup.restore(keep_two, oldest.path, revisions=migrate.revisions())

    # Past the two newest, but what the database now is.
    assert restored.pruned == ()
    assert backup.automatic_backups(database_file) == [
        oldest.path,
        newer.path,
        restored.previous,
    ]
    assert user_ids(database_file) == {user}


# PostgreSQL: convobase prints the commands to run


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_on_postgresql_the_commands_print_pg_dump_and_pg_restore_and_exit_1(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://owner:s3cret@db.example:5432/convobase"
    monkeypatch.setenv("CONVOBASE_DATABASE_URL", url)

    result = runner.invoke(app, ["db", command, "convobase.dump"])

    assert result.exit_code == 1
    conninfo = "postgresql://owner@db.example:5432/convobase"
    lines = result.stderr.splitlines()
    assert f"  pg_dump --format=custom --no-owner --file=convobase.dump {conninfo}" in lines
    assert f"  pg_restore --clean --if-exists --no-owner -d {conninfo} convobase.dump" in lines
    assert "PGPASSWORD" in result.stderr
    assert "s3cret" not in result.output


@pytest.fixture
def postgresql_tools() -> None:
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed, so the documented commands are not run"
        if IN_CI:
            pytest.fail(f"CI=true and PostgreSQL's client tools are required: {reason}")
        pytest.skip(reason)


def printed_command(settings: Settings, command: str, path: Path, tool: str) -> list[str]:
    """The `tool` command that `convobase db COMMAND PATH` prints for `settings`."""
    environment = {"CONVOBASE_DATABASE_URL": settings.database_url}
    result = runner.invoke(app, ["db", command, str(path)], env=environment)
    assert result.exit_code == 1
    (line,) = (line for line in result.stderr.splitlines() if line.startswith(f"  {tool} "))
    return shlex.split(line)


def run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=TOOL_SECONDS)
    assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stdout}{done.stderr}"


@postgresql_only
@pytest.mark.usefixtures("postgresql_tools")
def test_the_printed_pg_dump_and_pg_restore_restore_the_rows_into_a_fresh_database(
    committing_database: LiveDatabase, tmp_path: Path
) -> None:
    settings = committing_database.settings
    source = Database.from_settings(settings, bootstrap.event_bus(settings))
    try:
        users = {add_user(source) for _ in range(3)}
    finally:
        source.dispose()
    dump = tmp_path / "convobase.dump"

    run(printed_command(settings, "backup", dump, "pg_dump"))
    with empty_postgres_database("convobase_restored") as fresh:
        run(printed_command(fresh, "restore", dump, "pg_restore"))
        engine = create_database_engine(fresh, as_owner=True)
        try:
            with engine.connect() as connection:
                restored = set(connection.scalars(select(User.id)))
            revision = migrate.current_revision(engine)
            # The schema as the models declare it, row level security and all.
            differences = verify(engine, table_registry.metadata)
        finally:
            engine.dispose()

    assert restored == users
    assert revision == migrate.head_revision()
    assert differences == []
