"""Learners' test data: courses with sections and assessments made through the
catalog's service as staff, and a learner's attempts answered through the learner's."""

import itertools
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from convobase.core.principal import Principal
from convobase.learning import service
from convobase.learning.models import UserProgress
from convobase.learning.schemas import (
    AssessmentCreate,
    AssessmentStaffRead,
    AttemptDetail,
    CourseCreate,
    CourseDetail,
)
from tests.clocks import FakeClock

STAFF = Principal.staff()
_numbers = itertools.count(1)

# Answer keys and rules no learner-facing answer may show: each value is unique in a
# run, so finding it anywhere in a response means the key leaked.
SECRET_ACCEPTED = "dealer-button-k3y"
SECRET_EXPLANATION = "Explained: position-secret-7f2"
QUESTIONS: list[dict[str, Any]] = [
    {
        "id": "position",
        "kind": "single_choice",
        "prompt": "Which seat acts last after the flop?",
        "explanation": SECRET_EXPLANATION,
        "choices": [
            {"id": "sb", "text": "Small blind"},
            {"id": "btn", "text": "The button"},
            {"id": "utg", "text": "Under the gun"},
        ],
        "correct": "btn",
    },
    {
        "id": "premium",
        "kind": "multiple_choice",
        "prompt": "Which hands are premium?",
        "choices": [
            {"id": "aa", "text": "Pocket aces"},
            {"id": "72o", "text": "Seven-two offsuit"},
            {"id": "kk", "text": "Pocket kings"},
        ],
        "correct": ["aa", "kk"],
    },
    {
        "id": "bluff",
        "kind": "true_false",
        "prompt": "A bluff works best against many opponents.",
        "correct": False,
    },
    {
        "id": "pot-odds",
        "kind": "numeric",
        "prompt": "The pot is 80 and you call 20: your share of the final pot, in %?",
        "correct": 20,
        "tolerance": 0.5,
    },
    {
        "id": "seat",
        "kind": "short_text",
        "prompt": "What is the dealer's seat called?",
        "accepted": [SECRET_ACCEPTED],
    },
]
RIGHT: dict[str, Any] = {
    "position": "btn",
    "premium": ["aa", "kk"],
    "bluff": False,
    "pot-odds": 20,
    "seat": SECRET_ACCEPTED,
}
WRONG: dict[str, Any] = {
    "position": "sb",
    "premium": ["72o"],
    "bluff": True,
    "pot-odds": 50,
    "seat": "cutoff",
}
# What learners must never be shown: the answer keys' names and the scoring rules.
# (A graded result has an `explanation`, null unless the assessment shows them, and
# progress names the grade method, which gives no answer away: SECRET_EXPLANATION
# stands for explanations.)
KEY_NAMES = (
    "correct",
    "accepted",
    "tolerance",
    "normalize",
    "max_typos",
    "correct_order",
    "pairs",
    "scoring_config",
    "weights",
    "partial_credit",
    "partial_credit_by_kind",
    "show_explanations_after_submit",
)


def course(
    session: Session,
    *,
    sections: int = 2,
    prerequisites: tuple[uuid.UUID, ...] = (),
    **fields: Any,
) -> CourseDetail:
    """An active course with `sections` sections, its title unique in the run."""
    number = next(_numbers)
    data = CourseCreate.model_validate(
        {
            "title": f"Learner's course {number} {uuid.uuid4().hex[:6]}",
            "level": "beginner",
            "sections": [{"key": f"s{n}", "title": f"Section {n}"} for n in range(1, sections + 1)],
            "prerequisites": [str(prerequisite) for prerequisite in prerequisites],
            **fields,
        }
    )
    return service.create_course(session, STAFF, data=data)


def assessment(
    session: Session,
    course_id: uuid.UUID,
    *,
    questions: list[dict[str, Any]] | None = None,
    scoring_config: dict[str, Any] | None = None,
    **fields: Any,
) -> AssessmentStaffRead:
    """An active assessment of `course_id` with QUESTIONS (3 attempts, no time limit,
    passed at 70 unless `fields` say otherwise)."""
    data = AssessmentCreate.model_validate(
        {
            "course_id": str(course_id),
            "title": f"Quiz {next(_numbers)}",
            "difficulty": "easy",
            "questions": questions or QUESTIONS,
            "scoring_config": scoring_config or {},
            **fields,
        }
    )
    return service.create_assessment(session, STAFF, data=data)


def start(session: Session, learner: Principal, assessment_id: uuid.UUID) -> AttemptDetail:
    return service.start_attempt(session, learner, assessment_id).attempt


def answer(
    session: Session, learner: Principal, attempt_id: uuid.UUID, answers: Mapping[str, Any]
) -> None:
    for question_id, value in answers.items():
        service.save_answer(session, learner, attempt_id, question_id, answer=value)


def take(
    session: Session,
    learner: Principal,
    assessment_id: uuid.UUID,
    answers: Mapping[str, Any],
) -> AttemptDetail:
    """Start an attempt, save `answers` and submit it."""
    attempt = start(session, learner, assessment_id)
    answer(session, learner, attempt.id, answers)
    return service.submit_attempt(session, learner, attempt.id)


def complete_course(session: Session, learner: Principal, detail: CourseDetail) -> None:
    """Complete every section of a course and pass each of its assessments."""
    for section in detail.sections:
        service.complete_section(session, learner, detail.id, section.id)
    for quiz in detail.assessments:
        take(session, learner, quiz.id, RIGHT)


def freeze(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> FakeClock:
    """Make `clock`, which the test moves, the learning service's clock."""
    monkeypatch.setattr("convobase.learning.service.utc_now", clock)
    return clock


def waiting_on_the_lock(
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
    wait: timedelta,
    meanwhile: Callable[[UserProgress], None] | None = None,
) -> None:
    """Make each learner's write wait `wait` for their progress row's lock, while
    `meanwhile` happens to the row (another request that held it)."""
    locked = service._locked_progress

    def waited(*args: Any, **kwargs: Any) -> UserProgress:
        progress = locked(*args, **kwargs)
        if meanwhile is not None:
            meanwhile(progress)
        clock.advance(wait)
        return progress

    monkeypatch.setattr(service, "_locked_progress", waited)
