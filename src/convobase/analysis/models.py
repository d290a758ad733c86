from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from convobase.db.base import Base, IdMixin, Tenths, one_of
from convobase.db.ownership import UserOwned


class AnalysisType(StrEnum):
    """What an analysis assessed: a batch's chat (`chat_scoring`), whether a user moves
    up a stage (`milestone_check`), whether they graduate (`graduation_assessment`), or
    a crisis (`crisis_review`)."""

    CHAT_SCORING = "chat_scoring"
    MILESTONE_CHECK = "milestone_check"
    GRADUATION_ASSESSMENT = "graduation_assessment"
    CRISIS_REVIEW = "crisis_review"


class AnalysisResult(IdMixin, UserOwned, Base):
    """One analysis of a user's progress, with the story's columns; `batch` numbers the
    25-message batch it was made for, once per type."""

    user_id_indexed = False  # led by user_id: the two indexes below

    __tablename__ = "analysis_results"
    __table_args__ = (
        CheckConstraint("chat_score >= 0 AND chat_score <= 14", name="chat_score_range"),
        CheckConstraint(one_of("analysis_type", AnalysisType), name="analysis_type"),
        CheckConstraint("batch >= 1", name="batch_positive"),
        # A retried or repeated run finds its result written and writes nothing twice.
        UniqueConstraint("user_id", "batch", "analysis_type"),
        Index("ix_analysis_results_user_id_created_at", "user_id", "created_at", "id"),
        {
            "comment": (
                "One analysis of a user's progress, with story 004's columns and CHECKs; "
                "batch numbers the 25-message batch it was made for. UNIQUE (user_id, "
                "batch, analysis_type): a batch delivered twice is written once. The index "
                "(user_id, created_at, id) serves a user's analyses, newest first."
            ),
            "info": {"stories": ("004",)},
        },
    )

    chat_score: Mapped[Decimal] = mapped_column(
        Tenths(), comment="The chat score, 0 to 14 with one decimal (CHECK)."
    )
    analysis_type: Mapped[str] = mapped_column(
        comment=("chat_scoring, milestone_check, graduation_assessment or crisis_review (CHECK).")
    )
    message_range: Mapped[dict[str, Any]] = mapped_column(
        comment=(
            "The messages read: their count, from when to when, and the seqs read per conversation."
        )
    )
    insights: Mapped[dict[str, Any]] = mapped_column(
        server_default=text("'{}'"), comment="What the analyzer saw, a JSON object of its own."
    )
    improvement_areas: Mapped[list[str]] = mapped_column(
        comment="What the user could improve, as the analyzer names it."
    )
    strengths_identified: Mapped[list[str]] = mapped_column(
        comment="What the user does well, as the analyzer names it."
    )
    triggered_milestone: Mapped[bool] = mapped_column(
        server_default=text("false"), comment="Whether the user moved up a stage, or graduated."
    )
    batch: Mapped[int] = mapped_column(comment="The 25-message batch it was made for: 1, 2, 3...")
    analyzer: Mapped[str] = mapped_column(
        comment=("Which analyzer made it: baseline, webhook, milestones, or a plug-in's name.")
    )
    created_at: Mapped[datetime] = mapped_column(comment="When the analysis was written.")
