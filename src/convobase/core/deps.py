"""The dependencies routes declare: who is calling, and the transaction they act in.

Everything here reaches the database through `app.state`, set up by `create_app`,
so the kernel imports no domain and no storage code. Dependencies that do no I/O are
`async def`: they run on the event loop instead of costing a thread hop each.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from convobase.core.errors import Forbidden, Unauthorized
from convobase.core.principal import Principal as PrincipalModel
from convobase.core.principal import Role
from convobase.core.tokens import TokenAuthority


class TransactionFactory(Protocol):
    def transaction(
        self, principal: PrincipalModel | None = None, *, readonly: bool = False
    ) -> AbstractContextManager[Session]: ...


# Called once per request for a caller with a token, inside its transaction: creates
# the user's row on their first request and rejects a guest whose session has closed.
CallerCheck = Callable[[Session, PrincipalModel], None]

bearer = HTTPBearer(
    auto_error=False,
    description="A JWT signed with HS256: claims sub (UUID), role "
    "(authenticated | service_role | guest), exp, and optionally email.",
)


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> PrincipalModel | None:
    if credentials is None:
        if "authorization" in request.headers:
            raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
        return None
    tokens: TokenAuthority = request.app.state.tokens
    return tokens.verify(credentials.credentials)


OptionalCaller = Annotated[PrincipalModel | None, Depends(_caller)]


def _session(request: Request, caller: OptionalCaller) -> Iterator[Session]:
    database: TransactionFactory = request.app.state.database
    with database.transaction(caller) as session:
        if caller is not None:
            check: CallerCheck = request.app.state.check_caller
            check(session, caller)
        yield session


# scope="function": the transaction commits before the response is sent, so a
# failed commit can never hide behind a 2xx.
SessionDep = Annotated[Session, Depends(_session, scope="function")]


async def _anyone(caller: OptionalCaller, session: SessionDep) -> PrincipalModel | None:
    return caller


async def _principal(caller: OptionalCaller, session: SessionDep) -> PrincipalModel:
    if caller is None:
        raise Unauthorized
    return caller


async def _user(principal: Annotated[PrincipalModel, Depends(_principal)]) -> PrincipalModel:
    if principal.is_guest or principal.user_id is None:
        raise Forbidden("Sign in to do this.")
    return principal


async def _staff(principal: Annotated[PrincipalModel, Depends(_principal)]) -> PrincipalModel:
    if principal.role is not Role.SERVICE_ROLE:
        raise Forbidden("Only staff (service_role) can do this.")
    return principal


async def _guest(principal: Annotated[PrincipalModel, Depends(_principal)]) -> PrincipalModel:
    if not principal.is_guest:
        raise Forbidden("Only a guest token can do this.")
    return principal


AnyoneDep = Annotated[PrincipalModel | None, Depends(_anyone)]
"""No token needed; the caller if one was sent."""
Principal = Annotated[PrincipalModel, Depends(_principal)]
"""Any valid token: a user, staff or a guest."""
UserPrincipal = Annotated[PrincipalModel, Depends(_user)]
"""A signed-in user (or staff acting with a user id)."""
StaffPrincipal = Annotated[PrincipalModel, Depends(_staff)]
"""Staff: the service_role."""
GuestPrincipal = Annotated[PrincipalModel, Depends(_guest)]
"""A guest token."""
