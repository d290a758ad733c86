import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from typing_extensions import TypeAliasType

from convobase.core.validation import RequestModel, Text, bounded_json

# Named type aliases: the OpenAPI document shows each once, as a named schema that
# generated clients turn into one type, and validation is the Literal's own.
SkillLevel = TypeAliasType("SkillLevel", Literal["beginner", "intermediate", "advanced", "expert"])
ConversationStyle = TypeAliasType(
    "ConversationStyle",
    Literal["friendly", "supportive", "analytical", "socratic", "competitive"],
)
Name = Annotated[Text, Field(min_length=1, max_length=100)]
MAX_PERSONALITY_BYTES = 32 * 1024


class PersonalityConfig(RequestModel):
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

    @model_validator(mode="before")
    @classmethod
    def _json(cls, data: Any) -> Any:
        # The keys an app adds may hold any JSON: the whole document gets the checks of
        # every JSON document before its own fields are read.
        if isinstance(data, dict):
            return bounded_json(data, max_bytes=MAX_PERSONALITY_BYTES, name="personality_config")
        return data

    @model_validator(mode="after")
    def _storable(self) -> "PersonalityConfig":
        self.as_document()  # what is stored, defaults filled in, is within the bounds too
        return self

    def as_document(self) -> dict[str, Any]:
        return bounded_json(
            self.model_dump(exclude_none=True),
            max_bytes=MAX_PERSONALITY_BYTES,
            name="personality_config",
        )


class PersonaCreate(RequestModel):
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
    """A persona as apps show it: everything but its personality config."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    display_name: str
    avatar_url: str | None
    specialization: str
    description: str | None
    backstory: str | None
    skill_level: SkillLevel
    conversation_style: ConversationStyle
    is_active: bool
    created_at: datetime
    updated_at: datetime


class PersonaStaffRead(PersonaRead):
    """A persona as staff manage it, with the personality config the app's server
    gives its model (system prompt, parameters)."""

    personality_config: dict[str, Any]


class PersonaUpdate(RequestModel):
    """Fields to replace; omitted fields stay as they are. `is_active: true` brings a
    deactivated persona back."""

    display_name: Name | None = None
    personality_config: PersonalityConfig | None = None
    avatar_url: Text | None = Field(default=None, max_length=500)
    specialization: Text | None = Field(default=None, min_length=1, max_length=100)
    description: Text | None = Field(default=None, max_length=2000)
    backstory: Text | None = Field(default=None, max_length=8000)
    skill_level: SkillLevel | None = None
    conversation_style: ConversationStyle | None = None
    is_active: bool | None = None
