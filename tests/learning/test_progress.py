"""A learner's progress through a course (both databases): derived by the server from
the sections they completed and the assessments they passed, study time credited from
bounded heartbeats, the dashboard of their courses, review cards for what they got
wrong, and their learning in the account export."""

import json
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from convobase.account import service as account_service
from convobase.core.principal import Principal
from convobase.learning import service
from convobase.learning.errors import CourseNotFound, PrerequisitesMissing, SectionNotFound
from convobase.learning.models import MAX_STORED_TEST_SCORES, UserProgress
from convobase.learning.schemas import CourseUpdate
from convobase.reviews import service as review_service
from tests.clocks import FakeClock
from tests.learning import factories
from tests.learning.factories import KEY_NAMES, RIGHT, SECRET_ACCEPTED, STAFF, WRONG


def test_a_new_learner_has_nothing_done_and_the_first_section_next(
    session: Session, user: Principal
) -> None:
    course = factories.course(session, sections=3)

    progress = service.get_progress(session, user, course.id)

    assert progress.completion_rate == Decimal("0.00")
    assert progress.next_step.kind == "section"
    assert progress.next_step.section is not None
    assert (progress.next_step.section.id, progress.next_step.section.position) == (
        course.sections[0].id,
        1,
    )
    assert (progress.started_at, progress.completed_sections, progress.test_scores) == (
        None,
        [],
        [],
    )


def test_completion_counts_sections_completed_and_assessments_passed(
    session: Session, user: Principal
) -> None:
    course = factories.course(session, sections=2)
    quiz = factories.assessment(session, course.id)

    first = service.complete_section(session, user, course.id, course.sections[0].id)
    again = service.complete_section(session, user, course.id, course.sections[0].id)
    second = service.complete_section(session, user, course.id, course.sections[1].id)

    assert (first.completion_rate, again.completion_rate) == (Decimal("33.33"), Decimal("33.33"))
    assert len(again.completed_sections) == 1
    assert second.completion_rate == Decimal("66.66")
    assert second.next_step.kind == "assessment"
    assert second.next_step.assessment is not None
    assert second.next_step.assessment.id == quiz.id
    assert second.completed_at is None

    factories.take(session, user, quiz.id, WRONG)
    failed = service.get_progress(session, user, course.id)
    factories.take(session, user, quiz.id, RIGHT)
    done = service.get_progress(session, user, course.id)

    assert failed.completion_rate == Decimal("66.66")
    assert done.completion_rate == Decimal("100.00")
    assert done.next_step.kind == "done"
    assert done.completed_at is not None
    (scores,) = done.test_scores
    assert (scores.assessment_id, scores.attempts, scores.scores) == (
        quiz.id,
        2,
        [Decimal("0.00"), Decimal("100.00")],
    )
    assert (scores.grade, scores.grade_method, scores.passed) == (
        Decimal("100.00"),
        "highest",
        True,
    )


def test_the_grade_follows_the_assessments_grade_method(session: Session, user: Principal) -> None:
    course = factories.course(session, sections=0)
    quiz = factories.assessment(session, course.id, scoring_config={"grade_method": "average"})

    factories.take(session, user, quiz.id, RIGHT)
    factories.take(session, user, quiz.id, {"position": "btn"})
    progress = service.get_progress(session, user, course.id)

    (scores,) = progress.test_scores
    assert (scores.grade, scores.passed) == (Decimal("60.00"), False)
    assert progress.completion_rate == Decimal("0.00")
    assert progress.next_step.kind == "assessment"


def test_a_course_with_nothing_in_it_has_no_next_step(session: Session, user: Principal) -> None:
    course = factories.course(session, sections=0)

    progress = service.get_progress(session, user, course.id)

    assert (progress.completion_rate, progress.next_step.kind) == (Decimal("0.00"), "none")


def test_a_withdrawn_or_foreign_section_cannot_be_completed(
    session: Session, user: Principal
) -> None:
    course = factories.course(session, sections=2)
    other = factories.course(session, sections=1)
    withdrawn = course.sections[1]
    service.update_course(
        session,
        STAFF,
        course.id,
        data=CourseUpdate.model_validate({"sections": [{"key": "s1", "title": "Section 1"}]}),
    )

    with pytest.raises(SectionNotFound):
        service.complete_section(session, user, course.id, withdrawn.id)
    with pytest.raises(SectionNotFound):
        service.complete_section(session, user, course.id, other.sections[0].id)


def test_progress_needs_the_prerequisites(session: Session, user: Principal) -> None:
    basics = factories.course(session, sections=1)
    advanced = factories.course(session, prerequisites=(basics.id,))

    with pytest.raises(PrerequisitesMissing):
        service.complete_section(session, user, advanced.id, advanced.sections[0].id)
    with pytest.raises(PrerequisitesMissing):
        service.record_study_time(session, user, advanced.id)
    service.complete_section(session, user, basics.id, basics.sections[0].id)

    progress = service.complete_section(session, user, advanced.id, advanced.sections[0].id)
    assert progress.completion_rate == Decimal("50.00")


def test_an_archived_prerequisite_holds_nobody_back(session: Session, user: Principal) -> None:
    basics = factories.course(session, sections=1)
    advanced = factories.course(session, prerequisites=(basics.id,))
    service.update_course(
        session, STAFF, basics.id, data=CourseUpdate.model_validate({"is_active": False})
    )

    assert service.missing_prerequisites(session, user, [advanced.id]) == {advanced.id: []}


def test_an_inactive_course_has_no_progress_to_start(session: Session, user: Principal) -> None:
    course = factories.course(session, is_active=False)

    with pytest.raises(CourseNotFound):
        service.get_progress(session, user, course.id)
    with pytest.raises(CourseNotFound):
        service.record_study_time(session, user, course.id)


def test_study_time_is_credited_from_heartbeats_at_most_two_minutes_each(
    session: Session, user: Principal, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    factories.freeze(monkeypatch, clock)
    course = factories.course(session)
    credited = []
    for pause in (0, 30, 45, 600, 50):  # seconds before each heartbeat
        clock.advance(timedelta(seconds=pause))
        credited.append(service.record_study_time(session, user, course.id))

    assert [beat.credited_seconds for beat in credited] == [0, 30, 45, 120, 50]
    assert credited[-1].study_time_minutes == 4  # 245 s
    assert service.get_progress(session, user, course.id).study_time_minutes == 4
    clock.advance(timedelta(seconds=15))
    assert service.record_study_time(session, user, course.id).study_time_minutes == 4
    clock.advance(timedelta(seconds=40))
    assert service.record_study_time(session, user, course.id).study_time_minutes == 5


def test_a_heartbeat_from_the_past_credits_nothing(
    session: Session, user: Principal, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    factories.freeze(monkeypatch, clock)
    course = factories.course(session)
    service.record_study_time(session, user, course.id)
    clock.advance(timedelta(seconds=-90))

    assert service.record_study_time(session, user, course.id).credited_seconds == 0


def test_the_dashboard_lists_the_learners_courses_last_studied_first_with_next_steps(
    session: Session,
    user: Principal,
    other_user: Principal,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    factories.freeze(monkeypatch, clock)
    reading = factories.course(session, sections=2)
    testing = factories.course(session, sections=1)
    quiz = factories.assessment(session, testing.id)
    finished = factories.course(session, sections=1)
    factories.course(session)  # not started
    service.complete_section(session, user, finished.id, finished.sections[0].id)
    clock.advance(timedelta(minutes=1))
    service.complete_section(session, user, testing.id, testing.sections[0].id)
    clock.advance(timedelta(minutes=1))
    service.record_study_time(session, user, reading.id)
    service.record_study_time(session, other_user, finished.id)

    first = service.my_courses(session, user, limit=2)
    second = service.my_courses(session, user, cursor=first.next_cursor, limit=2)

    courses = [*first.items, *second.items]
    assert [item.course.id for item in courses] == [reading.id, testing.id, finished.id]
    assert second.next_cursor is None
    steps = [item.next_step for item in courses]
    assert steps[0].kind == "section"
    assert steps[0].section is not None
    assert (steps[0].section.id, steps[0].section.title) == (
        reading.sections[0].id,
        "Section 1",
    )
    assert steps[1].kind == "assessment"
    assert steps[1].assessment is not None
    assert (steps[1].assessment.id, steps[1].assessment.title) == (quiz.id, quiz.title)
    assert steps[2].kind == "done"
    assert [item.completion_rate for item in courses] == [
        Decimal("0.00"),
        Decimal("50.00"),
        Decimal("100.00"),
    ]
    assert [item.course.id for item in service.my_courses(session, other_user).items] == [
        finished.id
    ]


def test_a_new_section_is_the_next_step_once_progress_is_refreshed(
    session: Session, user: Principal
) -> None:
    course = factories.course(session, sections=1)
    service.complete_section(session, user, course.id, course.sections[0].id)
    service.update_course(
        session,
        STAFF,
        course.id,
        data=CourseUpdate.model_validate(
            {"sections": [{"key": "s1", "title": "Section 1"}, {"key": "s2", "title": "More"}]}
        ),
    )

    assert service.refresh_course_progress(session, STAFF, course.id) == 1

    (item,) = service.my_courses(session, user).items
    assert (item.completion_rate, item.next_step.kind) == (Decimal("50.00"), "section")
    assert item.completed_at is not None  # completed once, and it stays so


def test_each_question_not_fully_right_becomes_a_review_card_without_its_key(
    session: Session, user: Principal
) -> None:
    quiz = factories.assessment(session, factories.course(session).id)

    graded = factories.take(session, user, quiz.id, {**RIGHT, "position": "sb", "seat": "x"})
    factories.take(session, user, quiz.id, {**RIGHT, "position": "utg"})

    cards = review_service.list_cards(session, user).items
    keys = sorted(card.source_key for card in cards)
    assert keys == [f"{quiz.id}:position", f"{quiz.id}:seat"]
    assert {card.source_kind for card in cards} == {"assessment_question"}
    position = next(card for card in cards if card.source_key.endswith(":position"))
    assert position.prompt == "Which seat acts last after the flop?"
    assert position.answer is None
    assert position.context["question"]["choices"] == [
        {"id": "sb", "text": "Small blind"},
        {"id": "btn", "text": "The button"},
        {"id": "utg", "text": "Under the gun"},
    ]
    assert position.context["assessment_id"] == str(quiz.id)
    shown = json.dumps([card.context for card in cards])
    assert SECRET_ACCEPTED not in shown
    assert not any(f'"{name}"' in shown for name in KEY_NAMES)
    assert graded.passed is False


def test_the_account_export_holds_the_learners_progress_and_attempts(
    session: Session, user: Principal
) -> None:
    course = factories.course(session, sections=1)
    quiz = factories.assessment(session, course.id)
    service.complete_section(session, user, course.id, course.sections[0].id)
    graded = factories.take(session, user, quiz.id, {"position": "btn"})

    export = account_service.export_account(session, user).learning

    assert [row.course_id for row in export.progress] == [course.id]
    assert [row.section_id for row in export.section_completions] == [course.sections[0].id]
    (attempt,) = export.attempts
    assert (attempt.id, attempt.score) == (graded.id, Decimal("20.00"))
    assert [(answer.question_id, answer.answer) for answer in attempt.answers] == [
        ("position", "btn")
    ]


def test_staff_read_a_learners_progress_and_attempts(session: Session, user: Principal) -> None:
    course = factories.course(session, sections=1)
    quiz = factories.assessment(session, course.id)
    service.complete_section(session, user, course.id, course.sections[0].id)
    graded = factories.take(session, user, quiz.id, RIGHT)
    assert user.user_id is not None

    progress = service.user_progress_for_staff(session, STAFF, user.user_id)
    attempts = service.user_attempts_for_staff(session, STAFF, user.user_id)

    assert [row.completion_rate for row in progress.items] == [Decimal("100.00")]
    assert [attempt.id for attempt in attempts.items] == [graded.id]


def test_a_deleted_account_takes_its_learning_along(session: Session, user: Principal) -> None:
    course = factories.course(session, sections=1)
    quiz = factories.assessment(session, course.id)
    service.complete_section(session, user, course.id, course.sections[0].id)
    factories.take(session, user, quiz.id, WRONG)

    assert user.user_id is not None

    account_service.delete_account(session, user)

    assert service.user_progress_for_staff(session, STAFF, user.user_id).items == []
    assert service.user_attempts_for_staff(session, STAFF, user.user_id).items == []


@pytest.mark.parametrize(("method", "grade"), [("first", "0.00"), ("last", "100.00")])
def test_first_and_last_follow_the_order_attempts_were_submitted(
    session: Session,
    user: Principal,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    grade: str,
) -> None:
    factories.freeze(monkeypatch, clock)
    course = factories.course(session, sections=0)
    quiz = factories.assessment(session, course.id, scoring_config={"grade_method": method})
    informed = factories.start(session, user, quiz.id)
    clock.advance(timedelta(seconds=1))
    probe = factories.start(session, user, quiz.id)
    clock.advance(timedelta(seconds=1))
    # The second attempt, submitted blank first to see what is asked ...
    service.submit_attempt(session, user, probe.id)
    clock.advance(timedelta(seconds=1))
    # ... and the first one, started earlier, answered knowing it.
    factories.answer(session, user, informed.id, RIGHT)
    service.submit_attempt(session, user, informed.id)

    (scores,) = service.get_progress(session, user, course.id).test_scores

    assert scores.scores == [Decimal("0.00"), Decimal("100.00")]
    assert scores.grade == Decimal(grade)


def test_a_heartbeat_that_waited_on_the_lock_counts_from_when_it_got_it(
    session: Session, user: Principal, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    factories.freeze(monkeypatch, clock)
    course = factories.course(session)
    first = service.record_study_time(session, user, course.id).last_heartbeat_at
    clock.advance(timedelta(seconds=30))

    def another_heartbeat(progress: UserProgress) -> None:  # committed while this one waited
        progress.last_heartbeat_at = first + timedelta(seconds=60)

    factories.waiting_on_the_lock(monkeypatch, clock, timedelta(seconds=60), another_heartbeat)
    beat = service.record_study_time(session, user, course.id)

    assert beat.last_heartbeat_at == first + timedelta(seconds=90)
    assert beat.credited_seconds == 30


def test_the_last_heartbeat_never_moves_back(
    session: Session, user: Principal, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    factories.freeze(monkeypatch, clock)
    course = factories.course(session)
    first = service.record_study_time(session, user, course.id).last_heartbeat_at
    clock.advance(timedelta(seconds=-90))

    late = service.record_study_time(session, user, course.id)
    clock.advance(timedelta(seconds=120))  # 30 seconds after the first heartbeat
    beat = service.record_study_time(session, user, course.id)

    assert (late.credited_seconds, late.last_heartbeat_at) == (0, first)
    assert beat.credited_seconds == 30


def test_test_scores_stay_within_their_column_however_many_scores(
    session: Session, user: Principal
) -> None:
    course = factories.course(session, sections=0)
    quiz = factories.assessment(session, course.id)
    factories.take(session, user, quiz.id, RIGHT)
    progress = session.scalars(
        select(UserProgress).where(UserProgress.user_id == user.user_id)
    ).one()
    # As if the learner had made a hundred attempts at each of hundreds of assessments:
    # one more score would pass the column's bound.
    progress.test_scores = filled_to(progress.test_scores, MAX_STORED_TEST_SCORES - 2)
    session.flush()

    factories.take(session, user, quiz.id, WRONG)

    session.refresh(progress)
    assert len(json.dumps(progress.test_scores)) <= MAX_STORED_TEST_SCORES
    own = progress.test_scores[str(quiz.id)]
    assert (own["attempts"], own["scores"], own["grade"]) == (2, [100.0, 0.0], 100.0)
    assert all(len(entry["scores"]) <= 100 for entry in progress.test_scores.values())


def filled_to(test_scores: dict[str, Any], size: int) -> dict[str, Any]:
    """`test_scores` with entries of other assessments added until its JSON text is
    `size` characters long."""

    def entry(scores: list[float]) -> dict[str, Any]:
        return {
            "attempts": len(scores),
            "scores": scores,
            "grade": 10.0,
            "grade_method": "highest",
            "passed": False,
        }

    def length(document: dict[str, Any]) -> int:
        return len(json.dumps(document))

    filled = dict(test_scores)
    while size - length(filled) > 1600:
        filled[str(uuid.uuid4())] = entry([10.0] * 100)
    key = str(uuid.uuid4())
    for count in range(1, 101):  # 6 characters a score: leaves between 694 and 700
        if size - length({**filled, key: entry([10.0] * count)}) <= 700:
            filled[key] = entry([10.0] * count)
            break
    key = str(uuid.uuid4())
    for count in range(1, 101):
        low = length({**filled, key: entry([1.0] * count)})
        if low <= size <= low + count:  # each 1.0 made 10.0 is one character more
            longer = size - low
            filled[key] = entry([10.0] * longer + [1.0] * (count - longer))
            break
    assert length(filled) == size
    return filled
