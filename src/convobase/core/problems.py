"""RFC 9457 problem details: the one shape every error response takes."""

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convobase.core.errors import (
    Conflict,
    ConvobaseError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unauthorized,
    ValidationFailed,
    error_for_constraint,
)
from convobase.core.logging import log_unexpected_error
from convobase.core.validation import unstorable

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://convobase.dev/problems/"
SCHEMA_REF = "#/components/schemas/Problem"
"""Where the OpenAPI document keeps the `Problem` schema (`problem_schemas` puts it there)."""

_SHOWN_INPUT_CHARACTERS: Final = 100
_SQLITE_UNIQUE: Final = "UNIQUE constraint failed: "
_SQLITE_CHECK: Final = "CHECK constraint failed: "
_log: Final = logging.getLogger("convobase.error")


class FieldError(BaseModel):
    """One invalid input: where it is and what is wrong with it."""

    loc: list[str | int]
    msg: str
    type: str


class DocumentError(BaseModel):
    """One problem in a document the request carries (an assessment's questions, a
    dialog's script, an answer, a content file): where it is, as a JSON pointer, and
    what is wrong; for a content file, also the file and its line and column."""

    path: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None


class Problem(BaseModel):
    """An error response (RFC 9457); `code` is stable and meant for programs."""

    type: str = Field(examples=[f"{TYPE_BASE}not_found"])
    title: str = Field(examples=["The resource does not exist."])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["The conversation does not exist."])
    code: str = Field(examples=["not_found"])
    errors: Sequence[FieldError | DocumentError] | None = Field(
        default=None,
        description="For validation errors, each invalid input: the request's own fields "
        "as `loc`, `msg` and `type`; the documents it carries as `path` (a JSON pointer) "
        "and `message`.",
    )


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=f"{TYPE_BASE}{code}",
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        code=code,
        errors=errors,
    )
    return JSONResponse(
        {**(extensions or {}), **problem.model_dump(exclude_none=True)},
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


async def convobase_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ConvobaseError)
    return problem_response(
        error.status,
        error.code,
        error.detail,
        title=error.title,
        headers=error.headers or None,
        extensions=error.extensions,
    )


async def validation_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        FieldError(
            loc=[
                _shown(part) if isinstance(part, str) else part
                for part in item.get("loc", ())
                if isinstance(part, str | int)
            ],
            msg=_shown(str(item.get("msg", "")), limit=None),
            type=str(item.get("type", "")),
        )
        for item in error.errors()
    ]
    return validation_problem(errors)


def validation_problem(errors: list[FieldError]) -> JSONResponse:
    """A 422 `validation_error` listing `errors`, the first few of them in its detail."""
    detail = "; ".join(f"{_where(item.loc)}: {item.msg}" for item in errors[:5])
    # The title of the problem type, as ValidationFailed's answers carry it too.
    title = ValidationFailed().title
    return problem_response(422, ValidationFailed.code, detail or title, title=title, errors=errors)


async def http_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400 and isinstance(error.__cause__, ValueError | RecursionError):
        # FastAPI could not decode a JSON body: not UTF-8, nested past the parser's
        # recursion limit, or a number of more digits than Python converts.
        return validation_problem([_unreadable_body(error.__cause__)])
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    headers = dict(error.headers or {})
    if error.status_code == 405:
        # The framework names only the methods of the first route that matched the
        # path; a path served by several routes (GET and POST /v1/conversations) allows
        # the methods of all of them.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    # One title per problem type: a path nothing serves is `not_found` as a missing row is.
    title = NotFound().title if error.status_code == 404 else None
    return problem_response(
        error.status_code, code, str(error.detail), title=title, headers=headers
    )


_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route of the app answers at the request's path."""
    routes: list[BaseRoute] = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


def _unreadable_body(cause: ValueError | RecursionError) -> FieldError:
    if isinstance(cause, UnicodeDecodeError):
        return FieldError(loc=["body"], msg="The body is not valid UTF-8.", type="json_invalid")
    if isinstance(cause, RecursionError):
        return FieldError(
            loc=["body"], msg="The body nests too deeply to be read.", type="json_invalid"
        )
    return FieldError(
        loc=["body"],
        msg="The body could not be read as JSON (a number with too many digits?).",
        type="json_invalid",
    )


async def integrity_error_handler(request: Request, error: Exception) -> JSONResponse:
    """A write the database refused (a unique name taken by a request that committed
    first): the error registered for the constraint with `raised_for_constraint`, else
    409 `conflict`. The unit of work has rolled back: nothing was written."""
    assert isinstance(error, IntegrityError)
    constraint = constraint_name(error)
    answer = error_for_constraint(constraint)
    if type(answer) is Conflict:
        _log.warning(
            "the database refused a write under %s; answered 409 conflict",
            constraint or "an unnamed constraint",
            extra={"request_id": request.scope.get("state", {}).get("request_id")},
        )
    return await convobase_error_handler(request, answer)


def constraint_name(error: IntegrityError) -> str | None:
    """The name of the constraint a refused write broke, as the schema names it."""
    diagnostics = getattr(error.orig, "diag", None)  # psycopg
    if (name := getattr(diagnostics, "constraint_name", None)) is not None:
        return str(name)
    # SQLite names a CHECK, but of a UNIQUE constraint only its columns: the name is
    # rebuilt by the schema's naming convention (db/base.NAMING_CONVENTION).
    message = str(error.orig)
    if message.startswith(_SQLITE_CHECK):
        return message.removeprefix(_SQLITE_CHECK)
    if message.startswith(_SQLITE_UNIQUE):
        columns = [column.strip() for column in message.removeprefix(_SQLITE_UNIQUE).split(",")]
        table = columns[0].split(".", 1)[0]
        return "_".join(["uq", table, *(column.split(".", 1)[-1] for column in columns)])
    return None


class UnexpectedErrorMiddleware:
    """Answer an error no handler expected with a 500 problem, logged once with its
    traceback and request id.

    Starlette's own last-resort handler sits outside every middleware (so the answer
    would lack the request id) and re-raises to the server, which logs the traceback
    a second time. This one sits inside the request log and keeps the error.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception as error:
            log_unexpected_error(scope.get("state", {}).get("request_id"), error)
            if started:
                raise  # too late to answer: the server closes the connection
            response = problem_response(500, "internal_error", "Something went wrong on our side.")
            await response(scope, receive, send)


class StorableQueryMiddleware:
    """Answer 422 for a query string holding a NUL character (%00), which no parameter
    may hold: PostgreSQL cannot compare text with it, so it would fail there and not on
    SQLite. Text in a query string cannot hold lone surrogates: it is decoded with
    replacement characters. Bodies are checked by the request schemas."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            if b"%00" in query or b"\x00" in query:
                errors = _unstorable_parameters(query)
                if errors:
                    await validation_problem(errors)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _unstorable_parameters(query: bytes) -> list[FieldError]:
    errors = []
    # Decoded as Starlette decodes it for the routes.
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if (reason := unstorable(name) or unstorable(value)) is not None:
            errors.append(FieldError(loc=["query", _shown(name)], msg=reason, type="value_error"))
    return errors


def install(app: FastAPI) -> None:
    """Render every error as problem+json: convobase's own, invalid requests, unknown
    paths and methods, writes the database refused, and anything unexpected (logged
    once, with its traceback)."""
    app.add_exception_handler(ConvobaseError, convobase_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(IntegrityError, integrity_error_handler)
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(StorableQueryMiddleware)


def _where(loc: list[str | int]) -> str:
    # Drop the "body"/"query" prefix: the field name is what the caller recognises.
    parts = loc[1:] if len(loc) > 1 and loc[0] in ("body", "query", "path") else loc
    return ".".join(str(part) for part in parts) or "request"


def _shown(text: str, *, limit: int | None = _SHOWN_INPUT_CHARACTERS) -> str:
    """Text from the request (a field name, a key) as an answer can carry it: lone
    surrogates escaped (no UTF-8 encodes them), and at most `limit` characters."""
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}..."
    return text.encode("utf-8", "backslashreplace").decode()


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem+json for `statuses`: the `Problem`
    schema under `application/problem+json` only (a `model` would also claim
    `application/json`, which no error is sent as), with an example of the status."""
    return {status: problem_response_object(status) for status in statuses}


def problem_response_object(status: int, description: str | None = None) -> dict[str, Any]:
    """The OpenAPI response object of a problem+json answer with `status`: its content,
    and the headers that answers of the status carry."""
    response: dict[str, Any] = {
        "description": description or HTTPStatus(status).phrase,
        "content": {MEDIA_TYPE: problem_content(status)},
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def problem_content(status: int) -> dict[str, Any]:
    """The OpenAPI media type object of a problem+json answer with `status`."""
    return {"schema": {"$ref": SCHEMA_REF}, "example": problem_example(status)}


_HEADERS: Final[dict[int, dict[str, Any]]] = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: the token to send.",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


# What an answer of each status is, when no route says more: a ConvobaseError case, or
# the (code, detail) the framework's and the middlewares' answers carry.
_EXAMPLES: Final[dict[int, type[ConvobaseError] | tuple[str, str]]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: ("method_not_allowed", "Method Not Allowed"),
    408: ("request_timeout", "No part of the body arrived for 30 seconds."),
    409: Conflict,
    412: PreconditionFailed,
    413: ("payload_too_large", "The body is 2000000 bytes; the limit is 1048576."),
    422: ValidationFailed,
    428: PreconditionRequired,
    429: ("rate_limited", "More than 600 requests in 60 seconds with this token."),
    431: ("headers_too_large", "The request headers are 20000 bytes; the limit is 16384."),
    500: ("internal_error", "Something went wrong on our side."),
    503: ("database_unreachable", "The database is not reachable."),
}


def problem_example(status: int) -> dict[str, Any]:
    """An example problem+json body of `status`, with the code it usually carries."""
    case = _EXAMPLES.get(status, ("http_error", HTTPStatus(status).phrase))
    if isinstance(case, tuple):
        code, detail = case
        title = HTTPStatus(status).phrase
    else:
        code, detail, title = case.code, case().detail, case().title
    errors = None
    if status == 422:
        detail = "limit: Input should be less than or equal to 200"
        errors = [
            FieldError(
                loc=["query", "limit"],
                msg="Input should be less than or equal to 200",
                type="less_than_equal",
            )
        ]
    problem = Problem(
        type=f"{TYPE_BASE}{code}",
        title=title,
        status=status,
        detail=detail,
        code=code,
        errors=errors,
    )
    return problem.model_dump(exclude_none=True)


def problem_schemas() -> dict[str, dict[str, Any]]:
    """The JSON schemas of `Problem` and what it holds, for the OpenAPI document's
    components (`problem_responses` refers to them)."""
    schema = Problem.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    definitions: dict[str, dict[str, Any]] = schema.pop("$defs", {})
    return {**definitions, "Problem": schema}
