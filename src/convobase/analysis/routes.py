import uuid

from fastapi import APIRouter

from convobase.analysis import service
from convobase.analysis.schemas import AnalysisRead
from convobase.core.deps import PageSize, StaffDep, UnitOfWorkDep, UserDep
from convobase.core.pagination import DEFAULT_PAGE_SIZE, PageRead, page_read
from convobase.core.problems import problem_responses

router = APIRouter(prefix="/v1/me/analysis", tags=["me"], responses=problem_responses(401, 403))
staff_router = APIRouter(
    prefix="/v1/staff/users", tags=["staff"], responses=problem_responses(401, 403)
)


@router.get("", responses=problem_responses(422))
async def list_my_analyses(
    uow: UnitOfWorkDep,
    principal: UserDep,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[AnalysisRead]:
    """Your analyses, newest first: one chat scoring per 25 messages you write, and the
    milestone decisions that followed each."""
    page = await uow.read(service.list_analyses, principal, cursor=cursor, limit=limit)
    return page_read(page, AnalysisRead)


@staff_router.get("/{user_id}/analysis", responses=problem_responses(422))
async def list_user_analyses(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    user_id: uuid.UUID,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[AnalysisRead]:
    """A user's analyses, newest first (staff)."""
    page = await uow.read(service.list_analyses, staff, user_id=user_id, cursor=cursor, limit=limit)
    return page_read(page, AnalysisRead)
