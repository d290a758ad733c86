import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from convobase.jobs.models import JobState


class JobRead(BaseModel):
    """A job, as staff see it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    data: dict[str, Any]
    state: JobState
    priority: int
    dedup_key: str | None
    for_user_id: uuid.UUID | None = Field(description="Whose data the job works on.")
    attempts: int = Field(description="How many times a worker has claimed the job.")
    retry_count: int = Field(description="Failed attempts that were retried.")
    retry_limit: int
    created_at: datetime
    start_after: datetime = Field(description="Not run before this time.")
    started_at: datetime | None
    completed_at: datetime | None = Field(description="When it completed, failed or was cancelled.")
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_error: str | None


class JobStats(BaseModel):
    """How many jobs are in each state."""

    queued: int
    active: int
    completed: int
    failed: int
    cancelled: int
