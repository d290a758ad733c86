"""PostgreSQL's row level security on learners' progress and attempts, alone: with the
service layer's owner filter bypassed, another learner reads and changes none of them,
and staff's role reaches every learner's (the overdue job, staff's reads)."""

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, text, update

from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.learning import service
from convobase.learning.models import (
    AssessmentAttempt,
    AttemptAnswer,
    SectionCompletion,
    UserProgress,
)
from tests import factories as common
from tests.databases import LiveDatabase
from tests.learning import factories
from tests.learning.factories import STAFF, WRONG

pytestmark = pytest.mark.parametrize("template_database", ["postgresql"], indirect=True)

LEARNER_TABLES = (UserProgress, SectionCompletion, AssessmentAttempt, AttemptAnswer)


@pytest.fixture
def app_database(committing_database: LiveDatabase) -> Iterator[Database]:
    """The database as the service sees it: acting as convobase_app."""
    database = Database.from_settings(committing_database.settings)
    yield database
    database.dispose()


@pytest.fixture
def studied(app_database: Database) -> tuple[Principal, Principal, uuid.UUID]:
    """A learner with a completed section and an attempt with saved answers; a stranger."""
    with app_database.transaction(STAFF) as session:
        owner, stranger = common.user(session), common.user(session)
        course = factories.course(session, sections=1)
        quiz = factories.assessment(session, course.id)
    with app_database.transaction(owner) as session:
        service.complete_section(session, owner, course.id, course.sections[0].id)
        attempt = factories.start(session, owner, quiz.id)
        factories.answer(session, owner, attempt.id, WRONG)
    return owner, stranger, attempt.id


def counts(database: Database, principal: Principal) -> list[int]:
    with database.transaction(principal, readonly=True) as session:
        return [
            session.scalar(select(func.count()).select_from(table)) or 0 for table in LEARNER_TABLES
        ]


def test_another_learner_reaches_none_of_it_even_without_the_owner_filter(
    studied: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    owner, stranger, attempt_id = studied

    with app_database.transaction(stranger) as session:
        changed = session.execute(
            update(AssessmentAttempt)
            .where(AssessmentAttempt.id == attempt_id)
            .values(status="abandoned", abandoned_at=func.now(), closed_by="deadline")
            .execution_options(synchronize_session=False)
        )
        deleted = session.execute(text("DELETE FROM attempt_answers"))
        assert (changed.rowcount, deleted.rowcount) == (0, 0)  # type: ignore[attr-defined]

    assert counts(app_database, stranger) == [0, 0, 0, 0]
    assert counts(app_database, owner) == [1, 1, 1, len(WRONG)]


def test_staff_reach_every_learners_rows(
    studied: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    assert counts(app_database, STAFF) == [1, 1, 1, len(WRONG)]
