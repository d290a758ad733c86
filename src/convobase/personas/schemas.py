import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from convobase.core.validation import Text, bounded_json

SkillLevel = Literal["beginner", "intermediate", "advanced", "expert"]
ConversationStyle = Literal["friendly", "supportive", "analytical", "socratic", "competitive"]
Name = Annotated[Text, Field(min_length=1, max_length=100)]


class PersonalityConfig(BaseModel):
    """The parameters an AI model needs to speak as this persona.

    `system_prompt` and `temperature` are required; apps may add keys of their own.
    """

    model_config = ConfigDict(extra="allow")

    system_prompt: Text = Field(min_length=1, max_length=8000)
    temperature: float = Field(ge=0, le=2)
    traits: list[Annotated[Text, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=20
    )
    max_response_tokens: int | None = Field(default=None, ge=1, le=32_000)

    @field_validator("system_prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    def as_document(self) -> dict[str, Any]:
        return bounded_json(
            self.model_dump(exclude_none=True), max_bytes=32 * 1024, name="personality_config"
        )


class PersonaCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    display_name: Name
    personality_config: PersonalityConfig
    avatar_url: Text | None = Field(default=None, max_length=500)
    specialization: Text = Field(default="general", min_length=1, max_length=100)
    description: Text | None = Field(default=None, max_length=2000)
    backstory: Text | None = Field(default=None, max_length=8000)
    skill_level: SkillLevel = "beginner"
    conversation_style: ConversationStyle = "friendly"


class PersonaRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    display_name: str
    personality_config: dict[str, Any]
    avatar_url: str | None
    specialization: str
    description: str | None
    backstory: str | None
    skill_level: SkillLevel
    conversation_style: ConversationStyle
    is_active: bool
    created_at: datetime
    updated_at: datetime


class PersonaUpdate(BaseModel):
    """Fields to replace; omitted fields stay as they are. `is_active: true` brings a
    deactivated persona back."""

    model_config = ConfigDict(extra="forbid")

    display_name: Name | None = None
    personality_config: PersonalityConfig | None = None
    avatar_url: Text | None = Field(default=None, max_length=500)
    specialization: Text | None = Field(default=None, min_length=1, max_length=100)
    description: Text | None = Field(default=None, max_length=2000)
    backstory: Text | None = Field(default=None, max_length=8000)
    skill_level: SkillLevel | None = None
    conversation_style: ConversationStyle | None = None
    is_active: bool | None = None
