"""The worker: claims due jobs under a lease, runs their task's handler, and records
the outcome; keeps its leases alive, re-queues the jobs of workers that died, and
queues periodic tasks.

Delivery is at least once: a job whose worker died runs again after its lease. A
handler makes its effect exactly once by writing it in `JobRun.finish`, the
transaction that also completes the job: if the lease was lost meanwhile, the
completion fails and the effect rolls back with it.
"""

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from sqlalchemy.orm import Session

from convobase.core.principal import Principal
from convobase.core.time import utc_now
from convobase.db.session import Database
from convobase.jobs import repository, wakeup
from convobase.jobs import service as job_service
from convobase.jobs.models import MAX_ERROR_LENGTH
from convobase.jobs.models import Worker as WorkerRow
from convobase.jobs.repository import ClaimedJob

logger = logging.getLogger("convobase.jobs")

Clock = Callable[[], datetime]
LEASE_LOST = "lease expired: the worker running it stopped answering"


class LeaseLost(Exception):
    """The job's lease ran out before it finished; another worker may be running it."""


class TryAgain(Exception):
    """The job cannot run now, through no failure of its own (another run holds what
    it needs): it is queued again after `delay`, without using one of its retries."""

    def __init__(self, reason: str, delay: timedelta = timedelta(seconds=5)) -> None:
        super().__init__(reason)
        self.delay = delay


class JobRun:
    """One attempt at a job, as its task's handler sees it."""

    def __init__(self, job: ClaimedJob, database: Database, worker: str, clock: Clock) -> None:
        self.job_id = job.id
        self.name = job.name
        self.payload: dict[str, Any] = job.data
        self.attempt = job.attempts
        self._database = database
        self._worker = worker
        self._clock = clock
        self.finished = False

    @contextmanager
    def transaction(self, principal: Principal, *, readonly: bool = False) -> Iterator[Session]:
        """A transaction acting as `principal` (row level security applies), for what
        the handler reads or does before its last step; `readonly` if it only reads."""
        with self._database.transaction(principal, readonly=readonly) as session:
            yield session

    @contextmanager
    def finish(self, principal: Principal | None = None) -> Iterator[Session]:
        """The handler's last transaction, acting as `principal` (None: as the job
        queue's keeper): the job completes in it, so the handler's effect and the
        completion commit together, or neither does."""
        transaction = (
            self._database.job_keeping()
            if principal is None
            else self._database.transaction(principal)
        )
        with transaction as session:
            yield session
            if not repository.complete(
                session, self.job_id, worker=self._worker, attempt=self.attempt, now=self._clock()
            ):
                raise LeaseLost
        self.finished = True


Handler = Callable[[JobRun], None]


@dataclass(frozen=True, slots=True)
class Task:
    """What runs for the jobs named `name`."""

    name: str
    handler: Handler


@dataclass(frozen=True, slots=True)
class Periodic:
    """A task queued once per period, however many workers run: every `every`, or at
    the times of the cron expression `cron` (UTC)."""

    task: str
    every: timedelta | None = None
    cron: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ValueError("a periodic task has either `every` or `cron`")
        if self.every is not None and self.every < timedelta(seconds=1):
            raise ValueError("a periodic task runs at most every second")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"not a cron expression: {self.cron!r}")

    def period(self, now: datetime) -> datetime:
        """When the period that `now` falls in began."""
        if self.every is not None:
            step = self.every.total_seconds()
            return datetime.fromtimestamp(now.timestamp() // step * step, UTC)
        assert self.cron is not None
        previous: datetime = croniter(self.cron, now.astimezone(UTC)).get_prev(datetime)
        return previous


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long a failed job waits before its next attempt: `base` doubled per retry
    already made, at most `cap`, with the upper half of it random (so that jobs that
    failed together do not all retry together)."""

    base: timedelta = timedelta(seconds=10)
    cap: timedelta = timedelta(hours=1)
    random: Callable[[], float] = random.random

    def delay(self, retries_made: int) -> timedelta:
        ceiling: timedelta = min(self.cap, self.base * 2 ** min(retries_made, 32))
        return ceiling / 2 + ceiling / 2 * self.random()


class Worker:
    """Runs the jobs of `tasks` from the queue in `database`, `concurrency` at a time."""

    def __init__(
        self,
        database: Database,
        tasks: Sequence[Task],
        *,
        periodic: Sequence[Periodic] = (),
        concurrency: int = 1,
        lease: timedelta = timedelta(seconds=60),
        poll_interval: float = 1.0,
        backoff: Backoff | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if concurrency < 1:
            raise ValueError("a worker runs at least one job at a time")
        self._database = database
        self._tasks = {task.name: task for task in tasks}
        unknown = {schedule.task for schedule in periodic} - self._tasks.keys()
        if unknown:
            raise ValueError(f"periodic tasks with no handler: {sorted(unknown)}")
        self._periodic = tuple(periodic)
        self.concurrency = concurrency
        self.lease = lease
        self._poll_interval = poll_interval
        self._backoff = backoff or Backoff()
        self._clock = clock
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # Leases are renewed, and dead workers' jobs swept, three times per lease.
        self._upkeep_interval = lease.total_seconds() / 3
        self._wake = threading.Event()
        self._stopping = threading.Event()
        # The jobs being run now: only their leases are renewed.
        self._in_hand: set[uuid.UUID] = set()
        self._in_hand_lock = threading.Lock()

    # --- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        """Work until `stop` is called; then finish the jobs in hand, and return."""
        self._register()
        wakeup.register(self._wake)
        listener = threading.Thread(target=self._listen, name="job-notices", daemon=True)
        listener.start()
        running: set[Future[None]] = set()
        next_upkeep = 0.0
        try:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="job") as pool:
                while not self._stopping.is_set():
                    # Cleared before looking, so that a job queued meanwhile wakes the wait.
                    self._wake.clear()
                    now = self._monotonic()
                    running = {future for future in running if not future.done()}
                    free = self.concurrency - len(running)
                    try:
                        if now >= next_upkeep:
                            self._upkeep()
                            next_upkeep = now + self._upkeep_interval
                        claimed = self._claim(free) if free else []
                    except Exception:
                        # The database may be away a moment: the worker outlives it.
                        logger.exception("worker %s could not reach the queue", self.id)
                        self._stopping.wait(self._poll_interval)
                        continue
                    for job in claimed:
                        future = pool.submit(self._run, job)
                        future.add_done_callback(lambda _: self._wake.set())
                        running.add(future)
                    if free and len(claimed) == free:
                        continue  # there may be more due: claim again at once
                    self._wake.wait(min(self._poll_interval, max(next_upkeep - now, 0.0)))
                self._finish_in_hand(running)
        finally:
            wakeup.unregister(self._wake)
            self._unregister()
            listener.join(timeout=15)

    def _finish_in_hand(self, running: set[Future[None]]) -> None:
        """Wait for the jobs in hand, keeping their leases (and this worker) alive."""
        while running:
            _, running = wait(running, timeout=self._upkeep_interval)
            if running:
                try:
                    self._upkeep()
                except Exception:
                    logger.exception("worker %s could not reach the queue", self.id)

    def _listen(self) -> None:
        """Wake the loop whenever jobs are queued (PostgreSQL's NOTIFY), until stopped;
        if the listening connection fails, polling goes on and listening starts again."""
        while not self._stopping.is_set():
            try:
                for _ in repository.new_job_notices(self._database.engine, self._stopping):
                    self._wake.set()
                return
            except Exception:
                logger.warning("listening for new jobs failed; polling meanwhile", exc_info=True)
                self._stopping.wait(self._poll_interval)

    def stop(self) -> None:
        """Ask `run` to stop claiming, finish the jobs in hand and return."""
        self._stopping.set()
        self._wake.set()

    def run_once(self) -> int:
        """One round in the calling thread: upkeep, then claim what is due (up to the
        concurrency) and run it. Returns how many jobs ran."""
        self._upkeep()
        claimed = self._claim(self.concurrency)
        for job in claimed:
            self._run(job)
        return len(claimed)

    def run_until_idle(self, *, rounds: int = 1000) -> int:
        """Rounds of `run_once` until one finds nothing due. Returns how many jobs ran."""
        ran = 0
        for _ in range(rounds):
            if not (count := self.run_once()):
                return ran
            ran += count
        return ran

    # --- the steps -----------------------------------------------------------------------

    def _claim(self, limit: int) -> list[ClaimedJob]:
        now = self._clock()
        with self._database.job_keeping() as session:
            return repository.claim(
                session,
                names=tuple(self._tasks),
                worker=self.id,
                now=now,
                lease_until=now + self.lease,
                limit=limit,
            )

    def _run(self, job: ClaimedJob) -> None:
        with self._in_hand_lock:
            self._in_hand.add(job.id)
        try:
            self._attempt(job)
        except Exception:
            # Recording the outcome failed: the lease runs out, and the job runs again.
            logger.exception("job %s (%s): its outcome could not be recorded", job.id, job.name)
        finally:
            with self._in_hand_lock:
                self._in_hand.discard(job.id)

    def _attempt(self, job: ClaimedJob) -> None:
        run = JobRun(job, self._database, self.id, self._clock)
        try:
            self._tasks[job.name].handler(run)
            if not run.finished:
                with self._database.job_keeping() as session:
                    if not repository.complete(
                        session, job.id, worker=self.id, attempt=job.attempts, now=self._clock()
                    ):
                        raise LeaseLost
        except LeaseLost:
            logger.warning("job %s (%s): lease lost; its result was discarded", job.id, job.name)
        except TryAgain as later:
            self._record_failure(job, later, delay=later.delay)
        except Exception as error:
            self._record_failure(job, error)

    def _record_failure(
        self, job: ClaimedJob, error: Exception, *, delay: timedelta | None = None
    ) -> None:
        now = self._clock()
        retrying = delay is not None or job.retry_count < job.retry_limit
        if delay is None and retrying:
            delay = self._backoff.delay(job.retry_count)
        retry_at = now + delay if delay is not None else None
        message = f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH]
        with self._database.job_keeping() as session:
            repository.fail(
                session,
                job.id,
                worker=self.id,
                attempt=job.attempts,
                now=now,
                error=message,
                retry_at=retry_at,
                counts_as_retry=not isinstance(error, TryAgain),
            )
        if isinstance(error, TryAgain):
            logger.info("job %s (%s) will run again at %s: %s", job.id, job.name, retry_at, error)
        elif retrying:
            logger.warning(
                "job %s (%s) failed, retry %d of %d at %s: %s",
                job.id,
                job.name,
                job.retry_count + 1,
                job.retry_limit,
                retry_at,
                message,
                exc_info=error,
            )
        else:
            logger.error(
                "job %s (%s) failed for good: %s", job.id, job.name, message, exc_info=error
            )

    def _upkeep(self) -> None:
        """Say this worker is alive, renew its leases, re-queue the jobs of workers
        that died, and queue the periodic tasks that are due."""
        now = self._clock()
        with self._in_hand_lock:
            in_hand = list(self._in_hand)
        with self._database.job_keeping() as session:
            if not repository.beat(session, self.id, now):
                repository.register_worker(session, self._row(now))  # taken for dead
            repository.renew_leases(session, self.id, in_hand, lease_until=now + self.lease)
            if swept := repository.sweep(session, now=now, error=LEASE_LOST):
                logger.warning("re-queued %d jobs whose worker stopped answering", swept)
            repository.forget_workers(session, seen_before=now - 10 * self.lease)
            for schedule in self._periodic:
                if repository.claim_period(session, schedule.task, schedule.period(now)):
                    job_service.enqueue(
                        session,
                        schedule.task,
                        schedule.payload,
                        dedup_key=f"periodic:{schedule.task}",
                    )

    def _row(self, now: datetime) -> WorkerRow:
        return WorkerRow(
            id=self.id,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            concurrency=self.concurrency,
            started_at=now,
            last_seen_at=now,
        )

    def _register(self) -> None:
        with self._database.job_keeping() as session:
            repository.register_worker(session, self._row(self._clock()))
        logger.info("worker %s started: %d at a time", self.id, self.concurrency)

    def _unregister(self) -> None:
        with self._database.job_keeping() as session:
            released = repository.release(session, self.id)
            repository.unregister_worker(session, self.id)
        logger.info("worker %s stopped%s", self.id, f"; released {released} jobs" * bool(released))

    @staticmethod
    def _monotonic() -> float:
        return time.monotonic()
