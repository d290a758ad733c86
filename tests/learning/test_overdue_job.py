"""The overdue job as a worker runs it (both databases, committed, as the service's
roles): every minute, staff find the attempts past their deadline and each is closed
as its learner by the configured policy, with their progress and review cards."""

import logging
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import insert
from sqlalchemy.orm import Session

from convobase import bootstrap
from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.learning import service
from convobase.learning.models import AssessmentAttempt
from convobase.learning.schemas import AttemptDetail
from convobase.learning.tasks import CLOSE_OVERDUE_TASK, overdue_task
from convobase.reviews import service as review_service
from tests import factories as common
from tests.api import JWT_SECRET
from tests.clocks import FakeClock
from tests.databases import LiveDatabase
from tests.learning import factories
from tests.learning.factories import STAFF, WRONG


@pytest.fixture
def late_attempt(
    database: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> tuple[Principal, AttemptDetail]:
    """A learner's attempt with every answer saved wrong, ten minutes past its deadline."""
    factories.freeze(monkeypatch, clock)
    with database.transaction(STAFF) as session:
        learner = common.user(session)
        course = factories.course(session, sections=0)
        quiz = factories.assessment(session, course.id, time_limit_minutes=5)
    with database.transaction(learner) as session:
        attempt = factories.start(session, learner, quiz.id)
        factories.answer(session, learner, attempt.id, WRONG)
    clock.advance(timedelta(minutes=15))
    return learner, attempt


@pytest.mark.parametrize("policy", ["submit", "abandon"])
def test_a_worker_closes_overdue_attempts_by_the_configured_policy(
    committing_database: LiveDatabase,
    database: Database,
    late_attempt: tuple[Principal, AttemptDetail],
    caplog: pytest.LogCaptureFixture,
    policy: str,
) -> None:
    learner, attempt = late_attempt
    settings = committing_database.settings.model_copy(
        update={"jwt_secret": SecretStr(JWT_SECRET), "overdue_attempt_policy": policy}
    )
    container = bootstrap.build(settings, database=database)

    with caplog.at_level(logging.INFO, logger="convobase.learning"):
        bootstrap.worker(container).run_until_idle()

    assert f"overdue attempts: 1 closed ({policy}), 0 failed" in caplog.messages
    with database.transaction(learner, readonly=True) as session:
        closed = service.get_attempt(session, learner, attempt.id)
        progress = service.get_progress(session, learner, attempt.course_id)
        cards = review_service.list_cards(session, learner).items
    assert closed.closed_by == "deadline"
    (scores,) = progress.test_scores
    if policy == "submit":
        assert (closed.status, closed.score, scores.scores) == (
            "submitted",
            Decimal("0.00"),
            [Decimal("0.00")],
        )
        assert len(cards) == len(WRONG)
    else:
        assert (closed.status, closed.score, scores.scores) == ("abandoned", None, [])
        assert cards == []
    assert scores.attempts == 1


def test_the_overdue_job_is_queued_every_minute() -> None:
    task, periodic = overdue_task(policy="abandon")

    assert (task.name, periodic.task, periodic.every) == (
        CLOSE_OVERDUE_TASK,
        CLOSE_OVERDUE_TASK,
        timedelta(minutes=1),
    )


def test_attempts_that_fail_to_close_do_not_keep_the_others_waiting(
    committing_database: LiveDatabase,
    database: Database,
    late_attempt: tuple[Principal, AttemptDetail],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    learner, attempt = late_attempt
    # A whole batch of attempts whose deadlines passed earlier, none of which closes.
    earlier = attempt.started_at - timedelta(hours=1)
    broken = [
        {
            "id": uuid.uuid4(),
            "user_id": learner.user_id,
            "assessment_id": attempt.assessment_id,
            "assessment_version": attempt.assessment_version,
            "course_id": attempt.course_id,
            "attempt_number": number,
            "status": "in_progress",
            "started_at": earlier,
            "deadline_at": earlier + timedelta(minutes=5, seconds=number),
        }
        for number in range(2, service.OVERDUE_BATCH + 2)
    ]
    with database.transaction(learner) as session:
        session.execute(insert(AssessmentAttempt), broken)
    failing = {row["id"] for row in broken}
    close = service.close_overdue_attempt

    def close_or_fail(session: Session, principal: Principal, attempt_id: Any, **kw: Any) -> bool:
        if attempt_id in failing:
            raise RuntimeError("this attempt cannot be closed")
        return close(session, principal, attempt_id, **kw)

    monkeypatch.setattr(service, "close_overdue_attempt", close_or_fail)
    settings = committing_database.settings.model_copy(update={"jwt_secret": SecretStr(JWT_SECRET)})

    with caplog.at_level(logging.INFO, logger="convobase.learning"):
        bootstrap.worker(bootstrap.build(settings, database=database)).run_until_idle()

    assert f"overdue attempts: 1 closed (submit), {len(failing)} failed" in caplog.messages
    with database.transaction(learner, readonly=True) as session:
        assert service.get_attempt(session, learner, attempt.id).closed_by == "deadline"
