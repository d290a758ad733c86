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
    )

    chat_score: Mapped[Decimal] = mapped_column(Tenths())
    analysis_type: Mapped[str]
    message_range: Mapped[dict[str, Any]]
    insights: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'"))
    improvement_areas: Mapped[list[str]]
    strengths_identified: Mapped[list[str]]
    triggered_milestone: Mapped[bool] = mapped_column(server_default=text("false"))
    batch: Mapped[int]
    analyzer: Mapped[str]
    created_at: Mapped[datetime]
