"""`convobase demo`: a short conversation through the store, to see it work."""

import uuid

import typer

from convobase.config import Settings
from convobase.conversations import service as conversation_service
from convobase.conversations.models import MessageRole
from convobase.conversations.schemas import ConversationCreate, MessageCreate
from convobase.core.principal import Principal
from convobase.db import migrate
from convobase.db.session import Database
from convobase.users import service as user_service

DEMO_USER = Principal.user(uuid.UUID("00000000-0000-4000-8000-000000000001"), "maria@example.com")
LINES = [
    (MessageRole.USER, "Hola, ¿cómo se dice 'coffee' en español?"),
    (MessageRole.ASSISTANT, "Se dice «café» ☕. ¿Quieres practicar cómo pedirlo?"),
    (MessageRole.USER, "Sí, por favor. Un café con leche, ¿por favor?"),
]


def demo() -> None:
    """Migrate, store a short conversation and read it back in order."""
    settings = Settings()
    migrate.upgrade(settings)
    database = Database.from_settings(settings)
    try:
        with database.transaction() as session:
            user_service.ensure_user(session, DEMO_USER)
            conversation = conversation_service.create_conversation(
                session, DEMO_USER, data=ConversationCreate(title="Café con María")
            )
        for role, content in LINES:
            with database.transaction() as session:
                conversation_service.append_message(
                    session,
                    DEMO_USER,
                    conversation.id,
                    data=MessageCreate(role=role, content=content),
                )
        with database.transaction(readonly=True) as session:
            page = conversation_service.list_messages(session, DEMO_USER, conversation.id)
            typer.echo(f"Conversation {conversation.id} in {settings.url.render_as_string()}:")
            for message in page.items:
                typer.echo(f"  {message.seq:>3} {message.role:<9} {message.content}")
    finally:
        database.dispose()
