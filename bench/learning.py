"""Learning at scale: the catalog, a learner's dashboard, an assessment attempt from
start to submit, and the reviews due, on a database holding thousands of learners'
progress, attempts and review cards; each beside the plain driver sending the minimal
SQL for the same operation, in the same run.

The catalog is made through the service as staff (courses with levels, tags, sections
and prerequisites, an assessment each); the learners' rows are generated to be what
the service would have stored (progress derived from the sections completed and the
attempts graded by `learning.questions.grade`, review cards for the questions not
fully right) and loaded with `executemany` / COPY.

What the plain versions leave out, each a single connection with none of convobase's
guarantees (no owner check or row level security, no prerequisite, deadline or answer
check):

- course list: one SELECT of the courses; convobase also loads each course's tags and
  prerequisites and the prerequisites the learner is missing.
- dashboard: the same one SELECT, joining each progress row's course, next section and
  next assessment.
- start: count the learner's attempts and insert the next, in one transaction;
  convobase also checks the assessment and the prerequisites, locks and refreshes the
  progress row, and answers with the questions as the learner sees them.
- save: one upsert of the answer (convobase checks the attempt and the answer first).
- submit: read the attempt and its answers, grade them with the same
  `learning.questions.grade`, close the attempt, upsert the progress row with the
  attempt's score and insert a review card per question not fully right, in one
  transaction; convobase also recomputes the grade of every attempt and the progress,
  and answers with the graded attempt as the learner sees it.
- due reviews: one SELECT of the first 50 cards due by the end of the UTC day;
  convobase also reads the learner's time zone, counts the cards due and finds when
  the next one falls due.
"""

import json
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import partial
from typing import Any, Final

import psycopg
from psycopg.types.json import Jsonb

from bench.databases import BenchDatabase, bench_database, postgres_connect
from bench.measure import WARMUP, Row, markdown_table, sequential
from bench.plain import sqlite_time
from convobase import bootstrap
from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.learning import questions
from convobase.learning import service as learning
from convobase.learning.schemas import AssessmentCreate, CourseCreate
from convobase.reviews import service as reviews
from convobase.reviews.schemas import SOURCE_ASSESSMENT_QUESTION

STORY_P95_MS: Final = 100.0
GOAL_P95_MS: Final = 10.0
PAGE: Final = 50

LEVELS: Final = ("beginner", "intermediate", "advanced")
TAGS: Final = (
    "poker",
    "strategy",
    "mathematics",
    "psychology",
    "tournaments",
    "cash-games",
    "bankroll",
    "fundamentals",
)
TIME_ZONES: Final = ("Europe/Madrid", "America/New_York", "Asia/Tokyo", "America/Sao_Paulo")
MAX_ATTEMPTS: Final = 3
TIME_LIMIT_MINUTES: Final = 60

# One assessment's questions, of six kinds, with an answer of each that is right and
# one that is wrong (or partly right: multiple choice and ordering earn part).
QUESTIONS: Final[list[dict[str, Any]]] = [
    {
        "id": "hand-rankings",
        "kind": "ordering",
        "prompt": "Put these hands in order, from the strongest to the weakest.",
        "items": [
            {"id": "full-house", "text": "Full house"},
            {"id": "straight", "text": "Straight"},
            {"id": "flush", "text": "Flush"},
            {"id": "four-of-a-kind", "text": "Four of a kind"},
            {"id": "two-pair", "text": "Two pair"},
        ],
        "correct_order": ["four-of-a-kind", "full-house", "flush", "straight", "two-pair"],
        "explanation": "Rarer hands rank higher.",
    },
    {
        "id": "position",
        "kind": "single_choice",
        "prompt": "Which seat acts last on the flop, the turn and the river?",
        "choices": [
            {"id": "small-blind", "text": "The small blind"},
            {"id": "big-blind", "text": "The big blind"},
            {"id": "under-the-gun", "text": "Under the gun"},
            {"id": "button", "text": "The button"},
        ],
        "correct": "button",
        "shuffle_choices": True,
        "explanation": "After the flop the button acts last.",
    },
    {
        "id": "premium",
        "kind": "multiple_choice",
        "prompt": "Which starting hands are premium?",
        "choices": [
            {"id": "aces", "text": "Pocket aces"},
            {"id": "seven-two", "text": "Seven-two offsuit"},
            {"id": "kings", "text": "Pocket kings"},
            {"id": "jack-four", "text": "Jack-four suited"},
        ],
        "correct": ["aces", "kings"],
    },
    {
        "id": "pot-odds",
        "kind": "numeric",
        "prompt": "The pot holds $80 and your opponent bets $20. What share of the final "
        "pot would your call be, in percent?",
        "correct": 16.67,
        "tolerance": 0.5,
        "unit": "%",
        "points": 2,
    },
    {
        "id": "flush-beats-straight",
        "kind": "true_false",
        "prompt": "A flush beats a straight.",
        "correct": True,
    },
    {
        "id": "big-blind",
        "kind": "short_text",
        "prompt": "What is the forced bet called that the player two seats to the left of "
        "the button posts?",
        "accepted": ["big blind", "the big blind"],
        "max_typos": 1,
    },
]
SCORING: Final[dict[str, Any]] = {"grade_method": "highest", "show_explanations_after_submit": True}
RIGHT: Final[dict[str, Any]] = {
    "hand-rankings": ["four-of-a-kind", "full-house", "flush", "straight", "two-pair"],
    "position": "button",
    "premium": ["aces", "kings"],
    "pot-odds": 16.7,
    "flush-beats-straight": True,
    "big-blind": "big blind",
}
WRONG: Final[dict[str, Any]] = {
    "hand-rankings": ["four-of-a-kind", "flush", "full-house", "two-pair", "straight"],
    "position": "small-blind",
    "premium": ["aces", "seven-two"],
    "pot-odds": 25,
    "flush-beats-straight": False,
    "big-blind": "small blind",
}
PARSED, PARSED_SCORING = questions.validate_assessment(QUESTIONS, SCORING)
QUESTION_IDS: Final = tuple(question.id for question in PARSED)
PASS_THRESHOLD: Final = 70


@dataclass(frozen=True)
class Sizes:
    learners: int
    courses_each: int
    catalog: int
    attempts: int
    cards_each: int
    reads: int
    starts: int

    @classmethod
    def full(cls) -> "Sizes":
        return cls(10_000, 20, 40, 100_000, 6, 1000, 300)

    @classmethod
    def quick(cls) -> "Sizes":
        return cls(500, 20, 40, 5_000, 6, 100, 30)


def suite(backends: Sequence[str], *, quick: bool) -> list[dict[str, object]]:
    """Run the learning workloads on each backend and print the tables."""
    sizes = Sizes.quick() if quick else Sizes.full()
    rows: list[Row] = []
    stored: list[str] = []
    for backend in backends:
        print(f"learning workloads on {backend} ...", file=sys.stderr, flush=True)
        with bench_database(backend) as database:
            measured, counted = run(database, sizes)
        rows += measured
        stored.append(f"- {backend}: {counted}")
    print("\n## Learning\n")
    print("Stored before measuring:\n" + "\n".join(stored) + "\n")
    print(markdown_table(rows))
    print()
    print(targets_table(rows))
    return [row.as_dict() for row in rows]


def targets_table(rows: Sequence[Row]) -> str:
    """Each workload's p95 beside story 001's 100 ms and the 10 ms goal."""
    lines = [
        "| workload | db | p95 | story: p95 < 100 ms | goal: p95 < 10 ms |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for row in rows:
        p95 = row.convobase.p95
        story = "met" if p95 < STORY_P95_MS else "missed"
        goal = "met" if p95 < GOAL_P95_MS else "missed"
        lines.append(f"| {row.workload} | {row.backend} | {p95:.2f} | {story} | {goal} |")
    return "\n".join(lines)


# --- the catalog, through the service ----------------------------------------------------


@dataclass(frozen=True)
class CourseInfo:
    id: uuid.UUID
    level: str
    tags: tuple[str, ...]
    sections: tuple[uuid.UUID, ...]  # active sections, by position
    assessment_id: uuid.UUID
    prerequisite: uuid.UUID | None


def make_catalog(database: Database, sizes: Sizes) -> list[CourseInfo]:
    """`sizes.catalog` courses over the three levels, each with two or three tags, three
    to six sections and one assessment; one intermediate or advanced course in four
    requires a beginner course. Made as staff, through the service."""
    rng = random.Random(11)
    staff = Principal.staff()
    levels = [LEVELS[n % len(LEVELS)] for n in range(sizes.catalog)]
    order = sorted(range(sizes.catalog), key=lambda n: LEVELS.index(levels[n]))
    beginners: list[uuid.UUID] = []
    courses: list[CourseInfo] = []
    with database.transaction(staff) as session:
        for n in order:
            level = levels[n]
            tags = tuple(sorted(rng.sample(TAGS, 2 + n % 2)))
            prerequisite = None
            if level != "beginner" and n % 4 == 1 and beginners:
                prerequisite = rng.choice(beginners)
            data = CourseCreate.model_validate(
                {
                    "key": f"bench-course-{n}",
                    "title": f"{tags[0].capitalize()} {level} {n}",
                    "description": "A course of the benchmark's catalog. " * 4,
                    "level": level,
                    "thumbnail_url": f"https://cdn.example.com/courses/{n}.png",
                    "duration_minutes": 30 + 10 * (n % 9),
                    "tags": list(tags),
                    "prerequisites": [] if prerequisite is None else [str(prerequisite)],
                    "sections": [
                        {"key": f"s{p}", "title": f"Section {p}", "duration_minutes": 10}
                        for p in range(1, 4 + n % 4)
                    ],
                }
            )
            course = learning.create_course(session, staff, data=data)
            assessment = learning.create_assessment(
                session,
                staff,
                data=AssessmentCreate.model_validate(
                    {
                        "course_id": str(course.id),
                        "key": f"check-{n}",
                        "title": f"Check {n}",
                        "difficulty": "easy",
                        "pass_threshold": PASS_THRESHOLD,
                        "time_limit_minutes": TIME_LIMIT_MINUTES,
                        "max_attempts": MAX_ATTEMPTS,
                        "questions": QUESTIONS,
                        "scoring_config": SCORING,
                    }
                ),
            )
            if level == "beginner":
                beginners.append(course.id)
            courses.append(
                CourseInfo(
                    id=course.id,
                    level=level,
                    tags=tags,
                    sections=tuple(section.id for section in course.sections),
                    assessment_id=assessment.id,
                    prerequisite=prerequisite,
                )
            )
    _progress(database.engine.dialect.name, "made the catalog")
    return courses


# --- the learners' rows, as the service would have stored them ------------------------------


@dataclass
class Table:
    name: str
    columns: tuple[str, ...]
    rows: list[tuple[object, ...]] = field(default_factory=list)


@dataclass
class Learners:
    """The generated rows, and which learner may start an attempt where."""

    tables: list[Table]
    learners: list[uuid.UUID]
    # (learner's id in hex, course) pairs with fewer attempts than MAX_ATTEMPTS.
    startable: list[tuple[str, CourseInfo]]


_COLUMNS: Final = {
    "users": "id goals stage profile preferences last_active created_at updated_at",
    "user_progress": "id user_id course_id completion_rate current_section_id"
    " next_assessment_id test_scores study_time_minutes study_seconds_carry last_accessed"
    " last_heartbeat_at completed_at created_at updated_at",
    "section_completions": "id user_id course_id section_id completed_at",
    "assessment_attempts": "id user_id assessment_id assessment_version course_id"
    " attempt_number status client_attempt_id started_at deadline_at submitted_at"
    " abandoned_at closed_by score passed results",
    "attempt_answers": "attempt_id question_id user_id answer saved_at",
    "review_cards": "id user_id source_kind source_key prompt answer context state step"
    " stability difficulty due_at last_reviewed_at suspended created_at updated_at",
}
_HUNDREDTH: Final = Decimal("0.01")
_QUESTION_BY_ID: Final = {question.id: question for question in PARSED}
# How a question of an attempt went when generating: answered right, wrong, or not at all.
_RIGHT, _WRONG, _UNANSWERED = 0, 1, 2


class _Encoder:
    """Values as the loader hands them to the driver: ids as 32 hex digits (SQLite's
    storage, and a spelling PostgreSQL's uuid reads), times as text (UTC, the way
    convobase stores them in SQLite; with a zone for PostgreSQL), documents as JSON text."""

    def __init__(self, backend: str) -> None:
        self.sqlite = backend == "sqlite"
        self.zone = "" if self.sqlite else "+00"

    def time(self, moment: datetime) -> str:
        """`moment`, a naive UTC time."""
        return moment.isoformat(" ", "microseconds") + self.zone

    @staticmethod
    def json(value: object) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def number(self, value: Decimal) -> object:
        return float(value) if self.sqlite else value

    def no_goals(self) -> object:
        return "[]" if self.sqlite else []


def _dashed(key: str) -> str:
    """A uuid's 32 hex digits in its usual spelling."""
    return f"{key[:8]}-{key[8:12]}-{key[12:16]}-{key[16:20]}-{key[20:]}"


class _Attempts:
    """What grading gives each pattern of right, wrong and unanswered questions, with the
    answers saved and the results stored as JSON text: worked out once per pattern."""

    def __init__(self, encode: _Encoder) -> None:
        self.encode = encode
        self.cache: dict[tuple[int, ...], tuple[questions.Grade, str, list[tuple[str, str]]]] = {}
        self.answers = {
            (question_id, how): encode.json((RIGHT, WRONG)[how][question_id])
            for question_id in QUESTION_IDS
            for how in (_RIGHT, _WRONG)
        }

    def __call__(
        self, pattern: tuple[int, ...]
    ) -> tuple[questions.Grade, str, list[tuple[str, str]]]:
        found = self.cache.get(pattern)
        if found is None:
            answered = [
                (question_id, how)
                for question_id, how in zip(QUESTION_IDS, pattern, strict=True)
                if how != _UNANSWERED
            ]
            values = {
                question_id: (RIGHT, WRONG)[how][question_id] for question_id, how in answered
            }
            graded = questions.grade(PARSED, PARSED_SCORING, values)
            saved = [(question_id, self.answers[question_id, how]) for question_id, how in answered]
            found = self.cache[pattern] = (graded, self.encode.json(_results(graded)), saved)
        return found


def generate(catalog: Sequence[CourseInfo], sizes: Sizes, now: datetime, backend: str) -> Learners:
    """`sizes.learners` learners, each with progress through `sizes.courses_each`
    courses (those another of them requires, completed), `sizes.attempts` attempts in
    all with their saved answers, and up to `sizes.cards_each` review cards each, as
    rows ready for `backend`'s driver."""
    rng = random.Random(7)
    encode = _Encoder(backend)
    tables = {name: Table(name, tuple(columns.split())) for name, columns in _COLUMNS.items()}
    progress, completions = tables["user_progress"].rows, tables["section_completions"].rows
    attempt_rows, answer_rows = tables["assessment_attempts"].rows, tables["attempt_answers"].rows
    free = [course for course in catalog if course.prerequisite is None]
    learners = [f"{rng.getrandbits(128):032x}" for _ in range(sizes.learners)]
    hexes = {course.id: _CourseKeys(course) for course in catalog}
    plans = [_plan(rng, catalog, free, hexes, sizes) for _ in learners]
    _exactly(plans, sizes.attempts, rng)

    attempts = _Attempts(encode)
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    limit = timedelta(minutes=TIME_LIMIT_MINUTES)
    startable: list[tuple[str, CourseInfo]] = []
    key = partial(_key, rng)
    for user_id, plan in zip(learners, plans, strict=True):
        first_seen = naive_now - timedelta(days=rng.uniform(40, 180))
        last_active = first_seen
        wrong: dict[tuple[str, str], tuple[_CourseKeys, str, datetime]] = {}
        for studied in plan:
            course, keys = studied.course, studied.keys
            started = moment = first_seen + timedelta(days=rng.uniform(0, 25))
            for section_id in keys.sections[: studied.done]:
                moment += timedelta(minutes=rng.uniform(10, 600))
                completions.append((key(), user_id, keys.id, section_id, encode.time(moment)))
            scores: list[Decimal] = []
            for number in range(1, studied.attempts + 1):
                moment += timedelta(hours=rng.uniform(1, 48))
                last = studied.forced and number == studied.attempts
                pattern = (_RIGHT,) * len(QUESTION_IDS) if last else _pattern(rng)
                graded, results, saved = attempts(pattern)
                attempt_id = key()
                deadline = encode.time(moment + limit)
                if not last and rng.random() < 0.05:  # left open: abandoned at the deadline
                    closed: tuple[object, ...] = (
                        *("abandoned", None, deadline, "deadline"),
                        *(None, None, None),
                    )
                else:
                    finished = moment + timedelta(minutes=rng.uniform(3, 50))
                    scores.append(graded.score)
                    closed = (
                        *("submitted", encode.time(finished), None, "learner"),
                        *(encode.number(graded.score), graded.passed(PASS_THRESHOLD), results),
                    )
                    for question_id in graded.wrong:
                        source = (keys.assessment_id, question_id)
                        wrong.setdefault(source, (keys, attempt_id, finished))
                attempt_rows.append(
                    (
                        *(attempt_id, user_id, keys.assessment_id, 1, keys.id, number),
                        *(closed[0], None, encode.time(moment), deadline, *closed[1:]),
                    )
                )
                for question_id, answer in saved:
                    at = moment + timedelta(seconds=rng.uniform(10, 170))
                    answer_rows.append((attempt_id, question_id, user_id, answer, encode.time(at)))
                moment += limit
            grade = questions.combine(scores, questions.GradeMethod.HIGHEST)
            passed = grade is not None and questions.passed(grade, PASS_THRESHOLD)
            test_scores: dict[str, Any] = {}
            if studied.attempts:
                test_scores[keys.assessment_dashed] = {
                    "attempts": studied.attempts,
                    "scores": [float(score) for score in scores],
                    "grade": None if grade is None else float(grade),
                    "grade_method": questions.GradeMethod.HIGHEST.value,
                    "passed": passed,
                }
            sections = len(keys.sections)
            rate = Decimal((studied.done + passed) * 100) / (sections + 1)
            complete = studied.done == sections and passed
            study = rng.randint(0, 900)
            last_seen = encode.time(moment)
            progress.append(
                (
                    key(),
                    user_id,
                    keys.id,
                    encode.number(rate.quantize(_HUNDREDTH, ROUND_DOWN)),
                    keys.sections[studied.done] if studied.done < sections else None,
                    None if passed else keys.assessment_id,
                    encode.json(test_scores),
                    study,
                    0,
                    last_seen,
                    last_seen if study else None,
                    last_seen if complete else None,
                    encode.time(started),
                    last_seen,
                )
            )
            last_active = max(last_active, moment)
            if studied.attempts < MAX_ATTEMPTS:
                startable.append((user_id, course))
        preferences = {"time_zone": rng.choice(TIME_ZONES)} if rng.random() < 0.3 else {}
        tables["users"].rows.append(
            (
                user_id,
                encode.no_goals(),
                1,
                "{}",
                encode.json(preferences),
                encode.time(last_active),
                encode.time(first_seen),
                encode.time(naive_now),
            )
        )
        sources = list(wrong.items())
        rng.shuffle(sources)
        for (_, question_id), (keys, attempt_id, made) in sources[: sizes.cards_each]:
            tables["review_cards"].rows.append(
                _card(encode, key(), user_id, keys, question_id, attempt_id)
                + _schedule(encode, rng, made, naive_now)
            )
    return Learners(
        list(tables.values()),
        [uuid.UUID(learner) for learner in learners],
        startable,
    )


def _key(rng: random.Random) -> str:
    """A new row's id, as 32 hex digits."""
    return f"{rng.getrandbits(128):032x}"


def _pattern(rng: random.Random) -> tuple[int, ...]:
    """How a learner answers the questions: about 65% right, 25% wrong, 10% not at all."""
    draws = [rng.random() for _ in QUESTION_IDS]
    return tuple(_RIGHT if draw < 0.65 else _WRONG if draw < 0.9 else _UNANSWERED for draw in draws)


@dataclass(frozen=True)
class _CourseKeys:
    """A course's ids as the loader writes them."""

    id: str
    sections: tuple[str, ...]
    assessment_id: str
    dashed: str
    assessment_dashed: str

    def __init__(self, course: CourseInfo) -> None:
        object.__setattr__(self, "id", course.id.hex)
        object.__setattr__(self, "sections", tuple(section.hex for section in course.sections))
        object.__setattr__(self, "assessment_id", course.assessment_id.hex)
        object.__setattr__(self, "dashed", str(course.id))
        object.__setattr__(self, "assessment_dashed", str(course.assessment_id))


@dataclass
class _Studied:
    """A course one learner studies: the sections done, the attempts made, and whether
    another of their courses requires it (then it is completed)."""

    course: CourseInfo
    keys: "_CourseKeys"
    done: int
    attempts: int
    forced: bool


def _plan(
    rng: random.Random,
    catalog: Sequence[CourseInfo],
    free: Sequence[CourseInfo],
    hexes: dict[uuid.UUID, "_CourseKeys"],
    sizes: Sizes,
) -> list[_Studied]:
    """The courses one learner studies: `sizes.courses_each` of the catalog, a course
    whose prerequisite is not among them swapped for one without prerequisites. Most
    learners are early in most of their courses: the sections done are the smaller of
    two draws."""
    chosen = rng.sample(list(catalog), min(sizes.courses_each, len(catalog)))
    ids = {course.id for course in chosen}
    for n, course in enumerate(chosen):
        if course.prerequisite is not None and course.prerequisite not in ids:
            other = rng.choice([other for other in free if other.id not in ids])
            ids.discard(course.id)
            ids.add(other.id)
            chosen[n] = other
    required = {course.prerequisite for course in chosen if course.prerequisite is not None}
    plan = []
    for course in chosen:
        keys, sections = hexes[course.id], len(course.sections)
        if course.id in required:
            plan.append(_Studied(course, keys, sections, rng.choice((1, 2)), True))
        else:
            done = min(rng.randint(0, sections), rng.randint(0, sections))
            plan.append(_Studied(course, keys, done, rng.choice((0, 0, 0, 1, 1, 2)), False))
    return plan


def _exactly(plans: list[list[_Studied]], total: int, rng: random.Random) -> None:
    """Add or remove attempts of courses nobody requires until there are `total`."""
    loose = [entry for plan in plans for entry in plan if not entry.forced]
    missing = total - sum(entry.attempts for plan in plans for entry in plan)
    while missing:
        entry = rng.choice(loose)
        if missing > 0 and entry.attempts < MAX_ATTEMPTS:
            entry.attempts += 1
            missing -= 1
        elif missing < 0 and entry.attempts > 0:
            entry.attempts -= 1
            missing += 1


def _results(graded: questions.Grade) -> list[dict[str, Any]]:
    """An attempt's results as the service stores them."""
    return [
        {
            "question_id": result.question_id,
            "outcome": result.outcome.value,
            "points": float(result.earned),
            "max_points": float(result.possible),
        }
        for result in graded.results
    ]


def _card(
    encode: _Encoder,
    card_id: str,
    user_id: str,
    course: _CourseKeys,
    question_id: str,
    attempt_id: str,
) -> tuple[object, ...]:
    """A review card's source and text, as the learning service adds it."""
    question = _QUESTION_BY_ID[question_id]
    attempt = _dashed(attempt_id)
    view = questions.learner_view(question, seed=attempt, scoring=PARSED_SCORING)
    context = {
        "course_id": course.dashed,
        "assessment_id": course.assessment_dashed,
        "attempt_id": attempt,
        "question_id": question_id,
        "question": {key: value for key, value in view.items() if key not in ("id", "prompt")},
    }
    source_key = f"{course.assessment_dashed}:{question_id}"
    prompt = question.prompt
    return (
        card_id,
        user_id,
        SOURCE_ASSESSMENT_QUESTION,
        source_key,
        prompt,
        None,
        encode.json(context),
    )


def _schedule(
    encode: _Encoder, rng: random.Random, made: datetime, now: datetime
) -> tuple[object, ...]:
    """The rest of a card's columns: never reviewed (due since it was made), or in
    review, due days after its last review (some due now, some later); a few suspended."""
    if rng.random() < 0.4:
        schedule: tuple[object, ...] = ("learning", 0, None, None, encode.time(made), None)
        updated = made
    else:
        updated = made + (now - made) * rng.uniform(0.2, 0.95)
        stability = rng.uniform(1, 60)
        due = encode.time(updated + timedelta(days=stability))
        schedule = ("review", None, stability, rng.uniform(1, 10), due, encode.time(updated))
    return (*schedule, rng.random() < 0.05, encode.time(made), encode.time(updated))


# --- loading ------------------------------------------------------------------------------


def load(database: BenchDatabase, data: Learners) -> None:
    """Store the generated rows with the plain driver, as fast as it allows."""
    if database.backend == "sqlite":
        path = database.settings.sqlite_path
        assert path is not None
        with closing(sqlite3.connect(path, isolation_level=None)) as lite:
            # Loading only, with no other connection open: no journal, no fsync, and a
            # cache of a GiB that keeps the indexes in memory. Measurements use WAL and
            # the settings' synchronous (FULL).
            lite.execute("PRAGMA journal_mode = OFF")
            lite.execute("PRAGMA synchronous = OFF")
            lite.execute("PRAGMA cache_size = -1000000")
            lite.execute("PRAGMA foreign_keys = ON")
            lite.execute("BEGIN")
            for table in data.tables:
                marks = ", ".join("?" * len(table.columns))
                lite.executemany(
                    f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({marks})",
                    table.rows,
                )
            lite.execute("COMMIT")
            lite.execute("ANALYZE")
            lite.execute("PRAGMA journal_mode = WAL")
        return
    with postgres_connect(database.url) as db, db.cursor() as cursor:
        try:
            # As pg_restore --disable-triggers: no foreign key checked row by row (the
            # same rows load on SQLite with its foreign keys on); CHECKs still apply.
            cursor.execute("SET session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            db.rollback()  # not a superuser: load with the checks
        for table in data.tables:
            statement = f"COPY {table.name} ({', '.join(table.columns)}) FROM STDIN"
            with cursor.copy(statement) as copy:
                for row in table.rows:
                    copy.write_row(row)
        db.commit()
    with postgres_connect(database.url, autocommit=True) as db:
        db.execute("VACUUM ANALYZE")


def stored_sizes(database: BenchDatabase, now: datetime) -> str:
    """What the database holds, counted."""
    tables = (
        "users",
        "courses",
        "course_tags",
        "course_sections",
        "assessments",
        "user_progress",
        "section_completions",
        "assessment_attempts",
        "attempt_answers",
        "review_cards",
    )
    with closing(PlainLearning(database)) as plain:
        counts = {name: plain.scalar(f"SELECT count(*) FROM {name}") for name in tables}
        due = plain.scalar(
            f"SELECT count(*) FROM review_cards WHERE {plain.active} AND due_at < ?",
            plain.time(now),
        )
    return (
        f"{counts['users']:,} users; {counts['courses']:,} courses "
        f"({counts['course_tags']:,} tags, {counts['course_sections']:,} sections, "
        f"{counts['assessments']:,} assessments of {len(QUESTIONS)} questions); "
        f"{counts['user_progress']:,} progress rows; "
        f"{counts['section_completions']:,} section completions; "
        f"{counts['assessment_attempts']:,} attempts with {counts['attempt_answers']:,} "
        f"saved answers; {counts['review_cards']:,} review cards ({due:,} due now)"
    )


# --- convobase and the plain driver ---------------------------------------------------------


class PlainLearning:
    """The minimal SQL for each operation, over one plain connection (the table
    owner's on PostgreSQL), one transaction per operation."""

    def __init__(self, database: BenchDatabase) -> None:
        self.sqlite = database.backend == "sqlite"
        self.active = "suspended = 0" if self.sqlite else "NOT suspended"
        if self.sqlite:
            path = database.settings.sqlite_path
            assert path is not None
            self.lite = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            for pragma in (
                "journal_mode = WAL",
                f"synchronous = {database.settings.sqlite_synchronous}",
                "foreign_keys = ON",
                f"busy_timeout = {database.settings.sqlite_busy_timeout_ms}",
            ):
                self.lite.execute(f"PRAGMA {pragma}")
        else:
            self.pg = postgres_connect(database.url, autocommit=True)

    # Parameters as each driver takes them.

    def key(self, value: uuid.UUID) -> object:
        return value.hex if self.sqlite else value

    def time(self, value: datetime) -> object:
        return sqlite_time(value) if self.sqlite else value

    def json(self, value: object) -> object:
        if self.sqlite:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return Jsonb(value)

    def number(self, value: Decimal) -> object:
        return float(value) if self.sqlite else value

    def execute(self, statement: str, *parameters: object) -> list[tuple[Any, ...]]:
        if self.sqlite:
            return self.lite.execute(statement, parameters).fetchall()
        cursor = self.pg.execute(statement.replace("?", "%s"), parameters)
        return cursor.fetchall() if cursor.description is not None else []

    def executemany(self, statement: str, rows: Sequence[tuple[object, ...]]) -> None:
        if self.sqlite:
            self.lite.executemany(statement, rows)
        else:
            with self.pg.cursor() as cursor:
                cursor.executemany(statement.replace("?", "%s"), rows)

    def scalar(self, statement: str, *parameters: object) -> Any:
        return self.execute(statement, *parameters)[0][0]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if not self.sqlite:
            with self.pg.transaction():
                yield
            return
        self.lite.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.lite.execute("ROLLBACK")
            raise
        self.lite.execute("COMMIT")

    def close(self) -> None:
        (self.lite if self.sqlite else self.pg).close()

    # The operations.

    def courses(self, level: str, tag: str) -> int:
        rows = self.execute(
            "SELECT id, key, title, description, level, content_path, video_url,"
            " thumbnail_url, duration_minutes, is_active, archived_at, created_at, updated_at"
            " FROM courses WHERE is_active AND level = ?"
            " AND id IN (SELECT course_id FROM course_tags WHERE tag = ?)"
            " ORDER BY title, id LIMIT ?",
            level,
            tag,
            PAGE + 1,
        )
        return len(rows)

    def dashboard(self, user_id: uuid.UUID) -> int:
        rows = self.execute(
            "SELECT p.id, p.course_id, p.completion_rate, p.current_section_id,"
            " p.next_assessment_id, p.study_time_minutes, p.last_accessed, p.completed_at,"
            " c.key, c.title, c.level, c.thumbnail_url, c.is_active, s.position, s.title,"
            " a.title FROM user_progress AS p JOIN courses AS c ON c.id = p.course_id"
            " LEFT JOIN course_sections AS s ON s.id = p.current_section_id"
            " LEFT JOIN assessments AS a ON a.id = p.next_assessment_id"
            " WHERE p.user_id = ? ORDER BY p.last_accessed DESC, p.id DESC LIMIT ?",
            self.key(user_id),
            PAGE + 1,
        )
        return len(rows)

    def start(self, user_id: uuid.UUID, course: CourseInfo) -> uuid.UUID:
        attempt_id = uuid.uuid4()
        now = datetime.now(UTC)
        with self.transaction():
            started = self.scalar(
                "SELECT count(*) FROM assessment_attempts WHERE user_id = ? AND assessment_id = ?",
                self.key(user_id),
                self.key(course.assessment_id),
            )
            if started >= MAX_ATTEMPTS:
                raise RuntimeError("the bench picked a learner without attempts left")
            self.execute(
                "INSERT INTO assessment_attempts (id, user_id, assessment_id,"
                " assessment_version, course_id, attempt_number, status, started_at,"
                " deadline_at) VALUES (?, ?, ?, 1, ?, ?, 'in_progress', ?, ?)",
                self.key(attempt_id),
                self.key(user_id),
                self.key(course.assessment_id),
                self.key(course.id),
                started + 1,
                self.time(now),
                self.time(now + timedelta(minutes=TIME_LIMIT_MINUTES)),
            )
        return attempt_id

    def save(
        self, user_id: uuid.UUID, attempt_id: uuid.UUID, question_id: str, answer: Any
    ) -> None:
        self.execute(
            "INSERT INTO attempt_answers (attempt_id, question_id, user_id, answer, saved_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (attempt_id, question_id)"
            " DO UPDATE SET answer = excluded.answer, saved_at = excluded.saved_at",
            self.key(attempt_id),
            question_id,
            self.key(user_id),
            self.json(answer),
            self.time(datetime.now(UTC)),
        )

    def submit(self, attempt_id: uuid.UUID) -> Decimal:
        now = datetime.now(UTC)
        with self.transaction():
            rows = self.execute(
                "SELECT t.user_id, t.assessment_id, t.course_id, t.status, a.question_id,"
                " a.answer FROM assessment_attempts AS t"
                " LEFT JOIN attempt_answers AS a ON a.attempt_id = t.id WHERE t.id = ?",
                self.key(attempt_id),
            )
            user_id, assessment_id, course_id, status = rows[0][:4]
            if status != "in_progress":
                raise RuntimeError("the bench submitted an attempt twice")
            saved = {
                question_id: json.loads(answer)
                if self.sqlite and isinstance(answer, str)
                else answer
                for *_, question_id, answer in rows
                if question_id is not None
            }
            graded = questions.grade(PARSED, PARSED_SCORING, saved)
            passed = graded.passed(PASS_THRESHOLD)
            self.execute(
                "UPDATE assessment_attempts SET status = 'submitted', submitted_at = ?,"
                " closed_by = 'learner', score = ?, passed = ?, results = ? WHERE id = ?",
                self.time(now),
                self.number(graded.score),
                passed,
                self.json(_results(graded)),
                self.key(attempt_id),
            )
            entry = json.dumps({"score": float(graded.score), "passed": passed})
            key = str(uuid.UUID(str(assessment_id)))
            merged = "json_patch(user_progress.test_scores, excluded.test_scores)"
            document = "json_object(?, json(?))"
            if not self.sqlite:
                merged = "user_progress.test_scores || excluded.test_scores"
                document = "jsonb_build_object(?::text, ?::jsonb)"
            self.execute(
                "INSERT INTO user_progress (id, user_id, course_id, completion_rate,"
                " test_scores, study_time_minutes, study_seconds_carry, last_accessed,"
                f" created_at, updated_at) VALUES (?, ?, ?, 0, {document}, 0, 0, ?, ?, ?)"
                " ON CONFLICT (user_id, course_id) DO UPDATE SET"
                f" test_scores = {merged}, last_accessed = excluded.last_accessed,"
                " updated_at = excluded.updated_at",
                self.key(uuid.uuid4()),
                user_id,
                course_id,
                key,
                entry,
                self.time(now),
                self.time(now),
                self.time(now),
            )
            cards = [
                (
                    self.key(uuid.uuid4()),
                    user_id,
                    f"{key}:{question_id}",
                    _QUESTION_BY_ID[question_id].prompt,
                    self.json(
                        {
                            "course_id": str(uuid.UUID(str(course_id))),
                            "assessment_id": key,
                            "attempt_id": str(attempt_id),
                            "question_id": question_id,
                        }
                    ),
                    self.time(now),
                    self.time(now),
                    self.time(now),
                )
                for question_id in graded.wrong
            ]
            if cards:
                self.executemany(
                    "INSERT INTO review_cards (id, user_id, source_kind, source_key, prompt,"
                    " context, state, step, due_at, suspended, created_at, updated_at)"
                    f" VALUES (?, ?, '{SOURCE_ASSESSMENT_QUESTION}', ?, ?, ?, 'learning', 0,"
                    " ?, false, ?, ?) ON CONFLICT (user_id, source_kind, source_key) DO NOTHING",
                    cards,
                )
        return graded.score

    def due(self, user_id: uuid.UUID) -> int:
        now = datetime.now(UTC)
        day_ends = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
        rows = self.execute(
            "SELECT id, source_kind, source_key, prompt, answer, context, state, step,"
            " stability, difficulty, due_at, last_reviewed_at, created_at, updated_at"
            f" FROM review_cards WHERE user_id = ? AND {self.active} AND due_at < ?"
            " ORDER BY due_at, id LIMIT ?",
            self.key(user_id),
            self.time(day_ends),
            PAGE,
        )
        return len(rows)


class Convobase:
    """The service as the API calls it: one unit of work per operation, as the
    learner (row level security live on PostgreSQL)."""

    def __init__(self, database: BenchDatabase) -> None:
        self.database = Database.from_settings(
            database.settings, bootstrap.event_bus(database.settings)
        )

    def courses(self, learner: Principal, level: str, tag: str) -> int:
        with self.database.transaction(learner, readonly=True) as session:
            return len(learning.list_courses(session, learner, level=level, tags=[tag]).items)

    def dashboard(self, learner: Principal) -> int:
        with self.database.transaction(learner, readonly=True) as session:
            return len(learning.my_courses(session, learner).items)

    def start(self, learner: Principal, course: CourseInfo) -> uuid.UUID:
        with self.database.transaction(learner) as session:
            return learning.start_attempt(session, learner, course.assessment_id).attempt.id

    def save(
        self, learner: Principal, attempt_id: uuid.UUID, question_id: str, answer: Any
    ) -> None:
        with self.database.transaction(learner) as session:
            learning.save_answer(session, learner, attempt_id, question_id, answer=answer)

    def submit(self, learner: Principal, attempt_id: uuid.UUID) -> Decimal:
        with self.database.transaction(learner) as session:
            score = learning.submit_attempt(session, learner, attempt_id).score
            assert score is not None
            return score

    def due(self, learner: Principal) -> int:
        with self.database.transaction(learner, readonly=True) as session:
            return len(reviews.due_cards(session, learner).cards)

    def open_assessments(self, learner: Principal, catalog: Sequence[CourseInfo]) -> None:
        """Open every assessment once, as a learner does before starting it: each
        process parses and checks an assessment version the first time it is used
        (about 10 ms here), and keeps it."""
        for course in catalog:
            with self.database.transaction(learner, readonly=True) as session:
                learning.get_assessment(session, learner, course.assessment_id)

    def close(self) -> None:
        self.database.dispose()


# --- the workloads ----------------------------------------------------------------------------


def run(database: BenchDatabase, sizes: Sizes) -> tuple[list[Row], str]:
    """Every learning workload on `database`, on the data of `sizes`: the rows, and
    what the database held."""
    ours = Convobase(database)
    try:
        catalog = make_catalog(ours.database, sizes)
        now = datetime.now(UTC)
        data = generate(catalog, sizes, now, database.backend)
        _progress(database.backend, "generated the learners' rows")
        # The load has the database to itself, and later connections see its statistics.
        ours.close()
        load(database, data)
        _progress(database.backend, "loaded them")
        del data.tables[:]
        ours = Convobase(database)
        counted = stored_sizes(database, now)
        with closing(PlainLearning(database)) as theirs:
            rows = _workloads(ours, theirs, database.backend, catalog, data, sizes)
    finally:
        ours.close()
    return rows, counted


_STARTED = time.perf_counter()


def _progress(backend: str, what: str) -> None:
    elapsed = time.perf_counter() - _STARTED
    print(f"  {backend}: {what} ({elapsed:.0f} s)", file=sys.stderr, flush=True)


def _at(items: Sequence[Any], i: int) -> Any:
    """The item of operation `i` (the warm-up's are -1 to -WARMUP)."""
    return items[i + WARMUP]


def _workloads(
    ours: Convobase,
    theirs: PlainLearning,
    backend: str,
    catalog: Sequence[CourseInfo],
    data: Learners,
    sizes: Sizes,
) -> list[Row]:
    rng = random.Random(3)
    reads = sizes.reads
    readers = [Principal.user(user) for user in rng.choices(data.learners, k=reads + WARMUP)]
    filters = sorted({(course.level, tag) for course in catalog for tag in course.tags})
    picks = rng.sample(filters, len(filters))

    def measure(
        name: str, mine: Callable[[int], object], plain: Callable[[int], object], count: int
    ) -> Row:
        _progress(backend, name)
        return Row(name, backend, sequential(mine, count), sequential(plain, count))

    rows = [
        measure(
            "course list by level and tag",
            lambda i: ours.courses(_at(readers, i), *picks[i % len(picks)]),
            lambda i: theirs.courses(*picks[i % len(picks)]),
            reads,
        ),
        measure(
            "dashboard (my courses, first page)",
            lambda i: ours.dashboard(_at(readers, i)),
            lambda i: theirs.dashboard(_require(_at(readers, i).user_id)),
            reads,
        ),
    ]

    # An attempt from start to submit, on (learner, course) pairs with attempts left:
    # each side its own pairs, every pair once; the assessments opened before.
    ours.open_assessments(readers[0], catalog)
    pairs = [
        (uuid.UUID(user_id), course)
        for user_id, course in rng.sample(data.startable, 2 * (sizes.starts + WARMUP))
    ]
    mine_pairs, plain_pairs = pairs[: sizes.starts + WARMUP], pairs[sizes.starts + WARMUP :]
    mine_started: list[tuple[Principal, uuid.UUID]] = []
    plain_started: list[tuple[Principal, uuid.UUID]] = []

    def start_mine(i: int) -> None:
        user_id, course = _at(mine_pairs, i)
        learner = Principal.user(user_id)
        mine_started.append((learner, ours.start(learner, course)))

    def start_plain(i: int) -> None:
        user_id, course = _at(plain_pairs, i)
        plain_started.append((Principal.user(user_id), theirs.start(user_id, course)))

    rows.append(measure("start an attempt", start_mine, start_plain, sizes.starts))

    # Answers to most questions of every attempt started, right or wrong: saved in turn.
    def saves(
        started: list[tuple[Principal, uuid.UUID]],
    ) -> list[tuple[Principal, uuid.UUID, str, Any]]:
        return [
            (
                learner,
                attempt_id,
                question_id,
                (RIGHT if rng.random() < 0.7 else WRONG)[question_id],
            )
            for learner, attempt_id in started
            for question_id in QUESTION_IDS
            if rng.random() < 0.9
        ]

    mine_saves, plain_saves = saves(mine_started), saves(plain_started)
    count = min(len(mine_saves), len(plain_saves)) - WARMUP
    rows.append(
        measure(
            "save an answer",
            lambda i: ours.save(*_at(mine_saves, i)),
            lambda i: theirs.save(
                _require(_at(plain_saves, i)[0].user_id), *_at(plain_saves, i)[1:]
            ),
            count,
        )
    )
    rows.append(
        measure(
            "submit (graded, scores recorded, review cards made)",
            lambda i: ours.submit(*mine_started[i + WARMUP]),
            lambda i: theirs.submit(plain_started[i + WARMUP][1]),
            sizes.starts,
        )
    )
    rows.append(
        measure(
            "due reviews",
            lambda i: ours.due(_at(readers, i)),
            lambda i: theirs.due(_require(_at(readers, i).user_id)),
            reads,
        )
    )
    return rows


def _require(user_id: uuid.UUID | None) -> uuid.UUID:
    assert user_id is not None
    return user_id
