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
    __table_args__ = (CheckConstraint("stage BETWEEN 1 AND 3", name="stage_range"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str | None]
    goals: Mapped[list[str]] = mapped_column(default=list)
    stage: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    preferences: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    last_active: Mapped[datetime] = mapped_column(default=utc_now)
    graduation_date: Mapped[datetime | None]
    is_anonymous: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
