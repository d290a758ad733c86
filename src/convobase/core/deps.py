"""The dependencies routes declare: who is calling, and the unit of work they act in.

Everything here reaches the database through `app.state`, set up by `create_app`,
so the kernel imports no domain and no storage code. Dependencies do no I/O and are
`async def`: they run on the event loop. The only thread hop of a request is the one
`UnitOfWork.run` makes for its whole transaction.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Concatenate, ParamSpec, Protocol, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

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


Params = ParamSpec("Params")
Result = TypeVar("Result")


class UnitOfWork:
    """One request's transaction, owned by its route."""

    def __init__(
        self, database: TransactionFactory, caller: PrincipalModel | None, check: CallerCheck
    ) -> None:
        self._database = database
        self._caller = caller
        self._check = check

    async def run(
        self,
        work: Callable[Concatenate[Session, Params], Result],
        *args: Params.args,
        **kwargs: Params.kwargs,
    ) -> Result:
        """Call `work(session, *args, **kwargs)` in one transaction, committed before
        this returns (so a failed commit can never hide behind a 2xx) and rolled back
        if it raises."""

        # One worker-thread hop for the whole transaction: beginning, the caller check,
        # the work and the commit. A hop per step would also keep SQLite's single
        # writer waiting on the event loop between them.
        def transaction() -> Result:
            with self._database.transaction(self._caller) as session:
                if self._caller is not None:
                    self._check(session, self._caller)
                return work(session, *args, **kwargs)

        return await run_in_threadpool(transaction)


async def _unit_of_work(request: Request, caller: OptionalCaller) -> UnitOfWork:
    return UnitOfWork(request.app.state.database, caller, request.app.state.check_caller)


UnitOfWorkDep = Annotated[UnitOfWork, Depends(_unit_of_work)]


async def _principal(caller: OptionalCaller) -> PrincipalModel:
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


AnyoneDep = OptionalCaller
"""No token needed; the caller if one was sent."""
Principal = Annotated[PrincipalModel, Depends(_principal)]
"""Any valid token: a user, staff or a guest."""
UserPrincipal = Annotated[PrincipalModel, Depends(_user)]
"""A signed-in user (or staff acting with a user id)."""
StaffPrincipal = Annotated[PrincipalModel, Depends(_staff)]
"""Staff: the service_role."""
GuestPrincipal = Annotated[PrincipalModel, Depends(_guest)]
"""A guest token."""
