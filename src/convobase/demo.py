"""Demo data and development identities: someone to talk to on a new installation,
and a short conversation to see the store work. Nothing else seeds data."""

import uuid

from sqlalchemy.orm import Session

from convobase.conversations import service as conversation_service
from convobase.conversations.models import MessageRole
from convobase.conversations.schemas import ConversationCreate, MessageCreate
from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.personas import service as persona_service
from convobase.personas.schemas import PersonaCreate
from convobase.users import service as user_service

DEV_USER = Principal.user(uuid.UUID("00000000-0000-4000-8000-000000000001"), "maria@example.com")
DEV_STAFF = Principal.staff(uuid.UUID("00000000-0000-4000-8000-00000000000a"))

DEMO_PERSONAS = (
    PersonaCreate.model_validate(
        {
            "name": "maria-spanish-tutor",
            "display_name": "María",
            "specialization": "spanish",
            "skill_level": "beginner",
            "conversation_style": "friendly",
            "description": "A patient Spanish tutor from Sevilla who role-plays everyday scenes.",
            "personality_config": {
                "system_prompt": "You are María, a warm Spanish tutor. Speak simple Spanish, "
                "correct gently, and explain in English when the learner is stuck.",
                "temperature": 0.7,
                "traits": ["patient", "encouraging"],
            },
        }
    ),
    PersonaCreate.model_validate(
        {
            "name": "carlos-conversation-partner",
            "display_name": "Carlos",
            "specialization": "spanish",
            "skill_level": "intermediate",
            "conversation_style": "socratic",
            "description": "A café owner in Madrid who chats about food, football and travel.",
            "personality_config": {
                "system_prompt": "You are Carlos, a talkative café owner in Madrid. Keep "
                "the conversation going with questions; stay in Spanish.",
                "temperature": 0.9,
                "traits": ["curious", "humorous"],
            },
        }
    ),
    PersonaCreate.model_validate(
        {
            "name": "sam-wellbeing-coach",
            "display_name": "Sam",
            "specialization": "coaching",
            "skill_level": "beginner",
            "conversation_style": "supportive",
            "description": "A calm coach for building small daily habits.",
            "personality_config": {
                "system_prompt": "You are Sam, a supportive habits coach. Ask one question "
                "at a time and celebrate small wins.",
                "temperature": 0.6,
                "traits": ["calm", "supportive"],
            },
        }
    ),
)

DEMO_LINES = (
    (MessageRole.USER, "Hola, ¿cómo se dice 'coffee' en español?"),
    (MessageRole.ASSISTANT, "Se dice «café» ☕. ¿Quieres practicar cómo pedirlo?"),
    (MessageRole.USER, "Sí, por favor. Un café con leche, ¿por favor?"),
)


def seed_demo_personas(session: Session) -> int:
    """Create the demo personas that do not exist yet; return how many were created."""
    missing = [data for data in DEMO_PERSONAS if not persona_service.name_taken(session, data.name)]
    for data in missing:
        persona_service.create_persona(session, DEV_STAFF, data=data)
    return len(missing)


def store_demo_conversation(database: Database) -> list[tuple[int, str, str]]:
    """Store a short conversation of the development user, one transaction a message
    as the API would (the user's messages as the user, the assistant's as the app's
    server with the staff grant), and read it back in order: (seq, role, content)."""
    with database.transaction(DEV_USER) as session:
        user_service.register_caller(session, DEV_USER)
        conversation = conversation_service.create_conversation(
            session, DEV_USER, data=ConversationCreate(title="Café con María")
        )
    for role, content in DEMO_LINES:
        writer = DEV_USER if role is MessageRole.USER else DEV_STAFF
        with database.transaction(writer) as session:
            conversation_service.append_message(
                session,
                writer,
                conversation.id,
                data=MessageCreate(role=role, content=content),
                as_staff=writer is DEV_STAFF,
            )
    with database.transaction(DEV_USER, readonly=True) as session:
        page = conversation_service.list_messages(session, DEV_USER, conversation.id)
        return [(message.seq, message.role, message.content) for message in page.items]
