"""All SQL of conversations and messages.

Both tables are user-owned: every statement run on a caller's behalf is limited by the
kernel's owner rule (`convobase.db.ownership`) to `scope`: the caller's own rows, unless
the service grants a staff caller every row (the staff routes do). The statements of
the message hot path (append, read a page) are built once per scope and run as Core on
the session's connection, with the caller in bind parameters: building and running
them through the ORM would cost several times the database's own work
(docs/performance.md).
"""

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, Literal, NamedTuple, cast

from sqlalchemy import (
    Boolean,
    Integer,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    false,
    insert,
    not_,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from convobase.conversations.models import Conversation, Message, MessageRole, MessageTally
from convobase.core.limits import Limits
from convobase.core.principal import Principal
from convobase.db import identity, ownership, rate_limits
from convobase.db.base import UTCDateTime
from convobase.db.keyset import seek
from convobase.db.ownership import Scope, owner_parameters, scoped, visible

conversations = cast(Table, Conversation.__table__)
OWN = Scope.OWN_ROWS
# How many earlier `user` messages a screen may read for context.
RECENT_USER_MESSAGES = 6
messages = cast(Table, Message.__table__)
tallies = cast(Table, MessageTally.__table__)


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


# What a read of one conversation's messages selects. Not conversation_id: the caller
# named it, and decoding it again on every row is a tenth of a page's cost on SQLite.
MESSAGE_COLUMNS = (
    messages.c.id,
    messages.c.seq,
    messages.c.role,
    messages.c.content,
    messages.c.metadata,
    messages.c.client_message_id,
    messages.c.created_at,
)


def _messages_of(conversation_id: uuid.UUID, rows: Sequence[Any]) -> list[StoredMessage]:
    """Rows of MESSAGE_COLUMNS as messages of `conversation_id`."""
    return [
        StoredMessage(id, conversation_id, seq, role, content, metadata, client_id, created)
        for id, seq, role, content, metadata, client_id, created in rows
    ]


# --- conversations -----------------------------------------------------------------


def _conversations(principal: Principal, scope: Scope = OWN) -> Select[Conversation]:
    # populate_existing: the append path changes conversation rows with Core statements,
    # so an object already in the session must be refreshed, not reused as it was.
    statement = select(Conversation).execution_options(populate_existing=True)
    return scoped(statement, Conversation, principal, staff=scope is Scope.EVERY_ROW)


def get(
    session: Session, principal: Principal, conversation_id: uuid.UUID, *, scope: Scope = OWN
) -> Conversation | None:
    statement = _conversations(principal, scope).where(Conversation.id == conversation_id)
    return session.scalars(statement).one_or_none()


def is_visible(
    session: Session, principal: Principal, conversation_id: uuid.UUID, *, scope: Scope = OWN
) -> bool:
    parameters = {"conversation_id": conversation_id, **owner_parameters(principal)}
    found = _run(session, _visible_statement(scope), parameters).first()
    return found is not None


def list_page(
    session: Session,
    principal: Principal,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Conversation]:
    """The caller's own conversations (staff too see only theirs here), by latest
    activity, newest first, strictly after the cursor."""
    own = scoped(select(Conversation), Conversation, principal)
    key = (Conversation.last_message_at, Conversation.id)
    statement = seek(own, key, before, descending=True)
    return session.scalars(statement.limit(limit)).all()


def lock_all(session: Session, principal: Principal) -> None:
    """Lock every conversation the caller owns, in id order, until the transaction ends."""
    statement = scoped(select(Conversation.id), Conversation, principal)
    session.execute(statement.order_by(Conversation.id).with_for_update())


def add(session: Session, conversation: Conversation) -> Conversation:
    session.add(conversation)
    session.flush()
    return conversation


def delete(session: Session, conversation: Conversation) -> None:
    session.delete(conversation)
    session.flush()


# --- the append path ---------------------------------------------------------------


def lock_for_append(
    session: Session, principal: Principal, conversation_id: uuid.UUID, *, scope: Scope = OWN
) -> bool:
    """Lock the conversation's row until the transaction ends, if the caller may reach
    it; False if not.

    PostgreSQL takes a row lock; SQLite writers already hold the database write lock.
    """
    parameters = {"conversation_id": conversation_id, **owner_parameters(principal)}
    return _run(session, _lock_statement(scope), parameters).first() is not None


def get_message_by_client_id(
    session: Session, conversation_id: uuid.UUID, client_message_id: str
) -> StoredMessage | None:
    parameters = {"conversation_id": conversation_id, "client_message_id": client_message_id}
    rows = _messages_of(conversation_id, _run(session, _BY_CLIENT_ID, parameters).all())
    return rows[0] if rows else None


def count_guest_message(
    session: Session,
    principal: Principal,
    conversation_id: uuid.UUID,
    limit: int,
    *,
    scope: Scope = OWN,
) -> int | None:
    """Count one more message in a guest conversation the caller may reach, if it is
    under `limit`, in one statement; this locks its row until the transaction ends.

    Returns the new count, or None when the limit is already reached (or the caller
    cannot reach such a conversation). PostgreSQL re-checks the WHERE after waiting on
    the row lock, so parallel requests cannot overshoot; a rollback of the surrounding
    transaction refunds the count.
    """
    parameters = {"conversation_id": conversation_id, "limit": limit, **owner_parameters(principal)}
    statement = _count_guest_message_statement(scope)
    counted: int | None = _run(session, statement, parameters).scalar_one_or_none()
    return counted


def seq_of(
    session: Session,
    principal: Principal,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    *,
    scope: Scope = OWN,
) -> int | None:
    """The seq of a message of the conversation, if the caller may reach it."""
    statement = select(messages.c.seq).where(
        _OF_CONVERSATION, messages.c.id == bindparam("message_id"), visible(messages, scope)
    )
    parameters = {
        "conversation_id": conversation_id,
        "message_id": message_id,
        **owner_parameters(principal),
    }
    seq: int | None = _run(session, statement, parameters).scalar_one_or_none()
    return seq


def recent_user_messages(
    session: Session,
    principal: Principal,
    conversation_id: uuid.UUID,
    *,
    before: int | None,
    scope: Scope = OWN,
) -> list[str]:
    """The contents of the conversation's last RECENT_USER_MESSAGES `user` messages
    below seq `before` (all, if None), oldest first."""
    parameters = {
        "conversation_id": conversation_id,
        "before": before,
        "limit": RECENT_USER_MESSAGES,
        **owner_parameters(principal),
    }
    statement = _recent_user_messages_statement(scope, before is not None)
    return list(reversed(_run(session, statement, parameters).scalars().all()))


class NextSeq(NamedTuple):
    """The seq an append takes, what it needs to know of its conversation, and the
    owner's new tally of `user` messages, if it counted one."""

    seq: int
    user_id: uuid.UUID
    is_guest_session: bool
    user_messages: int | None


class NewMessage(NamedTuple):
    """A message to store; it gets its seq, and its conversation's owner, on the way."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    role: str
    content: str
    message_metadata: dict[str, Any]
    client_message_id: str | None
    created_at: datetime


def store_message(
    session: Session,
    principal: Principal,
    message: NewMessage,
    *,
    scope: Scope = OWN,
    count_user_message: bool = True,
) -> NextSeq | None:
    """Take the next seq of an active conversation the caller may reach, which locks its
    row until the transaction ends, and store `message` under it with the
    conversation's owner; None, storing nothing, if the caller cannot reach the
    conversation or it has ended. With `count_user_message`, a `user` message in a
    signed-in user's conversation counts one more on its owner's tally, whose row
    stays locked likewise.

    On PostgreSQL this is one statement (a data-modifying CTE): one round trip to the
    server where three would wait for each other. SQLite runs in this process and takes
    the statements one by one.
    """
    # Named apart from every column: an UPDATE takes a parameter named like one of
    # its table's columns as a value to SET.
    take = {
        "conversation_id": message.conversation_id,
        "now": message.created_at,
        "is_user_message": message.role == "user",
        **owner_parameters(principal),
    }
    if session.get_bind().dialect.name == "postgresql":
        store = {
            "message_id": message.id,
            "message_role": message.role,
            "message_content": message.content,
            "message_metadata": message.message_metadata,
            "message_client_id": message.client_message_id,
            "count_user_message": count_user_message,
        }
        row = _run(session, _take_seq_and_store_statement(scope), {**take, **store}).first()
        if row is None:
            return None
        seq, user_id, is_guest_session, counted = row
    else:
        row = _run(session, _take_next_seq_statement(scope), take).first()
        if row is None:
            return None
        seq, user_id, is_guest_session = row
        values = message._asdict()
        values["metadata"] = values.pop("message_metadata")
        _run(session, _INSERT_MESSAGE, {**values, "seq": seq, "user_id": user_id})
        counted = None
    counts = count_user_message and message.role == MessageRole.USER and not is_guest_session
    if counts and counted is None:
        # SQLite counts here; PostgreSQL counted in the statement above, unless this is
        # the user's first message and their tally has no row yet.
        counted = _count_one(session, user_id)
    return NextSeq(seq, user_id, is_guest_session, counted if counts else None)


# Sent straight to SQLite's driver: it runs on every user message, and SQLAlchemy's
# execution machinery costs several times SQLite's own work for it (docs/performance.md).
# The id is bound as SQLAlchemy stores a UUID on SQLite: 32 hexadecimal digits.
_SQLITE_COUNT_ONE = (
    "INSERT INTO message_tallies (user_id, user_messages) VALUES (?, 1)"
    " ON CONFLICT (user_id) DO UPDATE SET user_messages = user_messages + 1"
    " RETURNING user_messages"
)


def _count_one(session: Session, user_id: uuid.UUID) -> int:
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return tally_user_messages(session, user_id, 1)
    driver_connection = connection.connection.driver_connection
    assert driver_connection is not None
    (tally,) = driver_connection.execute(_SQLITE_COUNT_ONE, (user_id.hex,)).fetchone()
    return int(tally)


def tally_user_messages(session: Session, user_id: uuid.UUID, count: int) -> int:
    """Add `count` to the user's tally of `user` messages; the new tally."""
    parameters = {"tally_user_id": user_id, "tally_count": count}
    tally: int = _run(session, _TALLY[session.get_bind().dialect.name], parameters).scalar_one()
    return tally


def unanalysed_user_messages(
    session: Session, principal: Principal, *, limit: int
) -> list[StoredMessage]:
    """The caller's oldest `user` messages not yet analysed, oldest first."""
    parameters = {"limit": limit, **owner_parameters(principal)}
    rows = _run(session, unanalysed_statement(), parameters).all()
    return [
        StoredMessage(id, conversation_id, seq, role, content, metadata, client_id, created)
        for conversation_id, id, seq, role, content, metadata, client_id, created in rows
    ]


def mark_analysed(session: Session, principal: Principal, message_ids: Sequence[uuid.UUID]) -> int:
    """Mark those of the caller's messages as analysed that were not yet; how many."""
    statement = (
        update(messages)
        .where(
            visible(messages, OWN),
            messages.c.id.in_(message_ids),
            _NOT_ANALYSED,
        )
        .values(analysis_included=true())
    )
    result = _run(session, statement, owner_parameters(principal))
    changed: int = result.rowcount
    return changed


# --- reading messages --------------------------------------------------------------


# Messages carry their owner, so a page query checks it on the rows it reads and a
# page costs one statement; only an empty page needs `is_visible` to tell "no
# messages" from "not yours".


def latest_messages(
    session: Session,
    principal: Principal,
    conversation_id: uuid.UUID,
    *,
    before: int | None,
    limit: int,
    scope: Scope = OWN,
) -> list[StoredMessage]:
    """Up to `limit` messages below seq `before` (or the newest), newest first."""
    statement = _page_statement(scope, "before" if before is not None else None)
    parameters = {
        "conversation_id": conversation_id,
        "before": before,
        "limit": limit,
        **owner_parameters(principal),
    }
    return _messages_of(conversation_id, _run(session, statement, parameters).all())


def messages_after(
    session: Session,
    principal: Principal,
    conversation_id: uuid.UUID,
    *,
    after: int,
    limit: int,
    scope: Scope = OWN,
) -> list[StoredMessage]:
    """Up to `limit` messages above seq `after`, in ascending seq."""
    parameters = {
        "conversation_id": conversation_id,
        "after": after,
        "limit": limit,
        **owner_parameters(principal),
    }
    statement = _page_statement(scope, "after")
    return _messages_of(conversation_id, _run(session, statement, parameters).all())


# --- guest sessions ----------------------------------------------------------------


def act_as(session: Session, principal: Principal, *, handover_to: uuid.UUID | None = None) -> None:
    """Switch the transaction's row-level identity (PostgreSQL) to `principal`."""
    identity.act_as(session, principal, handover_to=handover_to)


def count_guest_session_start(session: Session, address: str, limits: Limits) -> float | None:
    """Count a guest session started from `address`; None within the limit, else the
    seconds until its window ends."""
    return rate_limits.hit(
        session.connection(),
        f"guest-sessions:{address}",
        limit=limits.guest_sessions_per_address,
        window=limits.guest_session_window,
    )


def get_guest_conversation(session: Session, guest: Principal) -> Conversation | None:
    statement = _conversations(guest).where(Conversation.is_guest_session)
    return session.scalars(statement).one_or_none()


def lock_guest_conversation(session: Session, guest: Principal) -> Conversation | None:
    """The guest's open conversation, locked until the transaction ends; None once it
    was claimed (a parallel claim waits here, then finds nothing)."""
    statement = _conversations(guest).where(Conversation.is_guest_session).with_for_update()
    return session.scalars(statement).one_or_none()


def hand_over(session: Session, guest: Principal, receiver: uuid.UUID) -> None:
    """Give everything the guest owns to `receiver`."""
    assert guest.owner_id is not None
    ownership.hand_over(session.connection(), guest.owner_id, receiver)


def close_guest_conversation(
    session: Session, principal: Principal, conversation_id: uuid.UUID
) -> Conversation:
    """Mark a handed-over guest conversation as the caller's own, and read it back."""
    conversation = session.scalars(
        _conversations(principal).where(Conversation.id == conversation_id)
    ).one()
    conversation.is_guest_session = False
    session.flush()
    return conversation


# --- statements, built once ----------------------------------------------------------


def _run(session: Session, statement: Any, parameters: Mapping[str, object]) -> Any:
    return session.connection().execute(statement, parameters)


@cache
def _lock_statement(scope: Scope) -> Select[Any]:
    return (
        select(conversations.c.id)
        .where(conversations.c.id == bindparam("conversation_id"), visible(conversations, scope))
        .with_for_update()
    )


@cache
def _visible_statement(scope: Scope) -> Select[Any]:
    return select(conversations.c.id).where(
        conversations.c.id == bindparam("conversation_id"), visible(conversations, scope)
    )


_NOW = bindparam("now", type_=UTCDateTime())


@cache
def _take_next_seq_statement(scope: Scope) -> Update:
    return (
        update(conversations)
        .where(
            conversations.c.id == bindparam("conversation_id"),
            conversations.c.is_active,
            visible(conversations, scope),
            # A guest conversation's replies: at most one per user message, plus one.
            or_(
                not_(conversations.c.is_guest_session),
                bindparam("is_user_message", type_=Boolean()),
                conversations.c.last_seq - conversations.c.guest_message_count
                <= conversations.c.guest_message_count,
            ),
        )
        .values(
            last_seq=conversations.c.last_seq + 1,
            last_message_at=_NOW,
            updated_at=_NOW,
        )
        .returning(
            conversations.c.last_seq, conversations.c.user_id, conversations.c.is_guest_session
        )
    )


@cache
def _count_guest_message_statement(scope: Scope) -> Update:
    return (
        update(conversations)
        .where(
            conversations.c.id == bindparam("conversation_id"),
            visible(conversations, scope),
            conversations.c.is_guest_session,
            conversations.c.guest_message_count < bindparam("limit"),
        )
        .values(guest_message_count=conversations.c.guest_message_count + 1)
        .returning(conversations.c.guest_message_count)
    )


@cache
def _recent_user_messages_statement(scope: Scope, below: bool) -> Select[Any]:
    statement = select(messages.c.content).where(
        _OF_CONVERSATION,
        visible(messages, scope),
        messages.c.role == MessageRole.USER.value,
    )
    if below:
        statement = statement.where(messages.c.seq < bindparam("before"))
    return statement.order_by(messages.c.seq.desc()).limit(bindparam("limit"))


_INSERT_MESSAGE = insert(messages)

# Spelled as the partial index `ix_messages_unanalysed` spells it: SQLite uses a partial
# index only for the same expression, and SQLAlchemy would write `analysis_included = 0`.
_NOT_ANALYSED = text("NOT messages.analysis_included")


def _tally_statement(insert: Any) -> Any:
    return (
        insert(tallies)
        .values(user_id=bindparam("tally_user_id"), user_messages=bindparam("tally_count"))
        .on_conflict_do_update(
            index_elements=[tallies.c.user_id],
            set_={"user_messages": tallies.c.user_messages + bindparam("tally_count")},
        )
        .returning(tallies.c.user_messages)
    )


_TALLY = {
    "postgresql": _tally_statement(postgresql.insert),
    "sqlite": _tally_statement(sqlite.insert),
}


@cache
def _take_seq_and_store_statement(scope: Scope) -> Select[Any]:
    taken = _take_next_seq_statement(scope).cte("taken")
    values = {
        "id": bindparam("message_id", type_=messages.c.id.type),
        "conversation_id": bindparam("conversation_id", type_=messages.c.conversation_id.type),
        "role": bindparam("message_role", type_=messages.c.role.type),
        "content": bindparam("message_content", type_=messages.c.content.type),
        "metadata": bindparam("message_metadata", type_=messages.c.metadata.type),
        "client_message_id": bindparam(
            "message_client_id", type_=messages.c.client_message_id.type
        ),
        "created_at": _NOW,
        "user_id": taken.c.user_id,
        "seq": taken.c.last_seq,
        "analysis_included": false(),
    }
    stored = (
        insert(messages)
        .from_select(list(values), select(*values.values()), include_defaults=False)
        .cte("stored")
    )
    counts_for_owner = and_(
        bindparam("count_user_message", type_=Boolean()),
        bindparam("message_role", type_=messages.c.role.type) == MessageRole.USER.value,
        not_(taken.c.is_guest_session),
    )
    # A plain UPDATE: the user's row exists from their first message on, and an upsert
    # here would cost a speculative insert every time (store_message adds the row).
    counted = (
        update(tallies)
        .where(tallies.c.user_id == taken.c.user_id, counts_for_owner)
        .values(user_messages=tallies.c.user_messages + 1)
        .returning(tallies.c.user_messages)
        .cte("counted")
    )
    return select(
        taken.c.last_seq,
        taken.c.user_id,
        taken.c.is_guest_session,
        select(counted.c.user_messages).scalar_subquery(),
    ).add_cte(stored)


_OF_CONVERSATION = messages.c.conversation_id == bindparam("conversation_id")

_BY_CLIENT_ID = select(*MESSAGE_COLUMNS).where(
    _OF_CONVERSATION, messages.c.client_message_id == bindparam("client_message_id")
)


@cache
def unanalysed_statement() -> Select[Any]:
    """The caller's oldest `user` messages not yet analysed (also for query-plan tests)."""
    return (
        select(messages.c.conversation_id, *MESSAGE_COLUMNS)
        .where(visible(messages, OWN), messages.c.role == MessageRole.USER.value, _NOT_ANALYSED)
        .order_by(messages.c.created_at, messages.c.id)
        .limit(bindparam("limit", type_=Integer()))
    )


def page_statement(scope: Scope, direction: Literal["after", "before"] | None) -> Select[Any]:
    """The statement a page of messages runs in `scope` (for query-plan tests)."""
    return _page_statement(scope, direction)


@cache
def _page_statement(scope: Scope, direction: Literal["after", "before"] | None) -> Select[Any]:
    statement = select(*MESSAGE_COLUMNS).where(_OF_CONVERSATION, visible(messages, scope))
    start: tuple[Any] | None = None if direction is None else (bindparam(direction),)
    descending = direction != "after"
    return seek(statement, (messages.c.seq,), start, descending=descending).limit(
        bindparam("limit")
    )
