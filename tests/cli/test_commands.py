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
