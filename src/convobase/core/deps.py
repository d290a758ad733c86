"""What routes declare they need, as `Annotated` aliases: who is calling, the unit of
work they act in, the limits and the token authority.

The kernel imports no domain and no storage code: `install` puts the application's
`Services` (built by `convobase.bootstrap`) on the app, and the aliases read them
from there. Dependencies do no I/O and are `async def`: they run on the event loop.
The only thread hop of a request is the one its unit of work makes for the whole
transaction.
"""

import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Concatenate, Literal, ParamSpec, Protocol, TypeVar, cast

from fastapi import Depends, FastAPI, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from convobase.config import Settings
from convobase.core.callers import CallerRegistry
from convobase.core.errors import Forbidden, TooManyRequests, Unauthorized
from convobase.core.limits import Limits, RateLimiter
from convobase.core.pagination import MAX_PAGE_SIZE
from convobase.core.principal import Principal, require_staff
from convobase.core.tokens import TokenAuthority


class TransactionFactory(Protocol):
    def transaction(
        self, principal: Principal | None = None, *, readonly: bool = False
    ) -> AbstractContextManager[Session]: ...


class Services(Protocol):
    """What the HTTP layer needs of the application's composition root."""

    @property
    def settings(self) -> Settings: ...
    @property
    def database(self) -> TransactionFactory: ...
    @property
    def tokens(self) -> TokenAuthority: ...
    @property
    def limits(self) -> Limits: ...
    @property
    def callers(self) -> CallerRegistry: ...
    @property
    def rate_limiter(self) -> RateLimiter: ...


def install(app: FastAPI, services: Services) -> None:
    """Make `services` what this module's dependencies hand to routes."""
    app.state.services = services


def _services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


CallerKind = Literal["anonymous", "user", "staff", "guest"]

# Refused before any decoding; identity providers' access tokens are a few KiB at most.
MAX_TOKEN_LENGTH = 8192

bearer = HTTPBearer(
    auto_error=False,
    description="A JWT signed with HS256: claims sub (UUID), role "
    "(authenticated | service_role | guest), exp, and optionally email.",
)


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    if credentials is None:
        if "authorization" in request.headers:
            raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
        return None
    if len(credentials.credentials) > MAX_TOKEN_LENGTH:
        raise Unauthorized("The bearer token is too long to be one this service accepts.")
    principal = _services(request).tokens.verify(credentials.credentials)
    request.state.caller_kind = kind_of(principal)
    return principal


def kind_of(principal: Principal | None) -> CallerKind:
    """The kind of caller, as request logs name it."""
    if principal is None:
        return "anonymous"
    if principal.is_staff:
        return "staff"
    return "guest" if principal.is_guest else "user"


OptionalCallerDep = Annotated[Principal | None, Depends(_caller)]
"""No token needed; the caller if one was sent."""


Params = ParamSpec("Params")
Result = TypeVar("Result")
Work = Callable[Concatenate[Session, Params], Result]

# PostgreSQL aborts a transaction that deadlocked or lost a serialization conflict and
# expects it to be run again: the unit of work does, a bounded number of times.
RETRIED_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
ATTEMPTS = 3


def with_retries(transaction: Callable[[], Result]) -> Result:
    """Run `transaction`, again after a short random pause when the database aborted it
    as a deadlock or serialization failure, at most ATTEMPTS times in all."""
    attempt = 1
    while True:
        try:
            return transaction()
        except DBAPIError as error:
            retried = getattr(error.orig, "sqlstate", None) in RETRIED_SQLSTATES
            if not retried or attempt == ATTEMPTS:
                raise
        time.sleep(random.uniform(0, 0.01 * 2**attempt))  # in the worker thread
        attempt += 1


class UnitOfWork:
    """One request's transaction, owned by its route: `run` for work that writes,
    `read` for work that changes nothing."""

    def __init__(self, services: Services, caller: Principal | None) -> None:
        self._database = services.database
        self._caller = caller
        self._callers = services.callers
        self._limits = services.limits
        self._rate_limiter = services.rate_limiter

    def _counted(self, transaction: Callable[[], Result]) -> Result:
        # Counted once per request, whatever the retries; in the worker thread, since
        # on PostgreSQL the count is a statement of its own.
        if self._caller is not None and self._limits.requests_per_token:
            key = f"token:{self._caller.role.value}:{self._caller.owner_id}"
            wait = self._rate_limiter.hit(
                key, limit=self._limits.requests_per_token, window=self._limits.request_window
            )
            if wait is not None:
                raise TooManyRequests(
                    wait,
                    f"More than {self._limits.requests_per_token} requests in "
                    f"{self._limits.request_window.total_seconds():g} seconds with this token.",
                )
        return with_retries(transaction)

    async def run(
        self, work: Work[Params, Result], *args: Params.args, **kwargs: Params.kwargs
    ) -> Result:
        """Call `work(session, *args, **kwargs)` in one transaction, committed before
        this returns (so a failed commit can never hide behind a 2xx) and rolled back
        if it raises."""

        # One worker-thread hop for the whole transaction: beginning, the caller check,
        # the work and the commit. A hop per step would also keep SQLite's single
        # writer waiting on the event loop between them.
        def transaction() -> Result:
            with self._database.transaction(self._caller) as session:
                if self._caller is not None and not self._callers.admit(session, self._caller):
                    self._callers.register(session, self._caller)
                return work(session, *args, **kwargs)

        return await run_in_threadpool(self._counted, transaction)

    async def read(
        self, work: Work[Params, Result], *args: Params.args, **kwargs: Params.kwargs
    ) -> Result:
        """Call `work(session, *args, **kwargs)` in a read-only transaction: on SQLite
        it does not wait for the writer, on PostgreSQL it runs READ ONLY.

        Only when the caller's own row must be written first (their first request, or
        `last_active` gone stale) does the work run in a writing transaction instead.
        """

        def transaction() -> Result:
            with self._database.transaction(self._caller, readonly=True) as session:
                if self._caller is None or self._callers.admit(session, self._caller):
                    return work(session, *args, **kwargs)
                caller = self._caller
            with self._database.transaction(caller) as session:
                self._callers.register(session, caller)
                return work(session, *args, **kwargs)

        return await run_in_threadpool(self._counted, transaction)


async def _unit_of_work(request: Request, caller: OptionalCallerDep) -> UnitOfWork:
    return UnitOfWork(_services(request), caller)


async def _anonymous_unit_of_work(request: Request) -> UnitOfWork:
    return UnitOfWork(_services(request), None)


async def _limits(request: Request) -> Limits:
    return _services(request).limits


async def _settings(request: Request) -> Settings:
    return _services(request).settings


async def _tokens(request: Request) -> TokenAuthority:
    return _services(request).tokens


async def _any(caller: OptionalCallerDep) -> Principal:
    if caller is None:
        raise Unauthorized
    return caller


async def _user(principal: Annotated[Principal, Depends(_any)]) -> Principal:
    if not principal.is_signed_in:
        raise Forbidden("Sign in to do this.")
    return principal


async def _staff(principal: Annotated[Principal, Depends(_any)]) -> Principal:
    require_staff(principal)
    return principal


async def _guest(principal: Annotated[Principal, Depends(_any)]) -> Principal:
    if not principal.is_guest:
        raise Forbidden("Only a guest token can do this.")
    return principal


UnitOfWorkDep = Annotated[UnitOfWork, Depends(_unit_of_work)]
"""The request's unit of work: `await uow.run(service.fn, ...)` or `uow.read(...)`."""
AnonymousUnitOfWorkDep = Annotated[UnitOfWork, Depends(_anonymous_unit_of_work)]
"""A unit of work acting for nobody, whatever token was sent: for probes."""
LimitsDep = Annotated[Limits, Depends(_limits)]
"""The operator's limits."""
SettingsDep = Annotated[Settings, Depends(_settings)]
"""The service's settings."""
TokensDep = Annotated[TokenAuthority, Depends(_tokens)]
"""Signs and verifies bearer tokens."""
CallerDep = Annotated[Principal, Depends(_any)]
"""Any valid token: a user, staff or a guest."""
UserDep = Annotated[Principal, Depends(_user)]
"""A signed-in user (or staff acting with a user id)."""
StaffDep = Annotated[Principal, Depends(_staff)]
"""Staff: the service_role."""
GuestDep = Annotated[Principal, Depends(_guest)]
"""A guest token."""
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")]
"""The `limit` query parameter of every list."""
