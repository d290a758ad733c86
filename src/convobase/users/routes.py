from fastapi import APIRouter

from convobase.core.deps import UnitOfWorkDep, UserDep
from convobase.core.problems import problem_responses
from convobase.users import service
from convobase.users.schemas import UserRead, UserUpdate

router = APIRouter(prefix="/v1/me", tags=["me"], responses=problem_responses(401, 403))


@router.get("")
async def read_me(uow: UnitOfWorkDep, principal: UserDep) -> UserRead:
    """Your profile; created on your first request."""
    return UserRead.model_validate(await uow.read(service.get_user, principal))


@router.patch("", responses=problem_responses(422))
async def update_me(uow: UnitOfWorkDep, principal: UserDep, body: UserUpdate) -> UserRead:
    """Replace your goals, profile or preferences."""
    return UserRead.model_validate(await uow.run(service.update_user, principal, data=body))
