import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from convobase.core.time import utc_now
from convobase.db.base import Base, TimestampsMixin

USER_STAGES = (1, 2, 3)


class User(TimestampsMixin, Base):
    """A person using an app built on convobase; `id` is the identity provider's `sub`.

    An anonymous user stands for one guest session (`id` is the session's id): it owns
    the guest's rows until a signed-in user claims them, and is deleted then.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("stage BETWEEN 1 AND 3", name="stage_range"),
        {
            "comment": (
                "The identity provider's user (story 004's users): id is the token's sub, "
                "and the row is created on the first authenticated request. A guest session "
                "has an anonymous user (is_anonymous, id = the session's id) that owns the "
                "guest's rows until a signed-in user claims them; it is deleted then. "
                "Deleting a user deletes every row they own."
            ),
            "info": {"stories": ("004",)},
        },
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True,
        comment=(
            "The identity provider's user id (the token's sub); a guest session's id "
            "for an anonymous user."
        ),
    )
    email: Mapped[str | None] = mapped_column(comment="From the token's email claim, if any.")
    goals: Mapped[list[str]] = mapped_column(
        default=list,
        comment=(
            "The user's goals, each once, at most 50: what the analysis looks for in "
            "their messages."
        ),
    )
    stage: Mapped[int] = mapped_column(
        default=1,
        server_default=text("1"),
        comment=(
            "The user's stage, 1..3 (CHECK): milestones move them up, and at the last "
            "stage they graduate."
        ),
    )
    profile: Mapped[dict[str, Any]] = mapped_column(
        default=dict,
        server_default=text("'{}'"),
        comment="The user's profile: a JSON object of the app's own keys.",
    )
    preferences: Mapped[dict[str, Any]] = mapped_column(
        default=dict,
        server_default=text("'{}'"),
        comment="The user's preferences: a JSON object of the app's own keys.",
    )
    last_active: Mapped[datetime] = mapped_column(
        default=utc_now,
        comment="When the user last made a request: refreshed at most every 5 minutes.",
    )
    graduation_date: Mapped[datetime | None] = mapped_column(
        comment="When the user graduated from the last stage; null until then."
    )
    is_anonymous: Mapped[bool] = mapped_column(
        default=False,
        server_default=text("false"),
        comment="A guest session's owner, not a person's account.",
    )
