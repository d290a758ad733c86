import uuid

from sqlalchemy.orm import Session

from convobase.core.pagination import DEFAULT_PAGE_SIZE, Page, decode_cursor, paginate
from convobase.core.principal import Principal, require_staff
from convobase.personas import repository
from convobase.personas.errors import PersonaNameTaken, PersonaNotFound
from convobase.personas.models import Persona
from convobase.personas.schemas import PersonaCreate, PersonaUpdate


def get_active_persona(session: Session, principal: Principal, persona_id: uuid.UUID) -> Persona:
    """Return an active persona, or raise PersonaNotFound."""
    persona = repository.get(session, persona_id, active_only=True)
    if persona is None:
        raise PersonaNotFound
    return persona


def get_persona(session: Session, principal: Principal | None, persona_id: uuid.UUID) -> Persona:
    """Return a persona: active ones to everybody, deactivated ones to staff too."""
    staff = principal is not None and principal.is_staff
    persona = repository.get(session, persona_id, active_only=not staff)
    if persona is None:
        raise PersonaNotFound
    return persona


def list_personas(
    session: Session,
    principal: Principal | None,
    *,
    specialization: str | None = None,
    skill_level: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[Persona]:
    """Active personas by name, optionally of one specialization or skill level."""
    rows = repository.list_active(
        session,
        specialization=specialization,
        skill_level=skill_level,
        after=decode_cursor(cursor, str) if cursor is not None else None,
        limit=limit + 1,
    )
    return paginate(rows, limit, lambda last: (last.name,))


def name_taken(session: Session, name: str) -> bool:
    """Whether a persona, active or not, has this name."""
    return repository.name_exists(session, name)


def create_persona(session: Session, principal: Principal, *, data: PersonaCreate) -> Persona:
    """Create a persona (staff only)."""
    require_staff(principal, "manage personas")
    if repository.name_exists(session, data.name):
        raise PersonaNameTaken
    values = data.model_dump(exclude={"personality_config"})
    persona = Persona(**values, personality_config=data.personality_config.as_document())
    return repository.add(session, persona)


def update_persona(
    session: Session, principal: Principal, persona_id: uuid.UUID, *, data: PersonaUpdate
) -> Persona:
    """Change a persona (staff only)."""
    require_staff(principal, "manage personas")
    persona = get_persona(session, principal, persona_id)
    changes = data.model_dump(exclude_unset=True, exclude={"personality_config"})
    for field, value in changes.items():
        if value is not None:
            setattr(persona, field, value)
    if data.personality_config is not None:
        persona.personality_config = data.personality_config.as_document()
    session.flush()
    return persona


def deactivate_persona(session: Session, principal: Principal, persona_id: uuid.UUID) -> Persona:
    """Hide a persona from users; its conversations and history stay intact (staff only)."""
    return update_persona(session, principal, persona_id, data=PersonaUpdate(is_active=False))
