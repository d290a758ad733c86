"""The HTTP API: `create_app(container)` builds it."""

import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, get_args

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

from convobase import __version__, bootstrap, health
from convobase.account import routes as account_routes
from convobase.analysis import routes as analysis_routes
from convobase.conversations import routes as conversation_routes
from convobase.core import deps, problems
from convobase.core.bounds import RequestBoundsMiddleware
from convobase.core.logging import RequestLogMiddleware, configure_logging
from convobase.jobs import routes as job_routes
from convobase.learning import routes as learning_routes
from convobase.onboarding import routes as onboarding_routes
from convobase.personas import routes as persona_routes
from convobase.reviews import routes as review_routes
from convobase.safety import routes as safety_routes
from convobase.tutoring import routes as tutoring_routes
from convobase.tutoring.evaluation import load_evaluator
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

OPENAPI_TAGS = [
    {
        "name": "conversations",
        "description": "Your conversations and their messages, in `seq` order. Users reach "
        "their own; a guest token reaches its session's one conversation.",
    },
    {
        "name": "guest sessions",
        "description": "Chats without an account: start one with a persona (no token), "
        "see what it has left, and claim it into an account after sign-up.",
    },
    {
        "name": "staff",
        "description": "For the app's server, with a service_role token: read any "
        "conversation and post the assistant's replies; personas with their config.",
    },
    {
        "name": "personas",
        "description": "The AI characters users talk to. Anyone may list and read the "
        "active ones; staff create, change and deactivate them.",
    },
    {
        "name": "me",
        "description": "The signed-in user's own profile (with their stage and graduation), "
        "the analyses of their progress, account export and deletion.",
    },
    {
        "name": "onboarding",
        "description": "Your onboarding: resumed where you left off, answered phase by phase "
        "(each write names the version it changes with If-Match), completed once; a "
        "device's onboarding imported once (docs/onboarding.md).",
    },
    {
        "name": "learning",
        "description": "Courses with their sections, prerequisites and assessments: anyone "
        "browses the active catalog, staff manage it. Learners take assessments in attempts "
        "graded on the server, and follow their progress (docs/learning.md).",
    },
    {
        "name": "reviews",
        "description": "Spaced review: cards of what you got wrong in assessments and cards "
        "of your own, scheduled with FSRS by how well you recalled each; what is due today, "
        "by your own day in your time zone; each card's history (docs/reviews.md).",
    },
    {
        "name": "tutoring",
        "description": "Roleplay and reading practice: lesson dialogs with their roles and "
        "lines, library texts (staff manage them, also as content files), and your tutor "
        "sessions, turn by turn, each turn evaluated and kept; the words you missed; which "
        "dialogs to practise next (docs/tutoring.md).",
    },
    {
        "name": "crisis events",
        "description": "What screening every `user` message for signs of crisis recorded: "
        "your own events and the help shown with them, acknowledging that help; for staff, "
        "counts per period (docs/safety.md).",
    },
    {
        "name": "jobs",
        "description": "Background jobs, for staff: list them by state and task, read one "
        "with its last error, retry a failed one, cancel a queued one, count them by state.",
    },
    {
        "name": "health",
        "description": "Probes for load balancers and orchestrators; no token.",
    },
]


# What a browser page on an allowed origin may send and read (CONVOBASE_CORS_ORIGINS).
CORS_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_REQUEST_HEADERS: Final = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "Accept-Language",
    "X-Request-ID",
)
CORS_EXPOSED_HEADERS: Final = ("ETag", "Retry-After", "X-Request-ID")


LANDING_PAGE: Final = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>convobase {__version__}</title></head>
<body>
<h1>convobase {__version__}</h1>
<p>The backend for AI tutors, coaches and persona-chat apps.</p>
<ul>
<li><a href="docs">API documentation (Swagger UI)</a></li>
<li><a href="redoc">API documentation (ReDoc)</a></li>
<li><a href="openapi.json">OpenAPI document</a></li>
<li><a href="healthz">Liveness</a> and <a href="readyz">readiness</a></li>
</ul>
</body>
</html>
"""


async def landing_page() -> HTMLResponse:
    """Name the service and its version, and link its documentation and health checks."""
    return HTMLResponse(LANDING_PAGE)


def create_app(container: bootstrap.Container | None = None) -> FastAPI:
    """Build the API on `container` (wired from the environment by default)."""
    owned = container is None
    container = container or bootstrap.build()
    configure_logging(container.settings.log_level, container.settings.log_format)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # With SQLite the service runs its own job worker, so one command runs it all.
        worker = None
        if container.settings.runs_in_process_worker:
            worker = bootstrap.worker(container)
            thread = threading.Thread(target=worker.run, name="job-worker", daemon=True)
            thread.start()
        yield
        if worker is not None:
            worker.stop()
            thread.join()
        if owned:
            container.close()

    app = FastAPI(
        title="convobase",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
    )
    deps.install(app, container)
    settings = container.settings
    # A misnamed turn evaluator fails here, naming those installed, not at every turn.
    load_evaluator(settings.tutoring_evaluator)
    app.add_middleware(
        RequestBoundsMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        body_timeout=settings.body_timeout_seconds,
    )
    problems.install(app)
    if settings.cors_origins:
        # Outside the body bounds: a preflight has no body and needs no token.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            allow_credentials=settings.cors_allow_credentials,
            max_age=settings.cors_max_age_seconds,
        )
    app.add_middleware(RequestLogMiddleware)  # outermost: it sees every answer, 500s too

    # Requests are matched against routers in this order: the busiest come first.
    routers = (
        conversation_routes.conversations,
        conversation_routes.guest_sessions,
        conversation_routes.staff_conversations,
        persona_routes.router,
        persona_routes.staff_router,
        user_routes.router,
        analysis_routes.router,
        analysis_routes.staff_router,
        onboarding_routes.router,
        onboarding_routes.staff_router,
        review_routes.router,
        learning_routes.router,
        learning_routes.staff_router,
        safety_routes.router,
        safety_routes.staff_router,
        tutoring_routes.router,
        tutoring_routes.staff_router,
        account_routes.router,
        job_routes.router,
        health.router,
    )
    for router in routers:
        summarize_from_docstrings(router)
        app.include_router(router)
    document_operations(app, routers)
    app.add_api_route("/", landing_page, include_in_schema=False, response_class=HTMLResponse)
    return app


def summarize_from_docstrings(router: APIRouter) -> None:
    """Give each operation the first sentence of its route's docstring as its OpenAPI
    summary; the whole docstring stays its description."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.summary is None and route.description:
            first_paragraph = route.description.split("\n\n", 1)[0]
            sentence = " ".join(first_paragraph.split()).split(". ", 1)[0]
            route.summary = sentence.removesuffix(".")


def operation_id(route: APIRoute) -> str:
    """An operation's OpenAPI `operationId`: its route function's name in camelCase
    (`append_message` is `appendMessage`), which generated clients name methods by."""
    first, *rest = route.name.split("_")
    return first + "".join(word[:1].upper() + word[1:] for word in rest)


# What a route depends on when it needs a token (`CallerDep`, which the role-checking
# aliases depend on in turn), and when it needs a token of one role.
_TOKEN_REQUIRED = get_args(deps.CallerDep)[1].dependency
_ROLE_REQUIRED = {
    get_args(alias)[1].dependency for alias in (deps.UserDep, deps.StaffDep, deps.GuestDep)
}
# The unit of work that counts a caller's requests against the rate limit.
_COUNTED = get_args(deps.UnitOfWorkDep)[1].dependency


@dataclass(frozen=True)
class _Access:
    """What the OpenAPI document must say of one operation, read off its route."""

    security: list[dict[str, list[str]]]
    errors: frozenset[int]


def document_operations(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Make the OpenAPI document say of each operation who may call it (`security`) and
    every error it can answer, each as problem+json only.

    Both are read off the routes themselves, so no route can forget them: a route that
    reads the bearer token can answer 401 (and 429 when its unit of work counts the
    caller's requests), one that needs a role 403, one with a path parameter 404, one
    with any input 422 (which the framework would document as its
    `HTTPValidationError`, never sent), one with a body 413.
    """
    routers = list(routers)
    _routes_by_id(routers, [])  # refuses two routes of one operationId now, not later
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # Routes added to the app itself count too (tests add some).
            added = [route for route in app.routes if isinstance(route, APIRoute)]
            routes = _routes_by_id(routers, added)
            _tell_the_truth(generate(), {name: _access_of(route) for name, route in routes.items()})
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _routes_by_id(routers: list[APIRouter], added: list[APIRoute]) -> dict[str, APIRoute]:
    routes = [route for router in routers for route in router.routes if isinstance(route, APIRoute)]
    routes += added
    ids = [route.operation_id or operation_id(route) for route in routes]
    if duplicates := sorted(name for name, count in Counter(ids).items() if count > 1):
        raise RuntimeError(f"routes share an operationId: {', '.join(duplicates)}")
    return dict(zip(ids, routes, strict=True))


def _access_of(route: APIRoute) -> _Access:
    calls = set(_calls(route.dependant))
    scheme: dict[str, list[str]] = {deps.bearer.scheme_name: []}
    errors: set[int] = set()
    if deps.bearer in calls:
        errors.add(401)
        if _COUNTED in calls:
            errors.add(429)
    if calls & _ROLE_REQUIRED:
        errors.add(403)
    if route.dependant.path_params:
        errors.add(404)
    if get_flat_params(route.dependant) or route.body_field is not None:
        errors.add(422)
    if route.body_field is not None:
        errors.add(413)
    if _TOKEN_REQUIRED in calls:
        security = [scheme]
    elif deps.bearer in calls:
        security = [{}, scheme]  # no token needed; one sent is checked
    else:
        security = [{}]
    return _Access(security=security, errors=frozenset(errors))


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every dependency a route's dependencies need, all the way down."""
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _tell_the_truth(schema: dict[str, Any], access: dict[str, _Access]) -> None:
    """Give each operation of the framework's document its `security` and its errors,
    every error as problem+json with an example, and drop the framework's own
    validation error schemas, which nothing sends."""
    for operations in schema["paths"].values():
        for operation in operations.values():
            known = access[operation["operationId"]]
            operation["security"] = known.security
            responses: dict[str, dict[str, Any]] = operation["responses"]
            for status in known.errors:
                responses.setdefault(str(status), {})
            for key, response in list(responses.items()):
                if key.isdigit() and int(key) >= 400:
                    # A route's own description stays; the framework's 422 one goes.
                    description = response.get("description")
                    if description == "Validation Error":
                        description = None
                    responses[key] = problems.problem_response_object(int(key), description)
            operation["responses"] = dict(sorted(responses.items()))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    components.update(problems.problem_schemas())
    schema["components"]["schemas"] = dict(sorted(components.items()))
