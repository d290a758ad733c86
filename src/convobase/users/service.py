from sqlalchemy.orm import Session

from convobase.core.errors import Forbidden
from convobase.core.principal import Principal
from convobase.users import repository
from convobase.users.errors import UserNotFound
from convobase.users.models import User


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
