"""The rules of learning: the catalog staff manage and learners browse, and each
learner's progress through it."""

import json
import threading
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from graphlib import CycleError, TopologicalSorter
from typing import Any, Final, Literal

from pydantic import BaseModel
from sqlalchemy.orm import Session

from convobase.core.content_files import ContentInvalid, ContentProblem
from convobase.core.errors import ConvobaseError, Forbidden
from convobase.core.ids import new_id
from convobase.core.pagination import (
    DEFAULT_PAGE_SIZE,
    Page,
    cursor_uuid,
    decode_cursor,
    paginate,
    paginate_by_time,
    time_position,
)
from convobase.core.principal import Principal, require_staff
from convobase.core.time import utc_now
from convobase.jobs import service as job_service
from convobase.learning import content, questions, repository
from convobase.learning.errors import (
    AnswerInvalid,
    AssessmentKeyTaken,
    AssessmentNotFound,
    AttemptClosed,
    AttemptLimitReached,
    AttemptNotFound,
    AttemptTimeUp,
    ClientAttemptIdReused,
    CourseKeyTaken,
    CourseNotFound,
    CourseTitleTaken,
    PrerequisiteCycle,
    PrerequisiteNotFound,
    PrerequisitesMissing,
    QuestionNotInAttempt,
    QuestionsInvalid,
    SectionNotFound,
)
from convobase.learning.models import (
    MAX_ATTEMPT_NUMBER,
    MAX_STORED_TEST_SCORES,
    MAX_STUDY_MINUTES,
    Assessment,
    AssessmentAttempt,
    AssessmentVersion,
    AttemptCloser,
    AttemptStatus,
    Course,
    CourseLevel,
    CoursePrerequisite,
    CourseSection,
    CourseTag,
    UserProgress,
)
from convobase.learning.schemas import (
    AssessmentCreate,
    AssessmentRead,
    AssessmentRef,
    AssessmentScores,
    AssessmentStaffRead,
    AssessmentSummary,
    AssessmentUpdate,
    AttemptDetail,
    AttemptExport,
    AttemptRead,
    CourseCreate,
    CourseDetail,
    CourseProgressRead,
    CourseRead,
    CourseRef,
    CourseUpdate,
    LearningExport,
    NextStep,
    NextStepKind,
    ProgressExport,
    ProgressRead,
    SavedAnswerRead,
    SectionCompletionExport,
    SectionCompletionRead,
    SectionRead,
    SectionRef,
    SectionWrite,
    StudyTimeRead,
)
from convobase.reviews import service as review_service
from convobase.reviews.schemas import SOURCE_ASSESSMENT_QUESTION, NewCard

# The catalog

_MANAGE = "manage the course catalog"
# Queued when a course's sections or assessments change: every learner's completion
# is derived again, in the background (learning/tasks.py).
REFRESH_PROGRESS_TASK = "learning.refresh_course_progress"


def list_courses(
    session: Session,
    principal: Principal | None,
    *,
    level: str | None = None,
    tags: Collection[str] = (),
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[CourseRead]:
    """Active courses by title, of one level and with every one of `tags` if given."""
    return _list_courses(
        session, principal, active_only=True, level=level, tags=tags, cursor=cursor, limit=limit
    )


def list_all_courses(
    session: Session,
    principal: Principal,
    *,
    level: str | None = None,
    tags: Collection[str] = (),
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[CourseRead]:
    """Every course by title, inactive and archived ones too (staff)."""
    require_staff(principal, _MANAGE)
    return _list_courses(
        session, principal, active_only=False, level=level, tags=tags, cursor=cursor, limit=limit
    )


def _list_courses(
    session: Session,
    principal: Principal | None,
    *,
    active_only: bool,
    level: str | None,
    tags: Collection[str],
    cursor: str | None,
    limit: int,
) -> Page[CourseRead]:
    after = None
    if cursor is not None:
        title, course_id = decode_cursor(cursor, str, str)
        after = (title, cursor_uuid(course_id))
    rows = repository.list_courses(
        session, active_only=active_only, level=level, tags=tags, after=after, limit=limit + 1
    )
    page = paginate(rows, limit, lambda last: (last.title, str(last.id)))
    missing = _missing_prerequisites(session, principal, page.items)
    return Page(
        [_course_read(course, missing.get(course.id, [])) for course in page.items],
        page.next_cursor,
    )


def get_course(session: Session, principal: Principal | None, course_id: uuid.UUID) -> CourseDetail:
    """A course with its sections and active assessments: active courses to everyone,
    inactive and archived ones to staff too."""
    staff = principal is not None and principal.is_staff
    course = repository.get_course(session, course_id, active_only=not staff)
    if course is None:
        raise CourseNotFound
    return _course_detail(session, principal, course)


def create_course(session: Session, principal: Principal, *, data: CourseCreate) -> CourseDetail:
    """Add a course to the catalog (staff)."""
    require_staff(principal, _MANAGE)
    course_id = new_id()
    key = data.key or f"course-{course_id.hex[:12]}"
    if repository.key_taken(session, key):
        raise CourseKeyTaken
    if repository.title_taken(session, data.level, data.title):
        raise CourseTitleTaken
    if data.prerequisites:
        repository.lock_prerequisite_graph(session)
    _check_prerequisites(session, course_id, data.prerequisites)
    course = Course(
        id=course_id,
        key=key,
        **data.model_dump(include=_COURSE_FIELDS),
        is_active=data.is_active,
        tags=[CourseTag(tag=tag) for tag in sorted(data.tags)],
        prerequisites=[
            CoursePrerequisite(prerequisite_id=prerequisite) for prerequisite in data.prerequisites
        ],
        sections=[],
    )
    repository.add(session, course)
    _replace_sections(course, data.sections)
    session.flush()
    return _course_detail(session, principal, course)


def update_course(
    session: Session, principal: Principal, course_id: uuid.UUID, *, data: CourseUpdate
) -> CourseDetail:
    """Change a course (staff); lists given replace the course's."""
    require_staff(principal, _MANAGE)
    if data.prerequisites is not None:
        repository.lock_prerequisite_graph(session)
    course = repository.get_course(session, course_id, active_only=False, for_update=True)
    if course is None:
        raise CourseNotFound
    changes = data.model_dump(include=_COURSE_FIELDS, exclude_unset=True)
    level, title = changes.get("level", course.level), changes.get("title", course.title)
    if (level, title) != (course.level, course.title) and repository.title_taken(
        session, level, title, other_than=course.id
    ):
        raise CourseTitleTaken
    for field, value in changes.items():
        if value is not None or field in _NULLABLE_COURSE_FIELDS:
            setattr(course, field, value)
    if data.is_active is not None:
        course.is_active = data.is_active
        course.archived_at = None if data.is_active else course.archived_at
    if data.prerequisites is not None:
        _check_prerequisites(session, course.id, data.prerequisites)
        course.prerequisites = [
            CoursePrerequisite(course_id=course.id, prerequisite_id=prerequisite)
            for prerequisite in data.prerequisites
        ]
    if data.tags is not None:
        course.tags = [CourseTag(course_id=course.id, tag=tag) for tag in sorted(data.tags)]
    if data.sections is not None:
        _replace_sections(course, data.sections)
        _queue_progress_refresh(session, course.id)
    course.updated_at = utc_now()
    session.flush()
    return _course_detail(session, principal, course)


def delete_course(
    session: Session, principal: Principal, course_id: uuid.UUID
) -> CourseDetail | None:
    """Delete a course nobody studied or requires (staff); one that learners studied,
    or other courses require, is archived instead and returned."""
    require_staff(principal, _MANAGE)
    course = repository.get_course(session, course_id, active_only=False, for_update=True)
    if course is None:
        raise CourseNotFound
    if repository.delete_unless_referenced(session, course):
        return None
    course = repository.get_course(session, course_id, active_only=False)
    if course is None:  # the same transaction holds its lock: never
        raise CourseNotFound
    course.is_active = False
    course.archived_at = course.archived_at or utc_now()
    session.flush()
    return _course_detail(session, principal, course)


_COURSE_FIELDS = {
    "title",
    "description",
    "level",
    "content_path",
    "video_url",
    "thumbnail_url",
    "duration_minutes",
}
# Fields a caller clears by sending null.
_NULLABLE_COURSE_FIELDS = {
    "description",
    "content_path",
    "video_url",
    "thumbnail_url",
    "duration_minutes",
}


def _queue_progress_refresh(session: Session, course_id: uuid.UUID) -> None:
    """Derive every learner's progress through the course again once this commits: what
    completing it takes has changed. One refresh queued per course at a time."""
    job_service.enqueue(
        session,
        REFRESH_PROGRESS_TASK,
        {"course_id": str(course_id)},
        dedup_key=f"{REFRESH_PROGRESS_TASK}:{course_id}",
    )


def _check_prerequisites(
    session: Session, course_id: uuid.UUID, prerequisites: Sequence[uuid.UUID]
) -> None:
    """Refuse prerequisites that are not courses, or that would close a cycle."""
    if course_id in prerequisites:
        title = repository.courses_named(session, [course_id]).get(course_id, "this course")
        raise PrerequisiteCycle([(course_id, title), (course_id, title)])
    titles = repository.courses_named(session, prerequisites)
    if missing := [prerequisite for prerequisite in prerequisites if prerequisite not in titles]:
        raise PrerequisiteNotFound(missing)
    requires: defaultdict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for course, prerequisite in repository.prerequisite_edges(session):
        if course != course_id:
            requires[course].add(prerequisite)
    requires[course_id] = set(prerequisites)
    # Only what the course would require, directly or not, can close a cycle through it.
    reachable, pending = {course_id}, [course_id]
    while pending:
        for prerequisite in requires.get(pending.pop(), ()):
            if prerequisite not in reachable:
                reachable.add(prerequisite)
                pending.append(prerequisite)
    try:
        TopologicalSorter({course: requires.get(course, set()) for course in reachable}).prepare()
    except CycleError as error:
        # Each node of the cycle is a prerequisite of the next: read backwards, each
        # course requires the next.
        cycle: list[uuid.UUID] = list(reversed(error.args[1]))
        names = repository.courses_named(session, cycle)
        raise PrerequisiteCycle(
            [(node, names.get(node, "this course")) for node in cycle]
        ) from None


def _replace_sections(course: Course, sections: Sequence[SectionWrite]) -> None:
    """Make `sections` the course's, in order. A kept key keeps its row (and the
    completions learners recorded on it); a section no longer listed is withdrawn,
    never deleted, and comes back if its key is listed again."""
    existing = {section.key: section for section in course.sections}
    for position, data in enumerate(sections, start=1):
        section = existing.pop(data.key, None)
        if section is None:
            section = CourseSection(id=new_id(), course_id=course.id, key=data.key)
            course.sections.append(section)
        section.title = data.title
        section.content_path = data.content_path
        section.duration_minutes = data.duration_minutes
        section.position = position
        section.is_active = True
    for withdrawn in existing.values():
        withdrawn.is_active = False
        withdrawn.position = None


def _course_read(course: Course, missing: Sequence[uuid.UUID]) -> CourseRead:
    return CourseRead.model_validate(
        {
            **_course_columns(course),
            "prerequisites": [edge.prerequisite_id for edge in course.prerequisites],
            "tags": [tag.tag for tag in course.tags],
            "missing_prerequisites": list(missing),
        }
    )


def _course_detail(session: Session, principal: Principal | None, course: Course) -> CourseDetail:
    missing = _missing_prerequisites(session, principal, [course])
    staff = principal is not None and principal.is_staff
    assessments = repository.assessments_of(session, [course.id], active_only=not staff)
    sections = sorted(
        (section for section in course.sections if section.is_active),
        key=lambda section: section.position or 0,
    )
    return CourseDetail.model_validate(
        {
            **_course_read(course, missing.get(course.id, [])).model_dump(),
            "sections": [SectionRead.model_validate(section) for section in sections],
            "assessments": [_assessment_summary(assessment) for assessment in assessments],
        }
    )


def _course_columns(course: Course) -> dict[str, Any]:
    return {
        "id": course.id,
        "key": course.key,
        "title": course.title,
        "description": course.description,
        "level": course.level,
        "content_path": course.content_path,
        "video_url": course.video_url,
        "thumbnail_url": course.thumbnail_url,
        "duration_minutes": course.duration_minutes,
        "is_active": course.is_active,
        "archived_at": course.archived_at,
        "created_at": course.created_at,
        "updated_at": course.updated_at,
    }


def _missing_prerequisites(
    session: Session, principal: Principal | None, courses: Sequence[Course]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """For a signed-in learner, the prerequisites of each course they have not
    completed; nothing for anyone else."""
    if principal is None or principal.is_staff or principal.is_guest:
        return {}
    if not any(course.prerequisites for course in courses):
        return {}
    return missing_prerequisites(session, principal, [course.id for course in courses])


# Assessments


def create_assessment(
    session: Session, principal: Principal, *, data: AssessmentCreate
) -> AssessmentStaffRead:
    """Add an assessment to a course (staff): its questions and scoring are checked
    against the published formats."""
    require_staff(principal, _MANAGE)
    if repository.get_course(session, data.course_id, active_only=False) is None:
        raise CourseNotFound
    _check_documents(data.questions, data.scoring_config)
    assessment_id = new_id()
    key = data.key or f"assessment-{assessment_id.hex[:12]}"
    if repository.assessment_by_key(session, data.course_id, key) is not None:
        raise AssessmentKeyTaken
    assessment = Assessment(
        id=assessment_id,
        key=key,
        **data.model_dump(exclude={"key"}),
        version=1,
    )
    repository.add(session, assessment)
    repository.add(session, _version_of(assessment))
    _queue_progress_refresh(session, assessment.course_id)
    return _assessment_staff_read(assessment)


def update_assessment(
    session: Session, principal: Principal, assessment_id: uuid.UUID, *, data: AssessmentUpdate
) -> AssessmentStaffRead:
    """Change an assessment (staff). A change to what grading reads makes a new
    version; attempts already started keep theirs."""
    require_staff(principal, _MANAGE)
    assessment = repository.get_assessment(
        session, assessment_id, active_only=False, for_update=True
    )
    if assessment is None:
        raise AssessmentNotFound
    given = data.model_fields_set
    questions_document = assessment.questions if data.questions is None else data.questions
    scoring_document = (
        assessment.scoring_config if data.scoring_config is None else data.scoring_config
    )
    if data.questions is not None or data.scoring_config is not None:
        _check_documents(questions_document, scoring_document)
    graded_before = _graded(assessment)
    progress_before = _progress_inputs(assessment)
    for field in ("title", "difficulty", "pass_threshold", "is_active"):
        if (value := getattr(data, field)) is not None:
            setattr(assessment, field, value)
    for field in ("description", "time_limit_minutes", "max_attempts"):
        if field in given:
            setattr(assessment, field, getattr(data, field))
    assessment.questions = questions_document
    assessment.scoring_config = scoring_document
    if _graded(assessment) != graded_before:
        assessment.version += 1
        repository.add(session, _version_of(assessment))
    if _progress_inputs(assessment) != progress_before:
        _queue_progress_refresh(session, assessment.course_id)
    assessment.updated_at = utc_now()
    session.flush()
    return _assessment_staff_read(assessment)


def deactivate_assessment(
    session: Session, principal: Principal, assessment_id: uuid.UUID
) -> AssessmentStaffRead:
    """Withdraw an assessment (staff): no new attempts start; past ones stay."""
    return update_assessment(
        session, principal, assessment_id, data=AssessmentUpdate(is_active=False)
    )


def get_assessment(
    session: Session, principal: Principal, assessment_id: uuid.UUID
) -> AssessmentRead:
    """An active assessment of an active course, as a learner sees it: its questions
    without answers, keys or scoring rules (none for a timed one, until an attempt)."""
    assessment = repository.get_assessment(session, assessment_id, active_only=True)
    if assessment is None:
        raise AssessmentNotFound
    shown: list[dict[str, Any]] = []
    # A timed assessment's questions are shown only in an attempt, whose clock runs: a
    # preview would give unlimited time to look the answers up.
    if assessment.time_limit_minutes is None:
        pinned = _pinned(session, assessment.id, assessment.version)
        shown = questions.learner_views(
            pinned.parsed, seed=str(assessment.id), scoring=pinned.scoring
        )
    return AssessmentRead.model_validate(
        {
            **_assessment_summary(assessment).model_dump(),
            "course_id": assessment.course_id,
            "questions": shown,
        }
    )


def get_assessment_for_staff(
    session: Session, principal: Principal, assessment_id: uuid.UUID
) -> AssessmentStaffRead:
    """An assessment with its answers and scoring, active or not (staff)."""
    require_staff(principal, _MANAGE)
    assessment = repository.get_assessment(session, assessment_id, active_only=False)
    if assessment is None:
        raise AssessmentNotFound
    return _assessment_staff_read(assessment)


def _check_documents(questions_document: Any, scoring_document: Any) -> None:
    """Refuse questions or a scoring configuration that do not follow the published
    formats, saying where each problem is."""
    try:
        questions.validate_assessment(questions_document, scoring_document)
    except questions.InvalidAssessment as error:
        raise QuestionsInvalid([(found.path, found.message) for found in error.errors]) from None


def _graded(assessment: Assessment) -> tuple[Any, ...]:
    """What grading reads: a change to any of it makes a new version."""
    return (
        assessment.questions,
        assessment.scoring_config,
        assessment.pass_threshold,
        assessment.time_limit_minutes,
    )


def _progress_inputs(assessment: Assessment) -> tuple[Any, ...]:
    """What learners' progress reads of an assessment: whether it counts, its place in
    the course (by title), and what makes its grade and `passed`."""
    return (
        assessment.is_active,
        assessment.title,
        assessment.pass_threshold,
        assessment.scoring_config,
        assessment.questions,
    )


def _version_of(assessment: Assessment) -> AssessmentVersion:
    return AssessmentVersion(
        assessment_id=assessment.id,
        version=assessment.version,
        questions=assessment.questions,
        scoring_config=assessment.scoring_config,
        pass_threshold=assessment.pass_threshold,
        time_limit_minutes=assessment.time_limit_minutes,
    )


def _assessment_summary(assessment: Assessment) -> AssessmentSummary:
    return AssessmentSummary.model_validate(
        {
            "id": assessment.id,
            "key": assessment.key,
            "title": assessment.title,
            "description": assessment.description,
            "difficulty": assessment.difficulty,
            "pass_threshold": assessment.pass_threshold,
            "time_limit_minutes": assessment.time_limit_minutes,
            "max_attempts": assessment.max_attempts,
            "question_count": len(assessment.questions),
            "version": assessment.version,
        }
    )


def _assessment_staff_read(assessment: Assessment) -> AssessmentStaffRead:
    return AssessmentStaffRead.model_validate(
        {
            **_assessment_summary(assessment).model_dump(),
            "course_id": assessment.course_id,
            "questions": assessment.questions,
            "scoring_config": assessment.scoring_config,
            "is_active": assessment.is_active,
            "created_at": assessment.created_at,
            "updated_at": assessment.updated_at,
        }
    )


# Content files


def import_content(
    session: Session,
    principal: Principal,
    *,
    files: Sequence[content.ContentFile],
    update_existing: bool = True,
) -> content.ImportReport:
    """Make the catalog match content files (staff): each course by key, created or
    updated, its prerequisites first; each assessment by key, a new version where what
    grading reads changed. A catalog that matches already is left as it is. With
    `update_existing` false, courses that exist are kept as they are (the seed)."""
    require_staff(principal, _MANAGE)
    entries = _content_entries(files)
    repository.lock_prerequisite_graph(session)  # the order below reads the whole graph
    ids = repository.course_ids_by_key(
        session,
        {
            key
            for entry in entries.values()
            for key in (entry.course.key, *entry.course.prerequisites)
        },
    )
    report = content.ImportReport(courses=[])
    for key in _content_order(session, entries, ids):
        report.courses.append(
            _import_course(session, principal, entries[key], ids, update_existing)
        )
    return report


def export_content(
    session: Session, principal: Principal, *, course_keys: Collection[str] | None = None
) -> content.ContentDocument:
    """The catalog's courses, or those of `course_keys`, active or not, with their
    sections and assessments, as a content file that imports to the same catalog (staff)."""
    require_staff(principal, _MANAGE)
    wanted = None if course_keys is None else set(course_keys)
    courses = repository.courses_by_key(session, wanted)
    if wanted is not None and (missing := sorted(wanted - {course.key for course in courses})):
        raise CourseNotFound(f"No course has the key {', '.join(missing)}.")
    if not courses:
        raise CourseNotFound("The catalog has no course to export.")
    keys = repository.course_keys(
        session, {edge.prerequisite_id for course in courses for edge in course.prerequisites}
    )
    assessments: defaultdict[uuid.UUID, list[Assessment]] = defaultdict(list)
    for assessment in repository.assessments_of(
        session, [course.id for course in courses], active_only=False
    ):
        assessments[assessment.course_id].append(assessment)
    return content.ContentDocument.model_validate(
        {
            "courses": [
                {
                    "key": course.key,
                    **_content_course(course, keys),
                    "assessments": [
                        {"key": assessment.key, **_content_assessment(assessment)}
                        for assessment in sorted(assessments[course.id], key=lambda a: a.key)
                    ],
                }
                for course in courses
            ]
        }
    )


class _ContentEntry:
    """A course of a content file, and where it is."""

    def __init__(self, file: content.ContentFile, index: int) -> None:
        self.file = file
        self.course = file.document.courses[index]
        self.path = f"/courses/{index}"

    def at(self, path: str, message: str) -> ContentProblem:
        """A problem at `path` of this course."""
        return self.file.problem(f"{self.path}{path}", message)


def _content_entries(files: Sequence[content.ContentFile]) -> dict[str, _ContentEntry]:
    """The courses of the files by key, or ContentInvalid for a key defined twice."""
    entries: dict[str, _ContentEntry] = {}
    problems: list[ContentProblem] = []
    for file in files:
        for index, course in enumerate(file.document.courses):
            entry = _ContentEntry(file, index)
            first = entries.setdefault(course.key, entry)
            if first is not entry:
                where = f"{first.file.name} at {first.path}"
                problems.append(entry.at("/key", f"the course is defined in {where} too"))
    if problems:
        raise ContentInvalid(problems)
    return entries


def _content_order(
    session: Session, entries: dict[str, _ContentEntry], ids: dict[str, uuid.UUID]
) -> list[str]:
    """The keys of the files' courses, each after its prerequisites; ContentInvalid for
    a prerequisite that is no course, or prerequisites that would form a cycle with
    each other or with the catalog's."""
    problems: list[ContentProblem] = []
    for entry in entries.values():
        for n, key in enumerate(entry.course.prerequisites):
            if key not in entries and key not in ids:
                message = f"no course has the key {key!r}, in these files or in the catalog"
                problems.append(entry.at(f"/prerequisites/{n}", message))
    if problems:
        raise ContentInvalid(problems)
    requires: dict[str, set[str]] = defaultdict(set)
    for course, prerequisite in repository.prerequisite_key_edges(session):
        if course not in entries:
            requires[course].add(prerequisite)
    for key, entry in entries.items():
        requires[key] = set(entry.course.prerequisites)
    try:
        order = list(TopologicalSorter(requires).static_order())
    except CycleError as error:
        # Each node is a prerequisite of the next: read backwards, each requires the next.
        cycle: list[str] = list(reversed(error.args[1]))[:-1]
        start = next((n for n, key in enumerate(cycle) if key in entries), 0)
        cycle = cycle[start:] + cycle[:start]
        entry = entries[cycle[0]]
        shown = " → ".join(
            f"{key} ({entries[key].file.name})" if key in entries else f"{key} (the catalog)"
            for key in [*cycle, cycle[0]]
        )
        n = entry.course.prerequisites.index(cycle[1 % len(cycle)])
        message = f"these prerequisites would form a cycle: {shown}"
        raise ContentInvalid([entry.at(f"/prerequisites/{n}", message)]) from None
    return [key for key in order if key in entries]


def _import_course(
    session: Session,
    principal: Principal,
    entry: _ContentEntry,
    ids: dict[str, uuid.UUID],
    update_existing: bool,
) -> content.CourseOutcome:
    data = entry.course
    fields = data.model_dump(exclude={"key", "prerequisites", "assessments"})
    prerequisites = [ids[key] for key in data.prerequisites]
    course = repository.course_by_key(session, data.key)
    try:
        if course is None:
            created = create_course(
                session,
                principal,
                data=CourseCreate.model_validate(
                    {**fields, "key": data.key, "prerequisites": prerequisites}
                ),
            )
            ids[data.key] = course_id = created.id
            outcome = content.Outcome.CREATED
        elif not update_existing:
            return content.CourseOutcome(
                key=data.key, file=entry.file.name, outcome=content.Outcome.KEPT, assessments=[]
            )
        else:
            course_id = course.id
            changes = _content_changes(session, course, data)
            if "prerequisites" in changes:
                changes["prerequisites"] = prerequisites
            outcome = content.Outcome.UNCHANGED
            if changes:
                update_course(
                    session, principal, course_id, data=CourseUpdate.model_validate(changes)
                )
                outcome = content.Outcome.UPDATED
    except ConvobaseError as error:
        raise ContentInvalid([entry.at("", error.detail)]) from None
    return content.CourseOutcome(
        key=data.key,
        file=entry.file.name,
        outcome=outcome,
        assessments=_import_assessments(session, principal, entry, course_id),
    )


def _content_changes(
    session: Session, course: Course, data: content.CourseContent
) -> dict[str, Any]:
    """The fields of `course` that differ from the file's, with the file's values."""
    keys = repository.course_keys(session, [edge.prerequisite_id for edge in course.prerequisites])
    current = _content_course(course, keys)
    wanted = data.model_dump(exclude={"key", "assessments"})
    wanted["tags"] = sorted(wanted["tags"])
    wanted["prerequisites"] = sorted(wanted["prerequisites"])
    return {field: value for field, value in wanted.items() if current[field] != value}


def _import_assessments(
    session: Session, principal: Principal, entry: _ContentEntry, course_id: uuid.UUID
) -> list[content.AssessmentOutcome]:
    """Make the course's assessments match the file's: by key, created, updated (a new
    version if what grading reads changed) or left as they are; those the file no
    longer lists are deactivated."""
    current = {
        assessment.key: assessment
        for assessment in repository.assessments_of(session, [course_id], active_only=False)
    }
    outcomes = []
    for n, data in enumerate(entry.course.assessments):
        fields = data.model_dump(exclude={"key"})
        assessment = current.pop(data.key, None)
        try:
            if assessment is None:
                created = create_assessment(
                    session,
                    principal,
                    data=AssessmentCreate.model_validate(
                        {**fields, "key": data.key, "course_id": course_id}
                    ),
                )
                outcome, version = content.Outcome.CREATED, created.version
            elif _content_assessment(assessment) == fields:
                outcome, version = content.Outcome.UNCHANGED, assessment.version
            else:
                updated = update_assessment(
                    session, principal, assessment.id, data=AssessmentUpdate.model_validate(fields)
                )
                outcome, version = content.Outcome.UPDATED, updated.version
        except QuestionsInvalid as error:
            raise ContentInvalid(
                [entry.at(f"/assessments/{n}{path}", message) for path, message in error.errors]
            ) from None
        except ConvobaseError as error:
            raise ContentInvalid([entry.at(f"/assessments/{n}", error.detail)]) from None
        outcomes.append(content.AssessmentOutcome(key=data.key, outcome=outcome, version=version))
    for assessment in sorted(current.values(), key=lambda assessment: assessment.key):
        if assessment.is_active:
            deactivated = deactivate_assessment(session, principal, assessment.id)
            outcomes.append(
                content.AssessmentOutcome(
                    key=assessment.key,
                    outcome=content.Outcome.DEACTIVATED,
                    version=deactivated.version,
                )
            )
    return outcomes


def _content_course(course: Course, keys: dict[uuid.UUID, str]) -> dict[str, Any]:
    """A course as a content file says it (without its key and assessments)."""
    sections = sorted(
        (section for section in course.sections if section.is_active),
        key=lambda section: section.position or 0,
    )
    return {
        **{field: getattr(course, field) for field in sorted(_COURSE_FIELDS)},
        "prerequisites": sorted(keys[edge.prerequisite_id] for edge in course.prerequisites),
        "tags": sorted(tag.tag for tag in course.tags),
        "is_active": course.is_active,
        "sections": [
            {
                "key": section.key,
                "title": section.title,
                "content_path": section.content_path,
                "duration_minutes": section.duration_minutes,
            }
            for section in sections
        ],
    }


def _content_assessment(assessment: Assessment) -> dict[str, Any]:
    """An assessment as a content file says it (without its key)."""
    return {
        field: getattr(assessment, field)
        for field in (
            "title",
            "description",
            "difficulty",
            "pass_threshold",
            "time_limit_minutes",
            "max_attempts",
            "questions",
            "scoring_config",
            "is_active",
        )
    }


# Learners: progress and attempts
#
# A learner's writes to one course queue on their progress row (`_locked_progress`:
# inserted if need be, then SELECT ... FOR UPDATE on PostgreSQL; SQLite has one writer
# at a time): starting an attempt counts the attempts made and inserts the next one
# under that lock, so parallel starts never exceed max_attempts. Saving an answer, the
# submit and the deadline queue on the attempt's row, then the progress row, in that
# order everywhere.

HEARTBEAT_CREDIT: Final = timedelta(minutes=2)
"""The most study time one heartbeat credits: the time since the previous one, capped."""
MAX_LISTED_SCORES: Final = 100
"""Scores kept per assessment in `test_scores` (the latest); the grade counts them all."""
TRIMMED_SCORES: Final = (10, 0)
"""Scores kept per assessment, in turn, when `test_scores` would not fit its budget."""
TEST_SCORES_BUDGET: Final = MAX_STORED_TEST_SCORES * 3 // 4
"""The size `test_scores` is kept within, as JSON text: below the column's CHECK, with
room for how each database writes it (PostgreSQL's jsonb text differs in spacing)."""
OVERDUE_BATCH: Final = 200
"""Overdue attempts one run of the overdue job closes at most: the rest next run."""
MAX_CARD_CONTEXT_BYTES: Final = 12 * 1024
OverduePolicy = Literal["submit", "abandon"]

_IN_PROGRESS = AttemptStatus.IN_PROGRESS.value
_SUBMITTED = AttemptStatus.SUBMITTED.value
_ABANDONED = AttemptStatus.ABANDONED.value
_HUNDREDTH = Decimal("0.01")


def missing_prerequisites(
    session: Session, principal: Principal, course_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """For each of `course_ids`, its active prerequisites the caller has not completed
    (an empty list where none is missing). An inactive or archived prerequisite no
    longer holds anyone back: nobody can complete it."""
    missing: dict[uuid.UUID, list[uuid.UUID]] = {course_id: [] for course_id in course_ids}
    for course_id, prerequisite_id in repository.missing_prerequisites(
        session, principal, list(missing)
    ):
        missing[course_id].append(prerequisite_id)
    return missing


@dataclass(frozen=True, slots=True)
class StartedAttempt:
    """An attempt a start answered with, and whether the start made it (False: a
    retry with the same client_attempt_id found it)."""

    attempt: AttemptDetail
    created: bool


def start_attempt(
    session: Session,
    principal: Principal,
    assessment_id: uuid.UUID,
    *,
    client_attempt_id: str | None = None,
) -> StartedAttempt:
    """Start an attempt at an active assessment: the course's prerequisites completed,
    within max_attempts, pinned to the current version, its deadline the server's time
    plus the time limit. A start retried with its client_attempt_id returns the attempt
    it started."""
    owner = _learner(principal)
    if client_attempt_id is not None and (
        found := _retried(session, principal, assessment_id, client_attempt_id)
    ):
        return StartedAttempt(_attempt_detail(session, principal, found), created=False)
    assessment = repository.get_assessment(session, assessment_id, active_only=True)
    if assessment is None:
        raise AssessmentNotFound
    _require_prerequisites(session, principal, assessment.course_id)
    progress = _locked_progress(session, principal, owner, assessment.course_id, utc_now())
    # The time once the lock is held: a start that waited on it starts its clock now.
    now = utc_now()
    # Under the lock: a start that raced this one has committed, and is counted.
    if client_attempt_id is not None and (
        found := _retried(session, principal, assessment_id, client_attempt_id)
    ):
        return StartedAttempt(_attempt_detail(session, principal, found), created=False)
    started = repository.attempt_count(session, principal, assessment.id)
    if assessment.max_attempts is not None and started >= assessment.max_attempts:
        raise AttemptLimitReached(
            f"You have used all {assessment.max_attempts} attempts this assessment allows."
        )
    if started >= MAX_ATTEMPT_NUMBER:  # no max_attempts: the schema's bound still holds
        raise AttemptLimitReached(
            f"You have made {MAX_ATTEMPT_NUMBER} attempts at this assessment, the most anyone may."
        )
    pinned = _pinned(session, assessment.id, assessment.version)
    limit = pinned.time_limit_minutes
    attempt = AssessmentAttempt(
        id=new_id(),
        user_id=owner,
        assessment_id=assessment.id,
        assessment_version=assessment.version,
        course_id=assessment.course_id,
        attempt_number=started + 1,
        status=_IN_PROGRESS,
        client_attempt_id=client_attempt_id,
        started_at=now,
        deadline_at=None if limit is None else now + timedelta(minutes=limit),
    )
    repository.add_attempt(session, attempt)
    progress.last_accessed = now
    _record_scores(session, principal, progress, assessment)
    _refresh(session, principal, progress, now)
    repository.save(session)
    return StartedAttempt(_attempt_detail(session, principal, attempt), created=True)


def _retried(
    session: Session, principal: Principal, assessment_id: uuid.UUID, client_attempt_id: str
) -> AssessmentAttempt | None:
    found = repository.attempt_by_client_id(session, principal, client_attempt_id)
    if found is not None and found.assessment_id != assessment_id:
        raise ClientAttemptIdReused
    return found


def list_attempts(
    session: Session,
    principal: Principal,
    assessment_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[AttemptRead]:
    """Your attempts at an assessment, the latest first: at one you may attempt (active,
    of an active course), or one you did attempt whatever became of it. Any other is
    not found, whether or not it exists, as `get_assessment` answers."""
    _learner(principal)
    if repository.get_assessment(
        session, assessment_id, active_only=True
    ) is None and not repository.attempt_count(session, principal, assessment_id):
        raise AssessmentNotFound
    before = None if cursor is None else decode_cursor(cursor, int)[0]
    rows = repository.attempts_of(session, principal, assessment_id, before=before, limit=limit + 1)
    page = paginate(rows, limit, lambda last: (last.attempt_number,))
    now = utc_now()
    return Page([_attempt_read(session, row, now) for row in page.items], page.next_cursor)


def get_attempt(session: Session, principal: Principal, attempt_id: uuid.UUID) -> AttemptDetail:
    """One of your attempts with its questions as you see them and the answers saved."""
    _learner(principal)
    attempt = repository.attempt(session, principal, attempt_id)
    if attempt is None:
        raise AttemptNotFound
    return _attempt_detail(session, principal, attempt)


def save_answer(
    session: Session,
    principal: Principal,
    attempt_id: uuid.UUID,
    question_id: str,
    *,
    answer: Any,
) -> SavedAnswerRead:
    """Save your answer to one question of an attempt in progress, over any saved
    before; refused once the attempt is closed or its deadline has passed."""
    _learner(principal)
    attempt = repository.attempt(session, principal, attempt_id, for_update=True)
    if attempt is None:
        raise AttemptNotFound
    if attempt.status != _IN_PROGRESS:
        raise AttemptClosed
    now = utc_now()
    if _overdue(attempt, now):
        raise AttemptTimeUp
    pinned = _pinned(session, attempt.assessment_id, attempt.assessment_version)
    question = pinned.by_id.get(question_id)
    if question is None:
        raise QuestionNotInAttempt
    try:
        checked = questions.check_answer(question, answer)
    except questions.InvalidAnswer as error:
        raise AnswerInvalid(error.path, error.message) from None
    repository.save_answer(
        session,
        {
            "attempt_id": attempt.id,
            "question_id": question_id,
            "user_id": attempt.user_id,
            "answer": checked,
            "saved_at": now,
        },
    )
    return SavedAnswerRead(question_id=question_id, answer=checked, saved_at=now)


def submit_attempt(
    session: Session,
    principal: Principal,
    attempt_id: uuid.UUID,
    *,
    policy: OverduePolicy = "submit",
) -> AttemptDetail:
    """Submit an attempt: graded on the server against the version it started on;
    submitting it again answers with the same result. After its deadline, the overdue
    policy closes it instead (`submit`: graded as saved; `abandon`: ungraded)."""
    _learner(principal)
    attempt = repository.attempt(session, principal, attempt_id, for_update=True)
    if attempt is None:
        raise AttemptNotFound
    if attempt.status == _IN_PROGRESS:
        now = utc_now()
        if _overdue(attempt, now):
            _close_by_deadline(session, principal, attempt, policy=policy, now=now)
        else:
            _grade(session, principal, attempt, closer=AttemptCloser.LEARNER, now=now)
    return _attempt_detail(session, principal, attempt)


def overdue_attempts(
    session: Session,
    principal: Principal,
    *,
    limit: int | None = None,
    skip: Collection[uuid.UUID] = (),
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(attempt, its learner) for every learner's attempts in progress past their
    deadline, the earliest first, at most `limit` (OVERDUE_BATCH), but for the attempts
    `skip` (staff: the overdue job)."""
    require_staff(principal, "list every learner's overdue attempts")
    return repository.overdue_attempts(
        session, principal, now=utc_now(), limit=limit or OVERDUE_BATCH, skip=skip
    )


def close_overdue_attempt(
    session: Session, principal: Principal, attempt_id: uuid.UUID, *, policy: OverduePolicy
) -> bool:
    """Close one of the caller's attempts whose deadline has passed, by `policy`;
    False if it is closed already or not overdue."""
    attempt = repository.attempt(session, principal, attempt_id, for_update=True)
    if attempt is None or attempt.status != _IN_PROGRESS:
        return False
    now = utc_now()
    if not _overdue(attempt, now):
        return False
    _close_by_deadline(session, principal, attempt, policy=policy, now=now)
    return True


def _overdue(attempt: AssessmentAttempt, now: datetime) -> bool:
    return attempt.deadline_at is not None and now >= attempt.deadline_at


def _close_by_deadline(
    session: Session,
    principal: Principal,
    attempt: AssessmentAttempt,
    *,
    policy: OverduePolicy,
    now: datetime,
) -> None:
    if policy == "submit":
        _grade(session, principal, attempt, closer=AttemptCloser.DEADLINE, now=now)
        return
    attempt.status = _ABANDONED
    attempt.abandoned_at = now
    attempt.closed_by = AttemptCloser.DEADLINE.value
    repository.save(session)
    _closed(session, principal, attempt, now=now)


def _grade(
    session: Session,
    principal: Principal,
    attempt: AssessmentAttempt,
    *,
    closer: AttemptCloser,
    now: datetime,
) -> None:
    """Grade the answers saved to `attempt` against its pinned version, close it, and
    carry the result to the learner's progress and review cards."""
    pinned = _pinned(session, attempt.assessment_id, attempt.assessment_version)
    saved = repository.answers_of(session, principal, [attempt.id])
    graded = questions.grade(
        pinned.parsed, pinned.scoring, {row.question_id: row.answer for row in saved}
    )
    attempt.status = _SUBMITTED
    attempt.submitted_at = now
    attempt.closed_by = closer.value
    attempt.score = graded.score
    attempt.passed = graded.passed(pinned.pass_threshold)
    attempt.results = [
        {
            "question_id": result.question_id,
            "outcome": result.outcome.value,
            "points": float(result.earned),
            "max_points": float(result.possible),
        }
        for result in graded.results
    ]
    repository.save(session)
    _closed(session, principal, attempt, now=now, by_learner=closer is AttemptCloser.LEARNER)
    _add_review_cards(session, principal, attempt, pinned, graded.wrong)


def _closed(
    session: Session,
    principal: Principal,
    attempt: AssessmentAttempt,
    *,
    now: datetime,
    by_learner: bool = False,
) -> None:
    """Carry a closed attempt to its learner's progress: scores, grade, completion."""
    progress = _locked_progress(session, principal, attempt.user_id, attempt.course_id, now)
    assessment = repository.get_assessment(session, attempt.assessment_id, active_only=False)
    if assessment is not None:
        _record_scores(session, principal, progress, assessment)
    if by_learner:
        progress.last_accessed = now
    _refresh(session, principal, progress, now)
    repository.save(session)


def _record_scores(
    session: Session, principal: Principal, progress: UserProgress, assessment: Assessment
) -> None:
    """Write the learner's results at `assessment` into `progress.test_scores`: the
    attempts started, the graded scores in order, their grade by the assessment's
    current grade method, and whether it reaches the current pass threshold."""
    scores = repository.graded_scores(session, principal, assessment.id)
    started = repository.attempt_count(session, principal, assessment.id)
    entry = _score_entry(session, assessment, started, scores)
    progress.test_scores = _bounded({**progress.test_scores, str(assessment.id): entry})


def _score_entry(
    session: Session, assessment: Assessment, started: int, scores: Sequence[Decimal]
) -> dict[str, Any]:
    """A learner's entry in `test_scores` for `assessment`: the attempts started, the
    latest graded scores (in the order submitted), their grade by the assessment's
    current grade method, and whether it reaches its current pass threshold."""
    method = _pinned(session, assessment.id, assessment.version).scoring.grade_method
    grade = questions.combine(scores, method)
    return {
        "attempts": started,
        "scores": [float(score) for score in scores[-MAX_LISTED_SCORES:]],
        "grade": None if grade is None else float(grade),
        "grade_method": method.value,
        "passed": grade is not None and questions.passed(grade, assessment.pass_threshold),
    }


def _bounded(test_scores: dict[str, Any]) -> dict[str, Any]:
    """`test_scores` within TEST_SCORES_BUDGET (the column's CHECK allows
    MAX_STORED_TEST_SCORES): when a course's many assessments times many attempts would
    pass it, each entry keeps fewer of its latest scores (down to none); the attempts
    started, the grade and `passed`, which count every score, always stay."""
    for kept in (None, *TRIMMED_SCORES):
        trimmed = (
            test_scores
            if kept is None
            else {
                key: {**entry, "scores": entry["scores"][-kept:] if kept else []}
                for key, entry in test_scores.items()
            }
        )
        if len(json.dumps(trimmed, ensure_ascii=False)) <= TEST_SCORES_BUDGET:
            break
    return trimmed


def _add_review_cards(
    session: Session,
    principal: Principal,
    attempt: AssessmentAttempt,
    pinned: "_Pinned",
    wrong: Sequence[str],
) -> None:
    """A review card for each question not fully right (wrong, partly right or
    unanswered), showing the question as the learner saw it: never its key."""
    cards = [_review_card(attempt, pinned, pinned.by_id[question_id]) for question_id in wrong]
    if cards:
        review_service.add_cards(session, principal, cards)


def _review_card(
    attempt: AssessmentAttempt, pinned: "_Pinned", question: questions.Question
) -> NewCard:
    view = questions.learner_view(question, seed=str(attempt.id), scoring=pinned.scoring)
    context: dict[str, Any] = {
        "course_id": str(attempt.course_id),
        "assessment_id": str(attempt.assessment_id),
        "attempt_id": str(attempt.id),
        "question_id": question.id,
        "question": {key: value for key, value in view.items() if key not in ("id", "prompt")},
    }
    if len(json.dumps(context, ensure_ascii=False).encode()) > MAX_CARD_CONTEXT_BYTES:
        del context["question"]  # the choices of a very long question: the ids still lead back
    return NewCard(
        source_kind=SOURCE_ASSESSMENT_QUESTION,
        source_key=f"{attempt.assessment_id}:{question.id}",
        prompt=question.prompt,
        context=context,
    )


# Progress: sections, study time, the dashboard


def complete_section(
    session: Session, principal: Principal, course_id: uuid.UUID, section_id: uuid.UUID
) -> ProgressRead:
    """Mark a section of a course completed (once: again changes nothing); your
    progress through the course after it."""
    owner = _learner(principal)
    if not repository.course_is_active(session, course_id):
        raise CourseNotFound
    if not repository.section_of(session, course_id, section_id):
        raise SectionNotFound
    _require_prerequisites(session, principal, course_id)
    progress = _locked_progress(session, principal, owner, course_id, utc_now())
    now = utc_now()  # once the lock is held
    repository.add_completion(
        session,
        {
            "id": new_id(),
            "user_id": owner,
            "course_id": course_id,
            "section_id": section_id,
            "completed_at": now,
        },
    )
    progress.last_accessed = now
    _refresh(session, principal, progress, now)
    repository.save(session)
    return _progress_read(session, principal, course_id, progress)


def record_study_time(
    session: Session, principal: Principal, course_id: uuid.UUID
) -> StudyTimeRead:
    """A heartbeat while studying a course: credits the time since your last one, at
    most HEARTBEAT_CREDIT; the first credits nothing."""
    owner = _learner(principal)
    if not repository.course_is_active(session, course_id):
        raise CourseNotFound
    _require_prerequisites(session, principal, course_id)
    progress = _locked_progress(session, principal, owner, course_id, utc_now())
    # The time once the lock is held, after any heartbeat it waited for; and the last
    # heartbeat never moves back, so no time is credited twice.
    now = utc_now()
    credited = 0
    if progress.last_heartbeat_at is not None:
        elapsed = (now - progress.last_heartbeat_at).total_seconds()
        credited = int(min(max(elapsed, 0.0), HEARTBEAT_CREDIT.total_seconds()))
    seconds = progress.study_seconds_carry + credited
    progress.study_time_minutes = min(
        progress.study_time_minutes + seconds // 60, MAX_STUDY_MINUTES
    )
    progress.study_seconds_carry = seconds % 60
    last = progress.last_heartbeat_at
    progress.last_heartbeat_at = now if last is None else max(last, now)
    progress.last_accessed = max(progress.last_accessed, now)
    repository.save(session)
    return StudyTimeRead(
        course_id=course_id,
        credited_seconds=credited,
        study_time_minutes=progress.study_time_minutes,
        last_heartbeat_at=progress.last_heartbeat_at,
    )


def get_progress(session: Session, principal: Principal, course_id: uuid.UUID) -> ProgressRead:
    """Your progress through a course (none yet: nothing done), derived afresh from
    the sections you completed and the assessments you passed."""
    _learner(principal)
    progress = repository.progress(session, principal, course_id)
    if progress is None and not repository.course_is_active(session, course_id):
        raise CourseNotFound
    return _progress_read(session, principal, course_id, progress)


def my_courses(
    session: Session,
    principal: Principal,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[CourseProgressRead]:
    """Your courses with their progress and next step, the last studied first."""
    _learner(principal)
    rows = repository.dashboard(session, principal, after=time_position(cursor), limit=limit + 1)
    page = paginate_by_time(
        rows, limit, lambda last: (last.progress.last_accessed, last.progress.id)
    )
    return Page([_dashboard_item(row) for row in page.items], page.next_cursor)


def refresh_course_progress(session: Session, principal: Principal, course_id: uuid.UUID) -> int:
    """Derive every learner's progress through a course again, after its sections or
    assessments changed (staff); how many progress rows there are."""
    refreshed = 0
    after: uuid.UUID | None = None
    while True:
        count, after = refresh_progress_batch(session, principal, course_id, after=after)
        refreshed += count
        if after is None:
            return refreshed


REFRESH_BATCH: Final = 500
"""Learners whose progress one transaction of the refresh derives again."""


def refresh_progress_batch(
    session: Session,
    principal: Principal,
    course_id: uuid.UUID,
    *,
    after: uuid.UUID | None = None,
    limit: int = REFRESH_BATCH,
) -> tuple[int, uuid.UUID | None]:
    """Derive again the progress of the next `limit` learners through a course (by
    progress row, after the row `after`), staff: each one's `test_scores` (the grade by
    each assessment's current grade method, `passed` by its current pass threshold)
    and their completion. How many rows were derived, and the last one's id to go on
    after (None: none are left). The course's outline, the learners' completions and
    their attempts are each read once per batch."""
    require_staff(principal, "refresh learners' progress")
    now = utc_now()
    rows = repository.progress_of_course(
        session, principal, course_id, after=after, limit=limit, staff=True
    )
    if not rows:
        return 0, None
    outline = repository.outline(session, course_id)
    assessments = repository.assessments_of(session, [course_id], active_only=False)
    users = [row.user_id for row in rows]
    completions = repository.completions_of(session, principal, course_id, users, staff=True)
    tallies = repository.attempt_tallies(session, principal, course_id, users, staff=True)
    for row in rows:
        attempted = tallies[row.user_id]
        row.test_scores = _bounded(
            {
                str(assessment.id): _score_entry(session, assessment, *attempted[assessment.id])
                for assessment in assessments
                if assessment.id in attempted
            }
        )
        _apply(row, _derive(outline, completions[row.user_id], _passed(row.test_scores)), now)
    repository.save(session)
    return len(rows), (rows[-1].id if len(rows) == limit else None)


def user_progress_for_staff(
    session: Session,
    principal: Principal,
    user_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[ProgressExport]:
    """A learner's progress through each course as stored, the last studied first (staff)."""
    require_staff(principal, "read a learner's progress")
    rows = repository.progress_rows(
        session,
        principal,
        user_id=user_id,
        after=time_position(cursor),
        limit=limit + 1,
        staff=True,
    )
    page = paginate_by_time(rows, limit, lambda last: (last.last_accessed, last.id))
    return Page([ProgressExport.model_validate(row) for row in page.items], page.next_cursor)


def user_attempts_for_staff(
    session: Session,
    principal: Principal,
    user_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[AttemptRead]:
    """A learner's attempts, the latest started first (staff)."""
    require_staff(principal, "read a learner's attempts")
    rows = repository.user_attempts(
        session,
        principal,
        user_id=user_id,
        after=time_position(cursor),
        limit=limit + 1,
        staff=True,
    )
    page = paginate_by_time(rows, limit, lambda last: (last.started_at, last.id))
    now = utc_now()
    return Page([_attempt_read(session, row, now) for row in page.items], page.next_cursor)


def export_learning(session: Session, principal: Principal) -> LearningExport:
    """Everything the caller's learning stored: progress, completions, attempts, answers."""
    answers: defaultdict[uuid.UUID, list[SavedAnswerRead]] = defaultdict(list)
    for answer in repository.all_answers(session, principal):
        answers[answer.attempt_id].append(SavedAnswerRead.model_validate(answer))
    return LearningExport(
        progress=[
            ProgressExport.model_validate(row)
            for row in repository.progress_rows(session, principal)
        ],
        section_completions=[
            SectionCompletionExport.model_validate(row)
            for row in repository.all_completions(session, principal)
        ],
        attempts=[
            AttemptExport.model_validate(
                {**_columns(attempt, AttemptExport), "answers": answers[attempt.id]}
            )
            for attempt in repository.user_attempts(session, principal)
        ],
    )


# What the learner side is made of


def _learner(principal: Principal) -> uuid.UUID:
    """The caller's user id: only a signed-in learner has progress and attempts."""
    if not principal.is_signed_in or principal.user_id is None:
        raise Forbidden("Only a signed-in learner has progress and attempts.")
    return principal.user_id


def _require_prerequisites(session: Session, principal: Principal, course_id: uuid.UUID) -> None:
    if missing := missing_prerequisites(session, principal, [course_id])[course_id]:
        raise PrerequisitesMissing(missing)


def _locked_progress(
    session: Session, principal: Principal, owner: uuid.UUID, course_id: uuid.UUID, now: datetime
) -> UserProgress:
    """The learner's progress through a course, made if need be and locked: what their
    writes to the course queue on."""
    made = repository.ensure_progress(
        session,
        {
            "id": new_id(),
            "user_id": owner,
            "course_id": course_id,
            "completion_rate": Decimal(0),
            "test_scores": {},
            "study_time_minutes": 0,
            "study_seconds_carry": 0,
            "last_accessed": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    progress = repository.progress(session, principal, course_id, for_update=True)
    if progress is None:  # inserted or found above, in this transaction: never
        raise CourseNotFound
    if made:
        _refresh(session, principal, progress, now)
    return progress


@dataclass(frozen=True, slots=True)
class _Derived:
    """What a learner's progress through a course comes to."""

    completion_rate: Decimal
    section: tuple[uuid.UUID, int, str] | None
    assessment: tuple[uuid.UUID, str] | None
    items: int


def _derive(
    outline: repository.Outline, completed: Collection[uuid.UUID], passed: Collection[str]
) -> _Derived:
    """Progress from what a course asks (active sections and assessments) and what the
    learner did: items done of all items, the first section not completed and the
    first assessment not passed."""
    sections = [section for section in outline.sections if section[0] not in completed]
    assessments = [item for item in outline.assessments if str(item[0]) not in passed]
    items = len(outline.sections) + len(outline.assessments)
    done = items - len(sections) - len(assessments)
    rate = Decimal(done * 100) / items if items else Decimal(0)
    return _Derived(
        completion_rate=rate.quantize(_HUNDREDTH, ROUND_DOWN),
        section=sections[0] if sections else None,
        assessment=assessments[0] if assessments else None,
        items=items,
    )


def _passed(test_scores: dict[str, Any]) -> set[str]:
    """The assessments `test_scores` records as passed, by id."""
    return {
        key
        for key, entry in test_scores.items()
        if isinstance(entry, dict) and entry.get("passed") is True
    }


def _refresh(
    session: Session,
    principal: Principal,
    progress: UserProgress,
    now: datetime,
    *,
    staff: bool = False,
) -> _Derived:
    """Derive `progress` again from the course as it is and what its learner did."""
    outline = repository.outline(session, progress.course_id)
    completed = repository.completed_sections(
        session, principal, progress.course_id, user_id=progress.user_id, staff=staff
    )
    derived = _derive(outline, completed, _passed(progress.test_scores))
    _apply(progress, derived, now)
    return derived


def _apply(progress: UserProgress, derived: _Derived, now: datetime) -> None:
    """Store what `progress` came to: the rate, the next steps, completion."""
    progress.completion_rate = derived.completion_rate
    progress.current_section_id = None if derived.section is None else derived.section[0]
    progress.next_assessment_id = None if derived.assessment is None else derived.assessment[0]
    if derived.items and derived.section is None and derived.assessment is None:
        progress.completed_at = progress.completed_at or now


def _next_step(derived: _Derived) -> NextStep:
    if derived.section is not None:
        section_id, position, title = derived.section
        section = SectionRef(id=section_id, position=position, title=title)
        return NextStep(kind=NextStepKind.SECTION, section=section, assessment=None)
    if derived.assessment is not None:
        assessment = AssessmentRef(id=derived.assessment[0], title=derived.assessment[1])
        return NextStep(kind=NextStepKind.ASSESSMENT, section=None, assessment=assessment)
    kind = NextStepKind.DONE if derived.items else NextStepKind.NONE
    return NextStep(kind=kind, section=None, assessment=None)


def _progress_read(
    session: Session, principal: Principal, course_id: uuid.UUID, progress: UserProgress | None
) -> ProgressRead:
    outline = repository.outline(session, course_id)
    completed = repository.completed_sections(session, principal, course_id)
    derived = _derive(outline, completed, _passed(progress.test_scores) if progress else set())
    return ProgressRead(
        course_id=course_id,
        completion_rate=derived.completion_rate,
        next_step=_next_step(derived),
        completed_sections=[
            SectionCompletionRead(section_id=section_id, completed_at=at)
            for section_id, at in sorted(completed.items(), key=lambda item: (item[1], item[0]))
        ],
        test_scores=_test_scores(progress.test_scores if progress else {}),
        study_time_minutes=progress.study_time_minutes if progress else 0,
        started_at=progress.created_at if progress else None,
        last_accessed=progress.last_accessed if progress else None,
        completed_at=progress.completed_at if progress else None,
    )


def _test_scores(stored: dict[str, Any]) -> list[AssessmentScores]:
    return [
        AssessmentScores(
            assessment_id=uuid.UUID(key),
            attempts=entry["attempts"],
            scores=[Decimal(str(score)) for score in entry["scores"]],
            grade=None if entry["grade"] is None else Decimal(str(entry["grade"])),
            grade_method=questions.GradeMethod(entry["grade_method"]),
            passed=entry["passed"],
        )
        for key, entry in sorted(stored.items())
    ]


def _dashboard_item(row: repository.DashboardRow) -> CourseProgressRead:
    progress = row.progress
    if progress.current_section_id is not None and row.section_title is not None:
        section = SectionRef(
            id=progress.current_section_id, position=row.section_position, title=row.section_title
        )
        step = NextStep(kind=NextStepKind.SECTION, section=section, assessment=None)
    elif progress.next_assessment_id is not None and row.assessment_title is not None:
        assessment = AssessmentRef(id=progress.next_assessment_id, title=row.assessment_title)
        step = NextStep(kind=NextStepKind.ASSESSMENT, section=None, assessment=assessment)
    else:
        done = progress.completed_at is not None or progress.completion_rate == 100
        kind = NextStepKind.DONE if done else NextStepKind.NONE
        step = NextStep(kind=kind, section=None, assessment=None)
    return CourseProgressRead(
        course=CourseRef(
            id=progress.course_id,
            key=row.course_key,
            title=row.course_title,
            level=CourseLevel(row.course_level),
            thumbnail_url=row.course_thumbnail_url,
            is_active=row.course_is_active,
        ),
        completion_rate=progress.completion_rate,
        next_step=step,
        study_time_minutes=progress.study_time_minutes,
        last_accessed=progress.last_accessed,
        completed_at=progress.completed_at,
    )


@dataclass(frozen=True, slots=True)
class _Pinned:
    """What grading reads in one version of an assessment, checked and parsed."""

    parsed: tuple[questions.Question, ...]
    by_id: Mapping[str, questions.Question]
    scoring: questions.ScoringConfig
    pass_threshold: int
    time_limit_minutes: int | None


# Versions never change once written: each one is parsed once per process.
_PINNED: OrderedDict[tuple[uuid.UUID, int], _Pinned] = OrderedDict()
_PINNED_LOCK = threading.Lock()
_PINNED_KEPT: Final = 128


def _pinned(session: Session, assessment_id: uuid.UUID, version: int) -> _Pinned:
    """Version `version` of an assessment, parsed (from a cache of the latest used)."""
    key = (assessment_id, version)
    with _PINNED_LOCK:
        if (found := _PINNED.get(key)) is not None:
            _PINNED.move_to_end(key)
            return found
    row = repository.assessment_version(session, assessment_id, version)
    if row is None:  # attempts refer to their version, which the assessment keeps
        raise AssessmentNotFound
    checked, scoring = questions.validate_assessment(row.questions, row.scoring_config)
    pinned = _Pinned(
        parsed=tuple(checked),
        by_id={question.id: question for question in checked},
        scoring=scoring,
        pass_threshold=row.pass_threshold,
        time_limit_minutes=row.time_limit_minutes,
    )
    with _PINNED_LOCK:
        _PINNED[key] = pinned
        while len(_PINNED) > _PINNED_KEPT:
            _PINNED.popitem(last=False)
    return pinned


def _columns(row: Any, schema: type[BaseModel]) -> dict[str, Any]:
    """The attributes of `row` that `schema` has fields of."""
    return {name: getattr(row, name) for name in schema.model_fields if hasattr(row, name)}


def _attempt_read(session: Session, attempt: AssessmentAttempt, now: datetime) -> AttemptRead:
    pinned = _pinned(session, attempt.assessment_id, attempt.assessment_version)
    return AttemptRead.model_validate(_attempt_fields(attempt, pinned, now))


def _attempt_detail(
    session: Session, principal: Principal, attempt: AssessmentAttempt
) -> AttemptDetail:
    pinned = _pinned(session, attempt.assessment_id, attempt.assessment_version)
    saved = repository.answers_of(session, principal, [attempt.id])
    return AttemptDetail.model_validate(
        {
            **_attempt_fields(attempt, pinned, utc_now()),
            "questions": questions.learner_views(
                pinned.parsed, seed=str(attempt.id), scoring=pinned.scoring
            ),
            "answers": [SavedAnswerRead.model_validate(row) for row in saved],
        }
    )


def _attempt_fields(attempt: AssessmentAttempt, pinned: _Pinned, now: datetime) -> dict[str, Any]:
    """An attempt as learners read it: its results with explanations only where the
    version shows them, and the seconds left by the server's clock."""
    results = None
    if attempt.results is not None:
        results = [
            {**result, "explanation": _explanation(pinned, result["question_id"])}
            for result in attempt.results
        ]
    seconds_left = None
    if attempt.status == _IN_PROGRESS and attempt.deadline_at is not None:
        seconds_left = max(0, int((attempt.deadline_at - now).total_seconds()))
    return {
        **_columns(attempt, AttemptRead),
        "seconds_left": seconds_left,
        "pass_threshold": pinned.pass_threshold,
        "results": results,
    }


def _explanation(pinned: _Pinned, question_id: str) -> str | None:
    """A question's explanation, where its version shows explanations after submission."""
    if not pinned.scoring.show_explanations_after_submit:
        return None
    question = pinned.by_id.get(question_id)
    return None if question is None else question.explanation
