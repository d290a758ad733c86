"""`convobase content import|export`: the course catalog as content files."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from convobase import bootstrap, demo
from convobase.config import Settings
from convobase.core.errors import ConvobaseError
from convobase.db import migrate
from convobase.learning import content
from convobase.learning import service as learning_service
from convobase.learning.errors import ContentInvalid

app = typer.Typer(
    help="Import and export the course catalog as content files (docs/learning.md).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class OutputFormat(StrEnum):
    """The format `export` writes."""

    YAML = "yaml"
    JSON = "json"


@app.command("import")
def import_files(
    files: Annotated[
        list[Path], typer.Argument(help="Content files: YAML, or JSON if named *.json.")
    ],
) -> None:
    """Make the catalog match the files, in one transaction: all of them or nothing
    (migrates first). Prints what changed; the problems found, on failure."""
    settings = Settings()
    try:
        parsed = content.load_all(files)
        migrate.upgrade(settings)
        container = bootstrap.build(settings)
        try:
            with container.database.transaction(demo.DEV_STAFF) as session:
                report = learning_service.import_content(session, demo.DEV_STAFF, files=parsed)
        finally:
            container.close()
    except ContentInvalid as error:
        for problem in error.problems:
            typer.echo(str(problem), err=True)
        count = len(error.problems)
        typer.echo(f"Nothing was imported: {count} problem{'s' if count != 1 else ''}.", err=True)
        raise typer.Exit(1) from None
    except ConvobaseError as error:
        typer.echo(f"Nothing was imported: {error.detail}", err=True)
        raise typer.Exit(1) from None
    for line in report.lines():
        typer.echo(line)


@app.command("export")
def export_files(
    course: Annotated[
        list[str] | None,
        typer.Option("--course", "-c", help="A course's key; repeat for more (default: all)."),
    ] = None,
    output_format: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format", "-f", help="Default: json for an --output named *.json, else yaml."
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of to stdout.")
    ] = None,
) -> None:
    """Write the catalog's courses, active or not, with their sections and assessments,
    as a content file that imports to the same catalog."""
    if output_format is None:
        json_named = output is not None and output.suffix.lower() == ".json"
        output_format = OutputFormat.JSON if json_named else OutputFormat.YAML
    container = bootstrap.build(Settings())
    try:
        with container.database.transaction(demo.DEV_STAFF, readonly=True) as session:
            document = learning_service.export_content(session, demo.DEV_STAFF, course_keys=course)
    except ConvobaseError as error:
        typer.echo(error.detail, err=True)
        raise typer.Exit(1) from None
    finally:
        container.close()
    text = content.dump(document, output_format.value)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    count = len(document.courses)
    typer.echo(f"Wrote {count} course{'s' if count != 1 else ''} to {output}", err=True)
