from fastapi import APIRouter, status

from convobase.core.deps import SessionDep, UserPrincipal
from convobase.core.problems import problem_responses
from convobase.users import service
from convobase.users.schemas import UserRead, UserUpdate

router = APIRouter(prefix="/v1/me", tags=["me"], responses=problem_responses(401, 403))


@router.get("")
def read_me(session: SessionDep, principal: UserPrincipal) -> UserRead:
    """Your profile; created on your first request."""
    return UserRead.model_validate(service.ensure_user(session, principal))


@router.patch("", responses=problem_responses(422))
def update_me(session: SessionDep, principal: UserPrincipal, body: UserUpdate) -> UserRead:
    """Replace your goals, profile or preferences."""
    return UserRead.model_validate(service.update_user(session, principal, data=body))


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
def delete_me(session: SessionDep, principal: UserPrincipal) -> None:
    """Delete your account and everything you own: conversations, messages, progress."""
    service.delete_user(session, principal)
