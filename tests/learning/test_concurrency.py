"""Learners' writes at the same instant, each in its own committed transaction, as the
service's roles (under row level security on PostgreSQL): parallel starts never exceed
max_attempts, a start retried in parallel makes one attempt, and parallel submits grade
an attempt once (both databases)."""

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.learning import service
from convobase.learning.errors import AttemptLimitReached
from convobase.learning.models import AssessmentAttempt
from convobase.reviews.models import ReviewCard
from tests import factories as common
from tests.learning import factories
from tests.learning.factories import STAFF, WRONG

pytestmark = pytest.mark.concurrency

T = TypeVar("T")


def at_once(workers: int, job: Callable[[int], T]) -> list[T]:
    """Run `job(n)` on `workers` threads released at the same instant."""
    start = threading.Barrier(workers)

    def worker(number: int) -> T:
        start.wait()
        return job(number)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(worker, range(workers)))


def quiz_and_learner(database: Database, **fields: Any) -> tuple[uuid.UUID, Principal]:
    with database.transaction(STAFF) as session:
        learner = common.user(session)
        course = factories.course(session)
        quiz = factories.assessment(session, course.id, **fields)
    return quiz.id, learner


def attempts_of(database: Database, learner: Principal) -> int:
    with database.transaction(learner, readonly=True) as session:
        statement = select(func.count()).select_from(AssessmentAttempt)
        return session.scalar(statement.where(AssessmentAttempt.user_id == learner.user_id)) or 0


def test_thirty_parallel_starts_make_exactly_max_attempts(database: Database) -> None:
    quiz_id, learner = quiz_and_learner(database, max_attempts=3)

    def start(number: int) -> int | str:
        try:
            with database.transaction(learner) as session:
                return factories.start(session, learner, quiz_id).attempt_number
        except AttemptLimitReached:
            return "409"

    outcomes = at_once(30, start)

    assert sorted(outcome for outcome in outcomes if outcome != "409") == [1, 2, 3]
    assert outcomes.count("409") == 27
    assert attempts_of(database, learner) == 3


def test_a_start_retried_in_parallel_makes_one_attempt(database: Database) -> None:
    quiz_id, learner = quiz_and_learner(database)

    def start(number: int) -> uuid.UUID:
        with database.transaction(learner) as session:
            started = service.start_attempt(session, learner, quiz_id, client_attempt_id="tap")
            return started.attempt.id

    ids = at_once(8, start)

    assert len(set(ids)) == 1
    assert attempts_of(database, learner) == 1


def test_parallel_submits_grade_an_attempt_once(database: Database) -> None:
    quiz_id, learner = quiz_and_learner(database)
    with database.transaction(learner) as session:
        attempt = factories.start(session, learner, quiz_id)
        factories.answer(session, learner, attempt.id, WRONG)

    def submit(number: int) -> tuple[object, ...]:
        with database.transaction(learner) as session:
            graded = service.submit_attempt(session, learner, attempt.id)
            return (graded.score, graded.submitted_at)

    results = at_once(6, submit)

    assert len(set(results)) == 1
    with database.transaction(learner, readonly=True) as session:
        progress = service.get_progress(session, learner, attempt.course_id)
        cards = session.scalar(select(func.count()).select_from(ReviewCard))
    (scores,) = progress.test_scores
    assert (scores.attempts, len(scores.scores)) == (1, 1)
    assert cards == 5
