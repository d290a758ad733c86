"""Assessment questions: their published formats, checks, learner views and grading.

An assessment's `questions` (a JSON array in the format of `questions.schema.json`) and
its `scoring_config` (a JSON object, `scoring_config.schema.json`) are data that content
authors write. This module checks them (the schema first, then what a schema cannot
say), turns them into frozen values, shows a question to a learner without its answer
key, checks a learner's answer when it is saved, and grades a submitted attempt. It
touches no database, so the learning service, the content import and the seed data all
use the same rules (docs/assessments.md).

Scores are `Decimal` percentages with two decimals, computed from exact fractions and
rounded down: 100 means every question fully right, and rounding never lifts a score
over a pass mark.
"""

import bisect
import hashlib
import json
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from importlib.resources import files
from typing import Any, ClassVar, Final, NamedTuple

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from rapidfuzz.distance import OSA

from convobase.core.validation import unstorable

MAX_QUESTIONS: Final = 200
MAX_ID_LENGTH: Final = 64
MAX_PROMPT_LENGTH: Final = 4000
MAX_EXPLANATION_LENGTH: Final = 4000
MAX_OPTION_TEXT_LENGTH: Final = 500
MIN_OPTIONS: Final = 2
MIN_ORDERING_ITEMS: Final = 3
"""Items to order are never shown in the right order: with two, that gives it away."""
MAX_OPTIONS: Final = 20
MAX_ACCEPTED_ANSWERS: Final = 20
MAX_ACCEPTED_LENGTH: Final = 200
MAX_TYPOS: Final = 3
CHARACTERS_PER_TYPO: Final = 4
"""An accepted answer forgives one typo per this many of its (normalised) characters."""
MAX_KEPT_ACCENTS: Final = 20
MAX_UNIT_LENGTH: Final = 20
MAX_NUMBER: Final = 10**15
"""The largest magnitude of a number in a question or an answer: far beyond any quiz,
and small enough that PostgreSQL's jsonb gives every float back as it was stored."""
MAX_POINTS: Final = 1000
POINTS_DECIMALS: Final = 2
MAX_ANSWER_LENGTH: Final = 500
"""The longest short-text answer a learner may save."""
MAX_ERRORS: Final = 50

_HUNDREDTH: Final = Decimal("0.01")
# Draws of an order for items to order before giving up: with three or more items, 64
# right orders in a row happen with a chance of 6^-64; only a question built without
# validate_questions (one item) would need them all.
_MAX_DRAWS: Final = 64
_SHOWN_CHARACTERS: Final = 40
_SHOWN_MESSAGE_CHARACTERS: Final = 200
_ID_PATTERN: Final = "^[a-z0-9][a-z0-9_-]{0,63}$"
_NOT_BLANK: Final = "\\S"


def _load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((files("convobase.learning") / name).read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


QUESTIONS_SCHEMA: Final = _load_schema("questions.schema.json")
"""The published format of an assessment's `questions` (treat it as read-only)."""
SCORING_SCHEMA: Final = _load_schema("scoring_config.schema.json")
"""The published format of an assessment's `scoring_config` (treat it as read-only)."""
_QUESTIONS_VALIDATOR: Final = Draft202012Validator(QUESTIONS_SCHEMA)
_SCORING_VALIDATOR: Final = Draft202012Validator(SCORING_SCHEMA)


class QuestionKind(StrEnum):
    """What a question asks for, and so how it is answered and graded."""

    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    TRUE_FALSE = "true_false"
    NUMERIC = "numeric"
    SHORT_TEXT = "short_text"
    ORDERING = "ordering"
    MATCHING = "matching"


PARTIAL_CREDIT_KINDS: Final = frozenset(
    {QuestionKind.MULTIPLE_CHOICE, QuestionKind.ORDERING, QuestionKind.MATCHING}
)
"""The kinds whose answers can be partly right; the others are right or wrong."""


class GradeMethod(StrEnum):
    """How a course's grade comes from the scores of several attempts."""

    HIGHEST = "highest"
    AVERAGE = "average"
    FIRST = "first"
    LAST = "last"


class Whitespace(StrEnum):
    """What normalisation does with whitespace: trim it around, also collapse inner runs
    to one space, or remove all of it."""

    TRIM = "trim"
    COLLAPSE = "collapse"
    REMOVE = "remove"


class Outcome(StrEnum):
    """How one question of a graded attempt went. Partly right counts as wrong for
    review: the learner has something left to learn there."""

    CORRECT = "correct"
    PARTIAL = "partial"
    INCORRECT = "incorrect"
    UNANSWERED = "unanswered"


# --- errors ------------------------------------------------------------------------------


class DocumentError(NamedTuple):
    """One thing wrong in an assessment: where (a JSON pointer into the assessment, such
    as `/questions/3/choices/1/id`) and what."""

    path: str
    message: str


class InvalidAssessment(ValueError):
    """An assessment's questions or scoring config that cannot be used. It carries every
    place found wrong (at most MAX_ERRORS), so an author fixes them in one go; the
    learning service answers it as a 422."""

    def __init__(self, errors: Iterable[DocumentError]) -> None:
        self.errors: tuple[DocumentError, ...] = tuple(errors)
        shown = "; ".join(f"{error.path}: {error.message}" for error in self.errors[:5])
        more = len(self.errors) - 5
        super().__init__(shown + (f"; and {more} more" if more > 0 else ""))


class InvalidQuestions(InvalidAssessment):
    """An assessment's questions that cannot be used."""


class InvalidScoring(InvalidAssessment):
    """An assessment's scoring config that cannot be used."""


class InvalidAnswer(ValueError):
    """A learner's answer whose shape does not fit its question: where inside the answer
    (a JSON pointer, "" for the answer itself) and what is wrong. The learning service
    refuses the answer with a 422 instead of saving it."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"answer{path}: {message}")


# --- questions and the scoring config ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    """A choice, an item to order, or one side of a pair: an id the learner answers
    with, and the text shown."""

    id: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Normalization:
    """How a short-text answer and its accepted answers are brought to one form before
    they are compared. Composed and decomposed accents are always the same (NFC)."""

    ignore_case: bool = True
    whitespace: Whitespace = Whitespace.COLLAPSE
    nfkc: bool = True
    fold_accents: bool = False
    fold_accents_except: str = ""
    ignore_punctuation: bool = False

    def apply(self, text: str) -> str:
        """`text` in normal form: Unicode form, case, accents, punctuation, whitespace,
        in that order (accents after case, so that a kept Ñ is also a kept ñ)."""
        text = unicodedata.normalize("NFKC" if self.nfkc else "NFC", text)
        if self.ignore_case:
            text = text.casefold()
        if self.fold_accents:
            text = _fold_accents(text, self._kept())
        if self.ignore_punctuation:
            text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
        if self.whitespace is Whitespace.REMOVE:
            return "".join(text.split())
        if self.whitespace is Whitespace.COLLAPSE:
            return " ".join(text.split())
        return text.strip()

    def _kept(self) -> frozenset[str]:
        kept = unicodedata.normalize("NFKC" if self.nfkc else "NFC", self.fold_accents_except)
        return frozenset(ch.casefold() for ch in kept)


def _fold_accents(text: str, kept: frozenset[str]) -> str:
    folded: list[str] = []
    for ch in text:
        if ch.casefold() in kept:
            folded.append(ch)
        else:
            folded.extend(
                c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c)
            )
    return unicodedata.normalize("NFC", "".join(folded))


@dataclass(frozen=True, slots=True, kw_only=True)
class _QuestionBase:
    id: str
    prompt: str
    explanation: str | None = None
    points: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SingleChoice(_QuestionBase):
    """One choice is right; the learner answers with its id."""

    kind: ClassVar[QuestionKind] = QuestionKind.SINGLE_CHOICE
    choices: tuple[Option, ...]
    correct: str
    shuffle_choices: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MultipleChoice(_QuestionBase):
    """Every right choice must be picked, and no other; the learner answers with the
    ids picked."""

    kind: ClassVar[QuestionKind] = QuestionKind.MULTIPLE_CHOICE
    choices: tuple[Option, ...]
    correct: frozenset[str]
    shuffle_choices: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TrueFalse(_QuestionBase):
    """A statement; the learner answers true or false."""

    kind: ClassVar[QuestionKind] = QuestionKind.TRUE_FALSE
    correct: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Numeric(_QuestionBase):
    """A number, right within `tolerance` of `correct`. Both are kept as the decimals
    the author wrote, so that 0.4 is within 0.1 of 0.3 as a person expects."""

    kind: ClassVar[QuestionKind] = QuestionKind.NUMERIC
    correct: Decimal
    tolerance: Decimal
    unit: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ShortText(_QuestionBase):
    """A word or phrase, right when it matches an accepted answer once both are
    normalised, or within the typos allowed (`typos_allowed`)."""

    kind: ClassVar[QuestionKind] = QuestionKind.SHORT_TEXT
    accepted: tuple[str, ...]
    normalize: Normalization = field(default_factory=Normalization)
    max_typos: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Ordering(_QuestionBase):
    """Items to put in order; the learner answers with every item id, in order."""

    kind: ClassVar[QuestionKind] = QuestionKind.ORDERING
    items: tuple[Option, ...]
    correct_order: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Matching(_QuestionBase):
    """Each left item goes with one right item (`pairs`, left id to right id); right
    items paired with nothing are distractors. The learner answers {left id: right id}."""

    kind: ClassVar[QuestionKind] = QuestionKind.MATCHING
    left: tuple[Option, ...]
    right: tuple[Option, ...]
    pairs: Mapping[str, str]


Question = SingleChoice | MultipleChoice | TrueFalse | Numeric | ShortText | Ordering | Matching

Answer = str | bool | int | float | list[str] | dict[str, str]
"""A learner's answer as `check_answer` gives it back: a choice id (single choice), the
ids picked (multiple choice), a boolean, a number, text, every item id in order
(ordering), or {left id: right id} (matching)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoringConfig:
    """How an assessment's answers become a score, and its attempts a grade."""

    weights: Mapping[str, Decimal] = field(default_factory=dict)
    partial_credit: bool = True
    partial_credit_by_kind: Mapping[QuestionKind, bool] = field(default_factory=dict)
    grade_method: GradeMethod = GradeMethod.HIGHEST
    show_explanations_after_submit: bool = False

    def weight_of(self, question: Question) -> Decimal:
        """The question's share of the score: its weight here, else its points, else 1."""
        if (weight := self.weights.get(question.id)) is not None:
            return weight
        return question.points if question.points is not None else Decimal(1)

    def partial_credit_for(self, kind: QuestionKind) -> bool:
        """Whether a partly right answer to a question of `kind` earns part of its points."""
        return kind in PARTIAL_CREDIT_KINDS and self.partial_credit_by_kind.get(
            kind, self.partial_credit
        )


DEFAULT_SCORING: Final = ScoringConfig()
"""The scoring of `{}`: each question weighs its points or 1, with partial credit,
graded by the highest attempt, explanations kept back."""


# --- validation ----------------------------------------------------------------------------


def validate_questions(document: object, *, at: str = "/questions") -> list[Question]:
    """An assessment's questions from their JSON (parsed), or InvalidQuestions naming
    every place that is wrong, each path starting with `at`.

    Beyond `questions.schema.json`: question ids are unique; choice, item and side ids
    are unique within their list and their texts differ; answer keys name existing
    choices and items; an order names every item once; pairs pair every left item with
    a different right item; numbers are finite; points have at most two decimals; an
    accepted answer does not normalise to nothing; text holds no NUL or lone surrogate.
    """
    questions, errors, _ = _check_questions(document, at)
    if errors:
        raise InvalidQuestions(errors)
    return questions


def validate_scoring(
    document: object, questions: Sequence[Question], *, at: str = "/scoring_config"
) -> ScoringConfig:
    """An assessment's scoring config from its JSON (parsed) for these questions, or
    InvalidScoring naming every place that is wrong: beyond `scoring_config.schema.json`,
    weights name only questions of the assessment, are finite and have at most two
    decimals."""
    config, errors = _check_scoring(document, {question.id for question in questions}, at)
    if errors or config is None:
        raise InvalidScoring(errors)
    return config


def validate_assessment(
    questions: object, scoring_config: object
) -> tuple[list[Question], ScoringConfig]:
    """Both documents of an assessment, or one InvalidAssessment with everything wrong
    in either (paths under `/questions` and `/scoring_config`), for one 422."""
    checked, errors, ids = _check_questions(questions, "/questions")
    config, scoring_errors = _check_scoring(scoring_config, ids, "/scoring_config")
    errors += scoring_errors
    if errors or config is None:
        raise InvalidAssessment(_first(errors))
    return checked, config


_Path = tuple[str | int, ...]


def _pointer(at: str, path: Iterable[str | int]) -> str:
    return at + "".join("/" + str(step).replace("~", "~0").replace("/", "~1") for step in path)


def _first(errors: Iterable[DocumentError]) -> list[DocumentError]:
    """The errors in document order, each once, at most MAX_ERRORS of them."""

    def place(error: DocumentError) -> tuple[tuple[int, int | str], ...]:
        steps = error.path.split("/")
        return tuple(
            (0, int(step)) if step.isascii() and step.isdigit() else (1, step) for step in steps
        )

    unique = dict.fromkeys(errors)
    return sorted(unique, key=place)[:MAX_ERRORS]


def _check_questions(
    document: object, at: str
) -> tuple[list[Question], list[DocumentError], set[str] | None]:
    """The questions, what is wrong with them, and the ids they declare (for checking
    a scoring config even when a question is wrong; None when the document is too
    broken to tell)."""
    raw_errors = _schema_errors(_QUESTIONS_VALIDATOR, document)
    errors = [DocumentError(_pointer(at, path), message) for path, message in raw_errors]
    if not isinstance(document, list) or any(not path for path, _ in raw_errors):
        return [], _first(errors), None
    flagged = {path[0] for path, _ in raw_errors}
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(document):
        question_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(question_id, str):
            if question_id in seen:
                message = f"{_quote(question_id)} is already the id of question {seen[question_id]}"
                errors.append(DocumentError(_pointer(at, (index, "id")), message))
            else:
                seen[question_id] = index
        if index in flagged:
            continue
        checker = _Checker(_pointer(at, (index,)))
        question = checker.question(raw)
        errors += checker.errors
        if question is not None:
            questions.append(question)
    return questions, _first(errors), set(seen)


def _check_scoring(
    document: object, question_ids: set[str] | None, at: str
) -> tuple[ScoringConfig | None, list[DocumentError]]:
    raw_errors = _schema_errors(_SCORING_VALIDATOR, document)
    errors = [DocumentError(_pointer(at, path), message) for path, message in raw_errors]
    if errors or not isinstance(document, dict):
        return None, _first(errors)
    checker = _Checker(at)
    weights: dict[str, Decimal] = {}
    for question_id, value in document.get("weights", {}).items():
        where = ("weights", question_id)
        if question_ids is not None and question_id not in question_ids:
            checker.error(where, f"no question has the id {_quote(question_id)}")
        if (weight := checker.points(value, where)) is not None:
            weights[question_id] = weight
    if checker.errors:
        return None, _first(checker.errors)
    return ScoringConfig(
        weights=weights,
        partial_credit=document.get("partial_credit", True),
        partial_credit_by_kind={
            QuestionKind(kind): on
            for kind, on in document.get("partial_credit_by_kind", {}).items()
        },
        grade_method=GradeMethod(document.get("grade_method", GradeMethod.HIGHEST)),
        show_explanations_after_submit=document.get("show_explanations_after_submit", False),
    ), []


def _schema_errors(validator: Draft202012Validator, document: object) -> list[tuple[_Path, str]]:
    """What the schema finds wrong, each at the place it is about: a missing field or
    an unexpected one at its own name, a bad key of an object at that key. Past
    MAX_ERRORS it stops and says so at the document itself, which also stops the checks
    that need a schema-valid question."""
    found: list[tuple[_Path, str]] = []
    for count, error in enumerate(validator.iter_errors(document)):
        if count == MAX_ERRORS:
            found.append(((), f"has more than {MAX_ERRORS} errors; the first are shown"))
            break
        path: _Path = tuple(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [name for name in error.validator_value if name not in error.instance]
            found += [((*path, name), "is required") for name in missing]
        elif error.validator == "additionalProperties" and error.validator_value is False:
            known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
            instance = error.instance if isinstance(error.instance, dict) else {}
            found += [
                ((*path, name), "is not allowed here") for name in instance if name not in known
            ]
        elif "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
            found.append(((*path, error.instance), f"is not a valid key: {_describe(error)}"))
        else:
            found.append((path, _describe(error)))
    return found


_TYPE_NAMES: Final = {
    "array": "an array",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "object": "an object",
    "string": "a string",
}


def _describe(error: ValidationError) -> str:
    """What a schema error means, in words an author acts on."""
    value = error.validator_value
    instance = error.instance
    size = len(instance) if isinstance(instance, str | list | dict) else 0
    match error.validator:
        case "type":
            names = value if isinstance(value, list) else [value]
            return "must be " + " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in names)
        case "enum" if isinstance(value, list):
            return "must be one of " + ", ".join(str(option) for option in value)
        case "const":
            return f"must be {json.dumps(value)}"
        case "pattern" if value == _NOT_BLANK:
            return "must not be blank"
        case "pattern" if value == _ID_PATTERN:
            return (
                f"must be a short slug: 1 to {MAX_ID_LENGTH} lowercase letters, digits, - or _, "
                "starting with a letter or a digit"
            )
        case "minLength":
            return "must not be empty" if value == 1 else f"must be at least {value} characters"
        case "maxLength":
            return f"must be at most {value} characters (it has {size})"
        case "minItems" | "minProperties":
            return f"must have at least {_entries(value)} (it has {size})"
        case "maxItems" | "maxProperties":
            return f"must have at most {_entries(value)} (it has {size})"
        case "uniqueItems" if isinstance(instance, list):
            return f"must not repeat {_quote(_repeated(instance))}"
        case "minimum":
            return f"must be at least {_number_text(value)}"
        case "maximum":
            return f"must be at most {_number_text(value)}"
        case "exclusiveMinimum":
            return f"must be greater than {_number_text(value)}"
    message = error.message
    if len(message) > _SHOWN_MESSAGE_CHARACTERS:
        return f"{message[:_SHOWN_MESSAGE_CHARACTERS]}..."
    return message


def _number_text(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _entries(count: object) -> str:
    return "1 entry" if count == 1 else f"{count} entries"


def _repeated(values: list[Any]) -> object:
    seen: list[Any] = []
    for value in values:
        if value in seen:
            return value
        seen.append(value)
    return None


def _quote(value: object) -> str:
    """A value as a message shows it: JSON, cut short."""
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= _SHOWN_CHARACTERS else f'{shown[:_SHOWN_CHARACTERS]}..."'


def _listed(ids: Iterable[str]) -> str:
    return ", ".join(ids)


class _Checker:
    """The semantic checks of one schema-valid question (or scoring config), collecting
    every error at its place under `at`."""

    def __init__(self, at: str) -> None:
        self.at = at
        self.errors: list[DocumentError] = []

    def error(self, path: _Path, message: str) -> None:
        self.errors.append(DocumentError(_pointer(self.at, path), message))

    def question(self, raw: dict[str, Any]) -> Question | None:
        self.storable(raw, ())
        points = self.points(raw["points"], ("points",)) if "points" in raw else None
        common: dict[str, Any] = {
            "id": raw["id"],
            "prompt": raw["prompt"],
            "explanation": raw.get("explanation"),
            "points": points,
        }
        question = self.kind(QuestionKind(raw["kind"]), raw, common)
        return None if self.errors else question

    def kind(self, kind: QuestionKind, raw: dict[str, Any], common: dict[str, Any]) -> Question:
        match kind:
            case QuestionKind.SINGLE_CHOICE:
                choices = self.options(raw["choices"], "choices", "choice")
                self.known(raw["correct"], choices, ("correct",), "a choice")
                shuffle = raw.get("shuffle_choices", False)
                return SingleChoice(
                    **common, choices=choices, correct=raw["correct"], shuffle_choices=shuffle
                )
            case QuestionKind.MULTIPLE_CHOICE:
                choices = self.options(raw["choices"], "choices", "choice")
                for n, choice_id in enumerate(raw["correct"]):
                    self.known(choice_id, choices, ("correct", n), "a choice")
                return MultipleChoice(
                    **common,
                    choices=choices,
                    correct=frozenset(raw["correct"]),
                    shuffle_choices=raw.get("shuffle_choices", False),
                )
            case QuestionKind.TRUE_FALSE:
                return TrueFalse(**common, correct=raw["correct"])
            case QuestionKind.NUMERIC:
                correct = self.finite(raw["correct"], ("correct",))
                tolerance = self.finite(raw["tolerance"], ("tolerance",))
                return Numeric(**common, correct=correct, tolerance=tolerance, unit=raw.get("unit"))
            case QuestionKind.SHORT_TEXT:
                return self.short_text(raw, common)
            case QuestionKind.ORDERING:
                items = self.options(raw["items"], "items", "item")
                order = raw["correct_order"]
                for n, item_id in enumerate(order):
                    self.known(item_id, items, ("correct_order", n), "an item")
                if missing := [item.id for item in items if item.id not in order]:
                    self.error(("correct_order",), f"misses the items {_listed(missing)}")
                return Ordering(**common, items=items, correct_order=tuple(order))
            case QuestionKind.MATCHING:
                return self.matching(raw, common)

    def short_text(self, raw: dict[str, Any], common: dict[str, Any]) -> ShortText:
        options = raw.get("normalize", {})
        normalize = Normalization(
            ignore_case=options.get("ignore_case", True),
            whitespace=Whitespace(options.get("whitespace", Whitespace.COLLAPSE)),
            nfkc=options.get("nfkc", True),
            fold_accents=options.get("fold_accents", False),
            fold_accents_except=options.get("fold_accents_except", ""),
            ignore_punctuation=options.get("ignore_punctuation", False),
        )
        if normalize.fold_accents_except:
            where = ("normalize", "fold_accents_except")
            if not normalize.fold_accents:
                self.error(where, "has no effect unless fold_accents is true")
            kept = unicodedata.normalize("NFC", normalize.fold_accents_except)
            if any(not unicodedata.category(ch).startswith("L") for ch in kept):
                self.error(where, "must hold only letters, such as ñ")
        for n, accepted in enumerate(raw["accepted"]):
            if not normalize.apply(accepted):
                self.error(("accepted", n), "is empty once normalised")
        return ShortText(
            **common,
            accepted=tuple(raw["accepted"]),
            normalize=normalize,
            max_typos=int(raw.get("max_typos", 0)),
        )

    def matching(self, raw: dict[str, Any], common: dict[str, Any]) -> Matching:
        left = self.options(raw["left"], "left", "left item")
        right = self.options(raw["right"], "right", "right item")
        pairs: dict[str, str] = raw["pairs"]
        taken: dict[str, str] = {}
        for left_id, right_id in pairs.items():
            self.known(left_id, left, ("pairs", left_id), "a left item", key=True)
            self.known(right_id, right, ("pairs", left_id), "a right item")
            if right_id in taken:
                message = f"{_quote(right_id)} is already paired with {_quote(taken[right_id])}"
                self.error(("pairs", left_id), message)
            taken.setdefault(right_id, left_id)
        if missing := [item.id for item in left if item.id not in pairs]:
            self.error(("pairs",), f"misses the left items {_listed(missing)}")
        ordered = {item.id: pairs[item.id] for item in left if item.id in pairs}
        return Matching(**common, left=left, right=right, pairs=ordered)

    def options(self, raw: list[dict[str, str]], name: str, noun: str) -> tuple[Option, ...]:
        ids: dict[str, int] = {}
        texts: dict[str, int] = {}
        for n, option in enumerate(raw):
            if (first := ids.setdefault(option["id"], n)) != n:
                self.error(
                    (name, n, "id"), f"{_quote(option['id'])} is already the id of {noun} {first}"
                )
            if (first := texts.setdefault(option["text"].strip(), n)) != n:
                self.error((name, n, "text"), f"is the same as the text of {noun} {first}")
        return tuple(Option(option["id"], option["text"]) for option in raw)

    def known(
        self, value: str, options: tuple[Option, ...], path: _Path, noun: str, *, key: bool = False
    ) -> None:
        if all(option.id != value for option in options):
            ids = _listed(option.id for option in options)
            what = "key" if key else "value"
            self.error(path, f"the {what} {_quote(value)} is not the id of {noun} ({ids})")

    def finite(self, value: float, path: _Path) -> Decimal:
        number = _decimal(value)
        if not number.is_finite():
            self.error(path, "must be a finite number")
        return number

    def points(self, value: float, path: _Path) -> Decimal | None:
        number = self.finite(value, path)
        if not number.is_finite():
            return None
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -POINTS_DECIMALS:
            self.error(path, f"must have at most {POINTS_DECIMALS} decimals")
            return None
        return number

    def storable(self, value: object, path: _Path) -> None:
        if isinstance(value, str):
            if (reason := unstorable(value)) is not None:
                self.error(path, reason)
        elif isinstance(value, dict):
            for key, child in value.items():
                self.storable(key, (*path, key))
                self.storable(child, (*path, key))
        elif isinstance(value, list):
            for n, child in enumerate(value):
                self.storable(child, (*path, n))


def _decimal(value: float) -> Decimal:
    """A JSON number as the decimal its author wrote (a float's shortest repr)."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


# --- what learners see ---------------------------------------------------------------------


def learner_view(
    question: Question, *, seed: str, scoring: ScoringConfig = DEFAULT_SCORING
) -> dict[str, Any]:
    """What a learner may see of a question, as JSON: its id, kind, prompt, points, the
    choices or items to answer with, and a numeric question's unit. Never an answer key,
    accepted answer, tolerance, normalisation, explanation or scoring rule.

    Items to order, the right side of a matching question, and choices the question
    asks to shuffle are shown in an order drawn from `seed` (say, the attempt's id), so
    that it stays the same when the attempt is reloaded and differs between attempts.
    Items to order are never shown in the right order: the order shown is equally
    likely to be any wrong one, so with three or more items all a learner learns is
    one order that is wrong. Nothing else in the view depends on the answer key.
    """
    view: dict[str, Any] = {
        "id": question.id,
        "kind": question.kind.value,
        "prompt": question.prompt,
        "points": _json_number(scoring.weight_of(question)),
    }
    match question:
        case SingleChoice() | MultipleChoice():
            choices = question.choices
            if question.shuffle_choices:
                choices = _shuffled(choices, seed, question.id)
            view["choices"] = _shown(choices)
        case Numeric(unit=unit) if unit is not None:
            view["unit"] = unit
        case Ordering():
            for draw in range(_MAX_DRAWS):
                items = _shuffled(question.items, seed, question.id, draw=draw)
                if tuple(item.id for item in items) != question.correct_order:
                    break
            view["items"] = _shown(items)
        case Matching():
            view["left"] = _shown(question.left)
            view["right"] = _shown(_shuffled(question.right, seed, question.id))
    return view


def learner_views(
    questions: Sequence[Question], *, seed: str, scoring: ScoringConfig = DEFAULT_SCORING
) -> list[dict[str, Any]]:
    """`learner_view` of every question, in the assessment's order."""
    return [learner_view(question, seed=seed, scoring=scoring) for question in questions]


def _shuffled(
    options: tuple[Option, ...], seed: str, question_id: str, *, draw: int = 0
) -> tuple[Option, ...]:
    """The options in an order that depends only on the seed, the question, their ids
    and the draw: SHA-256 rather than `random`, whose algorithms may change between
    Pythons. An ordering question draws again while it gets the right order, so that
    the order shown is equally likely to be any of the wrong ones."""

    def rank(option: Option) -> bytes:
        key = f"{seed}\x1f{question_id}\x1f{draw}\x1f{option.id}"
        return hashlib.sha256(key.encode()).digest()

    return tuple(sorted(options, key=rank))


def _shown(options: Iterable[Option]) -> list[dict[str, str]]:
    return [{"id": option.id, "text": option.text} for option in options]


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# --- answers -------------------------------------------------------------------------------


def check_answer(question: Question, answer: object) -> Answer:
    """The learner's answer (parsed JSON) in the form it is saved and graded in, or
    InvalidAnswer saying where its shape does not fit the question. Picked choice ids
    come back in the question's order and matching pairs in the left side's order; text
    comes back as typed (grading normalises it)."""
    match question:
        case SingleChoice():
            return _choice(answer, question.choices, "", "choice")
        case MultipleChoice():
            picked = set(_distinct_ids(answer, question.choices, "choice"))
            return [choice.id for choice in question.choices if choice.id in picked]
        case TrueFalse():
            if not isinstance(answer, bool):
                raise InvalidAnswer("", "must be true or false")
            return answer
        case Numeric():
            return _number(answer)
        case ShortText():
            if not isinstance(answer, str):
                raise InvalidAnswer("", "must be a string")
            if len(answer) > MAX_ANSWER_LENGTH:
                raise InvalidAnswer("", f"must be at most {MAX_ANSWER_LENGTH} characters")
            if (reason := unstorable(answer)) is not None:
                raise InvalidAnswer("", reason)
            return answer
        case Ordering():
            order = _distinct_ids(answer, question.items, "item")
            if missing := [item.id for item in question.items if item.id not in order]:
                raise InvalidAnswer("", f"must name every item once; it misses {_listed(missing)}")
            return order
        case Matching():
            return _pairs(answer, question)


def _choice(answer: object, options: tuple[Option, ...], path: str, noun: str) -> str:
    if not isinstance(answer, str):
        raise InvalidAnswer(path, f"must be a string: the id of {_a(noun)}")
    if all(option.id != answer for option in options):
        ids = _listed(option.id for option in options)
        raise InvalidAnswer(path, f"{_quote(answer)} is not the id of {_a(noun)} ({ids})")
    return answer


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _distinct_ids(answer: object, options: tuple[Option, ...], noun: str) -> list[str]:
    if not isinstance(answer, list):
        raise InvalidAnswer("", f"must be an array of {noun} ids")
    if len(answer) > len(options):
        raise InvalidAnswer("", f"has {len(answer)} entries; there are {len(options)} {noun}s")
    seen: list[str] = []
    for n, value in enumerate(answer):
        if _choice(value, options, f"/{n}", noun) in seen:
            raise InvalidAnswer(f"/{n}", f"{_quote(value)} is given twice")
        seen.append(value)
    return seen


def _number(answer: object) -> int | float:
    if isinstance(answer, bool) or not isinstance(answer, int | float):
        raise InvalidAnswer("", "must be a number")
    if isinstance(answer, float) and not math.isfinite(answer):
        raise InvalidAnswer("", "must be a finite number")
    if abs(answer) > MAX_NUMBER:
        raise InvalidAnswer("", f"must be between -{MAX_NUMBER} and {MAX_NUMBER}")
    return answer + 0 if isinstance(answer, float) else answer


def _pairs(answer: object, question: Matching) -> dict[str, str]:
    if not isinstance(answer, dict):
        raise InvalidAnswer("", "must be an object: {left id: right id}")
    if len(answer) > len(question.left):
        raise InvalidAnswer("", f"has {len(answer)} entries; there are {len(question.left)}")
    taken: dict[str, str] = {}
    for left_id, right_id in answer.items():
        where = _pointer("", (str(left_id),))
        if not isinstance(left_id, str) or left_id not in question.pairs:
            ids = _listed(item.id for item in question.left)
            raise InvalidAnswer(where, f"{_quote(left_id)} is not one of the left items ({ids})")
        _choice(right_id, question.right, where, "right item")
        if right_id in taken:
            raise InvalidAnswer(
                where, f"{_quote(right_id)} is already matched with {taken[right_id]}"
            )
        taken[right_id] = left_id
    return {item.id: answer[item.id] for item in question.left if item.id in answer}


# --- grading -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuestionResult:
    """How one question of an attempt went. `earned` is rounded down to hundredths;
    the attempt's score is computed from exact values. `explanation` is the question's,
    only when the scoring config shows explanations after submission."""

    question_id: str
    outcome: Outcome
    earned: Decimal
    possible: Decimal
    explanation: str | None = None


@dataclass(frozen=True, slots=True)
class Grade:
    """A graded attempt: the score (0.00 to 100.00, rounded down), the points earned of
    those possible, each question's result in the assessment's order, and `wrong`: the
    ids of the questions not fully right (incorrect, partly right or unanswered), which
    the learning domain turns into review cards."""

    score: Decimal
    earned: Decimal
    possible: Decimal
    results: tuple[QuestionResult, ...]
    wrong: tuple[str, ...]

    def passed(self, pass_threshold: Decimal | int) -> bool:
        """Whether the score reaches `pass_threshold` (a percentage)."""
        return passed(self.score, pass_threshold)


def grade(
    questions: Sequence[Question], scoring: ScoringConfig, answers: Mapping[str, object]
) -> Grade:
    """Grade an attempt: `answers` maps question ids to the saved answers.

    A question with no answer (or None) is unanswered and earns nothing. An answer that
    no longer fits its question (the assessment changed after it was saved) is graded
    incorrect rather than failing the submission; answers to questions the assessment
    no longer has are ignored.
    """
    results: list[QuestionResult] = []
    total = earned_total = Fraction(0)
    for question in questions:
        weight = scoring.weight_of(question)
        raw = answers.get(question.id)
        credit = Fraction(0)
        if raw is None:
            outcome = Outcome.UNANSWERED
        else:
            try:
                answer = check_answer(question, raw)
            except InvalidAnswer:
                outcome = Outcome.INCORRECT
            else:
                credit = _credit(question, answer)
                if credit < 1 and not scoring.partial_credit_for(question.kind):
                    credit = Fraction(0)
                outcome = (
                    Outcome.CORRECT
                    if credit == 1
                    else Outcome.PARTIAL
                    if credit > 0
                    else Outcome.INCORRECT
                )
        earned = credit * Fraction(weight)
        total += Fraction(weight)
        earned_total += earned
        explanation = question.explanation if scoring.show_explanations_after_submit else None
        results.append(
            QuestionResult(
                question_id=question.id,
                outcome=outcome,
                earned=_hundredths(earned),
                possible=weight.quantize(_HUNDREDTH),
                explanation=explanation,
            )
        )
    score = _hundredths(earned_total * 100 / total) if total else Decimal("0.00")
    return Grade(
        score=score,
        earned=_hundredths(earned_total),
        possible=_hundredths(total),
        results=tuple(results),
        wrong=tuple(r.question_id for r in results if r.outcome is not Outcome.CORRECT),
    )


def _credit(question: Question, answer: Answer) -> Fraction:
    """The share of the question's points the (checked) answer earns with partial
    credit; without it, anything below 1 earns 0."""
    match question:
        case SingleChoice() | TrueFalse():
            return Fraction(answer == question.correct)
        case MultipleChoice():
            assert isinstance(answer, list)
            picked = set(answer)
            right = len(picked & question.correct) / Fraction(len(question.correct))
            wrong_choices = len(question.choices) - len(question.correct)
            wrong = len(picked - question.correct) / Fraction(wrong_choices or 1)
            return max(Fraction(0), right - wrong)
        case Numeric():
            assert isinstance(answer, int | float)
            difference = abs(Fraction(_decimal(answer)) - Fraction(question.correct))
            return Fraction(difference <= Fraction(question.tolerance))
        case ShortText():
            assert isinstance(answer, str)
            return Fraction(short_text_matches(question, answer))
        case Ordering():
            assert isinstance(answer, list)
            position = {item_id: n for n, item_id in enumerate(question.correct_order)}
            in_order = _longest_increasing([position[item_id] for item_id in answer])
            return Fraction(in_order - 1, len(question.correct_order) - 1)
        case Matching():
            assert isinstance(answer, dict)
            matched = sum(answer.get(left) == right for left, right in question.pairs.items())
            return Fraction(matched, len(question.pairs))


def short_text_matches(question: ShortText, answer: str) -> bool:
    """Whether `answer` matches an accepted answer once both are normalised, exactly or
    within the typos that accepted answer allows (`typos_allowed`)."""
    given = question.normalize.apply(answer)
    if not given:
        return False
    for accepted in question.accepted:
        target = question.normalize.apply(accepted)
        if given == target:
            return True
        allowed = typos_allowed(question, target)
        if allowed and OSA.distance(given, target, score_cutoff=allowed) <= allowed:
            return True
    return False


def typos_allowed(question: ShortText, normalized_accepted: str) -> int:
    """The typos forgiven against one accepted answer (in normal form): one per
    CHARACTERS_PER_TYPO characters of it, at most the question's `max_typos`. A typo is
    an insertion, a deletion, a substitution or a swap of two neighbouring characters
    (optimal string alignment distance), so `camoin` is one typo from `camión` folded."""
    return min(question.max_typos, len(normalized_accepted) // CHARACTERS_PER_TYPO)


def _longest_increasing(values: Sequence[int]) -> int:
    tails: list[int] = []
    for value in values:
        index = bisect.bisect_left(tails, value)
        if index == len(tails):
            tails.append(value)
        else:
            tails[index] = value
    return len(tails)


def _hundredths(value: Fraction) -> Decimal:
    """`value` rounded down to two decimals."""
    return Decimal(math.floor(value * 100)).scaleb(-2)


def combine(scores: Sequence[Decimal], method: GradeMethod) -> Decimal | None:
    """The grade of attempts with these scores (in the order they were submitted) by
    `method`, or None when there is no attempt. An average is rounded down to hundredths
    like a score."""
    if not scores:
        return None
    match method:
        case GradeMethod.HIGHEST:
            return max(scores)
        case GradeMethod.AVERAGE:
            return _hundredths(
                sum((Fraction(score) for score in scores), Fraction(0)) / len(scores)
            )
        case GradeMethod.FIRST:
            return scores[0]
        case GradeMethod.LAST:
            return scores[-1]


def passed(score: Decimal, pass_threshold: Decimal | int) -> bool:
    """Whether `score` reaches `pass_threshold`, both percentages."""
    return score >= pass_threshold
