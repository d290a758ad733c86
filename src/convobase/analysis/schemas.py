import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from convobase.analysis.models import AnalysisType

Score = Annotated[Decimal, PlainSerializer(float, return_type=float)]


class AnalysisRead(BaseModel):
    """One analysis of a user's progress."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    analysis_type: AnalysisType
    chat_score: Score = Field(ge=0, le=14, description="0 to 14, one decimal.")
    batch: int = Field(description="The 25-message batch it was made for: 1, 2, 3…")
    message_range: dict[str, Any] = Field(
        description="The messages it read: count, from, to, and the seqs of each conversation."
    )
    insights: dict[str, Any]
    improvement_areas: list[str]
    strengths_identified: list[str]
    triggered_milestone: bool = Field(description="The user moved up a stage, or graduated.")
    analyzer: str = Field(description="What assessed it: baseline, webhook, milestones, …")
    created_at: datetime
