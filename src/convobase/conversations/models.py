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
    user_id_comment = (
        "The owner: a user or, while the conversation is a guest's, its session's anonymous user."
    )

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint("guest_message_count >= 0", name="guest_message_count_non_negative"),
        CheckConstraint("last_seq >= 0", name="last_seq_non_negative"),
        CheckConstraint(one_of("kind", ConversationKind), name="kind"),
        CheckConstraint("NOT is_guest_session OR session_id IS NOT NULL", name="guest_has_session"),
        CheckConstraint("is_active = (ended_at IS NULL)", name="ended_iff_inactive"),
        UniqueConstraint("session_id", "is_guest_session"),
        Index("ix_conversations_user_id_last_message_at", "user_id", "last_message_at", "id"),
        {
            "comment": (
                "A chat session between a user (or a guest) and a persona: story 001's "
                "chat_sessions and story 002's conversations, and the onboarding "
                "conversations of story 003. last_seq numbers its messages: an append takes "
                "the next seq with one UPDATE of this row, and a guest's user message is "
                "counted against the guest message limit by one atomic UPDATE in the same "
                "transaction, so a rolled-back append refunds both. A guest's conversation "
                "belongs to its session's anonymous user until a signed-in user claims it. "
                "Indexes: (user_id, last_message_at, id) for a user's conversations by "
                "activity, and UNIQUE (session_id, is_guest_session) for guest lookup."
            ),
            "info": {"stories": ("001", "002", "003")},
        },
    )

    # RESTRICT: a persona someone has talked to is deactivated, never deleted from
    # under its conversations.
    persona_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("personas.id", ondelete="RESTRICT"),
        index=True,
        comment=(
            "The persona talked to; RESTRICT: a persona someone has talked to is "
            "deactivated, never deleted."
        ),
    )
    session_id: Mapped[str | None] = mapped_column(
        comment="The guest session it was started in; kept after a claim."
    )
    is_guest_session: Mapped[bool] = mapped_column(
        default=False,
        server_default=text("false"),
        comment=(
            "True while the conversation is a guest's; false once claimed. A guest "
            "conversation has a session_id (CHECK)."
        ),
    )
    guest_message_count: Mapped[int] = mapped_column(
        default=0,
        server_default=text("0"),
        comment=(
            "User messages the guest has sent, at most the guest message limit: counted "
            "by one atomic UPDATE in the append's transaction."
        ),
    )
    kind: Mapped[str] = mapped_column(
        default=ConversationKind.CHAT.value,
        server_default=text("'chat'"),
        comment="chat, roleplay or onboarding (CHECK).",
    )
    title: Mapped[str | None] = mapped_column(
        comment="The conversation's title: story 001's session_name."
    )
    context_data: Mapped[dict[str, Any]] = mapped_column(
        default=dict,
        server_default=text("'{}'"),
        comment="The app's context for the conversation, a JSON object: context in the API.",
    )
    is_active: Mapped[bool] = mapped_column(
        default=True,
        server_default=text("true"),
        comment=(
            "False exactly when ended_at is set (CHECK): an ended conversation takes no "
            "more messages."
        ),
    )
    # The seq of the newest message; the next append takes last_seq + 1.
    last_seq: Mapped[int] = mapped_column(
        default=0,
        server_default=text("0"),
        comment=(
            "The newest message's seq (0 before the first): the next append takes "
            "last_seq + 1. message_count in the API."
        ),
    )
    started_at: Mapped[datetime] = mapped_column(
        default=utc_now, comment="When the conversation started."
    )
    last_message_at: Mapped[datetime] = mapped_column(
        default=utc_now,
        comment=(
            "When its newest message was stored (its start before the first): a user's "
            "conversations are listed by it."
        ),
    )
    ended_at: Mapped[datetime | None] = mapped_column(
        comment="When the conversation was ended; null while it is active."
    )


class Message(IdMixin, UserOwned, CreatedAtMixin, Base):
    """One message of a conversation, numbered 1, 2, 3… by `seq`; owned by the
    conversation's owner."""

    user_id_indexed = False  # led by user_id: ix_messages_user_id_created_at
    user_id_comment = "The conversation's owner, copied onto each message."

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
        {
            "comment": (
                "One row per message, numbered 1, 2, 3... per conversation by seq: story "
                "001's conversation_history array, story 003's ConversationMessage and "
                "story 004's conversations rows. Owned by the conversation's owner. UNIQUE "
                "(conversation_id, seq) serves the latest page and after/before reads; "
                "UNIQUE (conversation_id, client_message_id) makes retries idempotent; "
                "ix_messages_unanalysed (a user's user messages not yet analysed) serves an "
                "analysis's batch."
            ),
            "info": {"stories": ("001", "003", "004")},
        },
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"),
        comment="The conversation it belongs to; deleted with it.",
    )
    seq: Mapped[int] = mapped_column(
        comment="Its number in the conversation: 1, 2, 3... with no gaps and no duplicates."
    )
    role: Mapped[str] = mapped_column(comment="user, assistant or system (CHECK).")
    content: Mapped[str] = mapped_column(comment="The message's text.")
    message_metadata: Mapped[dict[str, Any]] = mapped_column(
        "metadata",
        default=dict,
        server_default=text("'{}'"),
        comment="The app's metadata for the message, a JSON object.",
    )
    client_message_id: Mapped[str | None] = mapped_column(
        comment=(
            "The client's idempotency key: a retried append with the same key returns "
            "the message stored first."
        )
    )
    analysis_included: Mapped[bool] = mapped_column(
        default=False,
        server_default=text("false"),
        comment="Whether an analysis has included this message.",
    )


class MessageTally(UserOwned, Base):
    """How many `user` messages a signed-in user has written, in all their
    conversations: counted by the statement that stores each one, which locks this row,
    so concurrent appends each get a number of their own."""

    user_id_is_key = True
    user_id_comment = "The user whose user messages are counted: one row per user."

    __tablename__ = "message_tallies"
    __table_args__ = (
        CheckConstraint("user_messages >= 0", name="user_messages_non_negative"),
        {
            "comment": (
                "How many user messages each signed-in user has written, in all their "
                "conversations: the analysis trigger (docs/analysis.md). Counted by the "
                "statement that stores each message, which locks this row, so concurrent "
                "appends each get a number of their own and exactly one analysis job is "
                "queued per 25."
            ),
            "info": {"stories": ("004",)},
        },
    )

    user_messages: Mapped[int] = mapped_column(
        default=0,
        server_default=text("0"),
        comment=(
            "User messages the user has written, in all their conversations: counted by "
            "the statement that stores each message."
        ),
    )
