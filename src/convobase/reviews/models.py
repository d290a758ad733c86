import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import CheckConstraint, Double, ForeignKey, Index, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import Base, IdMixin, TimestampsMixin, one_of
from convobase.db.ownership import UserOwned

MAX_SOURCE_KIND_LENGTH: Final = 40
MAX_SOURCE_KEY_LENGTH: Final = 200
MAX_PROMPT_LENGTH: Final = 4000
MAX_ANSWER_LENGTH: Final = 4000
MAX_CLIENT_REVIEW_ID_LENGTH: Final = 128
MAX_STEP: Final = 100
# A day: a review longer than this was left open, not taken.
MAX_DURATION_MS: Final = 24 * 60 * 60 * 1000
# Bound on a card's context, in characters of its JSON text: the service keeps what it
# writes within the smaller bound of reviews/schemas.py.
MAX_STORED_CONTEXT: Final = 64 * 1024
# FSRS's stability is in days; no schedule reaches this, and NaN or Infinity fails it.
MAX_STABILITY: Final = 1e9

# Partial indexes of the cards that are not suspended, as each database spells the
# test: SQLAlchemy writes `NOT suspended` on PostgreSQL and `suspended = 0` on SQLite,
# whose planner uses a partial index only for a WHERE that repeats its own.
ACTIVE_ON_POSTGRESQL: Final = "NOT suspended"
ACTIVE_ON_SQLITE: Final = "suspended = 0"


class ReviewCardState(StrEnum):
    """Where a card is in FSRS's schedule: being learned (new, or a step of the
    learning steps), in review (days apart), or being learned again after a lapse."""

    LEARNING = "learning"
    REVIEW = "review"
    RELEARNING = "relearning"


class ReviewCard(IdMixin, UserOwned, TimestampsMixin, Base):
    """Something one learner is to recall, from a source (an assessment's question the
    learner got wrong, or the learner's own card), and when FSRS next wants it reviewed.

    A source adds its card once per learner: UNIQUE (user_id, source_kind, source_key).
    `stability`, `difficulty` and `last_reviewed_at` are null until the first review.
    """

    user_id_indexed = False  # led by user_id: the indexes below

    __tablename__ = "review_cards"
    __table_args__ = (
        CheckConstraint(one_of("state", ReviewCardState), name="state"),
        CheckConstraint(
            f"length(source_kind) BETWEEN 1 AND {MAX_SOURCE_KIND_LENGTH}",
            name="source_kind_length",
        ),
        CheckConstraint(
            f"length(source_key) BETWEEN 1 AND {MAX_SOURCE_KEY_LENGTH}", name="source_key_length"
        ),
        CheckConstraint(f"length(prompt) BETWEEN 1 AND {MAX_PROMPT_LENGTH}", name="prompt_length"),
        CheckConstraint(f"length(answer) BETWEEN 1 AND {MAX_ANSWER_LENGTH}", name="answer_length"),
        CheckConstraint(
            f"length(CAST(context AS TEXT)) <= {MAX_STORED_CONTEXT}", name="context_size"
        ),
        CheckConstraint(f"step BETWEEN 0 AND {MAX_STEP}", name="step_range"),
        # FSRS: a card in review has no step; one being learned, or learned again, has.
        CheckConstraint("(state = 'review') = (step IS NULL)", name="step_iff_learning"),
        CheckConstraint(f"stability > 0 AND stability < {MAX_STABILITY:.0f}", name="stability"),
        CheckConstraint("difficulty BETWEEN 1 AND 10", name="difficulty_range"),
        CheckConstraint(
            "(last_reviewed_at IS NULL) = (stability IS NULL)", name="stability_iff_reviewed"
        ),
        CheckConstraint(
            "(last_reviewed_at IS NULL) = (difficulty IS NULL)", name="difficulty_iff_reviewed"
        ),
        # A source adds its card once per learner.
        UniqueConstraint("user_id", "source_kind", "source_key"),
        # The due query: a learner's cards that are not suspended, by due time (and id).
        Index(
            "ix_review_cards_due",
            "user_id",
            "due_at",
            "id",
            postgresql_where=text(ACTIVE_ON_POSTGRESQL),
            sqlite_where=text(ACTIVE_ON_SQLITE),
        ),
        # A learner's cards, newest first.
        Index("ix_review_cards_user_id_created_at", "user_id", "created_at", "id"),
    )

    source_kind: Mapped[str]
    source_key: Mapped[str]
    prompt: Mapped[str]
    answer: Mapped[str | None]
    context: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'"))
    state: Mapped[str]
    step: Mapped[int | None]
    stability: Mapped[float | None] = mapped_column(Double())
    difficulty: Mapped[float | None] = mapped_column(Double())
    due_at: Mapped[datetime]
    last_reviewed_at: Mapped[datetime | None]
    suspended: Mapped[bool] = mapped_column(server_default=text("false"))


class ReviewLog(IdMixin, UserOwned, Base):
    """One review of a card, with the card's schedule after it: the append-only
    history. `client_review_id` is the client's key for the review, so that a retry
    is answered with the review made first instead of being made again."""

    user_id_indexed = False  # led by user_id: the indexes below

    __tablename__ = "review_logs"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 4", name="rating_range"),
        CheckConstraint(
            f"length(client_review_id) BETWEEN 1 AND {MAX_CLIENT_REVIEW_ID_LENGTH}",
            name="client_review_id_length",
        ),
        CheckConstraint(
            f"review_duration_ms BETWEEN 0 AND {MAX_DURATION_MS}", name="review_duration_range"
        ),
        CheckConstraint(one_of("state", ReviewCardState), name="state"),
        CheckConstraint(f"step BETWEEN 0 AND {MAX_STEP}", name="step_range"),
        CheckConstraint("(state = 'review') = (step IS NULL)", name="step_iff_learning"),
        CheckConstraint(f"stability > 0 AND stability < {MAX_STABILITY:.0f}", name="stability"),
        CheckConstraint("difficulty BETWEEN 1 AND 10", name="difficulty_range"),
        # A retry finds the review made first.
        UniqueConstraint("user_id", "client_review_id"),
        # A learner's whole history in order (the account export).
        Index("ix_review_logs_user_id_reviewed_at", "user_id", "reviewed_at", "id"),
        # A card's history, newest first.
        Index("ix_review_logs_card_id_reviewed_at", "card_id", "reviewed_at", "id"),
    )

    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("review_cards.id", ondelete="CASCADE"))
    client_review_id: Mapped[str]
    rating: Mapped[int]
    reviewed_at: Mapped[datetime]
    review_duration_ms: Mapped[int | None]
    # The card's schedule after this review.
    state: Mapped[str]
    step: Mapped[int | None]
    stability: Mapped[float] = mapped_column(Double())
    difficulty: Mapped[float] = mapped_column(Double())
    due_at: Mapped[datetime]
