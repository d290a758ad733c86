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
        {
            "comment": (
                "What one learner is to go over again, and when FSRS next wants it reviewed "
                "(docs/reviews.md): a question they got wrong in an assessment, a word they "
                "missed or misspelled in tutoring practice, or a card of their own. A "
                "source adds its "
                "card once per learner (UNIQUE (user_id, source_kind, source_key)). On "
                "PostgreSQL convobase_app reaches the caller's own rows and convobase_staff "
                "every row; the service scopes every statement to the caller's own, staff's "
                "too. The partial index ix_review_cards_due serves what is due."
            ),
            "info": {"stories": ("000", "001")},
        },
    )

    source_kind: Mapped[str] = mapped_column(
        comment=(
            "What it comes from, 1..40 characters: assessment_question, tutoring_word, "
            "own (the learner's own card)..."
        )
    )
    source_key: Mapped[str] = mapped_column(
        comment=(
            "Which one of its kind, stably, 1..200 characters: "
            "<assessment_id>:<question_id>; unique with user_id and source_kind."
        )
    )
    prompt: Mapped[str] = mapped_column(comment="What the learner is asked, 1..4000 characters.")
    answer: Mapped[str | None] = mapped_column(
        comment=(
            "What they should recall, 1..4000 characters; null for an assessment's "
            "questions, whose keys learners never see."
        )
    )
    context: Mapped[dict[str, Any]] = mapped_column(
        server_default=text("'{}'"),
        comment=(
            "Shown with the prompt (a question's choices), with ids back to the source; "
            "at most 64 KiB as text (CHECK), and the service keeps it within 16 KiB."
        ),
    )
    state: Mapped[str] = mapped_column(comment="learning, review or relearning (CHECK).")
    step: Mapped[int | None] = mapped_column(
        comment="The learning or relearning step, 0..100; null exactly in review (CHECK)."
    )
    stability: Mapped[float | None] = mapped_column(
        Double(),
        comment=("FSRS's stability in days (> 0); null exactly until the first review (CHECK)."),
    )
    difficulty: Mapped[float | None] = mapped_column(
        Double(), comment="FSRS's difficulty, 1..10; null exactly until the first review (CHECK)."
    )
    due_at: Mapped[datetime] = mapped_column(comment="When it is due next.")
    last_reviewed_at: Mapped[datetime | None] = mapped_column(
        comment="When it was last reviewed; null until the first review."
    )
    suspended: Mapped[bool] = mapped_column(
        server_default=text("false"), comment="A suspended card is never due."
    )


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
        {
            "comment": (
                "Each review card's append-only history: one review, with the card's "
                "schedule after it (the card's CHECKs). A retry with the same "
                "client_review_id finds the review made first. On PostgreSQL the service's "
                "roles may read and add to it only (SELECT, INSERT): no row is changed or "
                "deleted but with its card or its user."
            ),
            "info": {"stories": ("000", "001")},
        },
    )

    card_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("review_cards.id", ondelete="CASCADE"),
        comment="The card reviewed; its history goes with it.",
    )
    client_review_id: Mapped[str] = mapped_column(
        comment=(
            "The client's key for the review, 1..128 characters; unique per learner: a "
            "retry finds the review made first."
        )
    )
    rating: Mapped[int] = mapped_column(comment="1 (again), 2 (hard), 3 (good) or 4 (easy).")
    reviewed_at: Mapped[datetime] = mapped_column(
        comment="When it was reviewed, by the server's clock."
    )
    review_duration_ms: Mapped[int | None] = mapped_column(
        comment="How long the learner took, 0..86,400,000 milliseconds."
    )
    # The card's schedule after this review.
    state: Mapped[str] = mapped_column(
        comment="The card's state after the review: learning, review or relearning (CHECK)."
    )
    step: Mapped[int | None] = mapped_column(
        comment="The card's step after the review, 0..100; null exactly in review (CHECK)."
    )
    stability: Mapped[float] = mapped_column(
        Double(), comment="The card's stability after the review, in days."
    )
    difficulty: Mapped[float] = mapped_column(
        Double(), comment="The card's difficulty after the review, 1..10."
    )
    due_at: Mapped[datetime] = mapped_column(
        comment="When the card is due next, as the review scheduled it."
    )
