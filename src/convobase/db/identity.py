"""Who the database thinks is acting: the identity PostgreSQL's row level security
policies read, set per transaction so a pooled connection never carries it on."""

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session, SessionTransaction

from convobase.core.principal import Principal
from convobase.db.engine import ROLES, Roles

IDENTITY_KEY = "convobase.identity"
# The identity the current transaction's connection was last told: so that switching
# to one it already has sends nothing.
APPLIED_KEY = "convobase.identity.applied"
# Sent straight to the driver (psycopg): every transaction runs one, and SQLAlchemy's
# execution machinery would cost more Python than the statement's round trip.
_SET_CLAIMS = "SELECT set_config('request.jwt.claims', %s, true)"
# One statement sets both: the policies of the role read the claims.
_SET_CLAIMS_AND_ROLE = (
    "SELECT set_config('request.jwt.claims', %s, true), set_config('role', %s, true)"
)


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller a transaction acts for, whom a guest hands its rows over to while a
    signed-in user claims them, and whether it is keeping the job queue."""

    principal: Principal | None
    handover_to: uuid.UUID | None = None
    keeps_jobs: bool = False

    def claims(self) -> str:
        """The JSON the policies read through convobase_uid() and friends."""
        principal = self.principal
        owner = principal.owner_id if principal is not None else None
        return json.dumps(
            {
                "sub": str(owner) if owner is not None else None,
                "role": principal.role.value if principal is not None else "anon",
                "handover_to": str(self.handover_to) if self.handover_to else None,
            }
        )


def act_as(
    session: Session, principal: Principal | None, *, handover_to: uuid.UUID | None = None
) -> None:
    """Make `principal` the identity of this and later transactions of `session`."""
    _act(session, Identity(principal, handover_to))


def act_as_job_keeper(session: Session) -> None:
    """Make this and later transactions of `session` act as the job queue's keeper (a
    worker), for nobody in particular."""
    _act(session, Identity(None, keeps_jobs=True))


@contextmanager
def keeping_jobs(session: Session) -> Iterator[None]:
    """Act as the job queue's keeper for the block (to queue a job in a caller's
    transaction), and as before after it."""
    before: Identity = session.info.get(IDENTITY_KEY, Identity(None))
    if before.keeps_jobs:
        yield
        return
    _act(session, replace(before, keeps_jobs=True))
    try:
        yield
    except BaseException:
        session.info[IDENTITY_KEY] = before  # the transaction is rolling back anyway
        raise
    _act(session, before)


def _act(session: Session, identity: Identity) -> None:
    session.info[IDENTITY_KEY] = identity
    if not session.in_transaction():
        return  # the transaction's beginning applies it
    connection = session.connection()  # beginning the transaction now applies it
    if session.info.get(APPLIED_KEY) is not identity:
        _set_claims(connection, identity)
        session.info[APPLIED_KEY] = identity


def _set_claims(connection: Connection, identity: Identity) -> None:
    if connection.dialect.name != "postgresql":
        return  # SQLite has no row level security: the service layer is the wall.
    # is_local=true: the settings end with the transaction, unlike a plain SET, which
    # would survive on the pooled connection into the next request. Staff act as a role
    # of their own, whose policies reach every row where a table grants it.
    driver_connection = connection.connection.driver_connection
    assert driver_connection is not None
    roles: Roles | None = connection.get_execution_options().get(ROLES)
    if roles is None:
        driver_connection.execute(_SET_CLAIMS, (identity.claims(),))
        return
    is_staff = identity.principal is not None and identity.principal.is_staff
    role = roles.jobs if identity.keeps_jobs else roles.staff if is_staff else roles.caller
    driver_connection.execute(_SET_CLAIMS_AND_ROLE, (identity.claims(), role))


@event.listens_for(Session, "after_begin")
def _identify_transaction(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    if IDENTITY_KEY in session.info:
        identity = session.info[IDENTITY_KEY]
        _set_claims(connection, identity)
        session.info[APPLIED_KEY] = identity
