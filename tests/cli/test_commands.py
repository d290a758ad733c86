import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from convobase import __version__
from convobase.cli import app
from convobase.db import migrate
from tests.databases import LiveDatabase
from tests.learning.catalog import QUESTIONS

runner = CliRunner()


@pytest.fixture
def database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("CONVOBASE_DATABASE_URL", f"sqlite:///{path}")
    return path


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    for command in ("db", "demo"):
        assert command in result.output


def test_version_prints_the_packages_version() -> None:
    result = runner.invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.output == f"convobase {__version__}\n"


def test_db_upgrade_current_downgrade(database_file: Path) -> None:
    head = migrate.head_revision()

    upgraded = runner.invoke(app, ["db", "upgrade"])
    current = runner.invoke(app, ["db", "current"])
    downgraded = runner.invoke(app, ["db", "downgrade", "base"])
    after = runner.invoke(app, ["db", "current"])

    assert upgraded.exit_code == 0, upgraded.output
    assert f"-> {head}" in upgraded.output
    assert current.output.startswith(f"{head}  up to date")
    assert downgraded.exit_code == 0, downgraded.output
    assert "(empty database)" in after.output


def test_db_history_lists_every_revision() -> None:
    result = runner.invoke(app, ["db", "history"])

    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith(migrate.head_revision())


def test_demo_stores_and_reads_back_a_conversation(database_file: Path) -> None:
    result = runner.invoke(app, ["demo"])

    assert result.exit_code == 0, result.output
    assert "1 user      Hola" in result.output
    assert "«café» ☕" in result.output
    assert database_file.exists()


def test_db_revision_on_a_database_at_head_finds_no_difference(database_file: Path) -> None:
    runner.invoke(app, ["db", "upgrade"])
    head = migrate.head_revision()

    result = runner.invoke(app, ["db", "revision", "-m", "nothing to do"])

    written = Path(result.output.split()[1].rstrip(";"))
    try:
        assert result.exit_code == 0, result.output
        body = written.read_text()
        assert written.name.endswith(f"_{int(head) + 1:04d}_nothing_to_do.py")
        assert f"down_revision: str | None = {head!r}" in body
        assert "op." not in body  # the models and the migrated schema agree
    finally:
        written.unlink(missing_ok=True)


# Content files and the seed, on both databases


@pytest.fixture
def cli_database(committing_database: LiveDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database of the test's own, on each backend, as the command line finds it."""
    monkeypatch.setenv("CONVOBASE_DATABASE_URL", committing_database.settings.database_url)
    monkeypatch.setenv("CONVOBASE_JWT_SECRET", "a development secret of at least 32 characters")
    monkeypatch.setenv("CONVOBASE_BACKUP_BEFORE_MIGRATE", "false")


def write_course(path: Path, **fields: object) -> Path:
    course = {
        "key": "poker",
        "title": "Poker",
        "level": "beginner",
        "sections": [{"key": "rules", "title": "The rules"}],
        "assessments": [
            {"key": "basics", "title": "Basics", "difficulty": "easy", "questions": QUESTIONS}
        ],
        **fields,
    }
    path.write_text(yaml.safe_dump({"courses": [course]}, sort_keys=False))
    return path


def test_help_lists_the_content_commands() -> None:
    result = runner.invoke(app, ["content", "--help"])

    assert result.exit_code == 0
    assert "import" in result.output
    assert "export" in result.output


def test_content_import_creates_then_changes_nothing(cli_database: None, tmp_path: Path) -> None:
    courses = write_course(tmp_path / "courses.yaml")

    first = runner.invoke(app, ["content", "import", str(courses)])
    second = runner.invoke(app, ["content", "import", str(courses)])

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        str(courses),
        "  course poker: created",
        "    assessment basics: created (version 1)",
        "1 course (1 created); 1 assessment (1 created).",
    ]
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines()[1:] == [
        "  course poker: unchanged",
        "    assessment basics: unchanged (version 1)",
        "Nothing changed: 1 course and 1 assessment already as the files say.",
    ]


def test_content_import_of_a_bad_file_writes_nothing(cli_database: None, tmp_path: Path) -> None:
    good = write_course(tmp_path / "good.yaml", key="good", title="Good")
    broken = tmp_path / "broken.yaml"
    broken.write_text("courses:\n  - key: poker\n    title: Poker: the game\n")
    question = {**QUESTIONS[0], "choices": QUESTIONS[0]["choices"][:1]}
    bad = write_course(
        tmp_path / "bad.yaml",
        assessments=[{"key": "q", "title": "Q", "difficulty": "easy", "questions": [question]}],
    )

    result = runner.invoke(app, ["content", "import", str(good), str(broken), str(bad)])

    line = [text.strip() for text in bad.read_text().splitlines()].index("choices:") + 1
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{broken}: line 3, column 17: is not valid YAML: mapping values are not allowed here",
        f"{bad}: /courses/0/assessments/0/questions/0/choices (line {line}): must have at "
        "least 2 entries (it has 1)",
        "Nothing was imported: 2 problems.",
    ]
    exported = runner.invoke(app, ["content", "export"])
    assert exported.exit_code == 1
    assert exported.stderr == "The catalog has no course to export.\n"


def test_content_import_refuses_a_prerequisite_cycle_across_files(
    cli_database: None, tmp_path: Path
) -> None:
    first = write_course(tmp_path / "a.yaml", key="a", title="A", prerequisites=["b"])
    second = write_course(tmp_path / "b.yaml", key="b", title="B", prerequisites=["a"])

    result = runner.invoke(app, ["content", "import", str(first), str(second)])

    assert result.exit_code == 1
    assert "these prerequisites would form a cycle: a (" in result.stderr
    assert runner.invoke(app, ["content", "export"]).exit_code == 1


def test_content_export_imports_to_the_same_catalog(cli_database: None, tmp_path: Path) -> None:
    runner.invoke(app, ["content", "import", str(write_course(tmp_path / "courses.yaml"))])
    exported = tmp_path / "export.json"

    written = runner.invoke(app, ["content", "export", "--course", "poker", "-o", str(exported)])
    again = runner.invoke(app, ["content", "import", str(exported)])
    as_yaml = runner.invoke(app, ["content", "export", "--format", "yaml"])

    assert written.exit_code == 0, written.output
    assert json.loads(exported.read_text())["courses"][0]["key"] == "poker"
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-1].startswith("Nothing changed")
    assert yaml.safe_load(as_yaml.stdout) == json.loads(exported.read_text())


def test_seed_creates_the_coaches_and_the_course_once(cli_database: None) -> None:
    first = runner.invoke(app, ["seed"])
    second = runner.invoke(app, ["seed"])
    exported = runner.invoke(app, ["content", "export", "--course", "poker-fundamentals"])

    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("Created ")
    assert first.stdout.endswith(" demo personas and the course poker-fundamentals.\n")
    assert second.exit_code == 0, second.output
    assert second.stdout == "Demo personas and courses present: nothing created.\n"
    (course,) = yaml.safe_load(exported.stdout)["courses"]
    assert [assessment["key"] for assessment in course["assessments"]] == ["fundamentals-check"]
