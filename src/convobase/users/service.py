import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from convobase.core.errors import Forbidden, ValidationFailed
from convobase.core.principal import Principal
from convobase.core.time import utc_now
from convobase.core.validation import bounded_json
from convobase.users import repository
from convobase.users.errors import GuestSessionClosed, UserNotFound
from convobase.users.models import USER_STAGES, User
from convobase.users.schemas import MAX_DOCUMENT_BYTES, MAX_GOALS, UserUpdate

# `last_active` is refreshed at most this often, so that reads stay reads.
ACTIVITY_RESOLUTION = timedelta(minutes=5)


def admit_caller(session: Session, principal: Principal) -> bool:
    """Check, without writing, that a caller with a token may act: True when their row
    is current, False when `register_caller` must write it first (a user's first
    request, or `last_active` older than ACTIVITY_RESOLUTION). A guest whose session
    was claimed is turned away."""
    if principal.owner_id is None:
        return True  # staff acting without an account of their own
    seen = repository.last_active(session, principal.owner_id)
    if seen is None:
        if principal.is_guest:
            raise GuestSessionClosed
        return False
    return utc_now() - seen <= ACTIVITY_RESOLUTION


def register_caller(session: Session, principal: Principal) -> None:
    """Write what `admit_caller` found missing: the user's row on their first request,
    or a fresh `last_active`."""
    owner_id = principal.owner_id
    if owner_id is None:
        return
    now = utc_now()
    seen = repository.last_active(session, owner_id)
    if seen is None:
        if principal.is_guest:
            raise GuestSessionClosed
        repository.insert(session, owner_id, now, email=principal.email, anonymous=False)
    elif now - seen > ACTIVITY_RESOLUTION:
        repository.touch(session, owner_id, now)


def register_guest(session: Session, guest: Principal) -> None:
    """Create the anonymous user that owns a new guest session's rows."""
    assert guest.owner_id is not None, "a guest session has an owner"
    repository.insert(session, guest.owner_id, utc_now(), email=None, anonymous=True)


def close_guest_session(session: Session, guest: Principal) -> None:
    """Delete a guest session's anonymous user, once its rows have a new owner: its
    token stops working."""
    assert guest.owner_id is not None, "a guest session has an owner"
    repository.delete_anonymous(session, guest.owner_id)


def get_user(session: Session, principal: Principal) -> User:
    """The signed-in caller's own row."""
    if not principal.is_signed_in or principal.user_id is None:
        raise Forbidden("Only a signed-in user has a profile.")
    user = repository.get(session, principal.user_id)
    if user is None:
        raise UserNotFound
    return user


def preferences_of(session: Session, user_id: uuid.UUID) -> dict[str, Any]:
    """A user's preferences, if the transaction may read their row; else none."""
    user = repository.get(session, user_id)
    return dict(user.preferences) if user is not None else {}


def update_user(session: Session, principal: Principal, *, data: UserUpdate) -> User:
    """Replace the caller's goals, profile or preferences."""
    user = get_user(session, principal)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(user, field, value)
    session.flush()
    return user


def add_to_profile(
    session: Session,
    principal: Principal,
    *,
    goals: list[str],
    profile: dict[str, Any],
    preferences: dict[str, Any],
) -> User:
    """Add `goals` to the caller's (each once, at most MAX_GOALS in all) and set the
    keys of `profile` and `preferences` in theirs, keeping their other keys."""
    user = get_user(session, principal)
    user.goals = list(dict.fromkeys([*user.goals, *goals]))[:MAX_GOALS]
    try:
        user.profile = bounded_json(
            {**user.profile, **profile}, max_bytes=MAX_DOCUMENT_BYTES, name="profile"
        )
        user.preferences = bounded_json(
            {**user.preferences, **preferences}, max_bytes=MAX_DOCUMENT_BYTES, name="preferences"
        )
    except ValueError as error:
        raise ValidationFailed(str(error)) from None
    session.flush()
    return user


def delete_user(session: Session, principal: Principal) -> None:
    """Delete the caller's account with every row they own."""
    repository.delete_user(session, get_user(session, principal))


def advance_stage(session: Session, principal: Principal) -> User:
    """Move the caller up a stage (1 → 2 → 3); at the last stage, graduate them."""
    user = get_user(session, principal)
    if user.stage < max(USER_STAGES):
        user.stage += 1
    elif user.graduation_date is None:
        user.graduation_date = utc_now()
    session.flush()
    return user
