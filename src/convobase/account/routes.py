from fastapi import APIRouter, status

from convobase.account import service
from convobase.account.schemas import AccountExport
from convobase.core.deps import UnitOfWorkDep, UserDep
from convobase.core.problems import problem_responses

router = APIRouter(prefix="/v1/me", tags=["me"], responses=problem_responses(401, 403))


@router.get("/export")
async def export_me(uow: UnitOfWorkDep, principal: UserDep) -> AccountExport:
    """Everything you own, as one JSON document."""
    return await uow.read(service.export_account, principal)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(uow: UnitOfWorkDep, principal: UserDep) -> None:
    """Delete your account and everything you own: conversations, messages, progress."""
    await uow.run(service.delete_account, principal)
