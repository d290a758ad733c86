from datetime import datetime

from pydantic import BaseModel

from convobase.analysis.schemas import AnalysisRead
from convobase.conversations.schemas import ConversationRead, MessageRead
from convobase.learning.schemas import LearningExport
from convobase.onboarding.schemas import OnboardingSessionExport
from convobase.reviews.schemas import ReviewCardExport
from convobase.safety.schemas import CrisisEventRead
from convobase.tutoring.schemas import TutoringExport
from convobase.users.schemas import UserRead


class ConversationExport(ConversationRead):
    messages: list[MessageRead]


class AccountExport(BaseModel):
    """Everything convobase stores about one user."""

    exported_at: datetime
    user: UserRead
    conversations: list[ConversationExport]
    analyses: list[AnalysisRead]
    crisis_events: list[CrisisEventRead]
    onboarding_sessions: list[OnboardingSessionExport]
    learning: LearningExport
    review_cards: list[ReviewCardExport]
    tutoring: TutoringExport
