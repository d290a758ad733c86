"""What the content commands (`convobase content`, `convobase tutoring`) share: their
arguments, a staff transaction on the configured database, an import's problems on
stderr, and where an export is written."""

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from convobase import bootstrap, demo
from convobase.config import Settings
from convobase.core.content_files import ContentInvalid
from convobase.core.errors import ConvobaseError
from convobase.db import migrate


class OutputFormat(StrEnum):
    """The format `export` writes."""

    YAML = "yaml"
    JSON = "json"


Files = Annotated[list[Path], typer.Argument(help="Content files: YAML, or JSON if named *.json.")]
FormatOption = Annotated[
    OutputFormat | None,
    typer.Option("--format", "-f", help="Default: json for an --output named *.json, else yaml."),
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write here instead of to stdout.")
]


def output_format(chosen: OutputFormat | None, output: Path | None) -> OutputFormat:
    """The format to write: the one chosen, else json for an output named *.json."""
    if chosen is not None:
        return chosen
    json_named = output is not None and output.suffix.lower() == ".json"
    return OutputFormat.JSON if json_named else OutputFormat.YAML


@contextmanager
def staff_transaction(settings: Settings, *, importing: bool) -> Iterator[Session]:
    """One transaction on the configured database as the development staff identity:
    an import's migrates the database first, an export's is read-only."""
    if importing:
        migrate.upgrade(settings)
    container = bootstrap.build(settings)
    try:
        with container.database.transaction(demo.DEV_STAFF, readonly=not importing) as session:
            yield session
    finally:
        container.close()


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """An import: its problems on stderr, one a line, then `Nothing was imported: …`,
    and exit status 1."""
    try:
        yield
    except ContentInvalid as error:
        for problem in error.problems:
            typer.echo(str(problem), err=True)
        count = len(error.problems)
        typer.echo(f"Nothing was imported: {count} problem{'s' if count != 1 else ''}.", err=True)
        raise typer.Exit(1) from None
    except ConvobaseError as error:
        typer.echo(f"Nothing was imported: {error.detail}", err=True)
        raise typer.Exit(1) from None


@contextmanager
def refused() -> Iterator[None]:
    """An export: what was refused on stderr, and exit status 1."""
    try:
        yield
    except ConvobaseError as error:
        typer.echo(error.detail, err=True)
        raise typer.Exit(1) from None


def write(text: str, output: Path | None, *, what: str) -> None:
    """`text` to `output`, saying on stderr that it wrote `what` there; else to stdout."""
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"Wrote {what} to {output}", err=True)
