"""`convobase tutoring import|export`: lesson dialogs and library texts as content files."""

from typing import Annotated

import typer

from convobase import demo
from convobase.cli import content_files
from convobase.cli.content_files import Files, FormatOption, OutputOption
from convobase.config import Settings
from convobase.tutoring import content
from convobase.tutoring import service as tutoring_service

app = typer.Typer(
    help="Import and export lesson dialogs and library texts as content files (docs/tutoring.md).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command("import")
def import_files(
    files: Files,
    keep_existing: Annotated[
        bool, typer.Option(help="Leave the dialogs and texts that exist as they are.")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Say what would change; change nothing.")] = False,
) -> None:
    """Make the dialogs and texts match the files, in one transaction: all of them or
    nothing (migrates first). Prints what each became; the problems found, on failure."""
    settings = Settings()
    with content_files.all_or_nothing():
        document = content.load_all(files)
        with content_files.staff_transaction(settings, importing=True) as session:
            report = tutoring_service.import_content(
                session,
                demo.DEV_STAFF,
                document=document,
                update_existing=not keep_existing,
                dry_run=dry_run,
            )
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
    output_format: FormatOption = None,
    output: OutputOption = None,
) -> None:
    """Write dialogs and texts (all of them, without --dialog or --text) as a content
    file that imports to the same content."""
    chosen = content_files.output_format(output_format, output)
    with (
        content_files.refused(),
        content_files.staff_transaction(Settings(), importing=False) as session,
    ):
        document = tutoring_service.export_content(
            session, demo.DEV_STAFF, dialog_keys=dialog or [], text_keys=text or []
        )
    written = content.dump(document, chosen.value)
    what = f"{len(document.dialogs)} dialogs and {len(document.texts)} texts"
    content_files.write(written, output, what=what)
