import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from convobase.core.validation import FromString, RequestModel, Text, json_document
from convobase.reviews.models import (
    MAX_ANSWER_LENGTH,
    MAX_CLIENT_REVIEW_ID_LENGTH,
    MAX_DURATION_MS,
    MAX_PROMPT_LENGTH,
    MAX_SOURCE_KEY_LENGTH,
    MAX_SOURCE_KIND_LENGTH,
    ReviewCardState,
)

# The kinds of source convobase's own domains use; another domain names its own.
SOURCE_OWN: Final = "own"  # a card the learner made (POST /v1/reviews/cards)
SOURCE_ASSESSMENT_QUESTION: Final = "assessment_question"  # key "<assessment_id>:<question_id>"
MAX_CONTEXT_BYTES: Final = 16 * 1024
MAX_NEW_CARDS: Final = 200
MAX_DUE_CARDS: Final = 200

SourceKind = Annotated[
    str,
    Field(min_length=1, max_length=MAX_SOURCE_KIND_LENGTH, pattern=r"^[a-z][a-z0-9_]*$"),
]
SourceKey = Annotated[Text, Field(min_length=1, max_length=MAX_SOURCE_KEY_LENGTH)]
# Not empty, nor only whitespace; the pattern is in the published schema too.
Prompt = Annotated[
    Text,
    Field(
        min_length=1,
        max_length=MAX_PROMPT_LENGTH,
        pattern=r"\S",
        json_schema_extra={"pattern": r"\S"},
        description="What the learner is asked: not empty, not only whitespace.",
    ),
]
Answer = Annotated[
    Text,
    Field(
        min_length=1,
        max_length=MAX_ANSWER_LENGTH,
        pattern=r"\S",
        json_schema_extra={"pattern": r"\S"},
        description="What the learner should recall.",
    ),
]
Context = Annotated[dict[str, Any], json_document(MAX_CONTEXT_BYTES, "context")]
ClientReviewId = Annotated[Text, Field(min_length=1, max_length=MAX_CLIENT_REVIEW_ID_LENGTH)]


class ReviewRating(StrEnum):
    """How well the learner recalled a card, as FSRS (and Anki) grade it: `again`
    (forgot), `hard`, `good`, `easy`."""

    AGAIN = "again"
    HARD = "hard"
    GOOD = "good"
    EASY = "easy"

    @property
    def number(self) -> int:
        """The grade as stored and as FSRS counts it: 1 (again) to 4 (easy)."""
        return list(ReviewRating).index(self) + 1

    @classmethod
    def of(cls, number: int) -> "ReviewRating":
        """The rating stored as `number` (1..4)."""
        if not 1 <= number <= len(cls):
            raise ValueError(f"a rating is 1..{len(cls)}, not {number}")
        return list(cls)[number - 1]


class NewCard(BaseModel):
    """A card another domain adds for the learner it acts for (`service.add_cards`):
    where it comes from, and what the learner is asked. Adding a source again does not
    make a second card (docs/reviews.md)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    source_kind: SourceKind = Field(
        description="What kind of thing the card comes from, such as `assessment_question`; "
        "`own` is the learner's own cards'."
    )
    source_key: SourceKey = Field(
        description="The source's stable id within its kind, such as "
        "`<assessment_id>:<question_id>`."
    )
    prompt: Prompt
    answer: Answer | None = Field(
        default=None,
        description="What the learner should recall; null where the learner must not be "
        "shown it (an assessment's answer key).",
    )
    context: Context = Field(
        default_factory=dict,
        description="What the learner is shown with the prompt (a question's choices) and "
        "ids that lead back to the source; never an answer key.",
    )


class ReviewCardCreate(RequestModel):
    """A card of your own."""

    prompt: Prompt
    answer: Answer | None = None


def _omit_not_null(schema: dict[str, Any]) -> None:
    """Publish a field that may be omitted but not null: no `"default": null`, and
    only its non-null branch."""
    schema.pop("default", None)
    branches = [branch for branch in schema.pop("anyOf", ()) if branch != {"type": "null"}]
    for branch in branches:
        schema.update({key: value for key, value in branch.items() if key not in schema})


class ReviewCardUpdate(RequestModel):
    """What to change; omitted fields stay as they are. Only your own cards' prompt and
    answer can change."""

    # Neither `suspended` nor `prompt` may be null, and the published schema says so:
    # a null there is a 422, an omitted field keeps its value. (Optional rather than a
    # union with None, so that a refused value gets one error, not one per branch.)
    suspended: bool | None = Field(
        default=None,
        description="A suspended card is never due until unsuspended.",
        json_schema_extra=_omit_not_null,
    )
    prompt: Prompt | None = Field(
        default=None, description="A card has a prompt.", json_schema_extra=_omit_not_null
    )
    answer: Answer | None = Field(default=None, description="Null clears the answer.")

    @field_validator("suspended", "prompt")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Runs only for a field given: an omitted one stays as it is.
        if value is None:
            raise ValueError("cannot be null; omit the field to keep it")
        return value


class ReviewCreate(RequestModel):
    """A review of one of your cards."""

    card_id: Annotated[uuid.UUID, FromString]
    rating: Annotated[ReviewRating, FromString]
    client_review_id: ClientReviewId = Field(
        description="A key the client picks for this review; retrying with it answers the "
        "review made first instead of reviewing again."
    )
    duration_ms: int | None = Field(
        default=None,
        ge=0,
        le=MAX_DURATION_MS,
        description="How long the learner took to answer, in milliseconds.",
    )


class ReviewCardRead(BaseModel):
    """A review card and its FSRS schedule."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    source_kind: str
    source_key: str
    prompt: str
    answer: str | None
    context: dict[str, Any]
    state: ReviewCardState
    step: int | None = Field(description="The learning step it is at; null in review.")
    stability: float | None = Field(
        description="FSRS's stability, in days; null until the first review."
    )
    difficulty: float | None = Field(
        description="FSRS's difficulty, 1 (easiest) to 10; null until the first review."
    )
    due_at: datetime
    last_reviewed_at: datetime | None
    suspended: bool
    created_at: datetime
    updated_at: datetime


class ReviewRead(BaseModel):
    """One review of a card, with the card's schedule after it."""

    model_config = ConfigDict(from_attributes=True, validate_by_name=True)

    id: uuid.UUID
    card_id: uuid.UUID
    client_review_id: str
    rating: ReviewRating
    reviewed_at: datetime
    duration_ms: int | None = Field(validation_alias="review_duration_ms")
    state: ReviewCardState = Field(description="The card's state after the review.")
    step: int | None
    stability: float
    difficulty: float
    due_at: datetime = Field(description="When the card was due next after the review.")

    @field_validator("rating", mode="before")
    @classmethod
    def _named(cls, value: object) -> object:
        return ReviewRating.of(value) if isinstance(value, int) else value


class ReviewResult(BaseModel):
    """A review, and the card as it stands now."""

    review: ReviewRead
    card: ReviewCardRead


class DueCounts(BaseModel):
    """How many cards are due today, and of what kind: `due` is the other three together."""

    due: int
    new: int = Field(description="Never reviewed.")
    learning: int = Field(description="Being learned, or learned again after a lapse.")
    review: int


class DueReviews(BaseModel):
    """Your cards due today, your own day (see `local_date`), most overdue first."""

    local_date: date = Field(description="Today, where you are.")
    time_zone: str = Field(description="Your `preferences.time_zone`, else UTC.")
    day_starts_at: datetime
    day_ends_at: datetime = Field(description="A card due before this is due today.")
    counts: DueCounts
    cards: list[ReviewCardRead]
    next_due_at: datetime | None = Field(
        description="When the next card not due today falls due; null for none."
    )


class ReviewCardExport(ReviewCardRead):
    """A card with its whole history, for the account export."""

    reviews: list[ReviewRead]
