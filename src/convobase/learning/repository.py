"""All SQL of the learning domain.

The catalog's tables (courses and what belongs to them) are nobody's: every caller
reads them and the service decides what each may see. The learners' tables are
user-owned, and every statement run for a caller is scoped to their rows.
"""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, func, null, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from convobase.core.principal import Principal
from convobase.db.keyset import seek
from convobase.db.ownership import owner_parameters, scope_of, scoped, visible
from convobase.learning.models import (
    Assessment,
    AssessmentAttempt,
    AssessmentVersion,
    AttemptAnswer,
    AttemptStatus,
    Course,
    CoursePrerequisite,
    CourseSection,
    CourseTag,
    SectionCompletion,
    UserProgress,
)

# The catalog

_COURSE_CHILDREN = (
    selectinload(Course.tags),
    selectinload(Course.prerequisites),
    selectinload(Course.sections),
)


def get_course(
    session: Session, course_id: uuid.UUID, *, active_only: bool, for_update: bool = False
) -> Course | None:
    """A course with its tags, prerequisites and sections."""
    statement = select(Course).where(Course.id == course_id).options(*_COURSE_CHILDREN)
    if active_only:
        statement = statement.where(Course.is_active)
    if for_update:
        # FOR NO KEY UPDATE on PostgreSQL: the foreign keys of rows that refer to the
        # course (prerequisites, progress) take KEY SHARE locks, which this lets through.
        statement = statement.with_for_update(key_share=True)
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


# Any fixed number, the same in every process: the advisory lock's name.
_PREREQUISITE_GRAPH_LOCK = 0x70726571


def lock_prerequisite_graph(session: Session) -> None:
    """Wait for, and hold until the transaction ends, the right to change prerequisites.

    A change is checked for a cycle against the graph as it is read; two changes side
    by side could each pass and close a cycle together. SQLite has one writer at a
    time already; PostgreSQL takes a transaction-level advisory lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_PREREQUISITE_GRAPH_LOCK)))


def course_by_key(session: Session, key: str) -> Course | None:
    statement = select(Course).where(Course.key == key).options(*_COURSE_CHILDREN)
    return session.scalars(statement).one_or_none()


def title_taken(
    session: Session, level: str, title: str, *, other_than: uuid.UUID | None = None
) -> bool:
    statement = select(Course.id).where(Course.level == level, Course.title == title)
    if other_than is not None:
        statement = statement.where(Course.id != other_than)
    return session.scalar(statement.limit(1)) is not None


def key_taken(session: Session, key: str) -> bool:
    return session.scalar(select(Course.id).where(Course.key == key)) is not None


def courses_named(session: Session, course_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The titles of those of `course_ids` that are courses."""
    rows = session.execute(select(Course.id, Course.title).where(Course.id.in_(course_ids)))
    return {course_id: title for course_id, title in rows}


def prerequisite_edges(session: Session) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Every edge of the prerequisite graph: (course, a course it requires)."""
    rows = session.execute(select(CoursePrerequisite.course_id, CoursePrerequisite.prerequisite_id))
    return [(course_id, prerequisite_id) for course_id, prerequisite_id in rows]


def list_courses(
    session: Session,
    *,
    active_only: bool,
    level: str | None,
    tags: Collection[str],
    after: tuple[str, uuid.UUID] | None,
    limit: int,
) -> Sequence[Course]:
    """Courses by title, of one level and carrying every one of `tags` if given.

    Each tag is a lookup in `ix_course_tags_tag_course_id` on either database.
    """
    statement = select(Course).options(
        selectinload(Course.tags), selectinload(Course.prerequisites)
    )
    if active_only:
        statement = statement.where(Course.is_active)
    if level is not None:
        statement = statement.where(Course.level == level)
    for tag in tags:
        tagged = select(CourseTag.course_id).where(CourseTag.tag == tag)
        statement = statement.where(Course.id.in_(tagged))
    return session.scalars(seek(statement, (Course.title, Course.id), after).limit(limit)).all()


def add(session: Session, row: Course | Assessment | AssessmentVersion) -> None:
    if isinstance(row, Assessment) and row.max_attempts is None:
        # The ORM lets a column's default fire for None: NULL is "no limit" here.
        row.max_attempts = null()
    session.add(row)
    session.flush()


def delete_unless_referenced(session: Session, course: Course) -> bool:
    """Delete `course` with its assessments, unless anything refers to them (a
    learner's progress or attempts, another course's prerequisites): then change
    nothing and answer False. The foreign keys decide, whoever's rows refer."""
    try:
        with session.begin_nested():
            for assessment in session.scalars(
                select(Assessment).where(Assessment.course_id == course.id)
            ):
                session.delete(assessment)
            session.flush()
            session.delete(course)
            session.flush()
    except IntegrityError:
        session.expire(course)
        return False
    return True


def assessments_of(
    session: Session, course_ids: Collection[uuid.UUID], *, active_only: bool
) -> Sequence[Assessment]:
    """The assessments of these courses, by title."""
    statement = select(Assessment).where(Assessment.course_id.in_(course_ids))
    if active_only:
        statement = statement.where(Assessment.is_active)
    return session.scalars(statement.order_by(Assessment.title, Assessment.id)).all()


def get_assessment(
    session: Session, assessment_id: uuid.UUID, *, active_only: bool, for_update: bool = False
) -> Assessment | None:
    """An assessment; with `active_only`, only an active one of an active course."""
    statement = select(Assessment).where(Assessment.id == assessment_id)
    if active_only:
        active_course = select(Course.id).where(Course.id == Assessment.course_id, Course.is_active)
        statement = statement.where(Assessment.is_active, active_course.exists())
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


def assessment_by_key(session: Session, course_id: uuid.UUID, key: str) -> Assessment | None:
    statement = select(Assessment).where(Assessment.course_id == course_id, Assessment.key == key)
    return session.scalars(statement).one_or_none()


def assessment_version(
    session: Session, assessment_id: uuid.UUID, version: int
) -> AssessmentVersion | None:
    return session.get(AssessmentVersion, (assessment_id, version))


def section_count(session: Session, course_id: uuid.UUID) -> int:
    statement = select(func.count()).where(
        CourseSection.course_id == course_id, CourseSection.is_active
    )
    return session.scalar(statement) or 0


# Learners: progress and attempts
#
# Every statement here runs for a caller and reaches only their rows (`scoped`,
# `visible`), every row with `staff=True` where the service grants it.


def missing_prerequisites(
    session: Session, principal: Principal, course_ids: Collection[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(course, prerequisite) for each active prerequisite of `course_ids` that the
    caller has not completed, in that order."""
    if not course_ids:
        return []
    done = (
        select(UserProgress.id)
        .where(
            UserProgress.course_id == CoursePrerequisite.prerequisite_id,
            UserProgress.completed_at.is_not(None),
            visible(UserProgress, scope_of(principal)),
        )
        .exists()
    )
    statement = (
        select(CoursePrerequisite.course_id, CoursePrerequisite.prerequisite_id)
        .join(Course, Course.id == CoursePrerequisite.prerequisite_id)
        .where(CoursePrerequisite.course_id.in_(course_ids), Course.is_active, ~done)
        .order_by(CoursePrerequisite.course_id, CoursePrerequisite.prerequisite_id)
    )
    rows = session.execute(statement, owner_parameters(principal))
    return [(course_id, prerequisite_id) for course_id, prerequisite_id in rows]


def _insert(session: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT on both databases."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def ensure_progress(session: Session, row: dict[str, Any]) -> bool:
    """Insert the progress row `row` (its columns) unless its user has one for its
    course, which another transaction may be inserting (it is waited for); whether
    it was inserted."""
    statement = (
        _insert(session)(UserProgress)
        .values(row)
        .on_conflict_do_nothing(index_elements=["user_id", "course_id"])
        .returning(UserProgress.id)
    )
    return session.scalar(statement) is not None


def progress(
    session: Session,
    principal: Principal,
    course_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> UserProgress | None:
    """The caller's progress through a course; `for_update` locks it until the
    transaction ends, which is what a learner's writes to one course queue on."""
    statement = scoped(select(UserProgress), UserProgress, principal).where(
        UserProgress.course_id == course_id
    )
    if for_update:
        statement = statement.with_for_update(key_share=True)
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


def progress_rows(
    session: Session,
    principal: Principal,
    *,
    user_id: uuid.UUID | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int | None = None,
    staff: bool = False,
) -> Sequence[UserProgress]:
    """The caller's progress rows (staff's: `user_id`'s), the last studied first."""
    statement = scoped(select(UserProgress), UserProgress, principal, staff=staff)
    if user_id is not None:
        statement = statement.where(UserProgress.user_id == user_id)
    statement = seek(
        statement, (UserProgress.last_accessed, UserProgress.id), after, descending=True
    )
    if limit is not None:
        statement = statement.limit(limit)
    return session.scalars(statement).all()


def progress_of_course(
    session: Session,
    principal: Principal,
    course_id: uuid.UUID,
    *,
    after: uuid.UUID | None = None,
    limit: int | None = None,
    staff: bool = False,
) -> Sequence[UserProgress]:
    """The progress rows through a course the caller reaches, by id after `after`
    (at most `limit`), locked."""
    statement = scoped(select(UserProgress), UserProgress, principal, staff=staff)
    statement = statement.where(UserProgress.course_id == course_id)
    if after is not None:
        statement = statement.where(UserProgress.id > after)
    statement = statement.order_by(UserProgress.id)
    if limit is not None:
        statement = statement.limit(limit)
    return session.scalars(statement.with_for_update(key_share=True)).all()


class DashboardRow(NamedTuple):
    """A learner's progress through one course, with what the dashboard shows of the
    course and of the next step."""

    progress: UserProgress
    course_key: str
    course_title: str
    course_level: str
    course_thumbnail_url: str | None
    course_is_active: bool
    section_position: int | None
    section_title: str | None
    assessment_title: str | None


def dashboard(
    session: Session,
    principal: Principal,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[DashboardRow]:
    """The caller's courses with their progress and next step, the last studied first:
    one statement, which reads `ix_user_progress_user_id_last_accessed` and joins each
    row's course, next section and next assessment by primary key."""
    # One row of nine columns: typed as any select, which is what `seek` takes.
    statement: Select[Any] = cast(
        "Select[Any]",
        select(
            UserProgress,
            Course.key,
            Course.title,
            Course.level,
            Course.thumbnail_url,
            Course.is_active,
            CourseSection.position,
            CourseSection.title,
            Assessment.title,
        )
        .join(Course, Course.id == UserProgress.course_id)
        .outerjoin(CourseSection, CourseSection.id == UserProgress.current_section_id)
        .outerjoin(Assessment, Assessment.id == UserProgress.next_assessment_id)
        .where(visible(UserProgress, scope_of(principal))),
    )
    statement = seek(
        statement, (UserProgress.last_accessed, UserProgress.id), after, descending=True
    )
    rows = session.execute(statement.limit(limit), owner_parameters(principal))
    return [DashboardRow(*row) for row in rows]


class Outline(NamedTuple):
    """What a course asks of a learner, in order: its active sections by position and
    its active assessments by title."""

    sections: list[tuple[uuid.UUID, int, str]]
    assessments: list[tuple[uuid.UUID, str]]


def outline(session: Session, course_id: uuid.UUID) -> Outline:
    """The active sections and assessments of a course, in order."""
    sections = session.execute(
        select(CourseSection.id, CourseSection.position, CourseSection.title)
        .where(CourseSection.course_id == course_id, CourseSection.is_active)
        .order_by(CourseSection.position, CourseSection.id)
    )
    assessments = session.execute(
        select(Assessment.id, Assessment.title)
        .where(Assessment.course_id == course_id, Assessment.is_active)
        .order_by(Assessment.title, Assessment.id)
    )
    return Outline(
        [(section_id, position or 0, title) for section_id, position, title in sections],
        [(assessment_id, title) for assessment_id, title in assessments],
    )


def section_of(session: Session, course_id: uuid.UUID, section_id: uuid.UUID) -> bool:
    """Whether `section_id` is an active section of the course."""
    statement = select(CourseSection.id).where(
        CourseSection.id == section_id,
        CourseSection.course_id == course_id,
        CourseSection.is_active,
    )
    return session.scalar(statement) is not None


def course_is_active(session: Session, course_id: uuid.UUID) -> bool | None:
    """Whether the course is active; None when there is no such course."""
    return session.scalar(select(Course.is_active).where(Course.id == course_id))


def sections_named(
    session: Session, section_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[int | None, str]]:
    """The position and title of each of `section_ids`."""
    if not section_ids:
        return {}
    rows = session.execute(
        select(CourseSection.id, CourseSection.position, CourseSection.title).where(
            CourseSection.id.in_(section_ids)
        )
    )
    return {section_id: (position, title) for section_id, position, title in rows}


def assessments_named(
    session: Session, assessment_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The title of each of `assessment_ids`."""
    if not assessment_ids:
        return {}
    rows = session.execute(
        select(Assessment.id, Assessment.title).where(Assessment.id.in_(assessment_ids))
    )
    return {assessment_id: title for assessment_id, title in rows}


def completed_sections(
    session: Session,
    principal: Principal,
    course_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None = None,
    staff: bool = False,
) -> dict[uuid.UUID, datetime]:
    """The sections of a course the caller (staff: `user_id`) completed, and when."""
    statement = select(SectionCompletion.section_id, SectionCompletion.completed_at).where(
        SectionCompletion.course_id == course_id,
        visible(SectionCompletion, scope_of(principal, staff=staff)),
    )
    if user_id is not None:
        statement = statement.where(SectionCompletion.user_id == user_id)
    rows = session.execute(statement, owner_parameters(principal))
    return {section_id: at for section_id, at in rows}


def completions_of(
    session: Session,
    principal: Principal,
    course_id: uuid.UUID,
    user_ids: Collection[uuid.UUID],
    *,
    staff: bool = False,
) -> dict[uuid.UUID, set[uuid.UUID]]:
    """The sections of a course each of `user_ids` completed (the caller's rows; staff's:
    everyone's), in one statement."""
    completed: dict[uuid.UUID, set[uuid.UUID]] = {user_id: set() for user_id in user_ids}
    if not user_ids:
        return completed
    statement = select(SectionCompletion.user_id, SectionCompletion.section_id).where(
        SectionCompletion.course_id == course_id,
        SectionCompletion.user_id.in_(list(user_ids)),
        visible(SectionCompletion, scope_of(principal, staff=staff)),
    )
    for user_id, section_id in session.execute(statement, owner_parameters(principal)):
        completed[user_id].add(section_id)
    return completed


def add_completion(session: Session, row: dict[str, Any]) -> None:
    """Record a section's completion (a dict of its columns) unless it is recorded."""
    statement = (
        _insert(session)(SectionCompletion)
        .values(row)
        .on_conflict_do_nothing(index_elements=["user_id", "section_id"])
    )
    session.execute(statement)


def all_completions(session: Session, principal: Principal) -> Sequence[SectionCompletion]:
    """Every section the caller completed, oldest first."""
    statement = scoped(select(SectionCompletion), SectionCompletion, principal)
    order = (SectionCompletion.completed_at, SectionCompletion.id)
    return session.scalars(statement.order_by(*order)).all()


def attempt(
    session: Session,
    principal: Principal,
    attempt_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> AssessmentAttempt | None:
    """One of the caller's attempts; `for_update` locks it: saving an answer, the
    submit and the deadline queue on it."""
    statement = scoped(select(AssessmentAttempt), AssessmentAttempt, principal).where(
        AssessmentAttempt.id == attempt_id
    )
    if for_update:
        statement = statement.with_for_update(key_share=True)
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


def attempt_by_client_id(
    session: Session, principal: Principal, client_attempt_id: str
) -> AssessmentAttempt | None:
    """The caller's attempt started with the client's key `client_attempt_id`."""
    statement = scoped(select(AssessmentAttempt), AssessmentAttempt, principal).where(
        AssessmentAttempt.client_attempt_id == client_attempt_id
    )
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


def attempt_count(session: Session, principal: Principal, assessment_id: uuid.UUID) -> int:
    """How many attempts at an assessment the caller started."""
    statement = scoped(
        select(func.count()).select_from(AssessmentAttempt), AssessmentAttempt, principal
    ).where(AssessmentAttempt.assessment_id == assessment_id)
    return session.scalar(statement) or 0


def add_attempt(session: Session, row: AssessmentAttempt) -> None:
    session.add(row)
    session.flush()


def attempts_of(
    session: Session,
    principal: Principal,
    assessment_id: uuid.UUID,
    *,
    before: int | None,
    limit: int,
) -> Sequence[AssessmentAttempt]:
    """The caller's attempts at an assessment, the latest first, numbered below
    `before` if given."""
    statement = scoped(select(AssessmentAttempt), AssessmentAttempt, principal).where(
        AssessmentAttempt.assessment_id == assessment_id
    )
    after = None if before is None else (before,)
    statement = seek(statement, (AssessmentAttempt.attempt_number,), after, descending=True)
    return session.scalars(statement.limit(limit)).all()


def user_attempts(
    session: Session,
    principal: Principal,
    *,
    user_id: uuid.UUID | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int | None = None,
    staff: bool = False,
) -> Sequence[AssessmentAttempt]:
    """The caller's attempts (staff's: `user_id`'s), the latest started first."""
    statement = scoped(select(AssessmentAttempt), AssessmentAttempt, principal, staff=staff)
    if user_id is not None:
        statement = statement.where(AssessmentAttempt.user_id == user_id)
    key = (AssessmentAttempt.started_at, AssessmentAttempt.id)
    statement = seek(statement, key, after, descending=True)
    if limit is not None:
        statement = statement.limit(limit)
    return session.scalars(statement).all()


def graded_scores(
    session: Session, principal: Principal, assessment_id: uuid.UUID
) -> list[Decimal]:
    """The scores of the caller's graded attempts at an assessment, in the order they
    were submitted (graded)."""
    statement = (
        scoped(select(AssessmentAttempt.score), AssessmentAttempt, principal)
        .where(
            AssessmentAttempt.assessment_id == assessment_id,
            AssessmentAttempt.status == AttemptStatus.SUBMITTED.value,
        )
        .order_by(AssessmentAttempt.submitted_at, AssessmentAttempt.id)
    )
    return [score for score in session.scalars(statement) if score is not None]


class AttemptTally(NamedTuple):
    """One learner's attempts at one assessment: how many were started, and the scores
    of the graded ones in the order they were submitted."""

    started: int
    scores: list[Decimal]


def attempt_tallies(
    session: Session,
    principal: Principal,
    course_id: uuid.UUID,
    user_ids: Collection[uuid.UUID],
    *,
    staff: bool = False,
) -> dict[uuid.UUID, dict[uuid.UUID, AttemptTally]]:
    """Per learner of `user_ids` and assessment of the course, their attempts (the
    caller's rows; staff's: everyone's), in one statement."""
    tallies: dict[uuid.UUID, dict[uuid.UUID, AttemptTally]] = {user_id: {} for user_id in user_ids}
    if not user_ids:
        return tallies
    statement = (
        select(
            AssessmentAttempt.user_id,
            AssessmentAttempt.assessment_id,
            AssessmentAttempt.status,
            AssessmentAttempt.score,
        )
        .where(
            AssessmentAttempt.course_id == course_id,
            AssessmentAttempt.user_id.in_(list(user_ids)),
            visible(AssessmentAttempt, scope_of(principal, staff=staff)),
        )
        .order_by(AssessmentAttempt.submitted_at, AssessmentAttempt.id)
    )
    rows = session.execute(statement, owner_parameters(principal))
    for user_id, assessment_id, status, score in rows:
        tally = tallies[user_id].setdefault(assessment_id, AttemptTally(0, []))
        if status == AttemptStatus.SUBMITTED.value and score is not None:
            tally.scores.append(score)
        tallies[user_id][assessment_id] = tally._replace(started=tally.started + 1)
    return tallies


def overdue_attempts(
    session: Session,
    principal: Principal,
    *,
    now: datetime,
    limit: int,
    skip: Collection[uuid.UUID] = (),
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(attempt, its user) for every user's attempts in progress whose deadline has
    passed, the earliest deadline first (`ix_assessment_attempts_overdue`), but for
    the attempts `skip`."""
    statement = (
        select(AssessmentAttempt.id, AssessmentAttempt.user_id)
        .where(
            visible(AssessmentAttempt, scope_of(principal, staff=True)),
            AssessmentAttempt.status == AttemptStatus.IN_PROGRESS.value,
            AssessmentAttempt.deadline_at <= now,
        )
        .order_by(AssessmentAttempt.deadline_at, AssessmentAttempt.id)
        .limit(limit)
    )
    if skip:
        statement = statement.where(AssessmentAttempt.id.not_in(list(skip)))
    rows = session.execute(statement, owner_parameters(principal))
    return [(attempt_id, user_id) for attempt_id, user_id in rows]


def answers_of(
    session: Session, principal: Principal, attempt_ids: Collection[uuid.UUID]
) -> Sequence[AttemptAnswer]:
    """The answers saved to the caller's attempts `attempt_ids`."""
    if not attempt_ids:
        return []
    statement = scoped(select(AttemptAnswer), AttemptAnswer, principal).where(
        AttemptAnswer.attempt_id.in_(attempt_ids)
    )
    order = (AttemptAnswer.attempt_id, AttemptAnswer.question_id)
    return session.scalars(statement.order_by(*order)).all()


def all_answers(session: Session, principal: Principal) -> Sequence[AttemptAnswer]:
    """Every answer the caller saved, by attempt and question."""
    statement = scoped(select(AttemptAnswer), AttemptAnswer, principal)
    order = (AttemptAnswer.attempt_id, AttemptAnswer.question_id)
    return session.scalars(statement.order_by(*order)).all()


def save_answer(session: Session, row: dict[str, Any]) -> None:
    """Write an answer (a dict of `attempt_answers` columns) over the one saved to
    its question of its attempt, if any."""
    insert = _insert(session)(AttemptAnswer).values(row)
    statement = insert.on_conflict_do_update(
        index_elements=["attempt_id", "question_id"],
        set_={"answer": insert.excluded.answer, "saved_at": insert.excluded.saved_at},
    )
    session.execute(statement)


def save(session: Session) -> None:
    """Write the changes made to loaded rows."""
    session.flush()


# Content files


def course_ids_by_key(session: Session, keys: Collection[str]) -> dict[str, uuid.UUID]:
    """The ids of those of `keys` that are keys of courses."""
    if not keys:
        return {}
    rows = session.execute(select(Course.key, Course.id).where(Course.key.in_(keys)))
    return {key: course_id for key, course_id in rows}


def course_keys(session: Session, course_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The keys of those of `course_ids` that are courses."""
    if not course_ids:
        return {}
    rows = session.execute(select(Course.id, Course.key).where(Course.id.in_(course_ids)))
    return {course_id: key for course_id, key in rows}


def prerequisite_key_edges(session: Session) -> list[tuple[str, str]]:
    """Every edge of the prerequisite graph by course key: (course, a course it requires)."""
    course = select(Course.key).where(Course.id == CoursePrerequisite.course_id)
    prerequisite = select(Course.key).where(Course.id == CoursePrerequisite.prerequisite_id)
    statement = select(course.scalar_subquery(), prerequisite.scalar_subquery()).select_from(
        CoursePrerequisite
    )
    return [(key, prerequisite_key) for key, prerequisite_key in session.execute(statement)]


def courses_by_key(session: Session, keys: Collection[str] | None) -> Sequence[Course]:
    """The courses of `keys` (every course if None), active or not, with their tags,
    prerequisites and sections, by key."""
    statement = select(Course).options(*_COURSE_CHILDREN)
    if keys is not None:
        statement = statement.where(Course.key.in_(keys))
    return session.scalars(statement.order_by(Course.key)).all()
