import functools
import uuid
import zoneinfo
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from convobase.core.validation import RequestModel, Text, json_document

MAX_DOCUMENT_BYTES = 64 * 1024
# The preference naming the user's IANA time zone (`Europe/Madrid`): their day for reviews.
TIME_ZONE_PREFERENCE = "time_zone"


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _known_time_zone(preferences: dict[str, Any]) -> dict[str, Any]:
    zone = preferences.get(TIME_ZONE_PREFERENCE)
    if zone is not None and not (isinstance(zone, str) and zone in _time_zones()):
        raise ValueError("preferences.time_zone must name an IANA time zone, such as Europe/Madrid")
    return preferences


Profile = Annotated[dict[str, Any], json_document(MAX_DOCUMENT_BYTES, "profile")]
Preferences = Annotated[
    dict[str, Any],
    json_document(MAX_DOCUMENT_BYTES, "preferences"),
    AfterValidator(_known_time_zone),
    Field(
        description="Your app's settings, any JSON object. `time_zone`, if given, is an IANA "
        "time zone (`Europe/Madrid`): your reviews are due by your day there."
    ),
]
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
