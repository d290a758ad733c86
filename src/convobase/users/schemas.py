import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from convobase.core.validation import Text, bounded_json

Document = Annotated[
    dict[str, Any],
    AfterValidator(lambda value: bounded_json(value, max_bytes=64 * 1024, name="document")),
]
Goal = Annotated[Text, Field(min_length=1, max_length=200)]


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str | None
    goals: list[str]
    stage: int = Field(ge=1, le=3)
    profile: dict[str, Any]
    preferences: dict[str, Any]
    last_active: datetime
    graduation_date: datetime | None
    created_at: datetime
    updated_at: datetime


class UserUpdate(BaseModel):
    """Fields to replace; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    goals: list[Goal] | None = Field(default=None, max_length=50)
    profile: Document | None = None
    preferences: Document | None = None
