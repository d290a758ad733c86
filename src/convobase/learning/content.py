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
from importlib.resources.abc import Traversable
from pathlib import Path as FilePath
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from convobase.core.validation import RequestModel
from convobase.learning import questions
from convobase.learning.errors import ContentInvalid, ContentProblem
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
MAX_NODES: Final = 2_000_000
"""The most values a YAML file may hold once its aliases are expanded: far beyond any
catalog, and a file of nested aliases ("a billion laughs") stops here."""
MAX_PROBLEMS: Final = 100
SUFFIXES: Final = (".yaml", ".yml", ".json")
SHIPPED_DIRECTORY: Final = "content"
SCHEMA_FILE: Final = "content.schema.json"
SCHEMA_ID: Final = "https://convobase.dev/schemas/content.schema.json"

Format = Literal["yaml", "json"]


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
        return ContentProblem(self.name, path, message, _line(self.node, path))


# Reading files


def parse(name: str, text: str | bytes) -> ContentFile:
    """A content file from its text, or ContentInvalid naming every problem in it:
    JSON if `name` ends in `.json`, else YAML."""
    if len(text) > MAX_FILE_BYTES:
        raise ContentInvalid([_too_large(name, len(text))])
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            message = f"is not UTF-8 text (byte {error.start} cannot be read)"
            raise ContentInvalid([ContentProblem(name, "", message)]) from None
    node: yaml.Node | None = None
    if name.lower().endswith(".json"):
        data = _load_json(name, text)
    else:
        node, data = _load_yaml(name, text)
    if data is None:
        raise ContentInvalid([ContentProblem(name, "", "is empty: it must list `courses`")])
    return check(name, data, node=node)


def load(path: FilePath) -> ContentFile:
    """The content file at `path`, parsed (ContentInvalid names what is wrong)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ContentInvalid([_too_large(str(path), size)])
        text = path.read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ContentInvalid([ContentProblem(str(path), "", f"cannot be read: {reason}")]) from None
    return parse(str(path), text)


def load_all(paths: Iterable[FilePath]) -> list[ContentFile]:
    """Every file of `paths` parsed, or one ContentInvalid naming the problems of all."""
    parsed: list[ContentFile] = []
    problems: list[ContentProblem] = []
    for path in paths:
        try:
            parsed.append(load(path))
        except ContentInvalid as error:
            problems += error.problems
    if problems:
        raise ContentInvalid(problems[:MAX_PROBLEMS])
    return parsed


def shipped() -> list[ContentFile]:
    """The content files shipped inside the package (`learning/content/`): the seed."""
    directory = files(__package__ or "convobase.learning").joinpath(SHIPPED_DIRECTORY)
    return [parse(entry.name, entry.read_bytes()) for entry in _content_files(directory)]


def _content_files(directory: Traversable) -> list[Traversable]:
    found = [
        entry
        for entry in directory.iterdir()
        if entry.is_file() and entry.name.lower().endswith(SUFFIXES)
    ]
    return sorted(found, key=lambda entry: entry.name)


def _too_large(name: str, size: int) -> ContentProblem:
    message = f"is too large: {size} bytes, at most {MAX_FILE_BYTES}"
    return ContentProblem(name, "", message)


class _RepeatedKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _RepeatedKey(key)
        result[key] = value
    return result


def _load_json(name: str, text: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_object)
    except json.JSONDecodeError as error:
        problem = ContentProblem(
            name, "", f"is not valid JSON: {error.msg}", error.lineno, error.colno
        )
        raise ContentInvalid([problem]) from None
    except _RepeatedKey as error:
        message = f"the key {json.dumps(error.args[0])} appears twice in one object"
        raise ContentInvalid([ContentProblem(name, "", message)]) from None
    except RecursionError:
        raise ContentInvalid([ContentProblem(name, "", "nests too deeply")]) from None


def _load_yaml(name: str, text: str) -> tuple[yaml.Node | None, object]:
    """The file's node tree (for lines) and its data, as `yaml.safe_load` reads it."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_nodes(name, node)
        return node, None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = "is not valid YAML: " + ", ".join(
            part for part in (error.context, error.problem) if part
        )
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        raise ContentInvalid([ContentProblem(name, "", message, line, column)]) from None
    except yaml.YAMLError as error:
        raise ContentInvalid([ContentProblem(name, "", f"is not valid YAML: {error}")]) from None
    except RecursionError:
        raise ContentInvalid([ContentProblem(name, "", "nests too deeply")]) from None
    finally:
        loader.dispose()


def _check_nodes(name: str, root: yaml.Node) -> None:
    """Refuse a key repeated in one mapping (YAML would keep the last silently), and
    more than MAX_NODES values once aliases are expanded."""
    problems: list[ContentProblem] = []
    seen: set[int] = set()
    pending: list[tuple[yaml.Node, str]] = [(root, "")]
    visited = 0
    while pending:
        node, path = pending.pop()
        visited += 1
        if visited > MAX_NODES:
            message = f"holds more than {MAX_NODES} values once its aliases are expanded"
            raise ContentInvalid([ContentProblem(name, "", message)])
        first_visit = id(node) not in seen
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            lines: dict[str, int] = {}
            for key, value in node.value:
                step = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                line = key.start_mark.line + 1
                if first_visit and isinstance(key, yaml.ScalarNode):
                    if step in lines:
                        message = f"repeats the key {json.dumps(step)} of line {lines[step]}"
                        problems.append(ContentProblem(name, path, message, line))
                    lines.setdefault(step, line)
                pending.append((value, f"{path}/{_escape(step)}"))
        elif isinstance(node, yaml.SequenceNode):
            pending += [(item, f"{path}/{index}") for index, item in enumerate(node.value)]
    if problems:
        raise ContentInvalid(sorted(problems, key=lambda problem: problem.line or 0))


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
        unique = sorted(dict.fromkeys(found), key=lambda problem: _place(problem[0]))
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
    return [(_pointer(detail["loc"]), _message(detail)) for detail in error.errors()]


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


def _pointer(steps: Iterable[str | int]) -> str:
    return "".join(f"/{_escape(str(step))}" for step in steps)


def _escape(step: str) -> str:
    return step.replace("~", "~0").replace("/", "~1")


def _steps(pointer: str) -> list[str]:
    if not pointer:
        return []
    return [step.replace("~1", "/").replace("~0", "~") for step in pointer[1:].split("/")]


def _place(pointer: str) -> tuple[tuple[int, int | str], ...]:
    """A pointer's steps, for sorting problems in the order of the file."""
    return tuple((0, int(step)) if step.isdigit() else (1, step) for step in _steps(pointer))


def _line(node: yaml.Node | None, pointer: str) -> int | None:
    """The line of a YAML file that `pointer` is at, or of the nearest place above it
    that exists (a missing field is reported on its object's line)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for step in _steps(pointer):
        if isinstance(node, yaml.MappingNode):
            match = [
                (key, value)
                for key, value in node.value
                if isinstance(key, yaml.ScalarNode) and key.value == step
            ]
            if not match:
                break
            key, node = match[-1]
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and step.isdigit() and int(step) < len(node.value):
            node = node.value[int(step)]
            line = node.start_mark.line + 1
        else:
            break
    return line


# Writing files


def dump(document: ContentDocument, output: Format = "yaml") -> str:
    """A content file's text: fields at their defaults are left out, as a file that
    imports to the same catalog need not say them."""
    data = {
        "format": CONTENT_FORMAT,
        **document.model_dump(mode="json", exclude_defaults=True, exclude={"format"}),
    }
    if output == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    text: str = yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    return text


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
