from fastapi import APIRouter

from convobase.account import service
from convobase.account.schemas import AccountExport
from convobase.core.deps import UnitOfWorkDep, UserPrincipal
from convobase.core.problems import problem_responses

router = APIRouter(prefix="/v1/me", tags=["me"], responses=problem_responses(401, 403))


@router.get("/export")
async def export_me(uow: UnitOfWorkDep, principal: UserPrincipal) -> AccountExport:
    """Everything you own, as one JSON document."""
    return await uow.run(service.export_account, principal)
