import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from convobase.core.time import utc_now
from convobase.db.base import Base, CreatedAtMixin, IdMixin, TimestampsMixin, one_of
from convobase.db.ownership import UserOwned


class ConversationKind(StrEnum):
    CHAT = "chat"
    ROLEPLAY = "roleplay"
    ONBOARDING = "onboarding"


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class Conversation(IdMixin, UserOwned, TimestampsMixin, Base):
    """A chat session between a user (or a guest) and a persona.

    A guest's conversation belongs to its session's anonymous user until a signed-in
    user claims it.
    """

    user_id_indexed = False  # led by user_id: ix_conversations_user_id_last_message_at

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint("guest_message_count >= 0", name="guest_message_count_non_negative"),
        CheckConstraint("last_seq >= 0", name="last_seq_non_negative"),
        CheckConstraint(one_of("kind", ConversationKind), name="kind"),
        CheckConstraint("NOT is_guest_session OR session_id IS NOT NULL", name="guest_has_session"),
        CheckConstraint("is_active = (ended_at IS NULL)", name="ended_iff_inactive"),
        UniqueConstraint("session_id", "is_guest_session"),
        Index("ix_conversations_user_id_last_message_at", "user_id", "last_message_at", "id"),
    )

    # RESTRICT: a persona someone has talked to is deactivated, never deleted from
    # under its conversations.
    persona_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("personas.id", ondelete="RESTRICT"), index=True
    )
    session_id: Mapped[str | None]
    is_guest_session: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    guest_message_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    kind: Mapped[str] = mapped_column(
        default=ConversationKind.CHAT.value, server_default=text("'chat'")
    )
    title: Mapped[str | None]
    context_data: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    # The seq of the newest message; the next append takes last_seq + 1.
    last_seq: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    started_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_message_at: Mapped[datetime] = mapped_column(default=utc_now)
    ended_at: Mapped[datetime | None]


class Message(IdMixin, UserOwned, CreatedAtMixin, Base):
    """One message of a conversation, numbered 1, 2, 3… by `seq`; owned by the
    conversation's owner."""

    user_id_indexed = False  # led by user_id: ix_messages_user_id_created_at

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint(one_of("role", MessageRole), name="role"),
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("conversation_id", "client_message_id"),
        Index("ix_messages_user_id_created_at", "user_id", "created_at"),
        # A user's messages waiting for analysis, oldest first.
        Index(
            "ix_messages_unanalysed",
            "user_id",
            "created_at",
            "id",
            sqlite_where=text("role = 'user' AND NOT analysis_included"),
            postgresql_where=text("role = 'user' AND NOT analysis_included"),
        ),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    role: Mapped[str]
    content: Mapped[str]
    message_metadata: Mapped[dict[str, Any]] = mapped_column(
        "metadata", default=dict, server_default=text("'{}'")
    )
    client_message_id: Mapped[str | None]
    analysis_included: Mapped[bool] = mapped_column(default=False, server_default=text("false"))


class MessageTally(UserOwned, Base):
    """How many `user` messages a signed-in user has written, in all their
    conversations: counted by the statement that stores each one, which locks this row,
    so concurrent appends each get a number of their own."""

    user_id_is_key = True

    __tablename__ = "message_tallies"
    __table_args__ = (CheckConstraint("user_messages >= 0", name="user_messages_non_negative"),)

    user_messages: Mapped[int] = mapped_column(default=0, server_default=text("0"))
