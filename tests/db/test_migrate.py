import sqlite3
from contextlib import closing
from pathlib import Path

from convobase.config import Settings
from convobase.db import backup, migrate


def sqlite_settings(path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{path}")


def test_first_upgrade_of_a_new_file_needs_no_backup(tmp_path: Path) -> None:
    result = migrate.upgrade(sqlite_settings(tmp_path / "new.db"))

    assert (result.before, result.after) == (None, migrate.head_revision())
    assert result.backup is None


def test_upgrading_an_existing_file_backs_it_up_first(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path / "app.db")
    migrate.upgrade(settings)
    first_revision = migrate.history()[-1].split()[0]
    migrate.downgrade(settings, first_revision)

    result = migrate.upgrade(settings)

    if result.before == result.after:  # a one-revision history has nothing to apply
        assert result.backup is None
        return
    assert result.backup is not None
    assert result.backup.parent == tmp_path
    with closing(sqlite3.connect(result.backup)) as copy:
        (revision,) = copy.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == first_revision


def test_backup_is_a_consistent_copy_of_the_database(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path / "app.db")
    migrate.upgrade(settings)

    automatic = backup.take_automatic(settings)

    assert automatic is not None
    with closing(sqlite3.connect(automatic.path)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_master")}
    assert {"users", "personas", "conversations", "messages"} <= tables


def test_upgrade_to_head_twice_changes_nothing(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path / "app.db")
    migrate.upgrade(settings)

    again = migrate.upgrade(settings)

    assert again.before == again.after == migrate.head_revision()
    assert again.backup is None
