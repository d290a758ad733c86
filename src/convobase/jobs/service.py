"""Queueing jobs, and what staff may do with them."""

import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from convobase.core.ids import new_id
from convobase.core.pagination import (
    DEFAULT_PAGE_SIZE,
    Page,
    paginate_by_time,
    time_position,
)
from convobase.core.principal import Principal, require_staff
from convobase.core.time import utc_now
from convobase.jobs import repository, wakeup
from convobase.jobs.errors import JobNotCancellable, JobNotFound, JobNotRetryable
from convobase.jobs.models import Job, JobState
from convobase.jobs.repository import NewJob

DEFAULT_RETRY_LIMIT = 3


class QueuedJob(NamedTuple):
    """The job `enqueue` queued, or the live one that already had its dedup key."""

    id: uuid.UUID
    created: bool


def enqueue(
    session: Session,
    name: str,
    payload: dict[str, Any],
    *,
    dedup_key: str | None = None,
    start_after: datetime | None = None,
    priority: int = 0,
    retry_limit: int = DEFAULT_RETRY_LIMIT,
    for_user_id: uuid.UUID | None = None,
) -> QueuedJob:
    """Queue the task `name` with `payload`, in the caller's transaction: it runs only
    if that commits. While a job with the same `dedup_key` is queued or running, this
    queues nothing and returns that job. `for_user_id` names whose data the job works on
    (their jobs go when their account does)."""
    now = utc_now()
    job = NewJob(
        id=new_id(),
        name=name,
        data=payload,
        priority=priority,
        retry_limit=retry_limit,
        created_at=now,
        start_after=start_after or now,
        dedup_key=dedup_key,
        for_user_id=for_user_id,
    )
    queued = QueuedJob(*repository.insert(session, job))
    if queued.created:
        wakeup.after_commit(session)
    return queued


def list_jobs(
    session: Session,
    principal: Principal,
    *,
    state: JobState | None = None,
    name: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[Job]:
    """Jobs, newest first, optionally of one state and task name (staff)."""
    require_staff(principal, "see jobs")
    before = time_position(cursor)
    rows = repository.list_page(session, state=state, name=name, before=before, limit=limit + 1)
    return paginate_by_time(rows, limit, lambda last: (last.created_at, last.id))


def get_job(session: Session, principal: Principal, job_id: uuid.UUID) -> Job:
    """One job, with its last error (staff)."""
    require_staff(principal, "see jobs")
    job = repository.get(session, job_id)
    if job is None:
        raise JobNotFound
    return job


def retry_job(session: Session, principal: Principal, job_id: uuid.UUID) -> Job:
    """Queue a failed or cancelled job again, now, with its retries restored (staff)."""
    job = _locked_job(session, principal, job_id)
    if job.state not in (JobState.FAILED, JobState.CANCELLED):
        raise JobNotRetryable(f"The job is {job.state}; only a failed or cancelled one is.")
    job.state = JobState.QUEUED.value
    job.retry_count = 0
    job.attempts = 0
    job.start_after = utc_now()
    job.completed_at = None
    repository.save(session)
    wakeup.after_commit(session)
    return job


def cancel_job(session: Session, principal: Principal, job_id: uuid.UUID) -> Job:
    """Cancel a queued job: no worker will run it (staff)."""
    job = _locked_job(session, principal, job_id)
    if job.state != JobState.QUEUED:
        raise JobNotCancellable(f"The job is {job.state}; only a queued one can be cancelled.")
    job.state = JobState.CANCELLED.value
    job.completed_at = utc_now()
    repository.save(session)
    return job


def job_counts(session: Session, principal: Principal) -> dict[JobState, int]:
    """How many jobs are in each state (staff)."""
    require_staff(principal, "see jobs")
    counts = repository.count_by_state(session)
    return {state: counts.get(state.value, 0) for state in JobState}


def purge_finished(session: Session, *, before: datetime) -> int:
    """Delete the jobs that finished before `before`; how many."""
    return repository.purge(session, finished_before=before)


def release_expired_leases(session: Session, *, now: datetime, error: str) -> int:
    """Queue again the active jobs whose lease ran out before `now`, or fail those with
    no attempts left, as a worker's sweep does, recording `error`; how many."""
    return repository.sweep(session, now=now, error=error)


def last_worker_seen(session: Session) -> datetime | None:
    """When a worker last said it was alive, if any ever did."""
    return repository.last_worker_seen(session)


def _locked_job(session: Session, principal: Principal, job_id: uuid.UUID) -> Job:
    """The job, locked until the transaction ends, for staff to change."""
    require_staff(principal, "see jobs")
    job = repository.get(session, job_id, lock=True)
    if job is None:
        raise JobNotFound
    return job
