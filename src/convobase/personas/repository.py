import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from convobase.personas.models import Persona


def get_active(session: Session, persona_id: uuid.UUID) -> Persona | None:
    return session.scalar(select(Persona).where(Persona.id == persona_id, Persona.is_active))


def add(session: Session, persona: Persona) -> Persona:
    session.add(persona)
    session.flush()
    return persona


def name_exists(session: Session, name: str) -> bool:
    return session.scalar(select(Persona.id).where(Persona.name == name)) is not None
