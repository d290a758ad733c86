"""Background jobs: enqueue → completion of no-op jobs, convobase's queue beside
procrastinate's on PostgreSQL, same run.

The workload, identical for both: worker processes (1, then 4; each runs one job at a
time) are started and registered; then one producer in this process queues the jobs
one per transaction, as an application queues a job in its business transaction;
the run ends when every job is completed. Latency is each job's enqueue → completion,
read back from the queue's own tables afterwards (convobase: `job_queue.created_at` →
`completed_at`; procrastinate: its `deferred` → `succeeded` events); throughput is the
jobs over the time from the first enqueue to the last completion.
"""

import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.measure import Measurement

# Worker processes run this module (`python -m bench.jobs convobase|procrastinate`) and
# import only what their system needs: the heavy imports are in the functions.
if TYPE_CHECKING:
    from procrastinate import App
    from procrastinate.tasks import Task as ProcrastinateTask
    from sqlalchemy import Engine

    from convobase.config import Settings
    from convobase.db.session import Database
    from convobase.jobs.worker import JobRun

TASK = "noop"
WORKERS = (1, 4)
STARTUP_TIMEOUT = 60.0  # seconds for the worker processes to register
FINISH_TIMEOUT = 300.0  # seconds for the last job to complete after the last enqueue
STOP_TIMEOUT = 15.0  # seconds a worker process gets to stop before it is killed
POLL = 0.1  # seconds between this process's looks at the queue; not part of any figure
ROOT = Path(__file__).resolve().parent.parent
Process = subprocess.Popen[bytes]


@dataclass(frozen=True)
class Run:
    """One system's run: the jobs' enqueue → completion latencies over the run's wall
    time, and the producer's enqueue transactions over its own."""

    jobs: Measurement
    enqueues: Measurement

    @property
    def enqueue_max(self) -> float:
        """The slowest enqueue transaction, ms."""
        return max(self.enqueues.latencies_ns) / 1e6

    def as_dict(self) -> dict[str, object]:
        enqueues = self.enqueues.as_dict() | {"max_ms": round(self.enqueue_max, 3)}
        return {**self.jobs.as_dict(), "enqueue": enqueues}


@dataclass(frozen=True)
class JobsRow:
    """convobase against procrastinate (None on SQLite), same workload."""

    jobs: int
    workers: int
    backend: str
    poll_interval: float
    convobase: Run
    procrastinate: Run | None

    @property
    def workload(self) -> str:
        return f"{self.jobs:,} no-op jobs, {_processes_named(self.workers)}, concurrency 1 each"

    def as_dict(self) -> dict[str, object]:
        result: dict[str, object] = {
            "workload": self.workload,
            "backend": self.backend,
            "workers": self.workers,
            "concurrency_per_worker": 1,
            "poll_interval_s": self.poll_interval,
            "convobase": self.convobase.as_dict(),
        }
        if self.procrastinate is not None:
            ours, theirs = self.convobase.jobs, self.procrastinate.jobs
            result |= {
                "procrastinate": self.procrastinate.as_dict(),
                "jobs_per_s_ratio": round(ours.ops_per_second / theirs.ops_per_second, 2),
                "p50_ratio": round(ours.p50 / theirs.p50, 2),
                "p95_ratio": round(ours.p95 / theirs.p95, 2),
            }
        return result


def run(backend: str, *, quick: bool) -> list[JobsRow]:
    """Both worker counts on `backend`, each run on a fresh database; on PostgreSQL,
    procrastinate's run right after convobase's."""
    from bench.databases import bench_database

    count = 1_000 if quick else 10_000
    rows = []
    for workers in WORKERS:
        started = time.perf_counter()
        with bench_database(backend) as database:
            poll_interval = database.settings.worker_poll_seconds
            convobase = run_convobase(database.settings, count, workers, poll_interval)
        _progress(f"convobase, {_processes_named(workers)}", convobase, started)
        procrastinate = None
        if backend == "postgresql":
            started = time.perf_counter()
            procrastinate = run_procrastinate(count, workers, poll_interval)
            _progress(f"procrastinate, {_processes_named(workers)}", procrastinate, started)
        rows.append(JobsRow(count, workers, backend, poll_interval, convobase, procrastinate))
    return rows


def _processes_named(count: int) -> str:
    return f"{count} worker process{'es' if count > 1 else ''}"


def _progress(what: str, result: Run, started: float) -> None:
    print(
        f"  {what}: {result.jobs.ops_per_second:,.0f} jobs/s in {result.jobs.wall_seconds:.1f}"
        f" s of a {time.perf_counter() - started:.1f} s run",
        file=sys.stderr,
        flush=True,
    )


# --- convobase ---------------------------------------------------------------------------


def run_convobase(settings: "Settings", count: int, workers: int, poll_interval: float) -> Run:
    """`workers` processes each running a `Worker` of concurrency 1, and `count` jobs
    queued one per transaction from here."""
    from sqlalchemy import func, select

    from convobase import bootstrap
    from convobase.db.engine import create_database_engine
    from convobase.db.session import Database
    from convobase.jobs.models import LIVE_STATES, Job, JobState
    from convobase.jobs.models import Worker as WorkerRow

    owner = create_database_engine(settings, as_owner=True)  # reads the queue, bypassing RLS
    try:
        with _processes("convobase", (settings, poll_interval), workers) as processes:
            _wait_for(
                lambda: _scalar(owner, select(func.count()).select_from(WorkerRow)) == workers,
                processes,
                STARTUP_TIMEOUT,
                f"{workers} convobase workers to register",
            )
            database = Database.from_settings(settings, bootstrap.event_bus(settings))
            try:
                enqueues = _produce(_convobase_producer(database), count)
            finally:
                database.dispose()
            # Every job is committed by now: done when none is live (an index range).
            live = select(func.count()).where(Job.state.in_(LIVE_STATES))
            _wait_for(
                lambda: _scalar(owner, live) == 0,
                processes,
                FINISH_TIMEOUT,
                f"{count:,} convobase jobs to complete",
            )
        with owner.connect() as connection:
            rows = connection.execute(
                select(Job.created_at, Job.completed_at).where(
                    Job.state == JobState.COMPLETED.value
                )
            ).all()
    finally:
        owner.dispose()
    return Run(_measurement(_pairs(rows), count), enqueues)


def _convobase_producer(database: "Database") -> Callable[[], object]:
    from convobase.core.principal import Principal
    from convobase.jobs import service as job_service

    principal = Principal.staff()
    with database.transaction(principal, readonly=True):
        pass  # connect before the clock starts

    def enqueue() -> object:
        with database.transaction(principal) as session:
            return job_service.enqueue(session, TASK, {})

    return enqueue


def _noop(run: "JobRun") -> None:
    pass


def _convobase_worker(settings: "Settings", poll_interval: float) -> None:
    """A worker process: one `Worker`, one job at a time, until SIGTERM."""
    from convobase import bootstrap
    from convobase.db.session import Database
    from convobase.jobs.worker import Task, Worker

    database = Database.from_settings(settings, bootstrap.event_bus(settings))
    worker = Worker(database, [Task(TASK, _noop)], concurrency=1, poll_interval=poll_interval)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    try:
        worker.run()
    finally:
        database.dispose()


def _scalar(engine: "Engine", statement: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(statement).scalar_one()


# --- procrastinate -----------------------------------------------------------------------


def run_procrastinate(count: int, workers: int, poll_interval: float) -> Run:
    """The same workload on procrastinate, in a fresh PostgreSQL database of its own."""
    from psycopg import sql

    from bench.databases import postgres_admin_url, postgres_connect

    admin_url = postgres_admin_url()
    name = f"procrastinate_bench_{uuid.uuid4().hex[:8]}"
    with closing(postgres_connect(admin_url, autocommit=True)) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin_url.set(drivername="postgresql", database=name)
    conninfo = url.render_as_string(hide_password=False)
    try:
        app, task = _procrastinate_app(conninfo)
        with app.open():
            app.schema_manager.apply_schema()
            arguments = (conninfo, poll_interval)
            with (
                _processes("procrastinate", arguments, workers) as processes,
                closing(postgres_connect(url, autocommit=True)) as reader,
            ):

                def counted(query: str) -> int:
                    row = reader.execute(query).fetchone()
                    return int(str(row[0])) if row else 0

                _wait_for(
                    lambda: counted("SELECT count(*) FROM procrastinate_workers") == workers,
                    processes,
                    STARTUP_TIMEOUT,
                    f"{workers} procrastinate workers to register",
                )
                time.sleep(0.5)  # their listeners connect after they register
                app.check_connection()  # connect before the clock starts
                enqueues = _produce(task.defer, count)
                live = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
                _wait_for(
                    lambda: counted(live) == 0,
                    processes,
                    FINISH_TIMEOUT,
                    f"{count:,} procrastinate jobs to complete",
                )
            with closing(postgres_connect(url)) as connection:
                rows = connection.execute(
                    "SELECT deferred.at, succeeded.at FROM procrastinate_events deferred"
                    " JOIN procrastinate_events succeeded ON succeeded.job_id = deferred.job_id"
                    " AND succeeded.type = 'succeeded' WHERE deferred.type = 'deferred'"
                ).fetchall()
    finally:
        with closing(postgres_connect(admin_url, autocommit=True)) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    return Run(_measurement(_pairs(rows), count), enqueues)


async def _procrastinate_noop() -> None:
    """procrastinate's cheapest task: a coroutine, run on the worker's event loop (a
    sync one would run in a thread, as convobase's handlers do)."""


def _procrastinate_app(
    conninfo: str,
) -> tuple["App", "ProcrastinateTask[[], Coroutine[Any, Any, None], []]"]:
    from procrastinate import App, PsycopgConnector

    app = App(connector=PsycopgConnector(conninfo=conninfo))
    task = app.task(name=TASK)(_procrastinate_noop)
    return app, task


def _procrastinate_worker(conninfo: str, poll_interval: float) -> None:
    """A procrastinate worker process, one job at a time, until SIGTERM (its own
    handler stops it gracefully)."""
    app, _ = _procrastinate_app(conninfo)
    app.run_worker(
        concurrency=1,
        fetch_job_polling_interval=poll_interval,
        listen_notify=True,
        install_signal_handlers=True,
    )


# --- shared ------------------------------------------------------------------------------


def _produce(enqueue: Callable[[], object], count: int) -> Measurement:
    """Queue `count` jobs one after another, each in a transaction of its own."""
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        begin = time.perf_counter_ns()
        enqueue()
        latencies.append(time.perf_counter_ns() - begin)
    return Measurement(latencies, time.perf_counter() - started)


def _pairs(rows: Iterable[Sequence[object]]) -> list[tuple[datetime, datetime]]:
    """(enqueued, completed) of each row, checked to be times."""
    pairs = []
    for queued, done, *_ in rows:
        if not isinstance(queued, datetime) or not isinstance(done, datetime):
            raise TypeError(f"not a pair of times: {queued!r}, {done!r}")
        pairs.append((queued, done))
    return pairs


def _measurement(pairs: Sequence[tuple[datetime, datetime]], count: int) -> Measurement:
    """Each job's enqueue → completion, over the first enqueue → last completion."""
    if len(pairs) != count:
        raise RuntimeError(f"{len(pairs):,} of {count:,} jobs completed")
    latencies = [(done - queued) // timedelta(microseconds=1) * 1000 for queued, done in pairs]
    wall = max(done for _, done in pairs) - min(queued for queued, _ in pairs)
    return Measurement(latencies, wall.total_seconds())


@contextmanager
def _processes(system: str, arguments: tuple[object, ...], count: int) -> Iterator[list[Process]]:
    """`count` worker processes of `system` (`python -m bench.jobs`, handed `arguments`),
    stopped with SIGTERM when the block ends however it ends, killed if they linger."""
    command = [sys.executable, "-m", "bench.jobs", system]
    started: list[Process] = []
    try:
        for _ in range(count):
            process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE)
            started.append(process)
            assert process.stdin is not None
            with process.stdin:
                process.stdin.write(pickle.dumps(arguments))
        yield started
    finally:
        _stop(started)
    for each in started:
        if each.returncode not in (0, -signal.SIGTERM):
            raise RuntimeError(f"a {system} worker process exited with {each.returncode}")


def _stop(processes: Sequence[Process]) -> None:
    """SIGTERM to each (both workers stop gracefully on it), SIGKILL to stragglers."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(
    condition: Callable[[], bool],
    processes: Sequence[Process],
    timeout: float,
    what: str,
) -> None:
    """Poll `condition` until it holds, every `POLL` seconds (rarely enough not to load
    the machine the workers share); fail if a worker process died meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        exited = [process.returncode for process in processes if process.poll() is not None]
        if exited:
            raise RuntimeError(f"a worker process exited ({exited[0]}) waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(POLL)


def markdown_table(rows: Sequence[JobsRow]) -> str:
    """The rows as a Markdown table: jobs/s over the run, latencies in ms."""
    lines = [
        "| workload | db | convobase jobs/s | p50 | p95 | enqueue/s | enqueue max "
        "| procrastinate jobs/s | p50 | p95 | enqueue/s | enqueue max "
        "| jobs/s ratio | p50 ratio | p95 ratio |",
        "| --- | --- |" + " ---: |" * 13,
    ]
    for row in rows:
        ours = row.convobase.jobs
        line = (
            f"| {row.workload} | {row.backend} | {ours.ops_per_second:,.0f} | {ours.p50:,.1f} "
            f"| {ours.p95:,.1f} | {row.convobase.enqueues.ops_per_second:,.0f} "
            f"| {row.convobase.enqueue_max:,.1f} "
        )
        if row.procrastinate is None:
            line += "|" + " n/a |" * 8
        else:
            theirs = row.procrastinate.jobs
            line += (
                f"| {theirs.ops_per_second:,.0f} | {theirs.p50:,.1f} | {theirs.p95:,.1f} "
                f"| {row.procrastinate.enqueues.ops_per_second:,.0f} "
                f"| {row.procrastinate.enqueue_max:,.1f} "
                f"| {ours.ops_per_second / theirs.ops_per_second:.2f} "
                f"| {ours.p50 / theirs.p50:.2f}x | {ours.p95 / theirs.p95:.2f}x |"
            )
        lines.append(line)
    polls = sorted({row.poll_interval for row in rows})
    poll = " / ".join(f"{interval:g} s" for interval in polls)
    lines += [
        "",
        "- Each worker process runs one job at a time: convobase `Worker(concurrency=1)`;"
        f" procrastinate {version('procrastinate')} `concurrency=1`, its no-op task a"
        " coroutine.",
        "- Idle workers of both are woken by a NOTIFY of each new job on PostgreSQL, and"
        f" poll every {poll} besides (convobase: `worker_poll_seconds`); on SQLite"
        " convobase's workers in other processes than the producer's poll. A busy worker"
        " claims again as soon as its job is done.",
        "- Latency: enqueue → completion of each job (ms), from the queue's own timestamps;"
        " jobs/s: the jobs over first enqueue → last completion; enqueue/s: the producer's"
        " rate, one job per transaction; enqueue max: its slowest transaction (ms)."
        " Ratios: convobase ÷ procrastinate.",
    ]
    return "\n".join(lines)


# --- worker processes --------------------------------------------------------------------

WORKER_MAINS: dict[str, Callable[..., None]] = {
    "convobase": _convobase_worker,
    "procrastinate": _procrastinate_worker,
}


def _stop_when_orphaned() -> None:
    """SIGTERM to this process once its parent is gone (the benchmark died without
    stopping it), so no worker outlives a run."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in WORKER_MAINS:
        sys.exit(f"usage: python -m bench.jobs {'|'.join(WORKER_MAINS)} < pickled arguments")
    logging.basicConfig(level=logging.WARNING, format=f"{sys.argv[1]} worker %(name)s: %(message)s")
    _stop_when_orphaned()
    # Through the module, not `__main__`: procrastinate expects its tasks in a module.
    from bench import jobs

    jobs.WORKER_MAINS[sys.argv[1]](*pickle.load(sys.stdin.buffer))
