"""Course content as files: the format staff write courses in, parsed and checked.

A content file (YAML or JSON, in the format of `content.schema.json`) holds one or more
courses, each with its sections in order and its assessments, and names prerequisites
by course key. Parsing checks everything a file can say about itself, including every
assessment's questions and scoring (docs/assessments.md), and reports each problem as
(file, JSON pointer, message), with its line in a YAML file. What the catalog must say
(prerequisites that exist, no cycle, keys defined once across files) is checked by
`service.import_content`, which applies the files (docs/learning.md#content-files).
"""

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from importlib.resources import files
from pathlib import Path as FilePath
from typing import Annotated, Any, Final

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from convobase.core import content_files
from convobase.core.content_files import (
    MAX_PROBLEMS,
    ContentInvalid,
    ContentProblem,
    Format,
)
from convobase.core.validation import RequestModel
from convobase.learning import questions
from convobase.learning.schemas import (
    MAX_PREREQUISITES,
    AssessmentDifficulty,
    Description,
    Key,
    Level,
    MaxAttempts,
    Minutes,
    PassThreshold,
    Path,
    QuestionsDocument,
    ScoringDocument,
    Sections,
    Tags,
    TimeLimit,
    Title,
)

CONTENT_FORMAT: Final = 1
MAX_FILE_BYTES: Final = 16 * 1024 * 1024
MAX_COURSES: Final = 500
MAX_ASSESSMENTS: Final = 100
SCHEMA_FILE: Final = "content.schema.json"
SCHEMA_ID: Final = "https://convobase.dev/schemas/content.schema.json"


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a value")
    return values


PrerequisiteKeys = Annotated[
    list[Key],
    Field(
        max_length=MAX_PREREQUISITES,
        description="The keys of the courses to complete first: courses of these files "
        "or of the catalog.",
    ),
    AfterValidator(_distinct),
]


class AssessmentContent(RequestModel):
    """An assessment of a course, matched by its key within the course: a change to
    what grading reads makes a new version of it."""

    key: Key
    title: Title
    description: Description | None = None
    difficulty: AssessmentDifficulty
    pass_threshold: PassThreshold = 70
    time_limit_minutes: TimeLimit | None = None
    max_attempts: MaxAttempts | None = Field(
        default=3, description="Attempts a learner may start; null for no limit."
    )
    questions: QuestionsDocument
    scoring_config: ScoringDocument = Field(default_factory=dict)
    is_active: bool = True


class CourseContent(RequestModel):
    """A course as a file describes it, whole: matched by its key, created or updated
    to match. Sections are matched by key (one no longer listed is withdrawn), and so
    are assessments (one no longer listed is deactivated)."""

    key: Key
    title: Title
    description: Description | None = None
    level: Level
    content_path: Path | None = None
    video_url: Path | None = None
    thumbnail_url: Path | None = None
    duration_minutes: Minutes | None = None
    prerequisites: PrerequisiteKeys = Field(default_factory=list)
    tags: Tags = Field(default_factory=list)
    is_active: bool = True
    sections: Sections = Field(default_factory=list)
    assessments: list[AssessmentContent] = Field(default_factory=list, max_length=MAX_ASSESSMENTS)


class ContentDocument(RequestModel):
    """A content file: courses of the catalog, with their sections and assessments."""

    model_config = ConfigDict(title="convobase content file")

    format: Annotated[int, Field(ge=CONTENT_FORMAT, le=CONTENT_FORMAT)] = Field(
        default=CONTENT_FORMAT, description="The version of this format: 1."
    )
    courses: list[CourseContent] = Field(min_length=1, max_length=MAX_COURSES)


@dataclass(frozen=True, slots=True, eq=False)
class ContentFile:
    """A parsed content file, with what it takes to say where in it a problem is."""

    name: str
    document: ContentDocument
    node: yaml.Node | None = None

    def problem(self, path: str, message: str) -> ContentProblem:
        """A problem at `path` (a JSON pointer) of this file, with its line if known."""
        return ContentProblem(self.name, path, message, content_files.line_of(self.node, path))


# Reading files


def parse(name: str, text: str | bytes) -> ContentFile:
    """A content file from its text, or ContentInvalid naming every problem in it:
    JSON if `name` ends in `.json`, else YAML."""
    return _checked(name, *content_files.parse(name, text, max_bytes=MAX_FILE_BYTES))


def load(path: FilePath) -> ContentFile:
    """The content file at `path`, parsed (ContentInvalid names what is wrong)."""
    return _checked(str(path), *content_files.load(path, max_bytes=MAX_FILE_BYTES))


def load_all(paths: Iterable[FilePath]) -> list[ContentFile]:
    """Every file of `paths` parsed, or one ContentInvalid naming the problems of all."""
    parsed, problems = content_files.each(paths, load)
    if problems:
        raise ContentInvalid(problems[:MAX_PROBLEMS])
    return [file for _, file in parsed]


def shipped() -> list[ContentFile]:
    """The content files shipped inside the package (`learning/content/`): the seed."""
    package = files(__package__ or "convobase.learning")
    return [parse(entry.name, entry.read_bytes()) for entry in content_files.shipped(package)]


def _checked(name: str, data: object, node: yaml.Node | None) -> ContentFile:
    if data is None:
        raise ContentInvalid([ContentProblem(name, "", "is empty: it must list `courses`")])
    return check(name, data, node=node)


# Checking


def check(name: str, data: object, *, node: yaml.Node | None = None) -> ContentFile:
    """A content file from its parsed JSON or YAML (`data`), or ContentInvalid naming
    every problem in it: the format's fields, every assessment's questions and scoring
    (under the assessment's path), keys defined twice, a course requiring itself."""
    found: list[tuple[str, str]] = []
    checked: list[str] = []  # the documents the questions module found wrong
    for at, assessment in _raw_assessments(data):
        try:
            questions.validate_assessment(
                assessment.get("questions"), assessment.get("scoring_config", {})
            )
        except questions.InvalidAssessment as error:
            found += [(at + problem.path, problem.message) for problem in error.errors]
            checked += [f"{at}/questions", f"{at}/scoring_config"]
    document: ContentDocument | None = None
    try:
        document = ContentDocument.model_validate(data)
    except ValidationError as error:
        # The questions module says more about its documents than the schema does.
        found += [
            (path, message)
            for path, message in _pydantic_problems(error)
            if not any(path == place or path.startswith(f"{place}/") for place in checked)
        ]
    found += _repeated_keys(data)
    if document is None or found:
        located = ContentFile(name, _NO_DOCUMENT, node)
        unique = sorted(dict.fromkeys(found), key=lambda problem: content_files.place(problem[0]))
        raise ContentInvalid([located.problem(*problem) for problem in unique[:MAX_PROBLEMS]])
    return ContentFile(name, document, node)


_NO_DOCUMENT: Final = ContentDocument.model_construct(courses=[])


def _raw_assessments(data: object) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each assessment of the file that has questions, with its path."""
    for i, course in _items(data, "courses"):
        for j, assessment in _items(course, "assessments"):
            if isinstance(assessment, dict) and "questions" in assessment:
                yield f"/courses/{i}/assessments/{j}", assessment


def _items(data: object, field: str) -> Iterator[tuple[int, object]]:
    listed = data.get(field) if isinstance(data, dict) else None
    if isinstance(listed, list):
        yield from enumerate(listed)


def _repeated_keys(data: object) -> list[tuple[str, str]]:
    """Courses of one file with one key, assessments of one course with one key, and
    courses that list themselves as prerequisites."""
    found: list[tuple[str, str]] = []
    courses: dict[str, int] = {}
    for i, course in _items(data, "courses"):
        key = course.get("key") if isinstance(course, dict) else None
        if isinstance(key, str):
            if key in courses:
                found.append((f"/courses/{i}/key", f"is the key of /courses/{courses[key]} too"))
            courses.setdefault(key, i)
            for n, prerequisite in _items(course, "prerequisites"):
                if prerequisite == key:
                    found.append(
                        (f"/courses/{i}/prerequisites/{n}", "a course cannot require itself")
                    )
        assessments: dict[str, int] = {}
        for j, assessment in _items(course, "assessments"):
            key = assessment.get("key") if isinstance(assessment, dict) else None
            if isinstance(key, str):
                if key in assessments:
                    message = f"is the key of /courses/{i}/assessments/{assessments[key]} too"
                    found.append((f"/courses/{i}/assessments/{j}/key", message))
                assessments.setdefault(key, j)
    return found


def _pydantic_problems(error: ValidationError) -> list[tuple[str, str]]:
    return [(content_files.pointer(detail["loc"]), _message(detail)) for detail in error.errors()]


_TYPES: Final = {
    "bool_type": "must be true or false",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "int_type": "must be an integer",
    "list_type": "must be an array",
    "string_type": "must be a string",
}


def _message(detail: ErrorDetails) -> str:
    """Pydantic's message in the words of the questions module (`must be...`)."""
    kind, context, value = detail["type"], detail.get("ctx", {}), detail["input"]
    if kind in _TYPES:
        return _TYPES[kind]
    match kind:
        case "missing":
            return "is required"
        case "extra_forbidden":
            return "is not allowed here"
        case "enum":
            return f"must be {context['expected']}"
        case "string_pattern_mismatch":
            return (
                "must be a key: lower-case letters, digits, `.`, `_` or `-`, starting with "
                "a letter or a digit"
            )
        case "too_short" | "string_too_short" if isinstance(value, str):
            minimum = context["min_length"]
            return "must not be empty" if minimum == 1 else f"must be at least {minimum} characters"
        case "too_long" | "string_too_long" if isinstance(value, str):
            return f"must be at most {context['max_length']} characters (it has {len(value)})"
        case "too_short" if isinstance(value, list | dict):
            return f"must have at least {_entries(context['min_length'])} (it has {len(value)})"
        case "too_long" if isinstance(value, list | dict):
            return f"must have at most {_entries(context['max_length'])} (it has {len(value)})"
        case "greater_than_equal":
            return f"must be at least {context['ge']}"
        case "less_than_equal":
            return f"must be at most {context['le']}"
    return str(detail["msg"]).removeprefix("Value error, ")


def _entries(count: int) -> str:
    return "1 entry" if count == 1 else f"{count} entries"


# Writing files


def dump(document: ContentDocument, output: Format = "yaml") -> str:
    """A content file's text: fields at their defaults are left out, as a file that
    imports to the same catalog need not say them."""
    data = {
        "format": CONTENT_FORMAT,
        **document.model_dump(mode="json", exclude_defaults=True, exclude={"format"}),
    }
    return content_files.dump(data, output)


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of a content file (`content.schema.json`): the
    pydantic models', with an assessment's documents referring to their own schemas."""
    schema = ContentDocument.model_json_schema()
    assessment = schema["$defs"]["AssessmentContent"]["properties"]
    assessment["questions"] = {
        "$ref": questions.QUESTIONS_SCHEMA["$id"],
        "description": "The questions, in the format of docs/assessments.md.",
    }
    assessment["scoring_config"] = {
        "$ref": questions.SCORING_SCHEMA["$id"],
        "description": "Weights, partial credit and the grade method (docs/assessments.md).",
    }
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    """`json_schema()` as `content.schema.json` holds it."""
    return json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n"


# What an import did


class Outcome(StrEnum):
    """What an import did to a course or an assessment of the files."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    KEPT = "kept"
    """The course exists and was left as it is (an import that only adds, as the seed)."""
    DEACTIVATED = "deactivated"
    """An assessment of the course that the file no longer lists."""


class AssessmentOutcome(BaseModel):
    """An assessment, what the import did to it, and the version it is at now."""

    key: str
    outcome: Outcome
    version: int


class CourseOutcome(BaseModel):
    """A course, the file that describes it, and what the import did to it."""

    key: str
    file: str
    outcome: Outcome
    assessments: list[AssessmentOutcome]


class ImportReport(BaseModel):
    """What an import did, course by course, in the order it applied them."""

    courses: list[CourseOutcome]

    @property
    def changed(self) -> bool:
        """Whether the import wrote anything."""
        return any(count for outcome, count in self._counts().items() if outcome in _CHANGES)

    def created(self) -> list[str]:
        """The keys of the courses the import created."""
        return [course.key for course in self.courses if course.outcome is Outcome.CREATED]

    def lines(self) -> list[str]:
        """The report for people: each file, its courses, their assessments."""
        lines: list[str] = []
        for name in dict.fromkeys(course.file for course in self.courses):
            lines.append(name)
            for course in (course for course in self.courses if course.file == name):
                lines.append(f"  course {course.key}: {course.outcome}")
                lines += [
                    f"    assessment {assessment.key}: {assessment.outcome} "
                    f"(version {assessment.version})"
                    for assessment in course.assessments
                ]
        return [*lines, self.summary()]

    def summary(self) -> str:
        """One line: how many courses and assessments the import created, updated..."""
        courses = Counter(course.outcome for course in self.courses)
        assessments = Counter(
            assessment.outcome for course in self.courses for assessment in course.assessments
        )
        if not self.changed:
            return (
                f"Nothing changed: {_count(courses.total(), 'course')} and "
                f"{_count(assessments.total(), 'assessment')} already as the files say."
            )
        return f"{_tally(courses, 'course')}; {_tally(assessments, 'assessment')}."

    def _counts(self) -> Counter[Outcome]:
        counts = Counter(course.outcome for course in self.courses)
        counts.update(
            assessment.outcome for course in self.courses for assessment in course.assessments
        )
        return counts


_CHANGES: Final = frozenset({Outcome.CREATED, Outcome.UPDATED, Outcome.DEACTIVATED})


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _tally(counts: Counter[Outcome], noun: str) -> str:
    """`3 courses (1 created, 2 unchanged)`."""
    shown = ", ".join(f"{counts[outcome]} {outcome}" for outcome in Outcome if counts[outcome])
    return f"{_count(counts.total(), noun)} ({shown})" if shown else _count(0, noun)
