"""`convobase db …`: schema migrations, backups and restores."""

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from convobase import schema_docs, table_registry
from convobase.config import Settings
from convobase.db import backup, migrate
from convobase.db.engine import create_database_engine
from convobase.db.verify import verify as verify_schema
from convobase.doctor import examine as examine_database

app = typer.Typer(
    help="Inspect and migrate the database schema; back up and restore SQLite.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

Revision = Annotated[str, typer.Argument(help="Target revision id, or 'head'.")]


@app.command()
def upgrade(revision: Revision = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    _report(migrate.upgrade(Settings(), revision))


@app.command()
def downgrade(revision: Revision) -> None:
    """Revert migrations down to REVISION ('base' empties the database)."""
    _report(migrate.downgrade(Settings(), revision))


@app.command()
def current() -> None:
    """Print the revision the database is at."""
    engine = create_database_engine(Settings(), as_owner=True)
    try:
        revision = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    state = "up to date" if revision == head else f"behind head {head}"
    typer.echo(f"{revision or '(empty database)'}  {state}")


@app.command()
def verify() -> None:
    """Compare the database with the models: print each difference and exit 1 if any."""
    engine = create_database_engine(Settings(), as_owner=True)
    try:
        differences = verify_schema(engine, table_registry.metadata)
    finally:
        engine.dispose()
    for difference in differences:
        typer.echo(difference)
    if differences:
        plural = "s" if len(differences) > 1 else ""
        typer.echo(f"{len(differences)} difference{plural} found", err=True)
        raise typer.Exit(1)
    typer.echo(f"schema matches the models ({len(table_registry.metadata.tables)} tables)")


@app.command()
def doctor(
    repair: Annotated[
        bool,
        typer.Option("--repair", help="Fix what can be recomputed, in one transaction."),
    ] = False,
) -> None:
    """Check what the schema cannot (counters, seq gaps, owners, job leases); exit 1 if
    anything is wrong (with --repair: if anything is left after repairing)."""
    settings = Settings()
    engine = create_database_engine(settings, as_owner=True)
    try:
        report = examine_database(engine, repair=repair, analysis_enabled=settings.analysis_enabled)
    finally:
        engine.dispose()
    for line in report.lines():
        typer.echo(line)
    if not report.healthy:
        raise typer.Exit(1)


@app.command()
def docs(
    path: Annotated[
        Path, typer.Argument(dir_okay=False, help="The file to write (default docs/schema.md).")
    ] = schema_docs.DEFAULT_PATH,
) -> None:
    """Write the schema reference, generated from the models' descriptions, to PATH."""
    changed = schema_docs.write(path, table_registry.metadata)
    tables = len(table_registry.metadata.tables)
    typer.echo(f"{'Wrote' if changed else 'Already current:'} {path} ({tables} tables)")


@app.command()
def revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What the revision does.")],
    autogenerate: Annotated[
        bool, typer.Option(help="Fill the revision in from the models' differences.")
    ] = True,
) -> None:
    """Write a new revision file into the migration history (for developers)."""
    metadata = table_registry.metadata if autogenerate else None
    path = migrate.new_revision(Settings(), message, target_metadata=metadata)
    typer.echo(f"Wrote {path}; review it, add its downgrade, and test both directions.")


@app.command()
def history() -> None:
    """List every revision, newest first."""
    for line in migrate.history():
        typer.echo(line)


@app.command("backup")
def back_up(
    path: Annotated[
        Path, typer.Argument(dir_okay=False, help="The file to write; it must not exist yet.")
    ],
) -> None:
    """Copy the SQLite database to PATH, safely while the service runs.

    On PostgreSQL: print the pg_dump and pg_restore commands to use, and exit 1."""
    settings = Settings()
    if not settings.is_sqlite:
        _fail(backup.postgresql_advice(settings, path, restoring=False))
    try:
        taken = backup.take(settings, path)
    except backup.BackupError as error:
        _fail(str(error))
    schema = taken.revision or "(empty)"
    typer.echo(f"Backed up {taken.database} to {taken.path} (schema {schema})")


@app.command()
def restore(
    path: Annotated[
        Path, typer.Argument(dir_okay=False, help="A backup from `convobase db backup`.")
    ],
) -> None:
    """Replace the SQLite database with the backup at PATH, keeping the old one aside.

    On PostgreSQL: print the pg_dump and pg_restore commands to use, and exit 1."""
    settings = Settings()
    if not settings.is_sqlite:
        _fail(backup.postgresql_advice(settings, path, restoring=True))
    try:
        restored = backup.restore(settings, path, revisions=migrate.revisions())
    except backup.BackupError as error:
        _fail(f"Nothing was restored: {error}")
    if restored.previous is not None:
        typer.echo(f"Copied the database as it was to {restored.previous}", err=True)
    _report_pruned(restored.pruned)
    typer.echo(f"Restored {restored.database} from {restored.source} (schema {restored.revision})")
    if restored.revision != restored.head:
        typer.echo(
            f"Its schema is behind {restored.head}: run `convobase db upgrade` "
            "(`convobase serve` does when it starts)."
        )


def _fail(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(1)


def _report_pruned(pruned: tuple[Path, ...]) -> None:
    for path in pruned:
        typer.echo(f"Removed the older automatic backup {path} (CONVOBASE_BACKUPS_KEPT)", err=True)


def _report(result: migrate.MigrationResult) -> None:
    if result.backup is not None:
        typer.echo(f"Backed up the database to {result.backup}", err=True)
    _report_pruned(result.pruned)
    before = result.before or "(empty)"
    after = result.after or "(empty)"
    typer.echo(f"Database at {after}" if before == after else f"Migrated {before} -> {after}")
