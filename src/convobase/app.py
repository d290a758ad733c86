"""The HTTP API: `create_app(settings)` builds it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from convobase import __version__, health
from convobase.account import routes as account_routes
from convobase.config import Settings, resolve_jwt_secret
from convobase.conversations import routes as conversation_routes
from convobase.conversations import service as conversation_service
from convobase.conversations.service import MessageLimits
from convobase.core.errors import ConvobaseError
from convobase.core.principal import Principal
from convobase.core.problems import (
    convobase_error_handler,
    http_error_handler,
    internal_error_handler,
    validation_error_handler,
)
from convobase.core.tokens import TokenAuthority
from convobase.db.session import Database
from convobase.personas import routes as persona_routes
from convobase.users import routes as user_routes
from convobase.users import service as user_service

DESCRIPTION = """
The backend for AI tutors, coaches and persona-chat apps.

**Authentication.** Send `Authorization: Bearer <JWT>`, signed with HS256 and the
service's secret (a Supabase project's JWT secret works unchanged). Claims: `sub` (a
UUID), `role`, `exp`, optionally `email`. Roles: `authenticated` (a user: sees and
changes only their own data), `service_role` (staff: manages personas, reads every
conversation), `guest` (from `POST /v1/guest-sessions`: reaches only its own
conversation, at most the guest message limit). A user's row is created on their first
request. A missing, malformed, badly signed or expired token answers 401; a role that
may not call an endpoint, 403.

**Errors** are `application/problem+json` (RFC 9457): `{type, title, status, detail,
code}`; `code` is stable, for programs (`not_found`, `validation_error`,
`guest_limit_reached`, `unauthorized`, `forbidden`, `conflict`, ...). Someone else's
resource answers 404, exactly like a missing one. Nothing is half-written on error.

**Pagination.** Lists answer `{"items": [...], "next_cursor": "..." | null}`; pass
`next_cursor` back as `?cursor=` for the next page.
"""


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """Build the API on `settings` (from the environment by default)."""
    settings = settings or Settings()
    database = database or Database.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        database.dispose()

    app = FastAPI(
        title="convobase",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.database = database
    app.state.tokens = TokenAuthority(
        resolve_jwt_secret(settings), timedelta(seconds=settings.guest_token_ttl_seconds)
    )
    app.state.message_limits = MessageLimits.from_settings(settings)
    app.state.check_caller = check_caller

    app.add_exception_handler(ConvobaseError, convobase_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Exception, internal_error_handler)

    # Requests are matched against routers in this order: the busiest come first.
    for router in (
        conversation_routes.conversations,
        conversation_routes.guest_sessions,
        persona_routes.router,
        user_routes.router,
        account_routes.router,
        health.router,
    ):
        summarize_from_docstrings(router)
        app.include_router(router)
    return app


def summarize_from_docstrings(router: APIRouter) -> None:
    """Give each operation the first sentence of its route's docstring as its OpenAPI
    summary; the whole docstring stays its description."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.summary is None and route.description:
            first_paragraph = route.description.split("\n\n", 1)[0]
            sentence = " ".join(first_paragraph.split()).split(". ", 1)[0]
            route.summary = sentence.removesuffix(".")


def check_caller(session: Session, principal: Principal) -> None:
    """Run once per request with a token: a user's row exists from their first request
    on, and a guest whose session was claimed is turned away."""
    if principal.is_guest:
        conversation_service.require_open_guest_session(session, principal)
    elif principal.user_id is not None:
        user_service.register_request(session, principal)
