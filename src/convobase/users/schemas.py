import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from convobase.core.validation import RequestModel, Text, json_document

MAX_DOCUMENT_BYTES = 64 * 1024
Profile = Annotated[dict[str, Any], json_document(MAX_DOCUMENT_BYTES, "profile")]
Preferences = Annotated[dict[str, Any], json_document(MAX_DOCUMENT_BYTES, "preferences")]
Goal = Annotated[Text, Field(min_length=1, max_length=200)]
MAX_GOALS = 50


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


class UserUpdate(RequestModel):
    """Fields to replace; omitted fields stay as they are."""

    goals: list[Goal] | None = Field(default=None, max_length=MAX_GOALS)
    profile: Profile | None = None
    preferences: Preferences | None = None
