import uuid

from sqlalchemy.orm import Session

from convobase.core.errors import Forbidden
from convobase.core.principal import Principal
from convobase.personas import repository
from convobase.personas.errors import PersonaNameTaken, PersonaNotFound
from convobase.personas.models import Persona
from convobase.personas.schemas import PersonaCreate


def get_active_persona(session: Session, principal: Principal, persona_id: uuid.UUID) -> Persona:
    """Return an active persona, or raise PersonaNotFound."""
    persona = repository.get_active(session, persona_id)
    if persona is None:
        raise PersonaNotFound
    return persona


def create_persona(session: Session, principal: Principal, *, data: PersonaCreate) -> Persona:
    """Create a persona (staff only)."""
    _require_staff(principal)
    if repository.name_exists(session, data.name):
        raise PersonaNameTaken
    values = data.model_dump(exclude={"personality_config"})
    persona = Persona(**values, personality_config=data.personality_config.as_document())
    return repository.add(session, persona)


def _require_staff(principal: Principal) -> None:
    if not principal.is_staff:
        raise Forbidden("Only staff can manage personas.")
