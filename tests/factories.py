"""Small builders of test data, each returning what the test needs next."""

import itertools
import uuid
from typing import Any

from sqlalchemy.orm import Session

from convobase.conversations import service as conversation_service
from convobase.conversations.models import Conversation, MessageRole
from convobase.conversations.repository import StoredMessage
from convobase.conversations.schemas import ConversationCreate, MessageCreate
from convobase.core.principal import Principal
from convobase.onboarding import service as onboarding_service
from convobase.onboarding.flow import FlowCatalog
from convobase.personas import service as persona_service
from convobase.personas.models import Persona
from convobase.personas.schemas import PersonaCreate, PersonalityConfig
from convobase.users import service as user_service

_numbers = itertools.count(1)


def user(session: Session, *, email: str | None = None) -> Principal:
    principal = Principal.user(uuid.uuid4(), email=email)
    user_service.register_caller(session, principal)
    return principal


def persona(session: Session, **overrides: object) -> Persona:
    number = next(_numbers)
    data = PersonaCreate.model_validate(
        {
            "name": f"persona-{number}-{uuid.uuid4().hex[:6]}",
            "display_name": f"Persona {number}",
            "personality_config": PersonalityConfig(
                system_prompt="You are a patient Spanish tutor.", temperature=0.7
            ),
            **overrides,
        }
    )
    return persona_service.create_persona(session, Principal.staff(), data=data)


def conversation(session: Session, owner: Principal, **fields: object) -> Conversation:
    data = ConversationCreate.model_validate(fields)
    return conversation_service.create_conversation(session, owner, data=data)


def message(
    session: Session,
    principal: Principal,
    conversation: Conversation,
    content: str = "Hola",
    *,
    role: MessageRole = MessageRole.USER,
    client_message_id: str | None = None,
) -> StoredMessage:
    data = MessageCreate(role=role, content=content, client_message_id=client_message_id)
    appended = conversation_service.append_message(session, principal, conversation.id, data=data)
    assert isinstance(appended, conversation_service.AppendedMessage), "refused at the cap"
    return appended.message


def messages(
    session: Session, principal: Principal, conversation: Conversation, count: int
) -> list[StoredMessage]:
    return [message(session, principal, conversation, f"message {n}") for n in range(count)]


# Answers that fit each phase of the running-coach flows (versions 1 and 2).
RUNNING_ANSWERS: dict[str, dict[str, Any]] = {
    "goal": {"distance": "half marathon", "has_race": True},
    "experience": {"years_running": 3},
    "race": {"race_date": "2027-04-18", "target_time": "1:55:00"},
    "target_race": {"race_date": "2027-04-18", "target_finish_time": "1:55:00"},
    "recent_races": {"races": [{"distance": "10K", "time": "0:52:30"}]},
    "schedule": {"runs_per_week": 4, "available_days": ["tuesday", "thursday", "sunday"]},
    "injuries": {"injuries": ["shin splints"]},
    "health": {"injuries": ["shin splints"]},
    "units": {"units": "metric"},
    "preferences": {"units": "metric", "coaching_style": "supportive"},
}


def onboarding(
    session: Session,
    owner: Principal,
    *,
    up_to: str | None = None,
    catalog: FlowCatalog | None = None,
) -> onboarding_service.OnboardingView:
    """The owner's onboarding, every phase before `up_to` answered and passed."""
    view = onboarding_service.current(session, owner, catalog=catalog)
    while up_to is not None and view.phase.key != up_to:
        view = answer(session, owner, view, RUNNING_ANSWERS[view.phase.key], catalog=catalog)
        view = onboarding_service.advance(session, owner, if_match=view.etag, catalog=catalog)
    return view


def answer(
    session: Session,
    owner: Principal,
    view: onboarding_service.OnboardingView,
    patch: dict[str, Any],
    *,
    catalog: FlowCatalog | None = None,
) -> onboarding_service.OnboardingView:
    """Save `patch` to the current phase of the onboarding `view` shows."""
    return onboarding_service.save_answers(
        session, owner, patch=patch, if_match=view.etag, catalog=catalog
    )
