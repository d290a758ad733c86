"""The job queue: queued with the transaction that causes it, claimed once, retried
with backoff, and dead-lettered; on both databases."""

import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.jobs import service as job_service
from convobase.jobs import wakeup
from convobase.jobs.errors import JobNotFound
from convobase.jobs.models import JobState
from convobase.jobs.worker import Backoff, JobRun, Periodic, Task, TryAgain, Worker
from tests.clocks import FakeClock

STAFF = Principal.staff()


def job_state(database: Database, job_id: uuid.UUID) -> str:
    with database.transaction(STAFF) as session:
        return job_service.get_job(session, STAFF, job_id).state


def recording(ran: list[object]) -> Task:
    return Task("record", lambda run: ran.append(run.payload["n"]))


def test_a_rolled_back_transaction_discards_its_jobs(database: Database) -> None:
    queued: list[job_service.QueuedJob] = []

    def queue_then_fail() -> None:
        with database.transaction(STAFF) as session:
            queued.append(job_service.enqueue(session, "record", {"n": 1}))
            raise RuntimeError("the business transaction fails")

    with pytest.raises(RuntimeError):
        queue_then_fail()

    ran: list[object] = []
    assert Worker(database, [recording(ran)]).run_until_idle() == 0
    assert ran == []
    with database.transaction(STAFF) as session, pytest.raises(JobNotFound):
        job_service.get_job(session, STAFF, queued[0].id)


def test_a_committed_job_runs_once_and_completes(database: Database) -> None:
    with database.transaction(STAFF) as session:
        queued = job_service.enqueue(session, "record", {"n": 7})

    ran: list[object] = []
    worker = Worker(database, [recording(ran)])
    assert worker.run_until_idle() == 1
    assert ran == [7]
    assert job_state(database, queued.id) == JobState.COMPLETED


def test_a_live_dedup_key_queues_nothing_and_returns_the_live_job(database: Database) -> None:
    with database.transaction(STAFF) as session:
        first = job_service.enqueue(session, "record", {"n": 1}, dedup_key="batch:1")
        second = job_service.enqueue(session, "record", {"n": 2}, dedup_key="batch:1")

    assert first.created
    assert not second.created
    assert second.id == first.id
    ran: list[object] = []
    Worker(database, [recording(ran)]).run_until_idle()
    assert ran == [1]

    with database.transaction(STAFF) as session:
        again = job_service.enqueue(session, "record", {"n": 3}, dedup_key="batch:1")
    assert again.created, "a finished job's key may queue a new one"


def test_jobs_run_by_priority_then_by_time(database: Database, clock: FakeClock) -> None:
    with database.transaction(STAFF) as session:
        for n, priority in ((1, 0), (2, 5), (3, 0), (4, 5)):
            job_service.enqueue(session, "record", {"n": n}, priority=priority)
            clock.advance(timedelta(seconds=1))
    ran: list[object] = []
    Worker(database, [recording(ran)], concurrency=1).run_until_idle()
    assert ran == [2, 4, 1, 3]


def test_a_job_waits_for_its_start_after(database: Database, clock: FakeClock) -> None:
    with database.transaction(STAFF) as session:
        job_service.enqueue(session, "record", {"n": 1}, start_after=clock.now + timedelta(hours=1))
    ran: list[object] = []
    worker = Worker(database, [recording(ran)], clock=clock)
    assert worker.run_until_idle() == 0
    clock.advance(timedelta(hours=1))
    assert worker.run_until_idle() == 1
    assert ran == [1]


def test_a_failing_job_backs_off_then_lands_in_the_dead_letter(
    database: Database, clock: FakeClock
) -> None:
    attempts: list[int] = []

    def flaky(run: JobRun) -> None:
        attempts.append(run.attempt)
        raise RuntimeError(f"attempt {run.attempt} broke")

    with database.transaction(STAFF) as session:
        queued = job_service.enqueue(session, "flaky", {}, retry_limit=2)
    backoff = Backoff(base=timedelta(seconds=10), random=lambda: 0.5)
    worker = Worker(database, [Task("flaky", flaky)], clock=clock, backoff=backoff)

    assert worker.run_once() == 1
    with database.transaction(STAFF) as session:
        job = job_service.get_job(session, STAFF, queued.id)
        assert (job.state, job.retry_count) == (JobState.QUEUED, 1)
        assert job.start_after == clock.now + timedelta(seconds=7.5)  # 10 s: 5 + 5 * 0.5
        assert job.last_error == "RuntimeError: attempt 1 broke"

    assert worker.run_once() == 0, "not before its backoff ends"
    clock.advance(timedelta(seconds=7.5))
    assert worker.run_once() == 1
    with database.transaction(STAFF) as session:
        job = job_service.get_job(session, STAFF, queued.id)
        assert job.start_after == clock.now + timedelta(seconds=15)  # 20 s: 10 + 10 * 0.5

    clock.advance(timedelta(seconds=15))
    assert worker.run_once() == 1
    with database.transaction(STAFF) as session:
        job = job_service.get_job(session, STAFF, queued.id)
        assert (job.state, job.retry_count, job.attempts) == (JobState.FAILED, 2, 3)
        assert job.completed_at == clock.now
        assert job.last_error == "RuntimeError: attempt 3 broke"
    clock.advance(timedelta(days=1))
    assert worker.run_once() == 0, "a failed job is not run again"
    assert attempts == [1, 2, 3]


def test_a_job_whose_worker_died_runs_again_after_its_lease(
    database: Database, clock: FakeClock
) -> None:
    ran: list[object] = []
    with database.transaction(STAFF) as session:
        queued = job_service.enqueue(session, "record", {"n": 1})
    lost = Worker(database, [recording(ran)], clock=clock, lease=timedelta(seconds=30))
    claimed = lost._claim(1)  # claims, then "dies" before running it
    assert [job.id for job in claimed] == [queued.id]

    survivor = Worker(database, [recording(ran)], clock=clock, lease=timedelta(seconds=30))
    assert survivor.run_once() == 0, "the lease still holds"
    clock.advance(timedelta(seconds=31))
    assert survivor.run_once() == 1
    assert ran == [1]
    assert job_state(database, queued.id) == JobState.COMPLETED


def test_a_handler_whose_lease_was_lost_has_its_effect_rolled_back(
    database: Database, clock: FakeClock
) -> None:
    with database.transaction(STAFF) as session:
        job_service.enqueue(session, "slow", {})
    other = Worker(database, [Task("slow", lambda run: None)], clock=clock)

    def slow(run: JobRun) -> None:
        # The handler takes too long: its lease runs out, another worker takes the job.
        clock.advance(timedelta(minutes=5))
        assert other.run_once() == 1
        with run.finish(STAFF) as session:
            job_service.enqueue(session, "effect", {})

    Worker(database, [Task("slow", slow)], clock=clock).run_once()
    with database.transaction(STAFF) as session:
        counts = job_service.job_counts(session, STAFF)
    assert counts[JobState.COMPLETED] == 1, "completed once, by the other worker"
    assert counts[JobState.QUEUED] == 0, "the late handler's effect was rolled back"


def test_four_workers_complete_a_thousand_jobs_each_exactly_once(database: Database) -> None:
    with database.transaction(STAFF) as session:
        for n in range(1000):
            job_service.enqueue(session, "record", {"n": n})
    ran: list[object] = []
    lock = threading.Lock()

    def record(run: JobRun) -> None:
        with lock:
            ran.append(run.payload["n"])

    workers = [
        Worker(database, [Task("record", record)], concurrency=2, poll_interval=0.05)
        for _ in range(4)
    ]
    threads = [threading.Thread(target=worker.run) for worker in workers]
    for thread in threads:
        thread.start()
    try:
        while True:
            with database.transaction(STAFF) as session:
                counts = job_service.job_counts(session, STAFF)
            if counts[JobState.COMPLETED] == 1000:
                break
            threading.Event().wait(0.1)
    finally:
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join()

    assert Counter(ran) == Counter(range(1000))


def test_a_periodic_task_is_queued_once_per_period_however_many_workers_look(
    database: Database, clock: FakeClock
) -> None:
    ran: list[object] = []
    hourly = Periodic("record", every=timedelta(hours=1), payload={"n": "tick"})
    clock.advance(hourly.period(clock.now) + timedelta(hours=1, minutes=1) - clock.now)
    workers = [Worker(database, [recording(ran)], periodic=[hourly], clock=clock) for _ in range(3)]
    for worker in workers:
        worker.run_until_idle()
    assert ran == ["tick"]
    clock.advance(timedelta(minutes=30))
    for worker in workers:
        worker.run_until_idle()
    assert ran == ["tick"], "still the same hour"
    clock.advance(timedelta(minutes=30))
    for worker in workers:
        worker.run_until_idle()
    assert ran == ["tick", "tick"]


def read_the_queue_as(database: Database, principal: Principal) -> None:
    with database.transaction(principal) as session:
        session.execute(text("SELECT count(*) FROM job_queue"))


@pytest.mark.parametrize("template_database", ["postgresql"], indirect=True)
@pytest.mark.parametrize("principal", [Principal.user(uuid.uuid4()), STAFF], ids=["user", "staff"])
def test_no_callers_role_can_read_the_queue(database: Database, principal: Principal) -> None:
    with database.transaction(principal) as session:
        job_service.enqueue(session, "record", {"n": 1})  # queueing switches roles

    with pytest.raises(ProgrammingError, match="permission denied for table job_queue"):
        read_the_queue_as(database, principal)


def completes_while_the_worker_would_still_be_sleeping(database: Database) -> bool:
    """Start a worker that polls once a minute, queue a job, and say whether the job
    completed within ten seconds: only a wake-up can do that."""
    ran: list[object] = []
    worker = Worker(database, [recording(ran)], poll_interval=60)
    running = threading.Thread(target=worker.run)
    running.start()
    try:
        worker.run_once()  # the loop is idle (nothing due) by the time this returns
        time.sleep(0.2)
        with database.transaction(STAFF) as session:
            job_service.enqueue(session, "record", {"n": 1})
        deadline = time.monotonic() + 10
        while not ran and time.monotonic() < deadline:
            time.sleep(0.05)
        return ran == [1]
    finally:
        worker.stop()
        running.join()


def test_a_job_queued_in_this_process_wakes_its_idle_workers(database: Database) -> None:
    assert completes_while_the_worker_would_still_be_sleeping(database)


@pytest.mark.parametrize("template_database", ["postgresql"], indirect=True)
def test_a_job_queued_anywhere_wakes_idle_workers_through_notify(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wakeup, "after_commit", lambda session: None)  # not in-process
    assert completes_while_the_worker_would_still_be_sleeping(database)


def test_a_cron_schedule_names_the_period_by_its_latest_time() -> None:
    nightly = Periodic("purge", cron="30 3 * * *")
    assert nightly.period(datetime(2026, 11, 23, 12, 0, tzinfo=UTC)) == datetime(
        2026, 11, 23, 3, 30, tzinfo=UTC
    )
    assert nightly.period(datetime(2026, 11, 23, 2, 0, tzinfo=UTC)) == datetime(
        2026, 11, 22, 3, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "schedule",
    [{}, {"every": timedelta(hours=1), "cron": "0 * * * *"}, {"cron": "every day"}],
    ids=["neither", "both", "not-cron"],
)
def test_a_periodic_task_needs_one_valid_schedule(schedule: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"periodic task|cron"):
        Periodic("purge", **schedule)


def test_a_job_that_must_try_again_later_keeps_its_retries(
    database: Database, clock: FakeClock
) -> None:
    tries: list[int] = []

    def busy(run: JobRun) -> None:
        tries.append(run.attempt)
        if len(tries) < 5:
            raise TryAgain("another run holds the batch", delay=timedelta(seconds=2))

    with database.transaction(STAFF) as session:
        queued = job_service.enqueue(session, "busy", {}, retry_limit=1)
    worker = Worker(database, [Task("busy", busy)], clock=clock)
    for _ in range(5):
        worker.run_once()
        clock.advance(timedelta(seconds=2))

    assert tries == [1, 2, 3, 4, 5]
    with database.transaction(STAFF) as session:
        job = job_service.get_job(session, STAFF, queued.id)
        assert (job.state, job.retry_count) == (JobState.COMPLETED, 0)


def test_a_worker_taken_for_dead_registers_again_when_it_comes_back(
    database: Database, clock: FakeClock
) -> None:
    def workers_seen() -> set[str]:
        with database.job_keeping() as session:
            return set(session.scalars(text("SELECT id FROM job_workers")))

    paused = Worker(database, [Task("noop", lambda run: None)], clock=clock)
    paused._register()
    clock.advance(paused.lease * 11)
    Worker(database, [Task("noop", lambda run: None)], clock=clock).run_once()  # forgets it
    assert paused.id not in workers_seen()

    paused.run_once()

    assert paused.id in workers_seen()
