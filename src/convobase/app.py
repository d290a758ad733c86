"""The HTTP API: `create_app(container)` builds it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from convobase import __version__, bootstrap, health
from convobase.account import routes as account_routes
from convobase.conversations import routes as conversation_routes
from convobase.core import deps, problems
from convobase.core.bounds import RequestBoundsMiddleware
from convobase.core.logging import RequestLogMiddleware, configure_logging
from convobase.personas import routes as persona_routes
from convobase.users import routes as user_routes

DESCRIPTION = """
The backend for AI tutors, coaches and persona-chat apps.

**Authentication.** Send `Authorization: Bearer <JWT>`, signed with HS256 and the
service's secret (a Supabase project's JWT secret works unchanged). Claims: `sub` (a
UUID), `role`, `exp`, optionally `email`. Roles: `authenticated` (a user: sees and
changes only their own data), `service_role` (staff: manages personas, reads every
conversation), `guest` (from `POST /v1/guest-sessions`: reaches only its own
conversation, at most the guest message limit). A user's row is created on their first
request. A token that is missing, malformed, badly signed, expired, not yet valid, or
for another audience or issuer answers 401, saying which; a role that may not call an
endpoint, 403.

**Errors** are `application/problem+json` (RFC 9457): `{type, title, status, detail,
code}`; `code` is stable, for programs (`not_found`, `validation_error`,
`guest_limit_reached`, `unauthorized`, `forbidden`, `conflict`, ...). Someone else's
resource answers 404, exactly like a missing one. Nothing is half-written on error.

**Pagination.** Lists answer `{"items": [...], "next_cursor": "..." | null}`; pass
`next_cursor` back as `?cursor=` for the next page.
"""


def create_app(container: bootstrap.Container | None = None) -> FastAPI:
    """Build the API on `container` (wired from the environment by default)."""
    owned = container is None
    container = container or bootstrap.build()
    configure_logging(container.settings.log_level, container.settings.log_format)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            container.close()

    app = FastAPI(
        title="convobase",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    deps.install(app, container)
    settings = container.settings
    app.add_middleware(
        RequestBoundsMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        body_timeout=settings.body_timeout_seconds,
    )
    problems.install(app)
    app.add_middleware(RequestLogMiddleware)  # outermost: it sees every answer, 500s too

    # Requests are matched against routers in this order: the busiest come first.
    for router in (
        conversation_routes.conversations,
        conversation_routes.guest_sessions,
        conversation_routes.staff_conversations,
        persona_routes.router,
        persona_routes.staff_router,
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
