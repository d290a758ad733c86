from datetime import timedelta

from sqlalchemy.orm import Session

from convobase.core.errors import Forbidden
from convobase.core.principal import Principal
from convobase.core.time import utc_now
from convobase.users import repository
from convobase.users.errors import UserNotFound
from convobase.users.models import User
from convobase.users.schemas import UserUpdate

# `last_active` is refreshed at most this often, so that reads stay reads.
ACTIVITY_RESOLUTION = timedelta(minutes=5)


def ensure_user(session: Session, principal: Principal) -> User:
    """Return the signed-in user's row, creating it on their first request."""
    if principal.user_id is None:
        raise Forbidden("Only a signed-in user has a profile.")
    user = repository.get(session, principal.user_id)
    if user is None:
        # Two first requests may race; ON CONFLICT makes the loser a no-op.
        repository.insert_if_missing(session, principal.user_id, principal.email)
        user = repository.get(session, principal.user_id)
        if user is None:
            raise UserNotFound
        return user
    now = utc_now()
    if now - user.last_active > ACTIVITY_RESOLUTION:
        user.last_active = now
        session.flush()
    return user


def register_request(session: Session, principal: Principal) -> None:
    """Note a signed-in user's request: their row exists from their first one on, and
    `last_active` follows them (to ACTIVITY_RESOLUTION)."""
    if principal.user_id is None:
        raise Forbidden("Only a signed-in user has a profile.")
    now = utc_now()
    seen = repository.last_active(session, principal.user_id)
    if seen is None:
        repository.insert_if_missing(session, principal.user_id, principal.email)
    elif now - seen > ACTIVITY_RESOLUTION:
        repository.touch(session, principal.user_id, now)


def update_user(session: Session, principal: Principal, *, data: UserUpdate) -> User:
    """Replace the caller's goals, profile or preferences."""
    user = ensure_user(session, principal)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(user, field, value)
    session.flush()
    return user


def delete_user(session: Session, principal: Principal) -> None:
    """Delete the caller's account with every row they own."""
    repository.delete(session, ensure_user(session, principal))
