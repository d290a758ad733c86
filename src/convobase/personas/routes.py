import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from convobase.core.deps import AnyoneDep, SessionDep, StaffPrincipal
from convobase.core.pagination import PageRead, page_read
from convobase.core.problems import problem_responses
from convobase.personas import service
from convobase.personas.schemas import PersonaCreate, PersonaRead, PersonaUpdate, SkillLevel

router = APIRouter(prefix="/v1/personas", tags=["personas"], responses=problem_responses(401))
staff_responses = problem_responses(403, 404, 422)


@router.get("", responses=problem_responses(422))
def list_personas(
    session: SessionDep,
    caller: AnyoneDep,
    specialization: str | None = None,
    skill_level: SkillLevel | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageRead[PersonaRead]:
    """Active personas, by name."""
    page = service.list_personas(
        session,
        caller,
        specialization=specialization,
        skill_level=skill_level,
        cursor=cursor,
        limit=limit,
    )
    return page_read(page, PersonaRead)


@router.get("/{persona_id}", responses=problem_responses(404))
def read_persona(session: SessionDep, caller: AnyoneDep, persona_id: uuid.UUID) -> PersonaRead:
    """One persona; deactivated ones only for staff."""
    return PersonaRead.model_validate(service.get_persona(session, caller, persona_id))


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(403, 409, 422))
def create_persona(session: SessionDep, staff: StaffPrincipal, body: PersonaCreate) -> PersonaRead:
    """Create a persona (staff)."""
    return PersonaRead.model_validate(service.create_persona(session, staff, data=body))


@router.patch("/{persona_id}", responses=staff_responses)
def update_persona(
    session: SessionDep, staff: StaffPrincipal, persona_id: uuid.UUID, body: PersonaUpdate
) -> PersonaRead:
    """Change a persona (staff)."""
    persona = service.update_persona(session, staff, persona_id, data=body)
    return PersonaRead.model_validate(persona)


@router.delete("/{persona_id}", responses=staff_responses)
def deactivate_persona(
    session: SessionDep, staff: StaffPrincipal, persona_id: uuid.UUID
) -> PersonaRead:
    """Deactivate a persona (staff): users no longer see it; its conversations stay."""
    return PersonaRead.model_validate(service.deactivate_persona(session, staff, persona_id))
