"""The learning domain's background work: closing every learner's attempts whose
deadline has passed, by the configured policy (`overdue_attempt_policy`), and deriving
learners' progress again when a course changes."""

import logging
import uuid
from datetime import timedelta

from convobase.core.principal import Principal
from convobase.jobs.worker import JobRun, Periodic, Task
from convobase.learning import service
from convobase.learning.service import OverduePolicy

CLOSE_OVERDUE_TASK = "learning.close_overdue_attempts"

logger = logging.getLogger("convobase.learning")


def overdue_task(*, policy: OverduePolicy) -> tuple[Task, Periodic]:
    """The task that, every minute, closes the attempts in progress past their deadline
    by `policy` (submit: graded as saved; abandon: ungraded), a batch of
    `service.OVERDUE_BATCH` at a time: a batch that all closed ends the run (the next
    run the rest); after one with failures, the run goes on past the attempts that
    failed in it, so attempts that never close cannot starve the others.

    Staff find the overdue attempts; each is closed in a transaction of its own acting
    as its learner (row level security on PostgreSQL), as the learner's own submit
    would, with their progress and review cards. Closing is idempotent: a run repeated
    after a lost lease closes nothing twice."""

    def close_overdue(run: JobRun) -> None:
        staff = Principal.staff()
        closed = 0
        failed: set[uuid.UUID] = set()
        while True:
            # The attempts that failed in this run are passed over: the ones behind
            # them, however many fail, are reached in the same run.
            with run.transaction(staff, readonly=True) as session:
                overdue = service.overdue_attempts(
                    session, staff, limit=service.OVERDUE_BATCH, skip=failed
                )
            failed_before = len(failed)
            for attempt_id, user_id in overdue:
                learner = Principal.user(user_id)
                try:
                    with run.transaction(learner) as session:
                        closed += service.close_overdue_attempt(
                            session, learner, attempt_id, policy=policy
                        )
                except Exception:
                    # One attempt that cannot be closed must not hold the others back.
                    failed.add(attempt_id)
                    logger.exception("overdue attempt %s could not be closed", attempt_id)
            # A full batch that all closed: the rest next run, as the batch bounds a run.
            if len(overdue) < service.OVERDUE_BATCH or len(failed) == failed_before:
                break
        if closed or failed:
            logger.info(
                "overdue attempts: %d closed (%s), %d failed",
                closed,
                policy,
                len(failed),
                extra={"closed": closed, "failed": len(failed), "policy": policy},
            )

    return Task(CLOSE_OVERDUE_TASK, close_overdue), Periodic(
        CLOSE_OVERDUE_TASK, every=timedelta(minutes=1)
    )


def refresh_task() -> Task:
    """The task that derives every learner's progress through one course again (their
    test_scores and completion), queued when the course's sections or assessments
    change: a transaction per batch of `service.REFRESH_BATCH` learners, then the job's
    completion."""

    def refresh(run: JobRun) -> None:
        staff = Principal.staff()
        course_id = uuid.UUID(run.payload["course_id"])
        refreshed = 0
        after: uuid.UUID | None = None
        while True:
            # A transaction per batch of learners: none holds every row of a big course.
            with run.transaction(staff) as session:
                count, after = service.refresh_progress_batch(
                    session, staff, course_id, after=after, limit=service.REFRESH_BATCH
                )
            refreshed += count
            if after is None:
                break
        with run.finish(staff):
            pass
        logger.info(
            "progress through course %s derived again for %d learners",
            course_id,
            refreshed,
            extra={"course_id": str(course_id), "learners": refreshed},
        )

    return Task(service.REFRESH_PROGRESS_TASK, refresh)
