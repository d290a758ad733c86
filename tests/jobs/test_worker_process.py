"""The `convobase worker` process: killed mid-job, its job runs again after the lease
and its effect appears once; stopped with SIGTERM, it finishes the job in hand."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from convobase import bootstrap
from convobase.analysis import service as analysis_service
from convobase.analysis.models import AnalysisType
from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.jobs import service as job_service
from convobase.jobs.models import JobState
from tests import factories
from tests.databases import LiveDatabase

SECRET = "a webhook secret of at least thirty-two characters"
STAFF = Principal.staff()
WAIT_SECONDS = 60

pytestmark = pytest.mark.concurrency


class Analyzer(ThreadingHTTPServer):
    """A webhook analyzer whose answers a test scripts: each request takes the next
    behaviour (`hang`: never answers in time; `slow`: answers after a second)."""

    def __init__(self, behaviours: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviours = behaviours
        self.requests = 0
        self.asked = threading.Event()
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/analyse"


class _Handler(BaseHTTPRequestHandler):
    server: Analyzer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests += 1
        behaviour = self.server.behaviours.pop(0) if self.server.behaviours else "answer"
        self.server.asked.set()
        if behaviour == "hang":
            self.server.release.wait(WAIT_SECONDS)
        if behaviour == "slow":
            time.sleep(1)
        body = json.dumps({"chat_score": 9.5, "insights": {"from": "webhook"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def analyzer_service(behaviours: list[str]) -> Iterator[Analyzer]:
    server = Analyzer(behaviours)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        thread.join()
        server.server_close()


@contextmanager
def worker_process(
    committing_database: LiveDatabase, analyzer: Analyzer, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "CONVOBASE_DATABASE_URL": committing_database.settings.database_url,
        "CONVOBASE_JWT_SECRET": SECRET,
        "CONVOBASE_ANALYZER": "webhook",
        "CONVOBASE_ANALYZER_URL": analyzer.url,
        "CONVOBASE_ANALYZER_SECRET": SECRET,
        "CONVOBASE_JOB_LEASE_SECONDS": "5",
        "CONVOBASE_WORKER_POLL_SECONDS": "0.1",
    }
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "convobase", "worker"], env=env, stdout=output, stderr=output
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=WAIT_SECONDS)


def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.1)


@pytest.fixture
def writer_of_25(committing_database: LiveDatabase) -> Iterator[tuple[Database, Principal]]:
    """A user whose 25 messages have queued their first analysis."""
    settings = committing_database.settings
    database = Database.from_settings(settings, bootstrap.event_bus(settings))
    with database.transaction(STAFF) as session:
        user = factories.user(session)
    with database.transaction(user) as session:
        factories.messages(session, user, factories.conversation(session, user), 25)
    yield database, user
    database.dispose()


def scorings(database: Database, user: Principal) -> list[tuple[int, Decimal]]:
    with database.transaction(user) as session:
        page = analysis_service.list_analyses(session, user)
    return [
        (result.batch, result.chat_score)
        for result in page.items
        if result.analysis_type == AnalysisType.CHAT_SCORING
    ]


def analysis_job_state(database: Database) -> tuple[str, int]:
    with database.transaction(STAFF) as session:
        (job,) = job_service.list_jobs(session, STAFF, name="analysis").items
        return job.state, job.attempts


def test_a_killed_workers_job_runs_again_after_the_lease_and_its_effect_appears_once(
    committing_database: LiveDatabase, writer_of_25: tuple[Database, Principal], tmp_path: Path
) -> None:
    database, user = writer_of_25
    log = tmp_path / "workers.log"
    with analyzer_service(["hang"]) as analyzer:
        with worker_process(committing_database, analyzer, log) as doomed:
            eventually(analyzer.asked.is_set, "the first worker calls the analyzer")
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=WAIT_SECONDS)
        assert analysis_job_state(database)[0] == JobState.ACTIVE, "held by a dead worker"

        with worker_process(committing_database, analyzer, log):
            eventually(lambda: bool(scorings(database, user)), f"a second worker ({log})")
            eventually(lambda: analysis_job_state(database)[0] == JobState.COMPLETED, "completion")

    assert scorings(database, user) == [(1, Decimal("9.5"))]
    assert analysis_job_state(database) == (JobState.COMPLETED, 2)
    assert analyzer.requests == 2


def test_sigterm_lets_the_worker_finish_the_job_in_hand_and_exit(
    committing_database: LiveDatabase, writer_of_25: tuple[Database, Principal], tmp_path: Path
) -> None:
    database, user = writer_of_25
    with (
        analyzer_service(["slow"]) as analyzer,
        worker_process(committing_database, analyzer, tmp_path / "worker.log") as worker,
    ):
        eventually(analyzer.asked.is_set, "the worker calls the analyzer")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=WAIT_SECONDS) == 0

    assert scorings(database, user) == [(1, Decimal("9.5"))]
    assert analysis_job_state(database) == (JobState.COMPLETED, 1)
