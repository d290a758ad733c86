"""RFC 9457 problem details: the one shape every error response takes."""

from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from convobase.core.errors import ConvobaseError

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


async def internal_error_handler(request: Request, error: Exception) -> JSONResponse:
    return problem_response(500, "internal_error", "Something went wrong on our side.")


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
