import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from convobase.db.keyset import seek
from convobase.personas.models import Persona


def get(session: Session, persona_id: uuid.UUID, *, active_only: bool) -> Persona | None:
    statement = select(Persona).where(Persona.id == persona_id)
    if active_only:
        statement = statement.where(Persona.is_active)
    return session.scalar(statement)


def list_active(
    session: Session,
    *,
    specialization: str | None,
    skill_level: str | None,
    after: tuple[str] | None,
    limit: int,
) -> Sequence[Persona]:
    statement = select(Persona).where(Persona.is_active)
    if specialization is not None:
        statement = statement.where(Persona.specialization == specialization)
    if skill_level is not None:
        statement = statement.where(Persona.skill_level == skill_level)
    return session.scalars(seek(statement, (Persona.name,), after).limit(limit)).all()


def name_exists(session: Session, name: str) -> bool:
    return session.scalar(select(Persona.id).where(Persona.name == name)) is not None


def add(session: Session, persona: Persona) -> Persona:
    session.add(persona)
    session.flush()
    return persona
