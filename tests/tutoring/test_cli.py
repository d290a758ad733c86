"""The command line on tutoring, on both databases: content files in and out, the seed,
and `convobase db downgrade` past the story's revision and back up keeping every
tutor session."""

import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from convobase import bootstrap
from convobase.cli import app
from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.tutoring import service
from convobase.tutoring.models import TutorSession
from convobase.tutoring.schemas import TurnCreate, TutorSessionCreate
from convobase.users import service as user_service
from tests.databases import LiveDatabase
from tests.tutoring.dialogs import MARIA_SAYS, short_body

runner = CliRunner()


@pytest.fixture
def cli_database(committing_database: LiveDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database of the test's own, on each backend, as the command line finds it."""
    monkeypatch.setenv("CONVOBASE_DATABASE_URL", committing_database.settings.database_url)
    monkeypatch.setenv("CONVOBASE_JWT_SECRET", "a development secret of at least 32 characters")
    monkeypatch.setenv("CONVOBASE_BACKUP_BEFORE_MIGRATE", "false")


def test_tutoring_import_creates_then_changes_nothing(cli_database: None, tmp_path: Path) -> None:
    path = tmp_path / "saludos.yaml"
    path.write_text(yaml.safe_dump({"dialogs": [short_body()]}, allow_unicode=True), "utf-8")

    first = runner.invoke(app, ["tutoring", "import", str(path)])
    second = runner.invoke(app, ["tutoring", "import", str(path), "--dry-run"])

    assert first.exit_code == 0, first.output
    assert first.stdout == "dialog short: created (version 1)\n"
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines() == [
        "dialog short: unchanged (version 1)",
        "Dry run: nothing was changed.",
    ]


def test_tutoring_import_of_a_broken_file_imports_nothing(
    cli_database: None, tmp_path: Path
) -> None:
    path = tmp_path / "broken.yaml"
    body = short_body(lines=[{"role": "Pedro", "text": "Hola.", "translation": "Hi."}])
    path.write_text(yaml.safe_dump({"dialogs": [body]}), "utf-8")
    line = [text.strip() for text in path.read_text().splitlines()].index("- role: Pedro") + 1

    result = runner.invoke(app, ["tutoring", "import", str(path)])

    assert result.exit_code == 1
    assert (
        f"{path}: /dialogs/0/lines/0/role (line {line}): 'Pedro' is not a role (Ana, Luis)"
        in result.stderr.splitlines()
    )
    assert result.stderr.splitlines()[-1] == "Nothing was imported: 2 problems."


def test_the_seed_creates_the_cafe_once_and_it_exports_in_utf_8(cli_database: None) -> None:
    first = runner.invoke(app, ["seed"])
    second = runner.invoke(app, ["seed"])
    exported = runner.invoke(app, ["tutoring", "export", "--dialog", "en-el-cafe"])

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[0] == (
        "Created the lesson dialog en-el-cafe and the library text el-cafe-de-la-esquina."
    )
    assert "lesson dialog" not in second.stdout
    (cafe,) = yaml.safe_load(exported.stdout)["dialogs"]
    assert [role["name"] for role in cafe["roles"]] == ["María", "Carlos"]
    assert "María" in exported.stdout  # as UTF-8, not escaped or mis-decoded


def test_db_downgrade_past_the_story_and_back_up_keeps_every_tutor_session(
    cli_database: None, committing_database: LiveDatabase
) -> None:
    runner.invoke(app, ["seed"])
    settings = committing_database.settings
    database = Database.from_settings(settings, bootstrap.event_bus(settings))
    learner = Principal.user(uuid.uuid4())
    try:
        with database.transaction(learner) as session:
            user_service.register_caller(session, learner)
            cafe = service.list_dialogs(session, learner).items[0]
            played = service.start_session(
                session, learner, data=TutorSessionCreate(dialog_id=cafe.id, selected_role="María")
            )
            for line in MARIA_SAYS:
                service.take_turn(session, learner, played.id, data=TurnCreate(content=line))
            begun = service.start_session(
                session, learner, data=TutorSessionCreate(dialog_id=cafe.id, selected_role="Carlos")
            )
        before = _sessions(committing_database)
    finally:
        database.dispose()

    down = runner.invoke(app, ["db", "downgrade", "0013"])
    at_0013 = _sessions(committing_database, columns=False)
    up = runner.invoke(app, ["db", "upgrade"])

    assert down.exit_code == 0, down.output
    assert down.stdout.endswith("-> 0013\n")
    assert up.exit_code == 0, up.output
    assert {row[0] for row in before} == {played.id, begun.id}
    assert at_0013 == [(row[0], row[1]) for row in before]
    after = _sessions(committing_database)
    # The story's rollback drops dialog_id and selected_role: the sessions stay, as
    # sessions of no dialog, with their levels and completion times.
    assert [(row[0], row[1]) for row in after] == [(row[0], row[1]) for row in before]
    assert {(row[2], row[3]) for row in after} == {(None, None)}


def _sessions(database: LiveDatabase, *, columns: bool = True) -> list[tuple[object, ...]]:
    """Every tutor session, as (id, completed_at[, dialog_id, selected_role])."""
    table = TutorSession.__table__
    chosen = [table.c.id, table.c.completed_at]
    if columns:
        chosen += [table.c.dialog_id, table.c.selected_role]
    with database.engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(table))
        rows = connection.execute(select(*chosen).order_by(table.c.created_at)).all()
    assert count == len(rows)
    return [tuple(row) for row in rows]
