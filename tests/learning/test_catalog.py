"""The course catalog's rules (both databases): titles unique per level, prerequisites
that form no cycle, tags filtered through their index, sections matched by key,
assessments checked and versioned, and courses that were studied archived instead of
deleted."""

import itertools
import uuid
from typing import Any

import pytest
from sqlalchemy.orm import Session

from convobase.core.errors import Forbidden
from convobase.core.principal import Principal
from convobase.learning import service
from convobase.learning.errors import (
    CourseNotFound,
    CourseTitleTaken,
    PrerequisiteCycle,
    PrerequisiteNotFound,
    QuestionsInvalid,
)
from convobase.learning.schemas import (
    AssessmentCreate,
    AssessmentUpdate,
    CourseCreate,
    CourseDetail,
    CourseUpdate,
)
from tests.learning.catalog import QUESTIONS, assessment_body, course_body


def add_course(session: Session, staff: Principal, **fields: Any) -> CourseDetail:
    return service.create_course(
        session, staff, data=CourseCreate.model_validate(course_body(**fields))
    )


def require(session: Session, staff: Principal, course: CourseDetail, *others: CourseDetail) -> Any:
    data = CourseUpdate.model_validate({"prerequisites": [str(other.id) for other in others]})
    return service.update_course(session, staff, course.id, data=data)


def test_a_course_is_created_with_its_sections_in_order_and_its_tags(
    session: Session, staff: Principal
) -> None:
    course = add_course(session, staff, tags=["poker", "cash"])

    assert [section.key for section in course.sections] == ["rules", "positions"]
    assert [section.position for section in course.sections] == [1, 2]
    assert course.tags == ["cash", "poker"]
    assert course.key.startswith("course-")


def test_only_staff_manage_the_catalog(session: Session, user: Principal) -> None:
    with pytest.raises(Forbidden):
        add_course(session, user)


def test_a_title_is_unique_within_its_level(session: Session, staff: Principal) -> None:
    course = add_course(session, staff)

    with pytest.raises(CourseTitleTaken):
        add_course(session, staff, title=course.title)
    other_level = add_course(session, staff, title=course.title, level="advanced")
    assert other_level.title == course.title


def test_a_course_cannot_require_itself(session: Session, staff: Principal) -> None:
    course = add_course(session, staff)

    with pytest.raises(PrerequisiteCycle) as refused:
        require(session, staff, course, course)
    assert refused.value.extensions == {"cycle": [str(course.id), str(course.id)]}


def test_a_prerequisite_cycle_is_refused_and_named(session: Session, staff: Principal) -> None:
    first, second, third = (add_course(session, staff) for _ in range(3))
    require(session, staff, second, first)
    require(session, staff, third, second)

    with pytest.raises(PrerequisiteCycle) as refused:
        require(session, staff, first, third)

    cycle = refused.value.extensions["cycle"]
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {str(first.id), str(second.id), str(third.id)}
    # Each course of the cycle requires the next one.
    requires = {(str(second.id), str(first.id)), (str(third.id), str(second.id))}
    requires.add((str(first.id), str(third.id)))
    assert set(itertools.pairwise(cycle)) == requires
    assert first.title in refused.value.detail


def test_prerequisites_must_be_courses(session: Session, staff: Principal) -> None:
    course = add_course(session, staff)
    nowhere = uuid.uuid4()

    with pytest.raises(PrerequisiteNotFound) as refused:
        service.update_course(
            session,
            staff,
            course.id,
            data=CourseUpdate.model_validate({"prerequisites": [str(nowhere)]}),
        )
    assert refused.value.extensions == {"missing": [str(nowhere)]}


def test_courses_filter_by_level_and_every_tag(session: Session, staff: Principal) -> None:
    tag = f"tag-{uuid.uuid4().hex[:8]}"
    both = add_course(session, staff, tags=[tag, "tournament"])
    add_course(session, staff, tags=[tag])
    add_course(session, staff, tags=[tag, "tournament"], level="advanced")

    page = service.list_courses(session, None, level="beginner", tags=[tag, "tournament"])

    assert [course.id for course in page.items] == [both.id]


def test_the_catalog_pages_by_title(session: Session, staff: Principal) -> None:
    tag = f"tag-{uuid.uuid4().hex[:8]}"
    made = [add_course(session, staff, tags=[tag]) for _ in range(5)]

    seen: list[uuid.UUID] = []
    cursor = None
    while True:
        page = service.list_courses(session, None, tags=[tag], cursor=cursor, limit=2)
        seen.extend(course.id for course in page.items)
        if (cursor := page.next_cursor) is None:
            break

    by_title = sorted(made, key=lambda course: (course.title, str(course.id)))
    assert seen == [course.id for course in by_title]


def test_inactive_courses_are_hidden_from_learners_but_not_from_staff(
    session: Session, staff: Principal, user: Principal
) -> None:
    tag = f"tag-{uuid.uuid4().hex[:8]}"
    course = add_course(session, staff, tags=[tag], is_active=False)

    assert service.list_courses(session, user, tags=[tag]).items == []
    with pytest.raises(CourseNotFound):
        service.get_course(session, user, course.id)
    assert service.get_course(session, staff, course.id).id == course.id
    listed = service.list_all_courses(session, staff, tags=[tag])
    assert [item.id for item in listed.items] == [course.id]


def test_sections_are_matched_by_key_and_withdrawn_not_deleted(
    session: Session, staff: Principal
) -> None:
    course = add_course(session, staff)
    kept = {section.key: section.id for section in course.sections}
    sections = [{"key": "positions", "title": "Position first"}, {"key": "odds", "title": "Odds"}]

    changed = service.update_course(
        session, staff, course.id, data=CourseUpdate.model_validate({"sections": sections})
    )

    assert [(s.key, s.position) for s in changed.sections] == [("positions", 1), ("odds", 2)]
    assert changed.sections[0].id == kept["positions"]
    restored = service.update_course(
        session,
        staff,
        course.id,
        data=CourseUpdate.model_validate({"sections": course_body()["sections"]}),
    )
    assert restored.sections[0].id == kept["rules"]


def test_a_course_nobody_studied_is_deleted(session: Session, staff: Principal) -> None:
    course = add_course(session, staff)
    service.create_assessment(
        session, staff, data=AssessmentCreate.model_validate(assessment_body(str(course.id)))
    )

    assert service.delete_course(session, staff, course.id) is None
    with pytest.raises(CourseNotFound):
        service.get_course(session, staff, course.id)


def test_a_course_others_require_is_archived_not_deleted(
    session: Session, staff: Principal
) -> None:
    basics = add_course(session, staff)
    advanced = add_course(session, staff)
    require(session, staff, advanced, basics)

    archived = service.delete_course(session, staff, basics.id)

    assert archived is not None
    assert (archived.is_active, archived.archived_at is not None) == (False, True)
    assert service.get_course(session, staff, advanced.id).prerequisites == [basics.id]


def test_questions_are_checked_against_the_published_format(
    session: Session, staff: Principal
) -> None:
    course = add_course(session, staff)
    broken = [{**QUESTIONS[0], "correct": "z"}, QUESTIONS[1]]

    with pytest.raises(QuestionsInvalid) as refused:
        service.create_assessment(
            session,
            staff,
            data=AssessmentCreate.model_validate(assessment_body(str(course.id), questions=broken)),
        )

    paths = [error["path"] for error in refused.value.extensions["errors"]]
    assert paths
    assert all(path.startswith("/questions/0") for path in paths)


def test_changing_what_grading_reads_makes_a_new_version(
    session: Session, staff: Principal
) -> None:
    course = add_course(session, staff)
    assessment = service.create_assessment(
        session, staff, data=AssessmentCreate.model_validate(assessment_body(str(course.id)))
    )

    retitled = service.update_assessment(
        session, staff, assessment.id, data=AssessmentUpdate(title="New title")
    )
    stricter = service.update_assessment(
        session, staff, assessment.id, data=AssessmentUpdate(pass_threshold=90)
    )

    assert (assessment.version, retitled.version, stricter.version) == (1, 1, 2)


def test_learners_see_questions_without_answers(
    session: Session, staff: Principal, user: Principal
) -> None:
    course = add_course(session, staff)
    assessment = service.create_assessment(
        session, staff, data=AssessmentCreate.model_validate(assessment_body(str(course.id)))
    )

    shown = service.get_assessment(session, user, assessment.id)

    assert [question["id"] for question in shown.questions] == [q["id"] for q in QUESTIONS]
    assert not any("correct" in question for question in shown.questions)
    assert service.get_course(session, user, course.id).assessments[0].question_count == 3


def test_a_timed_assessment_shows_its_questions_only_in_an_attempt(
    session: Session, staff: Principal, user: Principal
) -> None:
    course = add_course(session, staff)
    timed = assessment_body(str(course.id), time_limit_minutes=10)
    assessment = service.create_assessment(
        session, staff, data=AssessmentCreate.model_validate(timed)
    )

    shown = service.get_assessment(session, user, assessment.id)

    assert (shown.question_count, shown.questions) == (3, [])
