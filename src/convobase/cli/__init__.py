"""The `convobase` command."""

from typing import Annotated

import typer

from convobase import __version__
from convobase.cli import content, db, server, tutoring

app = typer.Typer(
    name="convobase",
    help="convobase: the backend for AI tutors, coaches and persona-chat apps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"convobase {__version__}")
        raise typer.Exit


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """convobase: the backend for AI tutors, coaches and persona-chat apps."""


app.add_typer(db.app, name="db")
app.add_typer(content.app, name="content")
app.add_typer(tutoring.app, name="tutoring")
app.add_typer(server.seed_app, name="seed")
app.command()(server.serve)
app.command()(server.worker)
app.command()(server.token)
app.command("demo")(server.demo_conversation)
app.command()(server.openapi)


def main() -> None:
    """Run the command line."""
    app()
