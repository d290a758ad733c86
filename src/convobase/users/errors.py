from convobase.core.errors import NotFound, Unauthorized


class UserNotFound(NotFound):
    """The user does not exist."""


class GuestSessionClosed(Unauthorized):
    """This guest session has been claimed by an account or no longer exists."""

    code = "guest_session_closed"
