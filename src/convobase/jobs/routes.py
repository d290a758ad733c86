import uuid

from fastapi import APIRouter

from convobase.core.deps import PageSize, StaffDep, UnitOfWorkDep
from convobase.core.pagination import DEFAULT_PAGE_SIZE, PageRead, page_read
from convobase.core.problems import problem_responses
from convobase.jobs import service
from convobase.jobs.models import JobState
from convobase.jobs.schemas import JobRead, JobStats

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=problem_responses(401, 403))


@router.get("", responses=problem_responses(422))
async def list_jobs(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    state: JobState | None = None,
    name: str | None = None,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[JobRead]:
    """Background jobs, newest first, optionally of one state and task name (staff)."""
    page = await uow.read(
        service.list_jobs, staff, state=state, name=name, cursor=cursor, limit=limit
    )
    return page_read(page, JobRead)


@router.get("/stats")
async def job_stats(uow: UnitOfWorkDep, staff: StaffDep) -> JobStats:
    """How many jobs are in each state (staff)."""
    counts = await uow.read(service.job_counts, staff)
    return JobStats(**{state.value: count for state, count in counts.items()})


@router.get("/{job_id}", responses=problem_responses(404))
async def read_job(uow: UnitOfWorkDep, staff: StaffDep, job_id: uuid.UUID) -> JobRead:
    """One job, with its last error (staff)."""
    return JobRead.model_validate(await uow.read(service.get_job, staff, job_id))


@router.post("/{job_id}/retry", responses=problem_responses(404, 409))
async def retry_job(uow: UnitOfWorkDep, staff: StaffDep, job_id: uuid.UUID) -> JobRead:
    """Queue a failed or cancelled job again, now, with its retries restored (staff)."""
    return JobRead.model_validate(await uow.run(service.retry_job, staff, job_id))


@router.post("/{job_id}/cancel", responses=problem_responses(404, 409))
async def cancel_job(uow: UnitOfWorkDep, staff: StaffDep, job_id: uuid.UUID) -> JobRead:
    """Cancel a queued job, so that no worker runs it (staff)."""
    return JobRead.model_validate(await uow.run(service.cancel_job, staff, job_id))
