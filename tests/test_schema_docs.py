"""docs/schema.md is generated from the models, and the models describe every table
and column, and name the stories each table serves."""

import difflib
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table
from typer.testing import CliRunner

from convobase import schema_docs, table_registry
from convobase.cli import app

SCHEMA_DOC = Path(__file__).resolve().parents[1] / "docs" / "schema.md"
TABLES = sorted(table_registry.metadata.tables.values(), key=lambda table: table.name)


def by_name(table: Table) -> str:
    return table.name


def test_the_committed_schema_doc_is_what_the_models_generate() -> None:
    expected = schema_docs.render(table_registry.metadata)
    committed = SCHEMA_DOC.read_text(encoding="utf-8")

    if committed != expected:
        diff = difflib.unified_diff(
            committed.splitlines(), expected.splitlines(), "committed", "generated", lineterm=""
        )
        shown = "\n".join(list(diff)[:40])
        pytest.fail(
            f"docs/schema.md is not what the models generate: run `{schema_docs.REGENERATE}`"
            f"\n{shown}"
        )


def test_the_same_models_always_render_the_same_text() -> None:
    assert schema_docs.render(table_registry.metadata) == schema_docs.render(
        table_registry.metadata
    )


@pytest.mark.parametrize("table", TABLES, ids=by_name)
def test_every_table_and_column_has_a_description(table: Table) -> None:
    assert (table.comment or "").strip(), f"{table.name}: add a comment to its __table_args__"
    undescribed = [column.name for column in table.c if not (column.comment or "").strip()]
    assert undescribed == [], f"{table.name}: give these columns a comment="


@pytest.mark.parametrize("table", TABLES, ids=by_name)
def test_every_table_names_its_stories_or_says_why_it_is_infrastructure(table: Table) -> None:
    stories = table.info.get("stories")

    assert isinstance(stories, tuple), f'{table.name}: add info={{"stories": (...)}}'
    assert set(stories) <= set(schema_docs.STORIES), f"{table.name}: unknown story"
    if not stories:
        assert (table.comment or "").startswith("Infrastructure (no story: "), (
            f"{table.name} serves no story: its description says why, first"
        )


def test_every_story_is_served_by_some_table() -> None:
    served = {story for table in TABLES for story in table.info["stories"]}

    assert served == set(schema_docs.STORIES)


def test_every_table_has_its_section_and_every_column_its_row() -> None:
    document = schema_docs.render(table_registry.metadata)

    for table in TABLES:
        section = document.split(f"\n### {table.name}\n", 1)[1].split("\n### ", 1)[0]
        for column in table.c:
            assert f"\n| `{column.name}` |" in section, f"{table.name}.{column.name}"


def test_a_table_naming_an_unknown_story_is_refused() -> None:
    metadata = MetaData()
    Table(
        "scratch",
        metadata,
        Column("id", Integer, primary_key=True, comment="Its id."),
        comment="A table of a story nobody wrote.",
        info={"stories": ("999",)},
    )

    with pytest.raises(ValueError, match="scratch names unknown stories"):
        schema_docs.render(metadata)


def test_db_docs_writes_the_document_and_then_finds_it_current(tmp_path: Path) -> None:
    path = tmp_path / "schema.md"
    runner = CliRunner()

    first = runner.invoke(app, ["db", "docs", str(path)])
    second = runner.invoke(app, ["db", "docs", str(path)])

    assert first.exit_code == 0, first.output
    assert first.output.startswith(f"Wrote {path}")
    assert path.read_text(encoding="utf-8") == schema_docs.render(table_registry.metadata)
    assert second.exit_code == 0, second.output
    assert second.output.startswith(f"Already current: {path}")
