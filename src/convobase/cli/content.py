"""`convobase content import|export`: the course catalog as content files."""

from typing import Annotated

import typer

from convobase import demo
from convobase.cli import content_files
from convobase.cli.content_files import Files, FormatOption, OutputOption
from convobase.config import Settings
from convobase.learning import content
from convobase.learning import service as learning_service

app = typer.Typer(
    help="Import and export the course catalog as content files (docs/learning.md).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command("import")
def import_files(files: Files) -> None:
    """Make the catalog match the files, in one transaction: all of them or nothing
    (migrates first). Prints what changed; the problems found, on failure."""
    settings = Settings()
    with content_files.all_or_nothing():
        parsed = content.load_all(files)
        with content_files.staff_transaction(settings, importing=True) as session:
            report = learning_service.import_content(session, demo.DEV_STAFF, files=parsed)
    for line in report.lines():
        typer.echo(line)


@app.command("export")
def export_files(
    course: Annotated[
        list[str] | None,
        typer.Option("--course", "-c", help="A course's key; repeat for more (default: all)."),
    ] = None,
    output_format: FormatOption = None,
    output: OutputOption = None,
) -> None:
    """Write the catalog's courses, active or not, with their sections and assessments,
    as a content file that imports to the same catalog."""
    chosen = content_files.output_format(output_format, output)
    with (
        content_files.refused(),
        content_files.staff_transaction(Settings(), importing=False) as session,
    ):
        document = learning_service.export_content(session, demo.DEV_STAFF, course_keys=course)
    count = len(document.courses)
    text = content.dump(document, chosen.value)
    content_files.write(text, output, what=f"{count} course{'s' if count != 1 else ''}")
