"""RFC 9457 problem details: the one shape every error response takes."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convobase.core.errors import ConvobaseError
from convobase.core.logging import log_unexpected_error

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://convobase.dev/problems/"


class FieldError(BaseModel):
    """One invalid input: where it is and what is wrong with it."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An error response (RFC 9457); `code` is stable and meant for programs."""

    type: str = Field(examples=[f"{TYPE_BASE}not_found"])
    title: str = Field(examples=["The resource does not exist."])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["The conversation does not exist."])
    code: str = Field(examples=["not_found"])
    errors: list[FieldError] | None = Field(
        default=None, description="For validation errors: each invalid input."
    )


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
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
        problem.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


async def convobase_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ConvobaseError)
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return problem_response(
        error.status, error.code, error.detail, title=error.title, headers=headers
    )


async def validation_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        FieldError(
            loc=[part for part in item.get("loc", ()) if isinstance(part, str | int)],
            msg=str(item.get("msg", "")),
            type=str(item.get("type", "")),
        )
        for item in error.errors()
    ]
    detail = "; ".join(f"{_where(item.loc)}: {item.msg}" for item in errors[:5])
    return problem_response(
        422, "validation_error", detail or "The request is not valid.", errors=errors
    )


async def http_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    return problem_response(
        error.status_code, code, str(error.detail), headers=dict(error.headers or {})
    )


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


def install(app: FastAPI) -> None:
    """Render every error as problem+json: convobase's own, invalid requests, unknown
    paths and methods, and anything unexpected (logged once, with its traceback)."""
    app.add_exception_handler(ConvobaseError, convobase_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_middleware(UnexpectedErrorMiddleware)


def _where(loc: list[str | int]) -> str:
    # Drop the "body"/"query" prefix: the field name is what the caller recognises.
    parts = loc[1:] if len(loc) > 1 and loc[0] in ("body", "query", "path") else loc
    return ".".join(str(part) for part in parts) or "request"


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem+json for `statuses`."""
    return {
        status: {
            "model": Problem,
            "content": {MEDIA_TYPE: {}},
            "description": HTTPStatus(status).phrase,
        }
        for status in statuses
    }
