import uuid

from fastapi import APIRouter, status

from convobase.core.deps import OptionalCallerDep, PageSize, StaffDep, UnitOfWorkDep
from convobase.core.pagination import DEFAULT_PAGE_SIZE, PageRead, page_read
from convobase.core.problems import problem_responses
from convobase.personas import service
from convobase.personas.schemas import (
    PersonaCreate,
    PersonaRead,
    PersonaStaffRead,
    PersonaUpdate,
    SkillLevel,
)

router = APIRouter(prefix="/v1/personas", tags=["personas"], responses=problem_responses(401))
staff_router = APIRouter(
    prefix="/v1/staff/personas", tags=["staff"], responses=problem_responses(401, 403, 404)
)
staff_responses = problem_responses(403, 404, 422)


@router.get("", responses=problem_responses(422))
async def list_personas(
    uow: UnitOfWorkDep,
    caller: OptionalCallerDep,
    specialization: str | None = None,
    skill_level: SkillLevel | None = None,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[PersonaRead]:
    """Active personas, by name; their public fields (the personality config is
    staff's: `GET /v1/staff/personas/{persona_id}`)."""
    page = await uow.read(
        service.list_personas,
        caller,
        specialization=specialization,
        skill_level=skill_level,
        cursor=cursor,
        limit=limit,
    )
    return page_read(page, PersonaRead)


@router.get("/{persona_id}", responses=problem_responses(404))
async def read_persona(
    uow: UnitOfWorkDep, caller: OptionalCallerDep, persona_id: uuid.UUID
) -> PersonaRead:
    """One persona's public fields; deactivated ones only for staff."""
    return PersonaRead.model_validate(await uow.read(service.get_persona, caller, persona_id))


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(403, 409, 422))
async def create_persona(
    uow: UnitOfWorkDep, staff: StaffDep, body: PersonaCreate
) -> PersonaStaffRead:
    """Create a persona (staff)."""
    persona = await uow.run(service.create_persona, staff, data=body)
    return PersonaStaffRead.model_validate(persona)


@router.patch("/{persona_id}", responses=staff_responses)
async def update_persona(
    uow: UnitOfWorkDep, staff: StaffDep, persona_id: uuid.UUID, body: PersonaUpdate
) -> PersonaStaffRead:
    """Change a persona (staff)."""
    persona = await uow.run(service.update_persona, staff, persona_id, data=body)
    return PersonaStaffRead.model_validate(persona)


@router.delete("/{persona_id}", responses=staff_responses)
async def deactivate_persona(
    uow: UnitOfWorkDep, staff: StaffDep, persona_id: uuid.UUID
) -> PersonaStaffRead:
    """Deactivate a persona (staff): users no longer see it; its conversations stay."""
    persona = await uow.run(service.deactivate_persona, staff, persona_id)
    return PersonaStaffRead.model_validate(persona)


@staff_router.get("/{persona_id}")
async def staff_read_persona(
    uow: UnitOfWorkDep, staff: StaffDep, persona_id: uuid.UUID
) -> PersonaStaffRead:
    """One persona with its personality config, active or not (staff)."""
    return PersonaStaffRead.model_validate(await uow.read(service.get_persona, staff, persona_id))
