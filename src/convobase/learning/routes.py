import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi import Path as FastAPIPath

from convobase.core.deps import (
    OptionalCallerDep,
    PageSize,
    SettingsDep,
    StaffDep,
    UnitOfWorkDep,
    UserDep,
)
from convobase.core.pagination import DEFAULT_PAGE_SIZE, PageRead
from convobase.core.problems import problem_responses
from convobase.learning import service
from convobase.learning.models import CourseLevel
from convobase.learning.schemas import (
    MAX_TAGS,
    AnswerWrite,
    AssessmentCreate,
    AssessmentRead,
    AssessmentStaffRead,
    AssessmentUpdate,
    AttemptDetail,
    AttemptRead,
    AttemptStart,
    CourseCreate,
    CourseDetail,
    CourseProgressRead,
    CourseRead,
    CourseUpdate,
    ProgressExport,
    ProgressRead,
    SavedAnswerRead,
    StudyTimeRead,
    Tag,
)

router = APIRouter(tags=["learning"], responses=problem_responses(401))
staff_router = APIRouter(
    prefix="/v1/staff", tags=["staff"], responses=problem_responses(401, 403, 404)
)
STAFF_WRITE = problem_responses(403, 404, 409, 422)

# The catalog


@router.get("/v1/courses", responses=problem_responses(422))
async def list_courses(
    uow: UnitOfWorkDep,
    caller: OptionalCallerDep,
    level: CourseLevel | None = None,
    tag: Annotated[
        list[Tag],
        Query(max_length=MAX_TAGS, description="Only courses with every one of these tags."),
    ] = [],  # noqa: B006 - FastAPI copies a query list's default
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[CourseRead]:
    """Active courses by title, of one level and with given tags; for a signed-in
    learner, with the prerequisites they still lack."""
    page = await uow.read(
        service.list_courses, caller, level=level, tags=tag, cursor=cursor, limit=limit
    )
    return PageRead(items=list(page.items), next_cursor=page.next_cursor)


@router.get("/v1/courses/{course_id}", responses=problem_responses(404))
async def read_course(
    uow: UnitOfWorkDep, caller: OptionalCallerDep, course_id: uuid.UUID
) -> CourseDetail:
    """A course with its sections in order and its assessments; inactive ones only for
    staff."""
    return await uow.read(service.get_course, caller, course_id)


@router.post("/v1/courses", status_code=status.HTTP_201_CREATED, responses=STAFF_WRITE)
async def create_course(uow: UnitOfWorkDep, staff: StaffDep, body: CourseCreate) -> CourseDetail:
    """Add a course with its sections, tags and prerequisites (staff)."""
    return await uow.run(service.create_course, staff, data=body)


@router.patch("/v1/courses/{course_id}", responses=STAFF_WRITE)
async def update_course(
    uow: UnitOfWorkDep, staff: StaffDep, course_id: uuid.UUID, body: CourseUpdate
) -> CourseDetail:
    """Change a course (staff); lists given replace the course's."""
    return await uow.run(service.update_course, staff, course_id, data=body)


@router.delete(
    "/v1/courses/{course_id}",
    response_model=CourseDetail,
    responses={
        200: {"description": "The course was studied or is required: archived instead."},
        204: {"description": "The course was deleted."},
        **problem_responses(403, 404),
    },
)
async def delete_course(
    uow: UnitOfWorkDep, staff: StaffDep, course_id: uuid.UUID
) -> CourseDetail | Response:
    """Delete a course nobody studied or requires, else archive it (staff)."""
    archived = await uow.run(service.delete_course, staff, course_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT) if archived is None else archived


@staff_router.get("/courses", responses=problem_responses(422))
async def staff_list_courses(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    level: CourseLevel | None = None,
    tag: Annotated[list[Tag], Query(max_length=MAX_TAGS)] = [],  # noqa: B006
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[CourseRead]:
    """Every course, inactive and archived ones too (staff)."""
    page = await uow.read(
        service.list_all_courses, staff, level=level, tags=tag, cursor=cursor, limit=limit
    )
    return PageRead(items=list(page.items), next_cursor=page.next_cursor)


# Assessments


@router.get("/v1/assessments/{assessment_id}", responses=problem_responses(403, 404))
async def read_assessment(
    uow: UnitOfWorkDep, user: UserDep, assessment_id: uuid.UUID
) -> AssessmentRead:
    """An assessment's questions as learners see them: no answers, keys or scoring."""
    return await uow.read(service.get_assessment, user, assessment_id)


@router.post("/v1/assessments", status_code=status.HTTP_201_CREATED, responses=STAFF_WRITE)
async def create_assessment(
    uow: UnitOfWorkDep, staff: StaffDep, body: AssessmentCreate
) -> AssessmentStaffRead:
    """Add an assessment to a course (staff)."""
    return await uow.run(service.create_assessment, staff, data=body)


@router.patch("/v1/assessments/{assessment_id}", responses=STAFF_WRITE)
async def update_assessment(
    uow: UnitOfWorkDep, staff: StaffDep, assessment_id: uuid.UUID, body: AssessmentUpdate
) -> AssessmentStaffRead:
    """Change an assessment (staff); a change to what grading reads makes a new version."""
    return await uow.run(service.update_assessment, staff, assessment_id, data=body)


@router.delete("/v1/assessments/{assessment_id}", responses=problem_responses(403, 404))
async def deactivate_assessment(
    uow: UnitOfWorkDep, staff: StaffDep, assessment_id: uuid.UUID
) -> AssessmentStaffRead:
    """Withdraw an assessment (staff): no new attempts; past ones stay."""
    return await uow.run(service.deactivate_assessment, staff, assessment_id)


@staff_router.get("/assessments/{assessment_id}")
async def staff_read_assessment(
    uow: UnitOfWorkDep, staff: StaffDep, assessment_id: uuid.UUID
) -> AssessmentStaffRead:
    """An assessment with its answers and scoring, active or not (staff)."""
    return await uow.read(service.get_assessment_for_staff, staff, assessment_id)


# Learners: progress and attempts

QuestionIdPath = Annotated[
    str,
    FastAPIPath(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="A question's id within the attempt's assessment.",
    ),
]
RETRIED_START: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A start retried with its client_attempt_id: the attempt it started.",
        "model": AttemptDetail,
    }
}


@router.post(
    "/v1/assessments/{assessment_id}/attempts",
    status_code=status.HTTP_201_CREATED,
    responses={**RETRIED_START, **problem_responses(403, 404, 409, 422)},
)
async def start_attempt(
    uow: UnitOfWorkDep,
    user: UserDep,
    assessment_id: uuid.UUID,
    response: Response,
    body: AttemptStart | None = None,
) -> AttemptDetail:
    """Start an attempt: prerequisites completed (403), within max_attempts (409), with
    a deadline from the server's clock; a retried start with the same client_attempt_id
    answers 200 with the attempt it started."""
    client_attempt_id = None if body is None else body.client_attempt_id
    started = await uow.run(
        service.start_attempt, user, assessment_id, client_attempt_id=client_attempt_id
    )
    if not started.created:
        response.status_code = status.HTTP_200_OK
    return started.attempt


@router.get("/v1/assessments/{assessment_id}/attempts", responses=problem_responses(403, 404, 422))
async def list_attempts(
    uow: UnitOfWorkDep,
    user: UserDep,
    assessment_id: uuid.UUID,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[AttemptRead]:
    """Your attempts at an assessment, the latest first."""
    page = await uow.read(service.list_attempts, user, assessment_id, cursor=cursor, limit=limit)
    return PageRead(items=list(page.items), next_cursor=page.next_cursor)


@router.get("/v1/attempts/{attempt_id}", responses=problem_responses(403, 404))
async def read_attempt(uow: UnitOfWorkDep, user: UserDep, attempt_id: uuid.UUID) -> AttemptDetail:
    """One of your attempts: its questions as you see them, in an order fixed for the
    attempt, and the answers saved; once graded, its score and per-question results."""
    return await uow.read(service.get_attempt, user, attempt_id)


@router.put(
    "/v1/attempts/{attempt_id}/answers/{question_id}",
    responses=problem_responses(403, 404, 409, 422),
)
async def save_answer(
    uow: UnitOfWorkDep,
    user: UserDep,
    attempt_id: uuid.UUID,
    question_id: QuestionIdPath,
    body: AnswerWrite,
) -> SavedAnswerRead:
    """Save your answer to one question, over any saved before: refused once the
    attempt is closed or its deadline has passed (409), or if it does not fit the
    question (422)."""
    return await uow.run(service.save_answer, user, attempt_id, question_id, answer=body.answer)


@router.post("/v1/attempts/{attempt_id}/submit", responses=problem_responses(403, 404))
async def submit_attempt(
    uow: UnitOfWorkDep, user: UserDep, settings: SettingsDep, attempt_id: uuid.UUID
) -> AttemptDetail:
    """Submit an attempt, graded on the server against the version it started on;
    submitting again answers with the same result. Past its deadline, the overdue
    policy closes it."""
    return await uow.run(
        service.submit_attempt, user, attempt_id, policy=settings.overdue_attempt_policy
    )


@router.post(
    "/v1/courses/{course_id}/sections/{section_id}/complete",
    responses=problem_responses(403, 404),
)
async def complete_section(
    uow: UnitOfWorkDep, user: UserDep, course_id: uuid.UUID, section_id: uuid.UUID
) -> ProgressRead:
    """Mark a section completed (again changes nothing); your progress through the course."""
    return await uow.run(service.complete_section, user, course_id, section_id)


@router.post("/v1/courses/{course_id}/study-time", responses=problem_responses(403, 404))
async def record_study_time(
    uow: UnitOfWorkDep, user: UserDep, course_id: uuid.UUID
) -> StudyTimeRead:
    """A heartbeat while you study a course: the server credits the time since your
    last one, at most two minutes."""
    return await uow.run(service.record_study_time, user, course_id)


@router.get("/v1/courses/{course_id}/progress", responses=problem_responses(403, 404))
async def read_course_progress(
    uow: UnitOfWorkDep, user: UserDep, course_id: uuid.UUID
) -> ProgressRead:
    """Your progress through a course: completion, next step, sections done, scores."""
    return await uow.read(service.get_progress, user, course_id)


@router.get("/v1/me/courses", responses=problem_responses(403, 422))
async def list_my_courses(
    uow: UnitOfWorkDep,
    user: UserDep,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[CourseProgressRead]:
    """Your courses with their progress and next step, the last studied first."""
    page = await uow.read(service.my_courses, user, cursor=cursor, limit=limit)
    return PageRead(items=list(page.items), next_cursor=page.next_cursor)


@staff_router.get("/users/{user_id}/progress", responses=problem_responses(422))
async def staff_read_user_progress(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    user_id: uuid.UUID,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[ProgressExport]:
    """A learner's progress through each course, the last studied first (staff)."""
    page = await uow.read(
        service.user_progress_for_staff, staff, user_id, cursor=cursor, limit=limit
    )
    return PageRead(items=list(page.items), next_cursor=page.next_cursor)


@staff_router.get("/users/{user_id}/attempts", responses=problem_responses(422))
async def staff_list_user_attempts(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    user_id: uuid.UUID,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[AttemptRead]:
    """A learner's attempts, the latest started first (staff)."""
    page = await uow.read(
        service.user_attempts_for_staff, staff, user_id, cursor=cursor, limit=limit
    )
    return PageRead(items=list(page.items), next_cursor=page.next_cursor)
