"""All SQL of conversations and messages.

Owner scoping goes through one helper, `_owned`: every statement that reads or locks
a conversation on a caller's behalf gets its filter from there, so it cannot be left
out. The statements of the message hot path (append, read a page) are built once per
kind of caller and run as Core on the session's connection, with the caller in bind
parameters: building and running them through the ORM would cost several times the
database's own work (docs/performance.md).
"""

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, Literal, NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from convobase.conversations.models import Conversation, Message
from convobase.core.principal import Principal
from convobase.db import identity
from convobase.db.base import UTCDateTime

conversations = cast(Table, Conversation.__table__)
messages = cast(Table, Message.__table__)


class StoredMessage(NamedTuple):
    """A message as it is read back: what the API shows of it."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    role: str
    content: str
    message_metadata: dict[str, Any]
    client_message_id: str | None
    created_at: datetime


class AppendTarget(NamedTuple):
    """What an append needs to know of the conversation it has locked."""

    id: uuid.UUID
    user_id: uuid.UUID | None
    is_active: bool
    is_guest_session: bool


MESSAGE_COLUMNS = (
    messages.c.id,
    messages.c.conversation_id,
    messages.c.seq,
    messages.c.role,
    messages.c.content,
    messages.c.metadata,
    messages.c.client_message_id,
    messages.c.created_at,
)


# --- owner scoping -----------------------------------------------------------------


class _Caller(Enum):
    USER = "user"
    GUEST = "guest"
    STAFF = "staff"


def _caller(principal: Principal) -> _Caller:
    if principal.is_staff:
        return _Caller.STAFF
    return _Caller.GUEST if principal.is_guest else _Caller.USER


def _owned(caller: _Caller) -> ColumnElement[bool]:
    """The conversations a kind of caller may reach; the caller comes in as parameters."""
    if caller is _Caller.STAFF:
        return true()
    if caller is _Caller.GUEST:
        return and_(
            conversations.c.session_id == bindparam("owner_session_id"),
            conversations.c.is_guest_session,
        )
    return conversations.c.user_id == bindparam("owner_user_id")


def _owner_parameters(principal: Principal) -> dict[str, object]:
    return {"owner_user_id": principal.user_id, "owner_session_id": principal.guest_session_id}


def _orm_owned(principal: Principal) -> ColumnElement[bool]:
    if principal.is_staff:
        return true()
    if principal.is_guest:
        return and_(
            Conversation.session_id == principal.guest_session_id,
            Conversation.is_guest_session,
        )
    return Conversation.user_id == principal.user_id


# --- conversations -----------------------------------------------------------------


def _conversations(principal: Principal) -> Select[Conversation]:
    # populate_existing: the append path changes conversation rows with Core statements,
    # so an object already in the session must be refreshed, not reused as it was.
    return (
        select(Conversation).where(_orm_owned(principal)).execution_options(populate_existing=True)
    )


def get(session: Session, principal: Principal, conversation_id: uuid.UUID) -> Conversation | None:
    statement = _conversations(principal).where(Conversation.id == conversation_id)
    return session.scalars(statement).one_or_none()


def is_visible(session: Session, principal: Principal, conversation_id: uuid.UUID) -> bool:
    parameters = {"conversation_id": conversation_id, **_owner_parameters(principal)}
    found = _run(session, _visible_statement(_caller(principal)), parameters).first()
    return found is not None


def list_page(
    session: Session,
    principal: Principal,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Conversation]:
    """Conversations by latest activity, newest first, strictly after the cursor."""
    statement = _conversations(principal)
    if before is not None:
        last_message_at, conversation_id = before
        statement = statement.where(
            or_(
                Conversation.last_message_at < last_message_at,
                and_(
                    Conversation.last_message_at == last_message_at,
                    Conversation.id < conversation_id,
                ),
            )
        )
    statement = statement.order_by(
        Conversation.last_message_at.desc(), Conversation.id.desc()
    ).limit(limit)
    return session.scalars(statement).all()


def add(session: Session, conversation: Conversation) -> Conversation:
    session.add(conversation)
    session.flush()
    return conversation


def delete(session: Session, conversation: Conversation) -> None:
    session.delete(conversation)
    session.flush()


# --- the append path ---------------------------------------------------------------


def lock_for_append(
    session: Session, principal: Principal, conversation_id: uuid.UUID
) -> AppendTarget | None:
    """Lock the conversation's row until the transaction ends, if the caller may reach it.

    PostgreSQL takes a row lock; SQLite writers already hold the database write lock.
    """
    parameters = {"conversation_id": conversation_id, **_owner_parameters(principal)}
    row = _run(session, _lock_statement(_caller(principal)), parameters).first()
    return None if row is None else AppendTarget(*row)


def get_message_by_client_id(
    session: Session, conversation_id: uuid.UUID, client_message_id: str
) -> StoredMessage | None:
    parameters = {"conversation_id": conversation_id, "client_message_id": client_message_id}
    row = _run(session, _BY_CLIENT_ID, parameters).first()
    return None if row is None else StoredMessage(*row)


def count_guest_message(session: Session, conversation_id: uuid.UUID, limit: int) -> int | None:
    """Count one more guest message if the session is under `limit`, in one statement.

    Returns the new count, or None when the limit is already reached. PostgreSQL
    re-checks the WHERE after waiting on the row lock, so parallel requests cannot
    overshoot; a rollback of the surrounding transaction refunds the count.
    """
    parameters = {"conversation_id": conversation_id, "limit": limit}
    counted: int | None = _run(session, _COUNT_GUEST_MESSAGE, parameters).scalar_one_or_none()
    return counted


class NextSeq(NamedTuple):
    """The seq an append takes, and what it needs to know of its conversation."""

    seq: int
    user_id: uuid.UUID | None
    is_guest_session: bool


def take_next_seq(
    session: Session, principal: Principal, conversation_id: uuid.UUID, now: datetime
) -> NextSeq | None:
    """Advance an active conversation's message counter and return the new seq, in one
    statement that also locks the row; None if the caller cannot reach it or it ended."""
    parameters = {"conversation_id": conversation_id, "now": now, **_owner_parameters(principal)}
    row = _run(session, _take_next_seq_statement(_caller(principal)), parameters).first()
    return None if row is None else NextSeq(*row)


def insert_message(session: Session, message: StoredMessage, user_id: uuid.UUID | None) -> None:
    values = message._asdict()
    values["metadata"] = values.pop("message_metadata")
    _run(session, _INSERT_MESSAGE, {**values, "user_id": user_id})


# --- reading messages --------------------------------------------------------------


# A page query carries the owner check itself, so a page costs one statement; only an
# empty page needs `is_visible` to tell "no messages" from "not yours".


def latest_messages(
    session: Session,
    principal: Principal,
    conversation_id: uuid.UUID,
    *,
    before: int | None,
    limit: int,
) -> list[StoredMessage]:
    """Up to `limit` messages below seq `before` (or the newest), in ascending seq."""
    statement = _page_statement(_caller(principal), "before" if before is not None else None)
    parameters = {
        "conversation_id": conversation_id,
        "before": before,
        "limit": limit,
        **_owner_parameters(principal),
    }
    rows = _run(session, statement, parameters).all()
    return [StoredMessage(*row) for row in reversed(rows)]


def messages_after(
    session: Session, principal: Principal, conversation_id: uuid.UUID, *, after: int, limit: int
) -> list[StoredMessage]:
    """Up to `limit` messages above seq `after`, in ascending seq."""
    parameters = {
        "conversation_id": conversation_id,
        "after": after,
        "limit": limit,
        **_owner_parameters(principal),
    }
    rows = _run(session, _page_statement(_caller(principal), "after"), parameters).all()
    return [StoredMessage(*row) for row in rows]


# --- guest sessions ----------------------------------------------------------------


def act_as(session: Session, principal: Principal) -> None:
    """Switch the transaction's row-level identity (PostgreSQL) to `principal`."""
    identity.act_as(session, principal)


def get_open_guest_conversation(session: Session, session_id: str) -> Conversation | None:
    statement = select(Conversation).where(
        Conversation.session_id == session_id, Conversation.is_guest_session
    )
    return session.scalars(statement).one_or_none()


def claim_guest_conversation(
    session: Session, session_id: str, user_id: uuid.UUID
) -> Conversation | None:
    """Give an open guest conversation and its messages to `user_id`; None if it is not
    open (claimed already, or gone). Parallel claims queue on the row lock."""
    conversation = session.scalars(
        select(Conversation)
        .where(Conversation.session_id == session_id, Conversation.is_guest_session)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if conversation is None:
        return None
    # Messages first: their row policy recognises them through the guest conversation.
    session.execute(
        update(Message)
        .where(Message.conversation_id == conversation.id)
        .values(user_id=user_id)
        .execution_options(synchronize_session=False)
    )
    conversation.user_id = user_id
    conversation.is_guest_session = False
    session.flush()
    return conversation


# --- statements, built once ----------------------------------------------------------


def _run(session: Session, statement: Any, parameters: Mapping[str, object]) -> Any:
    return session.connection().execute(statement, parameters)


@cache
def _lock_statement(caller: _Caller) -> Select[Any]:
    return (
        select(
            conversations.c.id,
            conversations.c.user_id,
            conversations.c.is_active,
            conversations.c.is_guest_session,
        )
        .where(conversations.c.id == bindparam("conversation_id"), _owned(caller))
        .with_for_update()
    )


@cache
def _visible_statement(caller: _Caller) -> Select[Any]:
    return select(conversations.c.id).where(
        conversations.c.id == bindparam("conversation_id"), _owned(caller)
    )


_NOW = bindparam("now", type_=UTCDateTime())


@cache
def _take_next_seq_statement(caller: _Caller) -> Update:
    return (
        update(conversations)
        .where(
            conversations.c.id == bindparam("conversation_id"),
            conversations.c.is_active,
            _owned(caller),
        )
        .values(last_seq=conversations.c.last_seq + 1, last_message_at=_NOW, updated_at=_NOW)
        .returning(
            conversations.c.last_seq, conversations.c.user_id, conversations.c.is_guest_session
        )
    )


_COUNT_GUEST_MESSAGE = (
    update(conversations)
    .where(
        conversations.c.id == bindparam("conversation_id"),
        conversations.c.is_guest_session,
        conversations.c.guest_message_count < bindparam("limit"),
    )
    .values(guest_message_count=conversations.c.guest_message_count + 1)
    .returning(conversations.c.guest_message_count)
)

_INSERT_MESSAGE = insert(messages)

_OF_CONVERSATION = messages.c.conversation_id == bindparam("conversation_id")

_BY_CLIENT_ID = select(*MESSAGE_COLUMNS).where(
    _OF_CONVERSATION, messages.c.client_message_id == bindparam("client_message_id")
)


@cache
def _page_statement(caller: _Caller, direction: Literal["after", "before"] | None) -> Select[Any]:
    reachable = (
        select(conversations.c.id)
        .where(conversations.c.id == bindparam("conversation_id"), _owned(caller))
        .exists()
    )
    statement = select(*MESSAGE_COLUMNS).where(_OF_CONVERSATION, reachable)
    if direction == "after":
        return (
            statement.where(messages.c.seq > bindparam("after"))
            .order_by(messages.c.seq)
            .limit(bindparam("limit"))
        )
    if direction == "before":
        statement = statement.where(messages.c.seq < bindparam("before"))
    return statement.order_by(messages.c.seq.desc()).limit(bindparam("limit"))
