import uuid

from sqlalchemy.orm import Session

from convobase.core.time import utc_now
from convobase.db import dialect
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
