import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from convobase.conversations.schemas import Safety
from convobase.core.validation import FromString, RequestModel, Text
from convobase.tutoring.evaluation import normalise
from convobase.tutoring.models import (
    MAX_BODY_LENGTH,
    MAX_CLIENT_TURN_ID_LENGTH,
    MAX_DESCRIPTION_LENGTH,
    MAX_KEY_LENGTH,
    MAX_LANGUAGE_LENGTH,
    MAX_LINE_LENGTH,
    MAX_ROLE_NAME_LENGTH,
    MAX_SAID_LENGTH,
    MAX_TITLE_LENGTH,
    MAX_WORD_LENGTH,
    CefrLevel,
    DialogStatus,
    TurnVerdict,
)

MAX_ROLES: Final = 10
MAX_LINES: Final = 200
MAX_VARIANTS: Final = 10
MAX_TARGET_WORDS: Final = 20
MAX_CONTENT_DIALOGS: Final = 200
MAX_CONTENT_TEXTS: Final = 500
MAX_SUGGESTIONS: Final = 20
CONTENT_FORMAT: Final = 1


# A character that is not white space in any of the regular expression dialects that
# read the pattern: `\S` alone differs between them (ECMA-262, which JSON Schema
# validators and fuzzers use, takes U+0085 for a character and U+FEFF for space; the
# Rust engine pydantic checks with, the reverse; Python's also takes U+001C..U+001F for
# space), so a text one found blank another would not.
NOT_BLANK: Final = r"[^\s\x1c-\x1f\x85\ufeff]"


def _not_blank(description: str) -> dict[str, Any]:
    # The pattern is in the published schema too, so clients and fuzzers know.
    return {
        "pattern": NOT_BLANK,
        "json_schema_extra": {"pattern": NOT_BLANK},
        "description": f"{description} Not blank.",
    }


Key = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="A stable name, unique among its kind (lower-case letters, digits, "
        "`.`, `_`, `-`): what content files match by.",
    ),
]
Title = Annotated[Text, Field(min_length=1, max_length=MAX_TITLE_LENGTH, **_not_blank("A title."))]
Language = Annotated[
    str,
    Field(
        min_length=2,
        max_length=MAX_LANGUAGE_LENGTH,
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
        description="The language practised, as a BCP 47 tag: `es`, `pt-BR`.",
        examples=["es"],
    ),
]
Level = Annotated[CefrLevel, FromString]
Description = Annotated[Text, Field(max_length=MAX_DESCRIPTION_LENGTH)]
RoleName = Annotated[
    Text,
    Field(min_length=1, max_length=MAX_ROLE_NAME_LENGTH, **_not_blank("A character's name.")),
]
LineText = Annotated[Text, Field(min_length=1, max_length=MAX_LINE_LENGTH, **_not_blank("Text."))]
TargetWord = Annotated[
    Text, Field(min_length=1, max_length=MAX_WORD_LENGTH, **_not_blank("A word or a phrase."))
]


Variants = Annotated[
    list[LineText],
    Field(
        max_length=MAX_VARIANTS,
        description="Other ways of saying the line that are as good (each once, compared "
        "without case or accents).",
    ),
]
TargetWords = Annotated[
    list[TargetWord],
    Field(
        max_length=MAX_TARGET_WORDS,
        description="The words (or phrases) the line teaches, each once: each must be in "
        "its text or in a variant.",
    ),
]


# Content: dialogs and texts as staff write them


class DialogRoleWrite(RequestModel):
    """A character of a dialog."""

    name: RoleName
    description: Description | None = None
    playable: bool = Field(default=True, description="Whether learners may play it.")


class DialogLineWrite(RequestModel):
    """A line of a dialog; its seq is its place in the list, from 1."""

    role: RoleName = Field(description="The name of the role that says it.")
    text: LineText
    translation: LineText
    variants: Variants = Field(default_factory=list)
    target_words: TargetWords = Field(default_factory=list)


Roles = Annotated[list[DialogRoleWrite], Field(min_length=1, max_length=MAX_ROLES)]
Lines = Annotated[list[DialogLineWrite], Field(min_length=1, max_length=MAX_LINES)]


def script_problems(
    roles: Sequence[DialogRoleWrite], lines: Sequence[DialogLineWrite]
) -> list[tuple[str, str]]:
    """What makes a script unplayable, as (JSON pointer, message): roles whose names
    are one (without case or accents), lines of no role, no role a learner may play, a
    playable role without a line, target words the line does not hold."""
    problems: list[tuple[str, str]] = []
    names: dict[str, int] = {}
    for index, role in enumerate(roles):
        normal = normalise(role.name)
        if not normal:
            problems.append((f"/roles/{index}/name", "must hold a letter or a digit"))
        elif normal in names:
            problems.append((f"/roles/{index}/name", f"is the name of /roles/{names[normal]}"))
        names.setdefault(normal, index)
    declared = [role.name for role in roles]
    for index, line in enumerate(lines):
        if line.role not in declared:
            listed = ", ".join(declared)
            problems.append((f"/lines/{index}/role", f"{line.role!r} is not a role ({listed})"))
        for field_name, values in (
            ("variants", line.variants),
            ("target_words", line.target_words),
        ):
            seen: set[str] = set()
            for n, value in enumerate(values):
                if normalise(value) in seen:
                    message = "repeats a value before it (compared without case or accents)"
                    problems.append((f"/lines/{index}/{field_name}/{n}", message))
                seen.add(normalise(value))
        said = {normalise(text) for text in (line.text, *line.variants)}
        for n, word in enumerate(line.target_words):
            target = f" {normalise(word)} "
            if not any(target in f" {text} " for text in said):
                problems.append(
                    (f"/lines/{index}/target_words/{n}", f"{word!r} is not in the line")
                )
    playable = [role.name for role in roles if role.playable]
    if not playable:
        problems.append(("/roles", "at least one role must be playable"))
    spoken = {line.role for line in lines}
    for index, role in enumerate(roles):
        if role.playable and role.name not in spoken:
            problems.append((f"/roles/{index}", f"{role.name!r} is playable but has no line"))
    return problems


class LessonDialogCreate(RequestModel):
    """A lesson dialog: its characters, and its lines in order. The script must be
    playable: each line said by a declared role, role names distinct (without case or
    accents), a role learners may play and a line for each such role, target words
    in their line (else 422 `lesson_dialog_script_invalid`)."""

    key: Key
    title: Title
    language: Language
    level: Level
    description: Description | None = None
    status: Annotated[DialogStatus, FromString] = Field(
        default=DialogStatus.DRAFT, description="Learners see published dialogs only."
    )
    roles: Roles
    lines: Lines


class LessonDialogUpdate(RequestModel):
    """What to change; omitted fields stay. `roles` and `lines` come together and
    replace the script, which makes a new version of the dialog if they differ."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {
                    "properties": {"roles": {"type": "array"}, "lines": {"type": "array"}},
                    "required": ["roles", "lines"],
                },
                {"properties": {"roles": {"type": "null"}, "lines": {"type": "null"}}},
            ]
        }
    )

    title: Title | None = None
    language: Language | None = None
    level: Level | None = None
    description: Description | None = None
    status: Annotated[DialogStatus, FromString] | None = None
    roles: Roles | None = None
    lines: Lines | None = None

    @model_validator(mode="after")
    def _together(self) -> Self:
        if (self.roles is None) != (self.lines is None):
            raise ValueError("give roles and lines together: they replace the script")
        return self


Body = Annotated[
    Text, Field(min_length=1, max_length=MAX_BODY_LENGTH, **_not_blank("The text to read."))
]


class LibraryTextCreate(RequestModel):
    """A text of the reading library."""

    key: Key
    title: Title
    language: Language
    level: Level
    body: Body


class LibraryTextUpdate(RequestModel):
    """What to change; omitted fields stay. A new body makes a new version."""

    title: Title | None = None
    language: Language | None = None
    level: Level | None = None
    body: Body | None = None


class TutoringContent(RequestModel):
    """A tutoring content file: lesson dialogs and library texts, matched by key
    (docs/tutoring.md#content-files). Each key once, each dialog's script playable
    (else 422 `content_invalid`, naming every problem)."""

    format: int = Field(
        default=CONTENT_FORMAT,
        ge=CONTENT_FORMAT,
        le=CONTENT_FORMAT,
        description="This format's version: 1.",
    )
    dialogs: list[LessonDialogCreate] = Field(default_factory=list, max_length=MAX_CONTENT_DIALOGS)
    texts: list[LibraryTextCreate] = Field(default_factory=list, max_length=MAX_CONTENT_TEXTS)


def content_problems(document: TutoringContent) -> list[tuple[str, str]]:
    """What makes a content document one that cannot be imported, as (JSON pointer,
    message): a key given twice, and each dialog's script problems."""
    problems: list[tuple[str, str]] = []
    for kind, keys in (
        ("dialogs", [dialog.key for dialog in document.dialogs]),
        ("texts", [text.key for text in document.texts]),
    ):
        first: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key in first:
                problems.append((f"/{kind}/{index}/key", f"is the key of /{kind}/{first[key]} too"))
            first.setdefault(key, index)
    for index, dialog in enumerate(document.dialogs):
        problems += [
            (f"/dialogs/{index}{path}", message)
            for path, message in script_problems(dialog.roles, dialog.lines)
        ]
    return problems


class TutoringImportOutcome(StrEnum):
    """What importing one dialog or text did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    KEPT = "kept"  # it exists, and the import was told to keep what exists


class ImportedItem(BaseModel):
    """A dialog or text of the file, by key, and what importing it did."""

    model_config = ConfigDict(from_attributes=True)

    key: str
    id: uuid.UUID
    outcome: TutoringImportOutcome
    version: int


class TutoringImportReport(BaseModel):
    """What an import did (for a dry run: would do), dialog by dialog and text by text."""

    model_config = ConfigDict(from_attributes=True)

    dry_run: bool
    dialogs: list[ImportedItem]
    texts: list[ImportedItem]


# Content as it is read


class DialogRoleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str | None
    playable: bool
    lines: int = Field(description="How many lines the role says.")


class DialogLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    role: str
    text: str
    translation: str
    variants: list[str]
    target_words: list[str]


class LessonDialogRead(BaseModel):
    """A lesson dialog as learners choose it: its roles, not its lines."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    title: str
    language: str
    level: CefrLevel
    description: str | None
    status: DialogStatus
    version: int
    roles: list[DialogRoleRead]
    line_count: int
    created_at: datetime
    updated_at: datetime


class LessonDialogDetail(LessonDialogRead):
    """A lesson dialog with its lines (staff)."""

    lines: list[DialogLineRead]


class LibraryTextRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    title: str
    language: str
    level: CefrLevel
    body: str
    version: int
    sentence_count: int = Field(description="The sentences reading practice goes through.")
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PurgeReport(BaseModel):
    """What a purge deleted."""

    model_config = ConfigDict(from_attributes=True)

    dialog_id: uuid.UUID
    key: str
    sessions_deleted: int


# Sessions and turns


class TutorSessionKind(StrEnum):
    """What a session practises: a lesson dialog, playing a role, or reading a text."""

    ROLEPLAY = "roleplay"
    READING = "reading"


class TutorSessionCreate(RequestModel):
    """Practise a dialog playing one of its roles (`dialog_id` and `selected_role`), or
    read a library text aloud (`text_id`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "properties": {
                        "dialog_id": {"type": "string"},
                        "selected_role": {"type": "string"},
                        "text_id": {"type": "null"},
                    },
                    "required": ["dialog_id", "selected_role"],
                },
                {
                    "properties": {
                        "text_id": {"type": "string"},
                        "dialog_id": {"type": "null"},
                        "selected_role": {"type": "null"},
                    },
                    "required": ["text_id"],
                },
            ]
        }
    )

    dialog_id: Annotated[uuid.UUID, FromString] | None = None
    selected_role: RoleName | None = Field(
        default=None, description="The role you play, by name: `María`.", examples=["María"]
    )
    text_id: Annotated[uuid.UUID, FromString] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.dialog_id is None) == (self.text_id is None):
            raise ValueError("give either dialog_id (with selected_role) or text_id")
        if (self.dialog_id is None) != (self.selected_role is None):
            raise ValueError("selected_role goes with dialog_id: the role you play in it")
        return self


class TurnCreate(RequestModel):
    """What you say for the line expected of you."""

    content: Annotated[
        Text, Field(min_length=1, max_length=MAX_SAID_LENGTH, **_not_blank("What you say."))
    ]
    client_turn_id: (
        Annotated[Text, Field(min_length=1, max_length=MAX_CLIENT_TURN_ID_LENGTH)] | None
    ) = Field(
        default=None,
        description="A key the client picks; retrying with it answers the turn taken first.",
    )


class ExpectedLineRead(BaseModel):
    """The line you are to say next."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    role: str | None = Field(description="Your role; null in reading practice.")
    translation: str | None = Field(description="What to say, in translation (dialogs).")
    target_words: list[str]
    attempt: int = Field(description="Which try the next turn is at this line, from 1.")
    hint: str | None = Field(
        description="With `hint=true`: the line, each word cut to its first letter."
    )
    text: str | None = Field(description="The line itself: in reading practice only.")


class ReplyRead(BaseModel):
    """A line of your partner's, appended to the transcript as an assistant message."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    role: str
    text: str
    translation: str | None
    message_id: uuid.UUID | None


class TutorSessionRead(BaseModel):
    """A tutor session: story 000's columns, its transcript, and how far it got."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: TutorSessionKind
    dialog_id: uuid.UUID | None
    selected_role: str | None
    text_id: uuid.UUID | None
    level: CefrLevel
    conversation_id: uuid.UUID | None = Field(description="The transcript (kind roleplay).")
    content_version: int | None
    turns: int
    score: int | None = Field(description="0..100 once completed: the mean of each line's best.")
    created_at: datetime
    completed_at: datetime | None


class TutorSessionDetail(TutorSessionRead):
    """A session and the line expected next."""

    title: str
    lines_total: int = Field(description="The lines you say in it.")
    lines_done: int
    expected: ExpectedLineRead | None = Field(description="Null once completed.")


class TutorSessionStarted(TutorSessionDetail):
    """A new session, and your partner's lines before your first turn."""

    replies: list[ReplyRead]


class StaffTutorSessionRead(TutorSessionRead):
    """A session of a dialog, with its learner (staff)."""

    user_id: uuid.UUID
    user_email: str | None


class MisspellingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    expected: str
    said: str


class TurnRead(BaseModel):
    """A turn and its evaluation."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    session_id: uuid.UUID
    turn: int
    line_seq: int
    attempt: int
    said: str
    expected: str
    score: int = Field(ge=0, le=100)
    verdict: TurnVerdict
    moved_on: bool = Field(
        description="Out of tries at this line: the session went on all the same."
    )
    matched: str = Field(description="The accepted text (the line or a variant) closest.")
    similarity: float
    missing: list[str]
    extra: list[str]
    misspelled: list[MisspellingRead]
    target_words_used: list[str]
    target_words_missed: list[str]
    evaluator: str
    message_id: uuid.UUID | None
    created_at: datetime


class TurnResult(BaseModel):
    """A turn: its evaluation, your partner's lines that followed, the session as it
    stands, and what screening your message found."""

    turn: TurnRead
    replies: list[ReplyRead]
    session: TutorSessionDetail
    safety: Safety


class PracticeRecordRead(BaseModel):
    """Whether you practised a dialog before, and how well."""

    model_config = ConfigDict(from_attributes=True)

    dialog_id: uuid.UUID
    practised_before: bool = Field(description="You completed it at least once.")
    sessions: int
    completed_sessions: int
    best_score: int | None
    last_completed_at: datetime | None


class DialogSuggestionRead(BaseModel):
    """A published dialog at your level, with how often you practised it."""

    model_config = ConfigDict(from_attributes=True)

    dialog: LessonDialogRead
    sessions: int
    completed_sessions: int
    last_practised_at: datetime | None


class DialogSuggestions(BaseModel):
    """The dialogs you practised least at a level, least first."""

    level: CefrLevel
    language: str | None
    items: list[DialogSuggestionRead]


class WordMistakeRead(BaseModel):
    """A word you missed or misspelled, and how often."""

    model_config = ConfigDict(from_attributes=True)

    language: str
    word: str = Field(validation_alias="display", description="As the line writes it.")
    missed: int
    misspelled: int
    last_said: str | None = Field(description="The last misspelling of it.")
    example: str | None
    example_translation: str | None
    first_seen_at: datetime
    last_seen_at: datetime


class TutoringExport(BaseModel):
    """A learner's tutoring, for the account export."""

    sessions: list[TutorSessionRead]
    turns: list[TurnRead]
    word_mistakes: list[WordMistakeRead]
