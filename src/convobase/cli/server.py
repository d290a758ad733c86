"""`convobase serve`, `convobase worker`, `convobase token`, `convobase seed [base|test]`,
`convobase demo`, `convobase openapi`."""

import json
import re
import secrets
import signal
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import SecretStr

from convobase import bootstrap, demo, seeding
from convobase.config import Settings
from convobase.core.logging import configure_logging
from convobase.core.principal import Principal, Role
from convobase.core.tokens import TokenAuthority
from convobase.db import migrate

DEV_TOKEN_TTL = timedelta(days=1)
_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    seed: Annotated[
        bool, typer.Option(help="Create the demo personas and courses if missing.")
    ] = True,
) -> None:
    """Migrate the database, seed demo personas and courses, print tokens and serve the API."""
    settings = Settings()
    result = migrate.upgrade(settings)
    if result.backup is not None:
        typer.echo(f"Backed up the database to {result.backup}", err=True)
    if seed:
        _seed(settings)
    tokens = bootstrap.token_authority(settings)
    base = f"http://{host}:{port}"
    typer.echo(
        f"convobase on {base}\n"
        f"  database:    {settings.url.render_as_string()} (schema {result.after})\n"
        f"  API docs:    {base}/docs\n"
        f"  jobs:        {_jobs_line(settings)}\n"
        f"  user token:  {_dev_token(tokens, demo.DEV_USER, Role.AUTHENTICATED)}\n"
        f"  staff token: {_dev_token(tokens, demo.DEV_STAFF, Role.SERVICE_ROLE)}\n"
        f"  (development tokens, valid for a day; mint others with `convobase token`)"
    )
    uvicorn.run(
        "convobase.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # convobase logs one line per request itself (CONVOBASE_LOG_*), in its format.
        log_config=None,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


def token(
    sub: Annotated[uuid.UUID, typer.Option(help="The user's id (a UUID).")],
    role: Annotated[Role, typer.Option(help="The token's role.")] = Role.AUTHENTICATED,
    email: Annotated[str | None, typer.Option(help="Optional email claim.")] = None,
    ttl: Annotated[str, typer.Option(help="Lifetime: 90s, 30m, 1h, 7d.")] = "1h",
) -> None:
    """Print a signed bearer token, and nothing else."""
    tokens = bootstrap.token_authority(Settings())
    typer.echo(tokens.mint(sub=str(sub), role=role, ttl=_duration(ttl), email=email))


seed_app = typer.Typer()


@seed_app.callback(invoke_without_command=True)
def seed(context: typer.Context) -> None:
    """Create data that is missing (migrates first). Without a command: `seed base`."""
    if context.invoked_subcommand is None:
        seed_base()


@seed_app.command("base")
def seed_base() -> None:
    """Create the demo personas, courses, lesson dialogs and texts that are missing."""
    settings = Settings()
    migrate.upgrade(settings)
    _echo_seeded(_seed(settings))


@seed_app.command("test")
def seed_test() -> None:
    """Create the base data, then the synthetic test data, where missing.

    Made-up users with fixed ids at each stage, their onboarding, conversations, a guest
    session, crisis events, an analysis, assessment attempts and a tutor session
    (docs/operations.md)."""
    settings = Settings()
    migrate.upgrade(settings)
    container = bootstrap.build(settings)
    try:
        with container.database.transaction(demo.DEV_STAFF) as session:
            seeded = demo.seed(session)
        synthesized = seeding.seed_test_data(container.database, settings)
    finally:
        container.close()
    _echo_seeded(seeded)
    typer.echo(synthesized.summary())


def _echo_seeded(seeded: demo.Seeded) -> None:
    if (tutoring := seeded.tutoring_summary()) is not None:
        typer.echo(tutoring)
    typer.echo(seeded.summary())


def demo_conversation() -> None:
    """Migrate, store a short conversation and read it back in order, without HTTP."""
    settings = Settings()
    migrate.upgrade(settings)
    container = bootstrap.build(settings)
    try:
        lines = demo.store_demo_conversation(container.database)
    finally:
        container.close()
    typer.echo(f"A conversation in {settings.url.render_as_string()}:")
    for seq, role, content in lines:
        typer.echo(f"  {seq:>3} {role:<9} {content}")


def openapi(
    path: Annotated[
        Path | None,
        typer.Argument(dir_okay=False, help="File to write; standard output if omitted."),
    ] = None,
) -> None:
    """Write the API's OpenAPI document as JSON, without a server or a database: the one
    `/openapi.json` serves, keys sorted, so the same code always writes the same bytes."""
    text = openapi_document()
    if path is None:
        typer.echo(text, nl=False)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")  # the same bytes on Windows
    typer.echo(f"Wrote the OpenAPI document to {path}", err=True)


def openapi_document() -> str:
    """The app's OpenAPI document as canonical JSON (sorted keys, two-space indent, one
    final newline), built on an in-memory database it never connects to."""
    # Imported here: the other commands (the worker above all) need no web framework.
    from convobase.app import create_app

    settings = Settings(
        database_url="sqlite:///:memory:", jwt_secret=SecretStr(secrets.token_urlsafe(32))
    )
    container = bootstrap.build(settings)
    try:
        document = create_app(container).openapi()
    finally:
        container.close()
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _seed(settings: Settings) -> demo.Seeded:
    container = bootstrap.build(settings)
    try:
        with container.database.transaction(demo.DEV_STAFF) as session:
            return demo.seed(session)
    finally:
        container.close()


def _jobs_line(settings: Settings) -> str:
    if settings.runs_in_process_worker:
        return "a worker runs in this process"
    return "run `convobase worker` beside the API"


def _dev_token(tokens: TokenAuthority, principal: Principal, role: Role) -> str:
    return tokens.mint(sub=str(principal.user_id), role=role, ttl=DEV_TOKEN_TTL)


def _duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise typer.BadParameter("use a number and a unit: 90s, 30m, 1h, 7d", param_hint="--ttl")
    amount, unit = match.groups()
    return timedelta(**{_UNITS[unit]: int(amount)})


def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Jobs run at a time.")] = 1,
) -> None:
    """Run background jobs until SIGTERM or Ctrl-C; then finish the jobs in hand and exit."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    container = bootstrap.build(settings)
    try:
        job_worker = bootstrap.worker(container, concurrency=concurrency)
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop_signal, lambda *_: job_worker.stop())
        job_worker.run()
    finally:
        container.close()
