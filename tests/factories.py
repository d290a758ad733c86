"""Small builders of test data, each returning what the test needs next."""

import itertools
import uuid

from sqlalchemy.orm import Session

from convobase.conversations import service as conversation_service
from convobase.conversations.models import Conversation, MessageRole
from convobase.conversations.repository import StoredMessage
from convobase.conversations.schemas import ConversationCreate, MessageCreate
from convobase.core.principal import Principal
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
