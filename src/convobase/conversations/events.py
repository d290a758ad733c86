"""What the conversation store tells other domains, and asks them, in the transaction
it happens in."""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from convobase.core.events import Query


@dataclass(frozen=True, slots=True)
class UserMessagesCounted:
    """A signed-in user's tally of `user` messages went from `before` to `after`: by
    one with each message they write, and by a guest session's messages when they
    claim it."""

    user_id: uuid.UUID
    before: int
    after: int


@dataclass(frozen=True, slots=True)
class SafetyNotice:
    """What screening a message found, and what the writer is shown: a supportive
    message and the crisis resources chosen for them. `event_id` names the crisis
    event recorded in the same transaction."""

    event_id: uuid.UUID
    severity: str
    category: str
    message: str
    resources: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class ScreenUserMessage(Query[SafetyNotice]):
    """A `user` message is being stored, or refused (`message_id` None: a guest past
    the message cap): screen it, and record what is found; None when nothing is.

    `recent` reads the conversation's earlier `user` messages, oldest first, from the
    database: a screen calls it only when the message could mean more after them.
    """

    user_id: uuid.UUID
    conversation_id: uuid.UUID
    message_id: uuid.UUID | None
    content: str
    # The request's Accept-Language header, for the language of what is shown.
    accept_language: str | None
    recent: Callable[[], Sequence[str]]
    # A retry of a stored message: answer what was found the first time, record nothing.
    replayed: bool = False
