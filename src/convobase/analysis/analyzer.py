"""What an analyzer is given and what it answers: the pluggable edge of analysis.

An analyzer reads one batch of a user's messages and assesses it. It runs outside any
transaction (it may call a model over the network, and take seconds); the job that
called it writes its answer. convobase ships a deterministic baseline and a webhook
analyzer (`convobase.analysis.analyzers`); others plug in through the
`convobase.analyzers` entry-point group.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

MIN_CHAT_SCORE = Decimal("0")
MAX_CHAT_SCORE = Decimal("14")


@dataclass(frozen=True, slots=True)
class BatchMessage:
    """One of the user's messages in a batch."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    content: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AnalysisBatch:
    """The messages one analysis reads, oldest first, and what is known of their writer."""

    user_id: uuid.UUID
    batch: int
    stage: int
    goals: list[str]
    messages: list[BatchMessage]


@dataclass(frozen=True, slots=True)
class Assessment:
    """An analyzer's answer: a chat score from 0 to 14 (one decimal) and what it saw."""

    chat_score: Decimal
    insights: dict[str, Any] = field(default_factory=dict)
    improvement_areas: list[str] = field(default_factory=list)
    strengths_identified: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not MIN_CHAT_SCORE <= self.chat_score <= MAX_CHAT_SCORE:
            raise ValueError(f"chat_score {self.chat_score} is outside 0..14")
        if self.chat_score != self.chat_score.quantize(Decimal("0.1")):
            raise ValueError(f"chat_score {self.chat_score} has more than one decimal")


class Analyzer(Protocol):
    """Assesses a batch of messages. Raise `AnalyzerFailed` for a failure worth retrying."""

    name: str

    def analyze(self, batch: AnalysisBatch) -> Assessment: ...


class AnalyzerFailed(Exception):
    """The analyzer could not assess the batch this time; the job is retried later."""
