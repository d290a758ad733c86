from sqlalchemy.orm import Session

from convobase.account.schemas import AccountExport, ConversationExport
from convobase.analysis import service as analysis_service
from convobase.analysis.schemas import AnalysisRead
from convobase.conversations import service as conversation_service
from convobase.conversations.schemas import ConversationRead, MessageRead
from convobase.core.principal import Principal
from convobase.core.time import utc_now
from convobase.learning import service as learning_service
from convobase.onboarding import service as onboarding_service
from convobase.onboarding.schemas import OnboardingSessionExport
from convobase.reviews import service as review_service
from convobase.reviews.schemas import ReviewCardExport, ReviewCardRead, ReviewRead
from convobase.safety import service as safety_service
from convobase.safety.schemas import CrisisEventRead
from convobase.tutoring import service as tutoring_service
from convobase.users import service as user_service
from convobase.users.schemas import UserRead


def export_account(session: Session, principal: Principal) -> AccountExport:
    """Everything the caller owns, as one document."""
    user = user_service.get_user(session, principal)
    conversations = [
        ConversationExport(
            **ConversationRead.model_validate(conversation).model_dump(),
            messages=[
                MessageRead.model_validate(message)
                for message in conversation_service.all_messages(
                    session, principal, conversation.id
                )
            ],
        )
        for conversation in conversation_service.all_conversations(session, principal)
    ]
    return AccountExport(
        exported_at=utc_now(),
        learning=learning_service.export_learning(session, principal),
        user=UserRead.model_validate(user),
        conversations=conversations,
        analyses=[
            AnalysisRead.model_validate(result)
            for result in analysis_service.all_analyses(session, principal)
        ],
        crisis_events=[
            CrisisEventRead.model_validate(event)
            for event in safety_service.all_own_events(session, principal)
        ],
        onboarding_sessions=[
            OnboardingSessionExport.model_validate(row)
            for row in onboarding_service.all_sessions(session, principal)
        ],
        review_cards=[
            ReviewCardExport(
                **ReviewCardRead.model_validate(kept.card).model_dump(),
                reviews=[ReviewRead.model_validate(review) for review in kept.reviews],
            )
            for kept in review_service.all_cards_with_history(session, principal)
        ],
        tutoring=tutoring_service.export_tutoring(session, principal),
    )


def delete_account(session: Session, principal: Principal) -> None:
    """Delete the caller's account with everything they own."""
    conversation_service.lock_for_account_deletion(session, principal)
    user_service.delete_user(session, principal)
