"""When a course's sections or assessments change, what completing it takes changes:
a job derives every learner's progress through it again (both databases, committed,
as the service's roles)."""

from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import event

from convobase import bootstrap
from convobase.db.session import Database
from convobase.learning import service
from convobase.learning.schemas import AssessmentCreate, AssessmentUpdate, CourseUpdate
from tests import factories as common
from tests.api import JWT_SECRET
from tests.databases import LiveDatabase
from tests.learning import factories
from tests.learning.catalog import assessment_body
from tests.learning.factories import RIGHT, STAFF, WRONG


def test_a_section_added_to_a_course_lowers_its_learners_completion(
    committing_database: LiveDatabase, database: Database
) -> None:
    with database.transaction(STAFF) as session:
        learner = common.user(session)
        course = factories.course(session, sections=2)
    with database.transaction(learner) as session:
        service.complete_section(session, learner, course.id, course.sections[0].id)
    sections = [{"key": s.key, "title": s.title} for s in course.sections]
    sections += [{"key": "more", "title": "One more"}, {"key": "last", "title": "The last"}]
    with database.transaction(STAFF) as session:
        service.update_course(
            session, STAFF, course.id, data=CourseUpdate.model_validate({"sections": sections})
        )
    settings = committing_database.settings.model_copy(update={"jwt_secret": SecretStr(JWT_SECRET)})

    bootstrap.worker(bootstrap.build(settings, database=database)).run_until_idle()

    with database.transaction(learner, readonly=True) as session:
        (item,) = service.my_courses(session, learner).items
    assert item.completion_rate == Decimal("25.00")


def test_a_new_assessment_is_part_of_completing_the_course(
    committing_database: LiveDatabase, database: Database
) -> None:
    with database.transaction(STAFF) as session:
        learner = common.user(session)
        course = factories.course(session, sections=1)
    with database.transaction(learner) as session:
        service.complete_section(session, learner, course.id, course.sections[0].id)
    with database.transaction(STAFF) as session:
        data = AssessmentCreate.model_validate(assessment_body(str(course.id)))
        service.create_assessment(session, STAFF, data=data)
    settings = committing_database.settings.model_copy(update={"jwt_secret": SecretStr(JWT_SECRET)})

    bootstrap.worker(bootstrap.build(settings, database=database)).run_until_idle()

    with database.transaction(learner, readonly=True) as session:
        (item,) = service.my_courses(session, learner).items
    assert (item.completion_rate, item.next_step.kind) == (Decimal("50.00"), "assessment")


def run_the_worker(committing_database: LiveDatabase, database: Database) -> None:
    settings = committing_database.settings.model_copy(update={"jwt_secret": SecretStr(JWT_SECRET)})
    bootstrap.worker(bootstrap.build(settings, database=database)).run_until_idle()


def test_a_lowered_pass_threshold_passes_the_learners_who_reach_it(
    committing_database: LiveDatabase, database: Database
) -> None:
    with database.transaction(STAFF) as session:
        learner = common.user(session)
        course = factories.course(session, sections=0)
        quiz = factories.assessment(session, course.id, pass_threshold=100)
    with database.transaction(learner) as session:
        factories.take(session, learner, quiz.id, WRONG)
    with database.transaction(STAFF) as session:
        service.update_assessment(session, STAFF, quiz.id, data=AssessmentUpdate(pass_threshold=0))

    run_the_worker(committing_database, database)

    with database.transaction(learner, readonly=True) as session:
        progress = service.get_progress(session, learner, course.id)
        (item,) = service.my_courses(session, learner).items
    (scores,) = progress.test_scores
    assert (scores.grade, scores.passed) == (Decimal("0.00"), True)
    assert progress.completion_rate == item.completion_rate == Decimal("100.00")
    assert item.next_step.kind == "done"
    assert item.completed_at is not None


def test_a_new_grade_method_grades_every_learner_again(
    committing_database: LiveDatabase, database: Database
) -> None:
    with database.transaction(STAFF) as session:
        learner = common.user(session)
        course = factories.course(session, sections=0)
        quiz = factories.assessment(session, course.id)  # highest, passed at 70
    with database.transaction(learner) as session:
        factories.take(session, learner, quiz.id, RIGHT)
        factories.take(session, learner, quiz.id, WRONG)
    with database.transaction(STAFF) as session:
        data = AssessmentUpdate.model_validate({"scoring_config": {"grade_method": "last"}})
        service.update_assessment(session, STAFF, quiz.id, data=data)

    run_the_worker(committing_database, database)

    with database.transaction(learner, readonly=True) as session:
        progress = service.get_progress(session, learner, course.id)
        (item,) = service.my_courses(session, learner).items
    (scores,) = progress.test_scores
    assert (scores.grade_method, scores.grade, scores.passed) == ("last", Decimal("0.00"), False)
    assert item.completion_rate == Decimal("0.00")
    assert item.next_step.kind == "assessment"


def test_the_refresh_goes_through_learners_in_batches_reading_the_course_once_each(
    committing_database: LiveDatabase, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "REFRESH_BATCH", 2)
    with database.transaction(STAFF) as session:
        learners = [common.user(session) for _ in range(5)]
        course = factories.course(session, sections=2)
        quiz = factories.assessment(session, course.id, pass_threshold=100)
    for learner in learners:
        with database.transaction(learner) as session:
            service.complete_section(session, learner, course.id, course.sections[0].id)
            factories.take(session, learner, quiz.id, WRONG)
    with database.transaction(STAFF) as session:
        service.update_assessment(session, STAFF, quiz.id, data=AssessmentUpdate(pass_threshold=0))
    outlines: list[str] = []

    def count(*args: Any) -> None:
        if "FROM course_sections" in args[2]:
            outlines.append(args[2])

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        run_the_worker(committing_database, database)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)

    assert len(outlines) == 3  # batches of 2, 2 and 1 learners
    for learner in learners:
        with database.transaction(learner, readonly=True) as session:
            (item,) = service.my_courses(session, learner).items
        assert item.completion_rate == Decimal("66.66")
