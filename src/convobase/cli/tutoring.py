"""`convobase tutoring import|export`: lesson dialogs and library texts as content files."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from convobase import bootstrap, demo
from convobase.config import Settings
from convobase.core.errors import ConvobaseError
from convobase.db import migrate
from convobase.tutoring import content
from convobase.tutoring import service as tutoring_service
from convobase.tutoring.errors import ContentInvalid

app = typer.Typer(
    help="Import and export lesson dialogs and library texts as content files (docs/tutoring.md).",
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
    keep_existing: Annotated[
        bool, typer.Option(help="Leave the dialogs and texts that exist as they are.")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Say what would change; change nothing.")] = False,
) -> None:
    """Make the dialogs and texts match the files, in one transaction: all of them or
    nothing (migrates first). Prints what each became; the problems found, on failure."""
    settings = Settings()
    try:
        document = content.load_all(files)
        migrate.upgrade(settings)
        container = bootstrap.build(settings)
        try:
            with container.database.transaction(demo.DEV_STAFF) as session:
                report = tutoring_service.import_content(
                    session,
                    demo.DEV_STAFF,
                    document=document,
                    update_existing=not keep_existing,
                    dry_run=dry_run,
                )
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
    for kind, items in (("dialog", report.dialogs), ("text", report.texts)):
        for item in items:
            typer.echo(f"{kind} {item.key}: {item.outcome.value} (version {item.version})")
    if dry_run:
        typer.echo("Dry run: nothing was changed.")


@app.command("export")
def export_files(
    dialog: Annotated[
        list[str] | None,
        typer.Option("--dialog", "-d", help="A dialog's key; repeat for more."),
    ] = None,
    text: Annotated[
        list[str] | None, typer.Option("--text", "-t", help="A text's key; repeat for more.")
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
    """Write dialogs and texts (all of them, without --dialog or --text) as a content
    file that imports to the same content."""
    if output_format is None:
        json_named = output is not None and output.suffix.lower() == ".json"
        output_format = OutputFormat.JSON if json_named else OutputFormat.YAML
    container = bootstrap.build(Settings())
    try:
        with container.database.transaction(demo.DEV_STAFF, readonly=True) as session:
            document = tutoring_service.export_content(
                session, demo.DEV_STAFF, dialog_keys=dialog or [], text_keys=text or []
            )
    except ConvobaseError as error:
        typer.echo(error.detail, err=True)
        raise typer.Exit(1) from None
    finally:
        container.close()
    written = content.dump(document, output_format.value)
    if output is None:
        typer.echo(written, nl=False)
        return
    output.write_text(written, encoding="utf-8")
    typer.echo(
        f"Wrote {len(document.dialogs)} dialogs and {len(document.texts)} texts to {output}",
        err=True,
    )
