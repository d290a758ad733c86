from fastapi import APIRouter

from convobase.account import service
from convobase.account.schemas import AccountExport
from convobase.core.deps import UnitOfWorkDep, UserDep
from convobase.core.problems import problem_responses

router = APIRouter(prefix="/v1/me", tags=["me"], responses=problem_responses(401, 403))


@router.get("/export")
async def export_me(uow: UnitOfWorkDep, principal: UserDep) -> AccountExport:
    """Everything you own, as one JSON document."""
    return await uow.read(service.export_account, principal)
