"""Who the database thinks is acting: the identity PostgreSQL's row level security
policies read, set per transaction so a pooled connection never carries it on."""

import json

from sqlalchemy import Connection, event, text
from sqlalchemy.orm import Session, SessionTransaction

from convobase.core.principal import Principal

PRINCIPAL_KEY = "convobase.principal"
ANONYMOUS_CLAIMS = {"sub": None, "role": "anon", "guest_session_id": None}


def claims_of(principal: Principal | None) -> dict[str, str | None]:
    """The JSON the policies read through convobase_uid() and friends."""
    if principal is None:
        return ANONYMOUS_CLAIMS
    return {
        "sub": str(principal.user_id) if principal.user_id else None,
        "role": principal.role.value,
        "guest_session_id": principal.guest_session_id,
    }


def act_as(session: Session, principal: Principal | None) -> None:
    """Make `principal` the identity of this and later transactions of `session`."""
    session.info[PRINCIPAL_KEY] = principal
    if session.in_transaction():
        _set_claims(session.connection(), principal)


def _set_claims(connection: Connection, principal: Principal | None) -> None:
    if connection.dialect.name != "postgresql":
        return  # SQLite has no row level security: the service layer is the wall.
    # is_local=true: the setting ends with the transaction, unlike a plain SET, which
    # would survive on the pooled connection into the next request.
    connection.execute(
        text("SELECT set_config('request.jwt.claims', :claims, true)"),
        {"claims": json.dumps(claims_of(principal))},
    )


@event.listens_for(Session, "after_begin")
def _identify_transaction(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    if PRINCIPAL_KEY in session.info:
        _set_claims(connection, session.info[PRINCIPAL_KEY])
