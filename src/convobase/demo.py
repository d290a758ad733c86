"""Demo data and development identities: someone to talk to on a new installation
(story 001's poker coaches among them), a course to take, a dialog to practise (story
000's café with María and Carlos), and a short conversation to see the store work.
This is `convobase seed base`; the synthetic users of `convobase seed test` are
`convobase.seeding`'s. Onboarding flows need no seed: they are files shipped with the
package (onboarding/flows/), not rows."""

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from convobase.conversations import service as conversation_service
from convobase.conversations.models import MessageRole
from convobase.conversations.schemas import ConversationCreate, MessageCreate
from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.learning import content as learning_content
from convobase.learning import service as learning_service
from convobase.personas import service as persona_service
from convobase.personas.schemas import PersonaCreate
from convobase.tutoring import content as tutoring_content
from convobase.tutoring import service as tutoring_service
from convobase.tutoring.schemas import TutoringImportOutcome, TutoringImportReport
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

# Story 001's characters: poker coaches, each for a part of the game.
POKER_COACHES = (
    PersonaCreate.model_validate(
        {
            "name": "ace-fundamentals-coach",
            "display_name": "Ace",
            "specialization": "fundamentals",
            "skill_level": "beginner",
            "conversation_style": "supportive",
            "description": "A patient first coach: hand rankings, position and how a hand flows.",
            "personality_config": {
                "system_prompt": "You are Ace, a poker coach for complete beginners. "
                "Explain one idea at a time with a concrete hand, check understanding with "
                "a question, and never assume the student knows the jargon.",
                "temperature": 0.6,
                "traits": ["patient", "clear"],
            },
        }
    ),
    PersonaCreate.model_validate(
        {
            "name": "tess-tournament-coach",
            "display_name": "Tess",
            "specialization": "tournament",
            "skill_level": "advanced",
            "conversation_style": "competitive",
            "description": "A tournament grinder who coaches stack sizes, ICM and the bubble.",
            "personality_config": {
                "system_prompt": "You are Tess, a tournament poker coach. Think in stack "
                "sizes and blinds, push the student to commit to a decision, then review it "
                "honestly.",
                "temperature": 0.7,
                "traits": ["direct", "demanding"],
            },
        }
    ),
    PersonaCreate.model_validate(
        {
            "name": "cal-cash-game-coach",
            "display_name": "Cal",
            "specialization": "cash",
            "skill_level": "intermediate",
            "conversation_style": "analytical",
            "description": "A cash-game regular who works through hands street by street.",
            "personality_config": {
                "system_prompt": "You are Cal, a cash-game poker coach. Walk through hands "
                "street by street, ask for ranges and bet sizes, and reason from pot odds and "
                "position.",
                "temperature": 0.5,
                "traits": ["methodical", "calm"],
            },
        }
    ),
    PersonaCreate.model_validate(
        {
            "name": "nova-theory-coach",
            "display_name": "Nova",
            "specialization": "theory",
            "skill_level": "expert",
            "conversation_style": "socratic",
            "description": "A game-theory coach who asks the questions that lead to balanced play.",
            "personality_config": {
                "system_prompt": "You are Nova, a poker theory coach. Teach through "
                "questions: ranges, equity, minimum defence frequency and balance; let the "
                "student find the answer.",
                "temperature": 0.7,
                "traits": ["curious", "rigorous"],
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
    personas = (*DEMO_PERSONAS, *POKER_COACHES)
    missing = [data for data in personas if not persona_service.name_taken(session, data.name)]
    for data in missing:
        persona_service.create_persona(session, DEV_STAFF, data=data)
    return len(missing)


def seed_demo_courses(session: Session) -> learning_content.ImportReport:
    """Import the courses shipped with the package (learning/content/) that the catalog
    lacks; courses it has are kept as they are, edited or not."""
    return learning_service.import_content(
        session, DEV_STAFF, files=learning_content.shipped(), update_existing=False
    )


def seed_demo_tutoring(session: Session) -> TutoringImportReport:
    """Import the lesson dialogs and library texts shipped with the package
    (tutoring/content/: the Spanish A1 café dialog with María and Carlos, and a text)
    that are missing; those present are kept as they are, edited or not."""
    return tutoring_service.import_content(
        session, DEV_STAFF, document=tutoring_content.shipped(), update_existing=False
    )


@dataclass(frozen=True, slots=True)
class Seeded:
    """What seeding created: how many personas, and the courses' and the tutoring
    content's reports."""

    personas: int
    courses: learning_content.ImportReport
    tutoring: TutoringImportReport | None = None

    def tutoring_summary(self) -> str | None:
        """One line for people on the dialogs and texts created; None for none."""
        if self.tutoring is None:
            return None
        created = TutoringImportOutcome.CREATED
        parts = [
            f"the {kind}{'s' if len(keys) > 1 else ''} {', '.join(keys)}"
            for kind, keys in (
                ("lesson dialog", [d.key for d in self.tutoring.dialogs if d.outcome is created]),
                ("library text", [t.key for t in self.tutoring.texts if t.outcome is created]),
            )
            if keys
        ]
        return f"Created {' and '.join(parts)}." if parts else None

    def summary(self) -> str:
        """One line for people."""
        created = self.courses.created()
        if not self.personas and not created:
            return "Demo personas and courses present: nothing created."
        parts = [f"{self.personas} demo personas"] if self.personas else []
        if created:
            parts.append(f"the course{'s' if len(created) > 1 else ''} {', '.join(created)}")
        return f"Created {' and '.join(parts)}."


def seed(session: Session) -> Seeded:
    """Create the demo personas, courses, lesson dialogs and texts that do not exist yet."""
    return Seeded(
        seed_demo_personas(session), seed_demo_courses(session), seed_demo_tutoring(session)
    )


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
