"""Every storage test runs once on SQLite and once on PostgreSQL."""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session

from convobase import bootstrap
from convobase.app import create_app
from convobase.config import Settings
from convobase.core import events
from convobase.core.principal import Principal
from convobase.db.session import Database
from tests import factories
from tests.api import JWT_SECRET, Api
from tests.clocks import FakeClock
from tests.databases import (
    LiveDatabase,
    TemplateDatabase,
    migrated_template,
    postgres_unreachable_reason,
)
from tests.fuzzing import gate

BACKENDS = ("sqlite", "postgresql")
IN_CI = os.environ.get("CI", "").lower() == "true"

_postgres_problem: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _postgres_problem
    _postgres_problem = postgres_unreachable_reason()
    if _postgres_problem and IN_CI:
        pytest.exit(f"CI=true and PostgreSQL is required: {_postgres_problem}", returncode=1)


def pytest_report_header() -> str:
    if _postgres_problem:
        return f"postgresql: SKIPPING its tests ({_postgres_problem})"
    return "postgresql: reachable; every storage test runs on SQLite and PostgreSQL"


@pytest.fixture(scope="session", params=BACKENDS)
def template_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TemplateDatabase]:
    backend: str = request.param
    if backend == "postgresql" and _postgres_problem:
        pytest.skip(f"PostgreSQL unreachable: {_postgres_problem}")
    with migrated_template(backend, tmp_path_factory.mktemp(backend)) as template:
        yield template


@pytest.fixture(scope="session")
def test_database(template_database: TemplateDatabase) -> Iterator[LiveDatabase]:
    """The database that rolled-back tests share for the whole run."""
    with template_database.clone() as database:
        yield database


@pytest.fixture
def backend(template_database: TemplateDatabase) -> str:
    return template_database.backend


@pytest.fixture
def session(test_database: LiveDatabase) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test.

    Code under test may commit: its commits become SAVEPOINT releases.
    """
    with test_database.engine.connect() as connection:
        transaction = connection.begin()
        session = Session(
            bind=connection,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
            autoflush=False,
        )
        events.attach(
            session, bootstrap.event_bus(test_database.settings)
        )  # as every unit of work has
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()


@pytest.fixture
def committing_database(template_database: TemplateDatabase) -> Iterator[LiveDatabase]:
    """A database of the test's own, for tests whose transactions must really commit."""
    with template_database.clone() as database:
        yield database


@pytest.fixture
def database(committing_database: LiveDatabase) -> Iterator[Database]:
    """The database as the service uses it (on PostgreSQL: its roles, under row level
    security), in a database of the test's own."""
    settings = committing_database.settings
    database = Database.from_settings(settings, bootstrap.event_bus(settings))
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def api_database(template_database: TemplateDatabase) -> Iterator[LiveDatabase]:
    """The database HTTP tests commit to; each test makes users of its own."""
    with template_database.clone() as database:
        yield database


@pytest.fixture(scope="session")
def app_settings(api_database: LiveDatabase) -> Settings:
    # Rate limits are off here (the shared staff token makes thousands of requests);
    # tests/test_rate_limits.py turns them on.
    return api_database.settings.model_copy(
        update={
            "jwt_secret": SecretStr(JWT_SECRET),
            "requests_per_token": 0,
            "guest_sessions_per_address": 0,
            "in_process_worker": "off",
        }
    )


@pytest.fixture(scope="session")
def app(app_settings: Settings) -> Iterator[FastAPI]:
    # The app's own engine: on PostgreSQL it acts as convobase_app, under row level security.
    container = bootstrap.build(app_settings)
    yield create_app(container)
    container.close()


@pytest.fixture
def api(app: FastAPI) -> Api:
    return Api(TestClient(app, raise_server_exceptions=False))


@pytest.fixture
def user(session: Session) -> Principal:
    return factories.user(session)


@pytest.fixture
def other_user(session: Session) -> Principal:
    return factories.user(session)


@pytest.fixture
def staff() -> Principal:
    return Principal.staff()


@pytest.fixture
def tmp_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many tests ran on each database, so a skipped backend cannot go unseen,
    and what the fuzzing gate did. (Here, not in tests/fuzzing/: with pytest-xdist the
    summary is written by a process that loads only this conftest.)"""
    tally = {backend: {"passed": 0, "failed": 0, "skipped": 0} for backend in BACKENDS}
    for outcome in ("passed", "failed", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            backend = _backend_of(getattr(report, "nodeid", ""))
            if backend is not None:
                tally[backend][outcome] += 1
    gate_shares = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "teardown"
        for name, value in getattr(report, "user_properties", ())
        if name == gate.REPORT_PROPERTY
    ]
    if (gate_line := gate.summary(gate_shares)) is not None:
        terminalreporter.write_line(gate_line)
    terminalreporter.write_line(
        "per database: "
        + "; ".join(
            f"{backend} {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped"
            for backend, counts in tally.items()
        )
    )


def _backend_of(nodeid: str) -> str | None:
    """The backend in a test id such as `test_x[postgresql-params0]` (or, for a generated
    case, `test_x[postgresql-user][GET /v1/me]`), if any."""
    parameters = [
        part for group in re.findall(r"\[([^\]]*)\]", nodeid) for part in group.split("-")
    ]
    return next((backend for backend in BACKENDS if backend in parameters), None)
