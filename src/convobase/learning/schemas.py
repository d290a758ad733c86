import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from convobase.core.validation import FromString, RequestModel, Text, bounded_json
from convobase.learning.models import (
    MAX_ATTEMPTS_LIMIT,
    MAX_CLIENT_ATTEMPT_ID_LENGTH,
    MAX_DESCRIPTION_LENGTH,
    MAX_DURATION_MINUTES,
    MAX_QUESTION_ID_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TIME_LIMIT_MINUTES,
    MAX_TITLE_LENGTH,
    MAX_URL_LENGTH,
    AttemptCloser,
    AttemptStatus,
    CourseLevel,
    Difficulty,
)
from convobase.learning.questions import GradeMethod

# The catalog: courses, their sections, and their assessments as staff write them and
# as learners read them.

MAX_SECTIONS: Final = 500
MAX_TAGS: Final = 30
MAX_PREREQUISITES: Final = 50
# An assessment's documents as a request carries them; the questions module bounds
# each question, this the whole.
MAX_QUESTIONS_BYTES: Final = 1024 * 1024
MAX_SCORING_BYTES: Final = 64 * 1024

Key = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="A stable name, unique where it lives (lower-case letters, digits, "
        "`.`, `_`, `-`): what content files refer to.",
    ),
]
Title = Annotated[Text, Field(min_length=1, max_length=MAX_TITLE_LENGTH)]
Description = Annotated[Text, Field(max_length=MAX_DESCRIPTION_LENGTH)]
Path = Annotated[Text, Field(min_length=1, max_length=MAX_URL_LENGTH)]
Minutes = Annotated[int, Field(ge=0, le=MAX_DURATION_MINUTES)]
Tag = Annotated[Text, Field(min_length=1, max_length=MAX_TAG_LENGTH)]
CourseId = Annotated[uuid.UUID, FromString]
Level = Annotated[CourseLevel, FromString]
AssessmentDifficulty = Annotated[Difficulty, FromString]
PassThreshold = Annotated[int, Field(ge=0, le=100, description="The score, in percent, to pass.")]
TimeLimit = Annotated[
    int,
    Field(ge=1, le=MAX_TIME_LIMIT_MINUTES, description="Minutes from the server's start time."),
]
MaxAttempts = Annotated[int, Field(ge=1, le=MAX_ATTEMPTS_LIMIT)]


def _distinct(values: list[Any]) -> list[Any]:
    """The values once each, in their first order: a tag or a prerequisite given twice
    means it once."""
    return list(dict.fromkeys(values))


def _questions_document(value: list[Any]) -> list[Any]:
    bounded_json({"questions": value}, max_bytes=MAX_QUESTIONS_BYTES, name="questions")
    return value


def _scoring_document(value: dict[str, Any]) -> dict[str, Any]:
    return bounded_json(value, max_bytes=MAX_SCORING_BYTES, name="scoring_config")


Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_distinct)]
Prerequisites = Annotated[
    list[CourseId],
    Field(max_length=MAX_PREREQUISITES, description="Courses to complete first."),
    AfterValidator(_distinct),
]
QuestionsDocument = Annotated[
    list[dict[str, Any]],
    AfterValidator(_questions_document),
    Field(description="The questions, in the format of docs/assessments.md."),
]
ScoringDocument = Annotated[
    dict[str, Any],
    AfterValidator(_scoring_document),
    Field(description="Weights, partial credit and the grade method (docs/assessments.md)."),
]


class SectionWrite(RequestModel):
    """A section as staff write it; its position is its place in the list."""

    key: Key
    title: Title
    content_path: Path | None = None
    duration_minutes: Minutes | None = None


def _distinct_keys(sections: list[SectionWrite]) -> list[SectionWrite]:
    keys = [section.key for section in sections]
    if len(set(keys)) != len(keys):
        raise ValueError("section keys must not repeat")
    return sections


Sections = Annotated[
    list[SectionWrite], Field(max_length=MAX_SECTIONS), AfterValidator(_distinct_keys)
]


class CourseCreate(RequestModel):
    """A new course. Without a `key`, the course gets one made from its id."""

    key: Key | None = None
    title: Title
    description: Description | None = None
    level: Level
    content_path: Path | None = None
    video_url: Path | None = None
    thumbnail_url: Path | None = None
    duration_minutes: Minutes | None = None
    prerequisites: Prerequisites = Field(default_factory=list)
    tags: Tags = Field(default_factory=list)
    sections: Sections = Field(default_factory=list)
    is_active: bool = True


class CourseUpdate(RequestModel):
    """Fields to replace; omitted ones stay. `prerequisites`, `tags` and `sections`
    replace the whole list: sections are matched by key, so a kept key keeps its id and
    its learners' completions, and a removed section learners completed is withdrawn
    instead of deleted."""

    title: Title | None = None
    description: Description | None = None
    level: Level | None = None
    content_path: Path | None = None
    video_url: Path | None = None
    thumbnail_url: Path | None = None
    duration_minutes: Minutes | None = None
    prerequisites: Prerequisites | None = None
    tags: Tags | None = None
    sections: Sections | None = None
    is_active: bool | None = None


class SectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    position: int
    title: str
    content_path: str | None
    duration_minutes: int | None


class AssessmentSummary(BaseModel):
    """An assessment as a course lists it: what to expect, not its questions."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    title: str
    description: str | None
    difficulty: Difficulty
    pass_threshold: int
    time_limit_minutes: int | None
    max_attempts: int | None
    question_count: int
    version: int


class CourseRead(BaseModel):
    """A course of the catalog. `missing_prerequisites` are the prerequisites the
    signed-in learner has not completed yet (empty for staff and guests)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    title: str
    description: str | None
    level: CourseLevel
    content_path: str | None
    video_url: str | None
    thumbnail_url: str | None
    duration_minutes: int | None
    prerequisites: list[uuid.UUID]
    tags: list[str]
    is_active: bool
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    missing_prerequisites: list[uuid.UUID]


class CourseDetail(CourseRead):
    """A course with its sections in order and its active assessments."""

    sections: list[SectionRead]
    assessments: list[AssessmentSummary]


class AssessmentCreate(RequestModel):
    """A new assessment of a course: its questions and scoring are checked against the
    published schemas (docs/assessments.md)."""

    course_id: CourseId
    key: Key | None = None
    title: Title
    description: Description | None = None
    questions: QuestionsDocument
    scoring_config: ScoringDocument = Field(default_factory=dict)
    difficulty: AssessmentDifficulty
    pass_threshold: PassThreshold = 70
    time_limit_minutes: TimeLimit | None = None
    max_attempts: MaxAttempts | None = Field(
        default=3, description="Attempts a learner may start; null for no limit."
    )
    is_active: bool = True


class AssessmentUpdate(RequestModel):
    """Fields to replace; omitted ones stay. A change to what grading reads (questions,
    scoring, pass threshold, time limit) makes a new version: attempts started before
    it are still graded against theirs."""

    title: Title | None = None
    description: Description | None = None
    questions: QuestionsDocument | None = None
    scoring_config: ScoringDocument | None = None
    difficulty: AssessmentDifficulty | None = None
    pass_threshold: PassThreshold | None = None
    # An explicit null removes the limit; an omitted field keeps it.
    time_limit_minutes: TimeLimit | None = None
    max_attempts: MaxAttempts | None = None
    is_active: bool | None = None


class AssessmentRead(AssessmentSummary):
    """An assessment as a learner sees it: the questions without their answers,
    keys or scoring rules."""

    course_id: uuid.UUID
    questions: list[dict[str, Any]] = Field(
        description="Empty for a timed assessment: its questions are shown in an attempt, "
        "whose clock runs from the start."
    )


class AssessmentStaffRead(AssessmentSummary):
    """An assessment as staff manage it: its current version's questions with their
    answers, and its scoring."""

    course_id: uuid.UUID
    questions: list[dict[str, Any]]
    scoring_config: dict[str, Any]
    is_active: bool
    created_at: datetime
    updated_at: datetime


# Learners: progress and attempts

MAX_ANSWER_BYTES: Final = 8 * 1024

Percentage = Annotated[
    Decimal,
    PlainSerializer(float, return_type=float),
    Field(ge=0, le=100, description="A percentage with two decimals."),
]
Points = Annotated[Decimal, PlainSerializer(float, return_type=float), Field(ge=0)]
ClientAttemptId = Annotated[
    Text,
    Field(
        min_length=1,
        max_length=MAX_CLIENT_ATTEMPT_ID_LENGTH,
        description="The client's key for this start: a start retried with the same key "
        "answers with the attempt the first one started.",
    ),
]
QuestionId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_QUESTION_ID_LENGTH,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="A question's id within its assessment.",
    ),
]


def _bounded_answer(value: Any) -> Any:
    return bounded_json({"answer": value}, max_bytes=MAX_ANSWER_BYTES, name="body")["answer"]


class NextStepKind(StrEnum):
    """What a learner is to do next in a course: study a section, pass an assessment,
    nothing (`done`: every section completed and assessment passed), or nothing yet
    (`none`: the course has no sections or assessments)."""

    SECTION = "section"
    ASSESSMENT = "assessment"
    DONE = "done"
    NONE = "none"


class AnswerOutcome(StrEnum):
    """How one question of a graded attempt went."""

    CORRECT = "correct"
    PARTIAL = "partial"
    INCORRECT = "incorrect"
    UNANSWERED = "unanswered"


class AttemptStart(RequestModel):
    """Starting an attempt. The server sets its start time and deadline."""

    client_attempt_id: ClientAttemptId | None = None


class AnswerWrite(RequestModel):
    """An answer to one question, in the form its kind asks for (docs/learning.md):
    a choice's id, a list of choice ids, true or false, a number, text, every item id
    in order, or {left id: right id}."""

    answer: Annotated[Any, AfterValidator(_bounded_answer)] = Field(
        description="Any JSON value, at most 8 KiB; checked against the question.",
        examples=["b"],
    )


class SectionRef(BaseModel):
    """A section of a course, as progress names it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    position: int | None = Field(description="Its place in the course; null if withdrawn.")
    title: str


class AssessmentRef(BaseModel):
    """An assessment of a course, as progress names it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str


class NextStep(BaseModel):
    """What to do next in a course: the first section not completed, else the first
    assessment not passed."""

    model_config = ConfigDict(from_attributes=True)

    kind: NextStepKind
    section: SectionRef | None
    assessment: AssessmentRef | None


class AssessmentScores(BaseModel):
    """A learner's results at one assessment: every attempt's score in order, the grade
    they make by the assessment's grade method, and whether it passes."""

    model_config = ConfigDict(from_attributes=True)

    assessment_id: uuid.UUID
    attempts: int = Field(description="Attempts started.")
    scores: list[Percentage] = Field(description="Graded attempts' scores, in order.")
    grade: Percentage | None = Field(description="Null until an attempt is graded.")
    grade_method: GradeMethod
    passed: bool


class SectionCompletionRead(BaseModel):
    """A section the learner completed."""

    model_config = ConfigDict(from_attributes=True)

    section_id: uuid.UUID
    completed_at: datetime


class ProgressRead(BaseModel):
    """A learner's progress through a course, derived by the server from the sections
    they completed and the assessments they passed."""

    model_config = ConfigDict(from_attributes=True)

    course_id: uuid.UUID
    completion_rate: Percentage = Field(
        description="Sections completed and assessments passed, of the course's active ones."
    )
    next_step: NextStep
    completed_sections: list[SectionCompletionRead]
    test_scores: list[AssessmentScores]
    study_time_minutes: int
    started_at: datetime | None = Field(description="Null until the learner starts.")
    last_accessed: datetime | None
    completed_at: datetime | None = Field(
        description="When every section and assessment was first done; kept if more are added."
    )


class CourseRef(BaseModel):
    """A course, as the dashboard shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    title: str
    level: CourseLevel
    thumbnail_url: str | None
    is_active: bool


class CourseProgressRead(BaseModel):
    """One course of a learner's dashboard: its progress and next step."""

    model_config = ConfigDict(from_attributes=True)

    course: CourseRef
    completion_rate: Percentage
    next_step: NextStep
    study_time_minutes: int
    last_accessed: datetime
    completed_at: datetime | None


class StudyTimeRead(BaseModel):
    """The study time a heartbeat credited: the time since the learner's last
    heartbeat, at most two minutes."""

    model_config = ConfigDict(from_attributes=True)

    course_id: uuid.UUID
    credited_seconds: int
    study_time_minutes: int
    last_heartbeat_at: datetime


class QuestionResultRead(BaseModel):
    """How one question of a graded attempt went: points, never the answer key."""

    model_config = ConfigDict(from_attributes=True)

    question_id: str
    outcome: AnswerOutcome
    points: Points = Field(description="Points earned, rounded down to hundredths.")
    max_points: Points
    explanation: str | None = Field(
        description="Only where the assessment shows explanations after submission."
    )


class AttemptRead(BaseModel):
    """An attempt at an assessment, graded on the server against the version it
    started on."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    assessment_id: uuid.UUID
    assessment_version: int
    course_id: uuid.UUID
    attempt_number: int
    status: AttemptStatus
    closed_by: AttemptCloser | None
    client_attempt_id: str | None
    started_at: datetime
    deadline_at: datetime | None = Field(
        description="The server's start time plus the time limit; null without a limit."
    )
    seconds_left: int | None = Field(
        description="Until the deadline by the server's clock, while in progress."
    )
    submitted_at: datetime | None
    abandoned_at: datetime | None
    score: Percentage | None
    passed: bool | None
    pass_threshold: int
    results: list[QuestionResultRead] | None


class SavedAnswerRead(BaseModel):
    """The answer saved to one question."""

    model_config = ConfigDict(from_attributes=True)

    question_id: str
    answer: Any
    saved_at: datetime


class AttemptDetail(AttemptRead):
    """An attempt with its questions as the learner sees them (in an order fixed for
    the attempt, without answers, keys or scoring rules) and the answers saved."""

    questions: list[dict[str, Any]]
    answers: list[SavedAnswerRead]


class ProgressExport(BaseModel):
    """A progress row as stored, for the account export."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    course_id: uuid.UUID
    completion_rate: Percentage
    current_section_id: uuid.UUID | None
    next_assessment_id: uuid.UUID | None
    test_scores: dict[str, Any]
    study_time_minutes: int
    last_accessed: datetime
    last_heartbeat_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SectionCompletionExport(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    course_id: uuid.UUID
    section_id: uuid.UUID
    completed_at: datetime


class AttemptExport(BaseModel):
    """An attempt as stored, with its saved answers, for the account export."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    assessment_id: uuid.UUID
    assessment_version: int
    course_id: uuid.UUID
    attempt_number: int
    status: AttemptStatus
    closed_by: AttemptCloser | None
    client_attempt_id: str | None
    started_at: datetime
    deadline_at: datetime | None
    submitted_at: datetime | None
    abandoned_at: datetime | None
    score: Percentage | None
    passed: bool | None
    results: list[dict[str, Any]] | None
    answers: list[SavedAnswerRead]


class LearningExport(BaseModel):
    """A learner's progress, completed sections and attempts, as stored."""

    progress: list[ProgressExport]
    section_completions: list[SectionCompletionExport]
    attempts: list[AttemptExport]
