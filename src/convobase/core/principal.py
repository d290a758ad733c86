"""Who is acting: the identity every service function receives."""

import uuid
from dataclasses import dataclass
from enum import StrEnum

from convobase.core.errors import Forbidden


class Role(StrEnum):
    """The roles a bearer token can carry."""

    AUTHENTICATED = "authenticated"
    SERVICE_ROLE = "service_role"
    GUEST = "guest"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a service function.

    `user_id` is set for signed-in users; `guest_session_id` for guests, who reach
    only the one conversation of their session. Both own rows: `owner_id` is the
    `user_id` those rows carry (a guest's is its session's anonymous user).
    """

    role: Role
    user_id: uuid.UUID | None = None
    guest_session_id: str | None = None
    email: str | None = None

    @classmethod
    def user(cls, user_id: uuid.UUID, email: str | None = None) -> "Principal":
        """A signed-in end user."""
        return cls(role=Role.AUTHENTICATED, user_id=user_id, email=email)

    @classmethod
    def staff(cls, user_id: uuid.UUID | None = None) -> "Principal":
        """Staff acting through the service role."""
        return cls(role=Role.SERVICE_ROLE, user_id=user_id)

    @classmethod
    def guest(cls, session_id: str) -> "Principal":
        """A guest holding one guest session."""
        return cls(role=Role.GUEST, guest_session_id=session_id)

    @property
    def owner_id(self) -> uuid.UUID | None:
        """The `user_id` of the rows this caller owns."""
        if self.guest_session_id is not None:
            return uuid.UUID(self.guest_session_id)
        return self.user_id

    @property
    def is_signed_in(self) -> bool:
        """A user (or staff) with an account of their own, not a guest."""
        return self.user_id is not None and not self.is_guest

    @property
    def is_staff(self) -> bool:
        return self.role is Role.SERVICE_ROLE

    @property
    def is_guest(self) -> bool:
        return self.role is Role.GUEST


def require_staff(principal: Principal, what: str = "do this") -> None:
    """Refuse (403) anyone but staff."""
    if not principal.is_staff:
        raise Forbidden(f"Only staff (service_role) can {what}.")
