from convobase.core.errors import NotFound


class UserNotFound(NotFound):
    """The user does not exist."""
