"""The one error root: every failure convobase reports to a caller is a subclass."""

import math
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar


class ConvobaseError(Exception):
    """Something went wrong."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.title
        super().__init__(self.detail)

    @property
    def title(self) -> str:
        """The case's fixed, human-readable title: its docstring."""
        return (type(self).__doc__ or type(self).__name__).strip()

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries."""
        return {}

    @property
    def extensions(self) -> dict[str, Any]:
        """Members the problem document carries besides the standard ones (RFC 9457)."""
        return {}


class NotFound(ConvobaseError):
    """The resource does not exist."""

    status = 404
    code = "not_found"


class ValidationFailed(ConvobaseError):
    """The request is not valid."""

    status = 422
    code = "validation_error"


class Conflict(ConvobaseError):
    """The request conflicts with the current state of the resource."""

    status = 409
    code = "conflict"


class PreconditionFailed(ConvobaseError):
    """The resource has changed since you read it: read it again, then retry."""

    status = 412
    code = "precondition_failed"


class PreconditionRequired(ConvobaseError):
    """This request must say which version it changes: send If-Match with its ETag."""

    status = 428
    code = "precondition_required"


class Unauthorized(ConvobaseError):
    """Authentication is required."""

    status = 401
    code = "unauthorized"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ConvobaseError):
    """You are not allowed to do this."""

    status = 403
    code = "forbidden"


class TooManyRequests(ConvobaseError):
    """Too many requests: wait before trying again."""

    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: float, detail: str | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


E = TypeVar("E", bound=type[ConvobaseError])

_BY_CONSTRAINT: dict[str, type[ConvobaseError]] = {}


def raised_for_constraint(*names: str) -> Callable[[E], E]:
    """Class decorator: when the database refuses a write under one of the constraints
    `names` (a race the service's own check lost, such as two requests taking one
    unique name at once), the caller gets this error.

    Names are the schema's (db/base.NAMING_CONVENTION): `uq_personas_name`.
    """

    def register(error: E) -> E:
        for name in names:
            if _BY_CONSTRAINT.setdefault(name, error) is not error:
                raise ValueError(f"{name} already answers as {_BY_CONSTRAINT[name].__name__}")
        return error

    return register


def error_for_constraint(name: str | None) -> ConvobaseError:
    """The error for a write refused under constraint `name`: the one registered with
    `raised_for_constraint`, else Conflict."""
    error = _BY_CONSTRAINT.get(name or "", Conflict)
    return error()


def constraints_with_errors() -> dict[str, type[ConvobaseError]]:
    """Every constraint registered with `raised_for_constraint`, and its error."""
    return dict(_BY_CONSTRAINT)
