import uuid
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Query, Response, status

from convobase.core.deps import (
    LimitsDep,
    PageSize,
    SettingsDep,
    StaffDep,
    UnitOfWorkDep,
    UserDep,
)
from convobase.core.pagination import DEFAULT_PAGE_SIZE, Page, PageRead
from convobase.core.problems import problem_responses
from convobase.tutoring import service
from convobase.tutoring.models import CefrLevel, DialogStatus
from convobase.tutoring.schemas import (
    MAX_SUGGESTIONS,
    DialogSuggestions,
    LessonDialogCreate,
    LessonDialogDetail,
    LessonDialogRead,
    LessonDialogUpdate,
    LibraryTextCreate,
    LibraryTextRead,
    LibraryTextUpdate,
    PracticeRecordRead,
    PurgeReport,
    StaffTutorSessionRead,
    TurnCreate,
    TurnRead,
    TurnResult,
    TutoringContent,
    TutoringImportReport,
    TutorSessionCreate,
    TutorSessionDetail,
    TutorSessionKind,
    TutorSessionRead,
    TutorSessionStarted,
    WordMistakeRead,
)

router = APIRouter(tags=["tutoring"], responses=problem_responses(401, 403))
staff_router = APIRouter(prefix="/v1/staff", tags=["staff"], responses=problem_responses(401, 403))
STAFF_WRITE = problem_responses(404, 409, 422)

Language = Annotated[
    str | None,
    Query(
        min_length=2,
        max_length=35,
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
        description="Only content in this language (a BCP 47 tag: `es`).",
    ),
]
Hint = Annotated[
    bool, Query(description="Give a hint of the line expected: each word's first letter.")
]
Keys = Annotated[
    list[str],
    Query(max_length=200, description="Keys to export; none: every one of the kind."),
]
AcceptLanguage = Annotated[
    str | None,
    Header(description="The languages the learner reads, for the safety block, if any."),
]


T = TypeVar("T")


def _page(page: Page[T]) -> PageRead[T]:
    return PageRead[T](items=list(page.items), next_cursor=page.next_cursor)


# Lesson dialogs


@router.get("/v1/lesson-dialogs", responses=problem_responses(422))
async def list_lesson_dialogs(
    uow: UnitOfWorkDep,
    user: UserDep,
    level: CefrLevel | None = None,
    language: Language = None,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[LessonDialogRead]:
    """Published lesson dialogs by title, of one level and language, with their roles."""
    page = await uow.read(
        service.list_dialogs, user, level=level, language=language, cursor=cursor, limit=limit
    )
    return _page(page)


@router.get("/v1/me/suggested-dialogs", responses=problem_responses(422))
async def suggest_lesson_dialogs(
    uow: UnitOfWorkDep,
    user: UserDep,
    level: CefrLevel | None = None,
    language: Language = None,
    limit: Annotated[int, Query(ge=1, le=MAX_SUGGESTIONS)] = 5,
) -> DialogSuggestions:
    """The published dialogs at your level you practised least, least first (your level:
    that of your latest session, unless given)."""
    return await uow.read(
        service.suggest_dialogs, user, level=level, language=language, limit=limit
    )


@router.get("/v1/lesson-dialogs/{dialog_id}")
async def read_lesson_dialog(
    uow: UnitOfWorkDep, user: UserDep, dialog_id: uuid.UUID
) -> LessonDialogRead:
    """A lesson dialog with its roles: published or archived (drafts for staff)."""
    return await uow.read(service.get_dialog, user, dialog_id)


@router.get("/v1/lesson-dialogs/{dialog_id}/practice")
async def read_dialog_practice(
    uow: UnitOfWorkDep, user: UserDep, dialog_id: uuid.UUID
) -> PracticeRecordRead:
    """Whether you completed this dialog before, how often, and your best score."""
    return await uow.read(service.dialog_practice, user, dialog_id)


@router.post("/v1/lesson-dialogs", status_code=status.HTTP_201_CREATED, responses=STAFF_WRITE)
async def create_lesson_dialog(
    uow: UnitOfWorkDep, staff: StaffDep, body: LessonDialogCreate
) -> LessonDialogDetail:
    """Add a lesson dialog with its roles and lines (staff)."""
    return await uow.run(service.create_dialog, staff, data=body)


@router.patch("/v1/lesson-dialogs/{dialog_id}", responses=STAFF_WRITE)
async def update_lesson_dialog(
    uow: UnitOfWorkDep, staff: StaffDep, dialog_id: uuid.UUID, body: LessonDialogUpdate
) -> LessonDialogDetail:
    """Change a lesson dialog (staff); new roles and lines make a new version."""
    return await uow.run(service.update_dialog, staff, dialog_id, data=body)


@router.delete(
    "/v1/lesson-dialogs/{dialog_id}",
    response_model=LessonDialogDetail,
    responses={
        200: {"description": "The dialog was practised: archived instead."},
        204: {"description": "The dialog was deleted."},
    },
)
async def delete_lesson_dialog(
    uow: UnitOfWorkDep, staff: StaffDep, dialog_id: uuid.UUID
) -> LessonDialogDetail | Response:
    """Delete a lesson dialog nobody practised, else archive it (staff)."""
    archived = await uow.run(service.delete_dialog, staff, dialog_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT) if archived is None else archived


@staff_router.get("/lesson-dialogs", responses=problem_responses(422))
async def staff_list_lesson_dialogs(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    dialog_status: Annotated[DialogStatus | None, Query(alias="status")] = None,
    level: CefrLevel | None = None,
    language: Language = None,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[LessonDialogRead]:
    """Lesson dialogs of every status, or of one (staff)."""
    page = await uow.read(
        service.list_dialogs,
        staff,
        level=level,
        language=language,
        status=dialog_status,
        include_all=True,
        cursor=cursor,
        limit=limit,
    )
    return _page(page)


@staff_router.get("/lesson-dialogs/{dialog_id}")
async def staff_read_lesson_dialog(
    uow: UnitOfWorkDep, staff: StaffDep, dialog_id: uuid.UUID
) -> LessonDialogDetail:
    """A lesson dialog with its roles and lines, of any status (staff)."""
    return await uow.read(service.get_dialog_for_staff, staff, dialog_id)


@staff_router.get("/lesson-dialogs/{dialog_id}/sessions", responses=problem_responses(422))
async def staff_list_dialog_sessions(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    dialog_id: uuid.UUID,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[StaffTutorSessionRead]:
    """Every learner's sessions of a dialog with their email, newest first (staff)."""
    page = await uow.read(
        service.dialog_sessions_for_staff, staff, dialog_id, cursor=cursor, limit=limit
    )
    return _page(page)


@staff_router.post("/lesson-dialogs/{dialog_id}/purge")
async def purge_lesson_dialog(
    uow: UnitOfWorkDep, staff: StaffDep, dialog_id: uuid.UUID
) -> PurgeReport:
    """Delete a lesson dialog with every learner's sessions of it and their turns
    (staff); the transcripts stay with their learners."""
    return await uow.run(service.purge_dialog, staff, dialog_id)


@staff_router.post("/tutoring/import", responses=problem_responses(409, 422))
async def import_tutoring_content(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    body: TutoringContent,
    update_existing: bool = True,
    dry_run: bool = False,
) -> TutoringImportReport:
    """Make the dialogs and texts of a content file exist as it says, matched by key
    (staff); `update_existing=false` keeps those that exist, `dry_run` writes nothing."""
    return await uow.run(
        service.import_content,
        staff,
        document=body,
        update_existing=update_existing,
        dry_run=dry_run,
    )


@staff_router.get("/tutoring/export", responses=problem_responses(422))
async def export_tutoring_content(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    dialog: Keys = [],  # noqa: B006 - FastAPI copies a query list's default
    text: Keys = [],  # noqa: B006
) -> TutoringContent:
    """Dialogs and texts as a content file that imports to the same content (staff)."""
    return await uow.read(service.export_content, staff, dialog_keys=dialog, text_keys=text)


# Library texts


@router.get("/v1/library-texts", responses=problem_responses(422))
async def list_library_texts(
    uow: UnitOfWorkDep,
    user: UserDep,
    level: CefrLevel | None = None,
    language: Language = None,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[LibraryTextRead]:
    """Library texts by title, of one level and language (archived ones for staff)."""
    page = await uow.read(
        service.list_texts, user, level=level, language=language, cursor=cursor, limit=limit
    )
    return _page(page)


@router.get("/v1/library-texts/{text_id}")
async def read_library_text(
    uow: UnitOfWorkDep, user: UserDep, text_id: uuid.UUID
) -> LibraryTextRead:
    """A library text (an archived one for staff)."""
    return await uow.read(service.get_text, user, text_id)


@router.post("/v1/library-texts", status_code=status.HTTP_201_CREATED, responses=STAFF_WRITE)
async def create_library_text(
    uow: UnitOfWorkDep, staff: StaffDep, body: LibraryTextCreate
) -> LibraryTextRead:
    """Add a text to the library (staff)."""
    return await uow.run(service.create_text, staff, data=body)


@router.patch("/v1/library-texts/{text_id}", responses=STAFF_WRITE)
async def update_library_text(
    uow: UnitOfWorkDep, staff: StaffDep, text_id: uuid.UUID, body: LibraryTextUpdate
) -> LibraryTextRead:
    """Change a library text (staff); a new body makes a new version."""
    return await uow.run(service.update_text, staff, text_id, data=body)


@router.delete(
    "/v1/library-texts/{text_id}",
    response_model=LibraryTextRead,
    responses={
        200: {"description": "The text was read in sessions: archived instead."},
        204: {"description": "The text was deleted."},
    },
)
async def delete_library_text(
    uow: UnitOfWorkDep, staff: StaffDep, text_id: uuid.UUID
) -> LibraryTextRead | Response:
    """Delete a library text nobody read, else archive it (staff)."""
    archived = await uow.run(service.delete_text, staff, text_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT) if archived is None else archived


# Tutor sessions

RETRIED_TURN: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A retry with the same client_turn_id: the turn taken first.",
        "model": TurnResult,
    },
}


@router.post(
    "/v1/tutor-sessions", status_code=status.HTTP_201_CREATED, responses=problem_responses(404, 422)
)
async def start_tutor_session(
    uow: UnitOfWorkDep,
    user: UserDep,
    limits: LimitsDep,
    body: TutorSessionCreate,
    hint: Hint = False,
) -> TutorSessionStarted:
    """Practise a lesson dialog playing one of its roles, or read a library text aloud:
    the session, its transcript with your partner's lines up to your first turn, and
    the line expected of you. A role you may not play, or the dialog lacks, and an
    archived dialog are refused (422), saying why."""
    return await uow.run(service.start_session, user, data=body, hint_wanted=hint, limits=limits)


@router.get("/v1/tutor-sessions", responses=problem_responses(422))
async def list_tutor_sessions(
    uow: UnitOfWorkDep,
    user: UserDep,
    kind: TutorSessionKind | None = None,
    dialog_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[TutorSessionRead]:
    """Your tutor sessions, newest first: roleplay or reading ones, or those of a dialog."""
    page = await uow.read(
        service.list_sessions, user, kind=kind, dialog_id=dialog_id, cursor=cursor, limit=limit
    )
    return _page(page)


@router.get("/v1/tutor-sessions/{session_id}", responses=problem_responses(422))
async def read_tutor_session(
    uow: UnitOfWorkDep, user: UserDep, session_id: uuid.UUID, hint: Hint = False
) -> TutorSessionDetail:
    """One of your sessions, and the line expected of you next."""
    return await uow.read(service.get_session, user, session_id, hint_wanted=hint)


@router.post(
    "/v1/tutor-sessions/{session_id}/turns",
    status_code=status.HTTP_201_CREATED,
    responses={**RETRIED_TURN, **problem_responses(404, 409, 422)},
)
async def take_turn(
    uow: UnitOfWorkDep,
    user: UserDep,
    limits: LimitsDep,
    settings: SettingsDep,
    session_id: uuid.UUID,
    body: TurnCreate,
    response: Response,
    hint: Hint = False,
    accept_language: AcceptLanguage = None,
) -> TurnResult:
    """Say the line expected of you: it is evaluated (score, pass or retry, the words
    missing, extra and misspelled) and kept; a line passed is followed by your
    partner's next lines, and the last completes the session. A retry with the same
    client_turn_id answers 200 with the turn taken first."""
    outcome = await uow.run(
        service.take_turn,
        user,
        session_id,
        data=body,
        practice=service.Practice.from_settings(settings),
        limits=limits,
        accept_language=accept_language,
        hint_wanted=hint,
    )
    if outcome.replayed:
        response.status_code = status.HTTP_200_OK
    return outcome.result


@router.get("/v1/tutor-sessions/{session_id}/turns", responses=problem_responses(422))
async def list_turns(
    uow: UnitOfWorkDep,
    user: UserDep,
    session_id: uuid.UUID,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[TurnRead]:
    """A session's turns with their evaluations, in order."""
    page = await uow.read(service.list_turns, user, session_id, cursor=cursor, limit=limit)
    return _page(page)


@router.get("/v1/me/word-mistakes", responses=problem_responses(422))
async def list_word_mistakes(
    uow: UnitOfWorkDep,
    user: UserDep,
    language: Language = None,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[WordMistakeRead]:
    """The words you missed or misspelled in your turns, with how often, the latest
    met first."""
    page = await uow.read(
        service.list_mistakes, user, language=language, cursor=cursor, limit=limit
    )
    return _page(page)
