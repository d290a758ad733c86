from pathlib import Path

import pytest
from typer.testing import CliRunner

from convobase.cli import app
from convobase.db import migrate

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
