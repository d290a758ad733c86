"""What the conversation store tells other domains, in the transaction it happens in."""

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserMessagesCounted:
    """A signed-in user's tally of `user` messages went from `before` to `after`: by
    one with each message they write, and by a guest session's messages when they
    claim it."""

    user_id: uuid.UUID
    before: int
    after: int
