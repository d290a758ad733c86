"""The one error root: every failure convobase reports to a caller is a subclass."""

from typing import ClassVar


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


class Unauthorized(ConvobaseError):
    """Authentication is required."""

    status = 401
    code = "unauthorized"


class Forbidden(ConvobaseError):
    """You are not allowed to do this."""

    status = 403
    code = "forbidden"
