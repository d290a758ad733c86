"""Attempts at assessments (both databases): started within max_attempts and after the
course's prerequisites, pinned to the version they started on, with a deadline from
the server's clock; answers saved idempotently and checked against their question;
graded on the server, once; closed by the deadline under either policy."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from convobase.core.errors import Forbidden
from convobase.core.principal import Principal
from convobase.learning import service
from convobase.learning.errors import (
    AnswerInvalid,
    AssessmentNotFound,
    AttemptClosed,
    AttemptLimitReached,
    AttemptNotFound,
    AttemptTimeUp,
    ClientAttemptIdReused,
    PrerequisitesMissing,
    QuestionNotInAttempt,
)
from convobase.learning.models import MAX_ATTEMPT_NUMBER, AssessmentAttempt, AttemptAnswer
from convobase.learning.schemas import AssessmentUpdate
from tests.clocks import FakeClock
from tests.learning import factories
from tests.learning.factories import QUESTIONS, RIGHT, STAFF, WRONG


def test_an_attempt_is_pinned_to_the_current_version_with_a_deadline_from_the_server_clock(
    session: Session, user: Principal, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    factories.freeze(monkeypatch, clock)
    course = factories.course(session)
    quiz = factories.assessment(session, course.id, time_limit_minutes=30)

    attempt = factories.start(session, user, quiz.id)

    assert (attempt.status, attempt.attempt_number, attempt.assessment_version) == (
        "in_progress",
        1,
        1,
    )
    assert attempt.started_at == clock.now
    assert attempt.deadline_at == clock.now + timedelta(minutes=30)
    assert attempt.seconds_left == 30 * 60
    assert [question["id"] for question in attempt.questions] == [q["id"] for q in QUESTIONS]
    assert attempt.answers == []


def test_an_attempt_without_a_time_limit_has_no_deadline(session: Session, user: Principal) -> None:
    quiz = factories.assessment(session, factories.course(session).id)

    attempt = factories.start(session, user, quiz.id)

    assert (attempt.deadline_at, attempt.seconds_left) == (None, None)


def test_max_attempts_are_all_a_learner_gets(session: Session, user: Principal) -> None:
    quiz = factories.assessment(session, factories.course(session).id, max_attempts=2)
    factories.take(session, user, quiz.id, WRONG)
    factories.start(session, user, quiz.id)

    with pytest.raises(AttemptLimitReached, match="all 2 attempts"):
        factories.start(session, user, quiz.id)


def test_attempts_are_numbered_in_order(session: Session, user: Principal) -> None:
    quiz = factories.assessment(session, factories.course(session).id, max_attempts=100)

    numbers = [factories.start(session, user, quiz.id).attempt_number for _ in range(5)]

    assert numbers == [1, 2, 3, 4, 5]


def test_attempts_are_counted_per_learner(
    session: Session, user: Principal, other_user: Principal
) -> None:
    quiz = factories.assessment(session, factories.course(session).id, max_attempts=1)
    factories.start(session, user, quiz.id)

    assert factories.start(session, other_user, quiz.id).attempt_number == 1


def test_missing_prerequisites_are_refused_and_named(session: Session, user: Principal) -> None:
    basics = factories.course(session)
    factories.assessment(session, basics.id)
    advanced = factories.course(session, prerequisites=(basics.id,))
    quiz = factories.assessment(session, advanced.id)

    with pytest.raises(PrerequisitesMissing) as refused:
        factories.start(session, user, quiz.id)

    assert refused.value.status == 403
    assert refused.value.extensions == {"missing_prerequisites": [str(basics.id)]}
    factories.complete_course(session, user, service.get_course(session, user, basics.id))
    assert factories.start(session, user, quiz.id).attempt_number == 1


def test_missing_prerequisites_reports_each_course(session: Session, user: Principal) -> None:
    basics = factories.course(session)
    middle = factories.course(session, prerequisites=(basics.id,))
    free = factories.course(session)

    missing = service.missing_prerequisites(session, user, [middle.id, free.id])

    assert missing == {middle.id: [basics.id], free.id: []}


def test_an_inactive_assessment_cannot_be_started(session: Session, user: Principal) -> None:
    quiz = factories.assessment(session, factories.course(session).id, is_active=False)

    with pytest.raises(AssessmentNotFound):
        factories.start(session, user, quiz.id)


def test_a_retried_start_returns_the_attempt_it_started(session: Session, user: Principal) -> None:
    course = factories.course(session)
    quiz = factories.assessment(session, course.id, max_attempts=1)
    other = factories.assessment(session, course.id)

    first = service.start_attempt(session, user, quiz.id, client_attempt_id="tap-1")
    again = service.start_attempt(session, user, quiz.id, client_attempt_id="tap-1")

    assert (first.created, again.created) == (True, False)
    assert again.attempt.id == first.attempt.id
    with pytest.raises(ClientAttemptIdReused):
        service.start_attempt(session, user, other.id, client_attempt_id="tap-1")


def test_a_saved_answer_is_written_over_and_a_retried_save_changes_nothing(
    session: Session, user: Principal
) -> None:
    quiz = factories.assessment(session, factories.course(session).id)
    attempt = factories.start(session, user, quiz.id)

    service.save_answer(session, user, attempt.id, "position", answer="sb")
    service.save_answer(session, user, attempt.id, "position", answer="btn")
    service.save_answer(session, user, attempt.id, "position", answer="btn")

    rows = session.scalar(select(func.count()).where(AttemptAnswer.attempt_id == attempt.id))
    saved = service.get_attempt(session, user, attempt.id).answers
    assert rows == 1
    assert [(answer.question_id, answer.answer) for answer in saved] == [("position", "btn")]


def test_a_malformed_answer_or_an_unknown_question_is_refused(
    session: Session, user: Principal
) -> None:
    quiz = factories.assessment(session, factories.course(session).id)
    attempt = factories.start(session, user, quiz.id)

    with pytest.raises(AnswerInvalid) as invalid:
        service.save_answer(session, user, attempt.id, "premium", answer=["aa", "zz"])
    with pytest.raises(AnswerInvalid):
        service.save_answer(session, user, attempt.id, "bluff", answer="no")
    with pytest.raises(QuestionNotInAttempt):
        service.save_answer(session, user, attempt.id, "nope", answer="a")

    assert invalid.value.status == 422
    assert invalid.value.extensions["errors"][0]["path"] == "/1"


def test_a_submitted_attempt_is_graded_once_and_takes_no_more_answers(
    session: Session, user: Principal
) -> None:
    quiz = factories.assessment(session, factories.course(session).id)
    attempt = factories.start(session, user, quiz.id)
    factories.answer(session, user, attempt.id, RIGHT)

    graded = service.submit_attempt(session, user, attempt.id)
    again = service.submit_attempt(session, user, attempt.id)

    assert (graded.status, graded.closed_by, graded.score, graded.passed) == (
        "submitted",
        "learner",
        Decimal("100.00"),
        True,
    )
    assert again == graded
    assert graded.results is not None
    assert {result.outcome for result in graded.results} == {"correct"}
    with pytest.raises(AttemptClosed):
        service.save_answer(session, user, attempt.id, "position", answer="sb")


def test_unanswered_and_wrong_questions_score_nothing(session: Session, user: Principal) -> None:
    quiz = factories.assessment(session, factories.course(session).id)

    graded = factories.take(session, user, quiz.id, {"position": "btn", "bluff": True})

    assert graded.score == Decimal("20.00")
    assert graded.passed is False
    assert graded.results is not None
    outcomes = {result.question_id: result.outcome for result in graded.results}
    assert outcomes == {
        "position": "correct",
        "premium": "unanswered",
        "bluff": "incorrect",
        "pot-odds": "unanswered",
        "seat": "unanswered",
    }


def test_grading_reads_the_version_the_attempt_started_on(
    session: Session, user: Principal
) -> None:
    quiz = factories.assessment(session, factories.course(session).id)
    before = factories.start(session, user, quiz.id)
    factories.answer(session, user, before.id, RIGHT)
    changed = [{**QUESTIONS[0], "correct": "utg"}, *QUESTIONS[1:]]
    service.update_assessment(
        session, STAFF, quiz.id, data=AssessmentUpdate.model_validate({"questions": changed})
    )

    graded = service.submit_attempt(session, user, before.id)
    after = factories.take(session, user, quiz.id, RIGHT)

    assert (graded.assessment_version, graded.score) == (1, Decimal("100.00"))
    assert (after.assessment_version, after.score) == (2, Decimal("80.00"))


def test_a_save_after_the_deadline_is_refused(
    session: Session, user: Principal, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    factories.freeze(monkeypatch, clock)
    quiz = factories.assessment(session, factories.course(session).id, time_limit_minutes=10)
    attempt = factories.start(session, user, quiz.id)
    service.save_answer(session, user, attempt.id, "position", answer="btn")
    clock.advance(timedelta(minutes=10))

    with pytest.raises(AttemptTimeUp):
        service.save_answer(session, user, attempt.id, "bluff", answer=False)
    assert service.get_attempt(session, user, attempt.id).seconds_left == 0


@pytest.mark.parametrize("policy", ["submit", "abandon"])
def test_a_late_submit_closes_the_attempt_by_the_overdue_policy(
    session: Session,
    user: Principal,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    policy: service.OverduePolicy,
) -> None:
    factories.freeze(monkeypatch, clock)
    quiz = factories.assessment(session, factories.course(session).id, time_limit_minutes=10)
    attempt = factories.start(session, user, quiz.id)
    service.save_answer(session, user, attempt.id, "position", answer="btn")
    clock.advance(timedelta(minutes=11))

    closed = service.submit_attempt(session, user, attempt.id, policy=policy)

    assert closed.closed_by == "deadline"
    if policy == "submit":
        assert (closed.status, closed.score, closed.submitted_at) == (
            "submitted",
            Decimal("20.00"),
            clock.now,
        )
    else:
        assert (closed.status, closed.score, closed.abandoned_at) == (
            "abandoned",
            None,
            clock.now,
        )


@pytest.mark.parametrize("policy", ["submit", "abandon"])
def test_the_overdue_job_closes_only_attempts_past_their_deadline(
    session: Session,
    user: Principal,
    other_user: Principal,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    policy: service.OverduePolicy,
) -> None:
    factories.freeze(monkeypatch, clock)
    course = factories.course(session)
    timed = factories.assessment(session, course.id, time_limit_minutes=5)
    longer = factories.assessment(session, course.id, time_limit_minutes=60)
    untimed = factories.assessment(session, course.id)
    late = factories.start(session, user, timed.id)
    factories.answer(session, user, late.id, RIGHT)
    running = factories.start(session, other_user, longer.id)
    open_ended = factories.start(session, user, untimed.id)
    clock.advance(timedelta(minutes=6))

    overdue = service.overdue_attempts(session, STAFF)
    closed = [
        service.close_overdue_attempt(session, Principal.user(owner), attempt_id, policy=policy)
        for attempt_id, owner in overdue
    ]
    again = service.close_overdue_attempt(session, user, late.id, policy=policy)

    assert [attempt_id for attempt_id, _ in overdue] == [late.id]
    assert (closed, again) == ([True], False)
    after = service.get_attempt(session, user, late.id)
    assert (after.status, after.closed_by) == (
        ("submitted", "deadline") if policy == "submit" else ("abandoned", "deadline")
    )
    assert after.score == (Decimal("100.00") if policy == "submit" else None)
    assert service.get_attempt(session, other_user, running.id).status == "in_progress"
    assert service.get_attempt(session, user, open_ended.id).status == "in_progress"


def test_only_staff_list_every_learners_overdue_attempts(session: Session, user: Principal) -> None:
    with pytest.raises(Forbidden):
        service.overdue_attempts(session, user)


def test_another_learners_attempt_is_not_found(
    session: Session, user: Principal, other_user: Principal
) -> None:
    quiz = factories.assessment(session, factories.course(session).id)
    attempt = factories.start(session, user, quiz.id)

    with pytest.raises(AttemptNotFound):
        service.get_attempt(session, other_user, attempt.id)
    with pytest.raises(AttemptNotFound):
        service.save_answer(session, other_user, attempt.id, "position", answer="btn")
    with pytest.raises(AttemptNotFound):
        service.submit_attempt(session, other_user, attempt.id)
    assert service.list_attempts(session, other_user, quiz.id).items == []


def test_attempts_are_listed_latest_first_a_page_at_a_time(
    session: Session, user: Principal
) -> None:
    quiz = factories.assessment(session, factories.course(session).id, max_attempts=100)
    for _ in range(3):
        factories.start(session, user, quiz.id)

    first = service.list_attempts(session, user, quiz.id, limit=2)
    second = service.list_attempts(session, user, quiz.id, cursor=first.next_cursor, limit=2)

    assert [attempt.attempt_number for attempt in first.items] == [3, 2]
    assert [attempt.attempt_number for attempt in second.items] == [1]
    assert second.next_cursor is None


def test_an_unknown_attempt_is_not_found(session: Session, user: Principal) -> None:
    with pytest.raises(AttemptNotFound):
        service.get_attempt(session, user, uuid.uuid4())


def test_explanations_come_with_the_results_only_where_the_assessment_shows_them(
    session: Session, user: Principal
) -> None:
    course = factories.course(session)
    hidden = factories.assessment(session, course.id)
    shown = factories.assessment(
        session, course.id, scoring_config={"show_explanations_after_submit": True}
    )

    kept_back = factories.take(session, user, hidden.id, WRONG)
    attempt = factories.start(session, user, shown.id)
    explained = service.submit_attempt(session, user, attempt.id)

    assert kept_back.results is not None
    assert explained.results is not None
    assert {result.explanation for result in kept_back.results} == {None}
    assert explained.results[0].explanation == factories.SECRET_EXPLANATION
    assert "explanation" not in str(attempt.questions)


def test_a_start_that_waited_on_the_lock_starts_its_clock_when_it_got_it(
    session: Session, user: Principal, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    factories.freeze(monkeypatch, clock)
    quiz = factories.assessment(session, factories.course(session).id, time_limit_minutes=30)
    arrived = clock.now
    factories.waiting_on_the_lock(monkeypatch, clock, timedelta(seconds=45))

    attempt = factories.start(session, user, quiz.id)

    assert attempt.started_at == arrived + timedelta(seconds=45)
    assert attempt.deadline_at == arrived + timedelta(seconds=45, minutes=30)
    assert attempt.seconds_left == 30 * 60


def test_without_max_attempts_the_schemas_bound_is_refused_with_its_code(
    session: Session, user: Principal
) -> None:
    quiz = factories.assessment(session, factories.course(session).id, max_attempts=None)
    first = factories.start(session, user, quiz.id)
    rows = [
        {
            "id": uuid.uuid4(),
            "user_id": user.user_id,
            "assessment_id": quiz.id,
            "assessment_version": 1,
            "course_id": first.course_id,
            "attempt_number": number,
            "status": "in_progress",
            "started_at": first.started_at,
        }
        for number in range(2, MAX_ATTEMPT_NUMBER + 1)
    ]
    session.execute(insert(AssessmentAttempt), rows)

    with pytest.raises(AttemptLimitReached):
        factories.start(session, user, quiz.id)


def test_an_inactive_assessment_never_attempted_is_not_found_like_a_missing_one(
    session: Session, user: Principal
) -> None:
    course = factories.course(session)
    attempted = factories.assessment(session, course.id)
    untouched = factories.assessment(session, course.id)
    factories.start(session, user, attempted.id)
    for quiz in (attempted, untouched):
        service.deactivate_assessment(session, STAFF, quiz.id)

    for unknown in (untouched.id, uuid.uuid4()):
        with pytest.raises(AssessmentNotFound):
            service.list_attempts(session, user, unknown)
    listed = service.list_attempts(session, user, attempted.id).items
    assert [attempt.attempt_number for attempt in listed] == [1]
