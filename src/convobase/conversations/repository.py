"""All SQL of conversations and messages. Every conversation query starts from
`_visible_to`, so owner scoping cannot be left out."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, or_, select, true, update
from sqlalchemy.orm import Session

from convobase.conversations.models import Conversation, Message
from convobase.core.principal import Principal
from convobase.db import identity


def _owner_clause(principal: Principal) -> ColumnElement[bool]:
    if principal.is_staff:
        return true()
    if principal.is_guest:
        return and_(
            Conversation.session_id == principal.guest_session_id,
            Conversation.is_guest_session,
        )
    return Conversation.user_id == principal.user_id


def _visible_to(principal: Principal) -> Select[Conversation]:
    return select(Conversation).where(_owner_clause(principal))


def get(session: Session, principal: Principal, conversation_id: uuid.UUID) -> Conversation | None:
    statement = _visible_to(principal).where(Conversation.id == conversation_id)
    return session.scalars(statement).one_or_none()


def get_for_update(
    session: Session, principal: Principal, conversation_id: uuid.UUID
) -> Conversation | None:
    """Load the conversation and lock its row until the transaction ends.

    PostgreSQL takes a row lock; SQLite writers already hold the database write lock.
    """
    statement = (
        _visible_to(principal)
        .where(Conversation.id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(statement).one_or_none()


def list_page(
    session: Session,
    principal: Principal,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Conversation]:
    """Conversations by latest activity, newest first, strictly after the cursor."""
    statement = _visible_to(principal)
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


def take_next_seq(session: Session, conversation_id: uuid.UUID, now: datetime) -> int:
    """Advance the conversation's message counter and return the new seq, atomically."""
    statement = (
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(last_seq=Conversation.last_seq + 1, last_message_at=now, updated_at=now)
        .returning(Conversation.last_seq)
        .execution_options(synchronize_session="fetch")
    )
    return session.execute(statement).scalar_one()


def add_message(session: Session, message: Message) -> Message:
    session.add(message)
    session.flush()
    return message


def get_message_by_client_id(
    session: Session, conversation_id: uuid.UUID, client_message_id: str
) -> Message | None:
    statement = select(Message).where(
        Message.conversation_id == conversation_id,
        Message.client_message_id == client_message_id,
    )
    return session.scalars(statement).one_or_none()


def latest_messages(
    session: Session, conversation_id: uuid.UUID, *, before: int | None, limit: int
) -> list[Message]:
    """Up to `limit` messages below seq `before` (or the newest), in ascending seq."""
    statement = select(Message).where(Message.conversation_id == conversation_id)
    if before is not None:
        statement = statement.where(Message.seq < before)
    statement = statement.order_by(Message.seq.desc()).limit(limit)
    return list(reversed(session.scalars(statement).all()))


def messages_after(
    session: Session, conversation_id: uuid.UUID, *, after: int, limit: int
) -> Sequence[Message]:
    """Up to `limit` messages above seq `after`, in ascending seq."""
    statement = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.seq > after)
        .order_by(Message.seq)
        .limit(limit)
    )
    return session.scalars(statement).all()


def count_guest_message(session: Session, conversation_id: uuid.UUID, limit: int) -> int | None:
    """Count one more guest message if the session is under `limit`, in one statement.

    Returns the new count, or None when the limit is already reached. PostgreSQL
    re-checks the WHERE after waiting on the row lock, so parallel requests cannot
    overshoot; a rollback of the surrounding transaction refunds the count.
    """
    statement = (
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.is_guest_session,
            Conversation.guest_message_count < limit,
        )
        .values(guest_message_count=Conversation.guest_message_count + 1)
        .returning(Conversation.guest_message_count)
        .execution_options(synchronize_session="fetch")
    )
    return session.execute(statement).scalar_one_or_none()


def delete(session: Session, conversation: Conversation) -> None:
    session.delete(conversation)
    session.flush()


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
