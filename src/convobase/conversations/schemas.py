import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from convobase.conversations.models import ConversationKind, MessageRole
from convobase.core.validation import (
    FromString,
    OnlyBooleans,
    RequestModel,
    Text,
    json_document,
)

MAX_METADATA_BYTES = 16 * 1024
MAX_CONTEXT_BYTES = 64 * 1024

Metadata = Annotated[dict[str, Any], json_document(MAX_METADATA_BYTES, "metadata")]
Context = Annotated[dict[str, Any], json_document(MAX_CONTEXT_BYTES, "context")]
Title = Annotated[Text, Field(min_length=1, max_length=200)]
ClientMessageId = Annotated[Text, Field(min_length=1, max_length=128)]


class ConversationCreate(RequestModel):
    persona_id: Annotated[uuid.UUID, FromString] | None = None
    title: Title | None = None
    context: Context = Field(default_factory=dict, description="Stored as context_data.")
    kind: Annotated[ConversationKind, FromString] = ConversationKind.CHAT


class ConversationUpdate(RequestModel):
    """Fields to change; `is_active: false` ends the conversation for good."""

    title: Title | None = None
    context: Context | None = None
    is_active: Annotated[Literal[False], OnlyBooleans] | None = None


class ConversationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True)

    id: uuid.UUID
    user_id: uuid.UUID | None
    persona_id: uuid.UUID | None
    session_id: str | None
    is_guest_session: bool
    guest_message_count: int
    kind: ConversationKind
    title: str | None
    context: dict[str, Any] = Field(validation_alias="context_data")
    is_active: bool
    message_count: int = Field(validation_alias="last_seq")
    started_at: datetime
    last_message_at: datetime
    ended_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MessageCreate(RequestModel):
    role: Annotated[MessageRole, FromString]
    # The pattern (a character that is not whitespace, anywhere) is in the published
    # schema too, so clients and fuzzers know blank content is refused.
    content: Annotated[
        Text,
        Field(
            min_length=1,
            pattern=r"\S",
            json_schema_extra={"pattern": r"\S"},
            description="Not empty, not only whitespace.",
        ),
    ]
    metadata: Metadata = Field(default_factory=dict)
    client_message_id: ClientMessageId | None = Field(
        default=None,
        description="A key the client picks; retrying with it returns the original message.",
    )


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True)

    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    role: MessageRole
    content: Text
    metadata: dict[str, Any] = Field(validation_alias="message_metadata")
    client_message_id: str | None
    created_at: datetime


# The crisis vocabulary the safety block speaks: the safety domain's, which a test holds
# these to.
class CrisisSeverity(StrEnum):
    """How urgent: after the Columbia (C-SSRS) triage, from a passive wish (low) to
    something under way (critical)."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    CRITICAL = "critical"


class CrisisCategory(StrEnum):
    """What kind of risk; `third_party` is a report about someone else."""

    SUICIDE = "suicide"
    SELF_HARM = "self_harm"
    ABUSE = "abuse"
    EATING_DISORDER = "eating_disorder"
    SUBSTANCE = "substance"
    HARM_TO_OTHERS = "harm_to_others"
    THIRD_PARTY = "third_party"


class ContactKind(StrEnum):
    """How a crisis line is reached."""

    PHONE = "phone"
    SMS = "sms"
    CHAT = "chat"
    WEB = "web"


class ResourceContact(BaseModel):
    """One way to reach a crisis line: call or text a number, or open a chat or site."""

    kind: ContactKind
    number: str | None = Field(default=None, description="For phone and sms.")
    keyword: str | None = Field(default=None, description="For sms: the word to send.")
    url: str | None = Field(default=None, description="For chat and web.")


class CrisisResource(BaseModel):
    """A crisis line shown to someone who may be at risk."""

    id: str = Field(examples=["us-988"])
    name: str = Field(examples=["988 Suicide & Crisis Lifeline"])
    country: str | None = Field(description="ISO 3166-1 alpha-2; null: international.")
    contacts: list[ResourceContact]
    hours: str | None = Field(examples=["24/7"])
    emergency: bool = Field(default=False, description="The country's emergency number.")
    note: str | None = None


class Safety(BaseModel):
    """What screening a `user` message for signs of crisis found, and what to show.

    When `flagged`, show `message` and `resources` to the writer before, or with, the
    assistant's reply; `event_id` names the crisis event recorded for it, which the user
    acknowledges with `POST /v1/crisis-events/{event_id}/acknowledge`.
    """

    flagged: bool = False
    severity: CrisisSeverity | None = None
    category: CrisisCategory | None = None
    event_id: uuid.UUID | None = None
    message: str | None = Field(
        default=None, description="A short supportive message for the writer."
    )
    resources: list[CrisisResource] = Field(
        default_factory=list, description="The crisis lines to show, in this order."
    )


class MessageAppended(BaseModel):
    message: MessageRead
    safety: Safety


class GuestSessionCreate(RequestModel):
    persona_id: Annotated[uuid.UUID, FromString]


class GuestSessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    session_id: str
    conversation_id: uuid.UUID
    message_count: int
    message_limit: int
    messages_remaining: int


class GuestSessionCreated(BaseModel):
    session_id: str
    token: str = Field(description="Bearer token (role guest) reaching only this session.")
    conversation_id: uuid.UUID
    message_limit: int
    messages_remaining: int


class GuestSessionClaim(RequestModel):
    guest_token: Text = Field(min_length=1, max_length=4096)
