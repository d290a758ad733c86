import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from convobase.db import dialect
from convobase.db.base import UTCDateTime
from convobase.users.models import User

users = cast(Table, User.__table__)


def get(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def insert(
    session: Session, user_id: uuid.UUID, now: datetime, *, email: str | None, anonymous: bool
) -> None:
    """Add a user's row; a row that exists already is left as it is (two first requests
    may race, and the loser's insert does nothing)."""
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
            is_anonymous=anonymous,
        )
        .on_conflict_do_nothing(index_elements=[User.id])
    )
    session.execute(statement)


def delete_user(session: Session, user: User) -> None:
    session.delete(user)
    session.flush()


def delete_anonymous(session: Session, user_id: uuid.UUID) -> None:
    session.execute(delete(User).where(User.id == user_id, User.is_anonymous))


# Run on every request with a token: built once, sent as Core.
_LAST_ACTIVE = select(users.c.last_active).where(users.c.id == bindparam("user_id"))
_TOUCH = (
    update(users)
    .where(users.c.id == bindparam("user_id"))
    .values(last_active=bindparam("now", type_=UTCDateTime()))
)


def last_active(session: Session, user_id: uuid.UUID) -> datetime | None:
    """When the user was last seen, or None if they have no row."""
    seen: datetime | None = (
        session.connection().execute(_LAST_ACTIVE, {"user_id": user_id}).scalar_one_or_none()
    )
    return seen


def touch(session: Session, user_id: uuid.UUID, now: datetime) -> None:
    session.connection().execute(_TOUCH, {"user_id": user_id, "now": now})
