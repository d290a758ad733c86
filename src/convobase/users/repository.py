import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from convobase.core.time import utc_now
from convobase.db import dialect
from convobase.db.base import UTCDateTime
from convobase.users.models import User


def get(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def insert_if_missing(session: Session, user_id: uuid.UUID, email: str | None) -> None:
    now = utc_now()
    statement = (
        dialect.insert(session, User)
        .values(
            id=user_id,
            email=email,
            goals=[],
            profile={},
            preferences={},
            last_active=now,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[User.id])
    )
    session.execute(statement)


def delete(session: Session, user: User) -> None:
    session.delete(user)
    session.flush()


users = cast(Table, User.__table__)

# Run on every authenticated request: built once, sent as Core.
_LAST_ACTIVE = select(users.c.last_active).where(users.c.id == bindparam("user_id"))
_TOUCH = (
    update(users)
    .where(users.c.id == bindparam("user_id"))
    .values(last_active=bindparam("now", type_=UTCDateTime()))
)


def last_active(session: Session, user_id: uuid.UUID) -> datetime | None:
    """When the user was last seen, or None if they have no row yet."""
    seen: datetime | None = (
        session.connection().execute(_LAST_ACTIVE, {"user_id": user_id}).scalar_one_or_none()
    )
    return seen


def touch(session: Session, user_id: uuid.UUID, now: datetime) -> None:
    session.connection().execute(_TOUCH, {"user_id": user_id, "now": now})
