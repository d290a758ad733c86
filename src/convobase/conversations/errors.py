from typing import Any

from convobase.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class ConversationNotFound(NotFound):
    """The conversation does not exist."""


class ConversationEnded(Conflict):
    """The conversation has ended; start a new one to keep talking."""

    code = "conversation_ended"


class ClientMessageIdReused(Conflict):
    """This client_message_id was already used for a different message."""

    code = "client_message_id_reused"


class ContentTooLarge(ValidationFailed):
    """The message content is too large."""

    code = "content_too_large"


class GuestLimitReached(Forbidden):
    """This guest session has used all its messages: sign up to keep the conversation."""

    code = "guest_limit_reached"

    def __init__(self, safety: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.safety = safety

    @property
    def extensions(self) -> dict[str, Any]:
        """The refused message was screened all the same: what to show, if it was flagged."""
        return {} if self.safety is None else {"safety": self.safety}


class MessageRoleForbidden(Forbidden):
    """Only the app's server (service_role) writes assistant and system messages."""

    code = "message_role_forbidden"


class GuestReplyLimitReached(Forbidden):
    """A guest conversation holds at most one reply per user message, plus a greeting."""

    code = "guest_reply_limit_reached"


class GuestSessionAlreadyClaimed(Conflict):
    """This guest session has already been claimed."""

    code = "guest_session_claimed"


class InvalidGuestToken(ValidationFailed):
    """guest_token is not a valid, unexpired guest token of this service."""

    code = "invalid_guest_token"
