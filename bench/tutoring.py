"""Tutoring: what one roleplay turn costs at the store level, beside a plain append,
and what evaluating a line costs on its own.

- `turn`: `tutoring.service.take_turn` in one unit of work, as the route runs it: lock
  the session, read the dialog's lines and the turns so far, append the learner's
  message (screened for crisis, counted for analysis), evaluate it with the shipped
  evaluator, store the evaluation, count the words missed as mistakes and give them
  review cards (about one turn in three here), append the partner's next line, and
  read the session back. The dialog has 200 lines, the learner's and the partner's in
  turn, so every measured turn appends one message and one reply; a new session
  begins (unmeasured) when one is done.
- `append`: the same user message through `conversations.service.append_message` in
  its own unit of work: what a turn costs beyond an ordinary message.
- `plain`: the plain driver's one-statement append (bench/plain.py): the floor.
- evaluation: the baseline evaluator on a 40-word Spanish line, no database: the line
  prepared before (as lines repeat, its words are cached) and not (every call a line
  never seen).
"""

import random
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bench import plain
from bench.databases import BenchDatabase, bench_database
from bench.measure import WARMUP, Measurement, sequential
from convobase import bootstrap
from convobase.conversations import service as conversation_service
from convobase.conversations.models import MessageRole
from convobase.conversations.schemas import ConversationCreate, MessageCreate
from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.tutoring import evaluation
from convobase.tutoring import service as tutoring
from convobase.tutoring.evaluation import BaselineEvaluator, ExpectedLine
from convobase.tutoring.schemas import LessonDialogCreate, TurnCreate, TutorSessionCreate
from convobase.users import service as user_service

EVALUATION_TARGET_MS: Final = 1.0
LINES: Final = 200
# A 40-word line, and ways of saying it: right, with a word left out, with one misspelled.
LINE: Final = (
    "Buenos días, quería un café con leche y una tostada con tomate, por favor; después "
    "necesito llegar a la estación de trenes antes de las nueve, así que ¿me puede decir "
    "cuánto es y dónde está la parada más cercana?"
)
TRANSLATION: Final = "Good morning, I would like a coffee with milk and toast with tomato."
SAID: Final = (
    LINE,
    LINE.replace(" y una tostada", " una tostada"),
    LINE.replace("estación", "estacion").replace("cercana", "cercano"),
)


@dataclass(frozen=True)
class Sizes:
    turns: int
    evaluations: int

    @classmethod
    def full(cls) -> "Sizes":
        return cls(1000, 5000)

    @classmethod
    def quick(cls) -> "Sizes":
        return cls(150, 1000)


@dataclass(frozen=True)
class Result:
    backend: str
    turn: Measurement
    append: Measurement
    plain: Measurement

    def as_dict(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "turn": self.turn.as_dict(),
            "append": self.append.as_dict(),
            "plain": self.plain.as_dict(),
        }


def suite(backends: Sequence[str], *, quick: bool) -> dict[str, object]:
    """Run the tutoring workloads and print their tables."""
    sizes = Sizes.quick() if quick else Sizes.full()
    results = []
    for backend in backends:
        print(f"tutoring turns on {backend} ...", file=sys.stderr, flush=True)
        with bench_database(backend) as database:
            results.append(run(database, sizes))
    print("\n## Tutoring: one turn at the store level\n")
    print(turn_table(results))
    print("\n## Tutoring: evaluating a 40-word line (no database)\n")
    evaluations = evaluate(sizes)
    print(evaluation_table(evaluations))
    return {
        "turns": [result.as_dict() for result in results],
        "evaluation": {name: m.as_dict() for name, m in evaluations.items()},
    }


def run(database: BenchDatabase, sizes: Sizes) -> Result:
    """A turn, an ordinary append and a plain append, interleaved, one client."""
    bus = bootstrap.event_bus(database.settings)
    store = Database.from_settings(database.settings, bus)
    theirs = plain.connect(database)
    try:
        dialog_id = _dialog(store)
        turns = _Turns(store, dialog_id)
        owner, conversation_id = _conversation(store)
        plain_owner, plain_conversation = _conversation(store)
        assert plain_owner.user_id is not None
        plain_user = plain_owner.user_id
        data = MessageCreate(role=MessageRole.USER, content=LINE)

        def append(_: int) -> object:
            with store.transaction(owner) as session:
                return conversation_service.append_message(
                    session, owner, conversation_id, data=data
                )

        operations: dict[str, Callable[[int], object]] = {
            "turn": turns.take,
            "append": append,
            "plain": lambda _: theirs.append(plain_conversation, plain_user, LINE),
        }
        measured = _interleaved(operations, sizes.turns)
        return Result(database.backend, measured["turn"], measured["append"], measured["plain"])
    finally:
        theirs.close()
        store.dispose()


class _Turns:
    """Turns of a learner through the bench dialog, a new session after the last line."""

    def __init__(self, store: Database, dialog_id: uuid.UUID) -> None:
        self.store = store
        self.dialog_id = dialog_id
        self.learner = Principal.user(uuid.uuid4())
        with store.transaction(self.learner) as session:
            user_service.register_caller(session, self.learner)
        self.session_id = self._start()
        self.left = LINES // 2
        self.rng = random.Random(7)

    def _start(self) -> uuid.UUID:
        data = TutorSessionCreate(dialog_id=self.dialog_id, selected_role="Ana")
        with self.store.transaction(self.learner) as session:
            return tutoring.start_session(session, self.learner, data=data).id

    def take(self, _: int) -> object:
        if self.left == 0:  # the session is done: the next turn starts another
            self.session_id = self._start()
            self.left = LINES // 2
        said = self.rng.choice(SAID)
        with self.store.transaction(self.learner) as session:
            outcome = tutoring.take_turn(
                session, self.learner, self.session_id, data=TurnCreate(content=said)
            )
        if outcome.result.turn.verdict == "pass" or outcome.result.turn.moved_on:
            self.left -= 1
        return outcome


def _interleaved(
    operations: dict[str, Callable[[int], object]], count: int
) -> dict[str, Measurement]:
    """Each operation `count` times, taking turns in a rotating order, after a warm-up."""
    for i in range(WARMUP):
        for operation in operations.values():
            operation(-1 - i)
    latencies: dict[str, list[int]] = {name: [] for name in operations}
    names = list(operations)
    started = time.perf_counter()
    for i in range(count):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            begin = time.perf_counter_ns()
            operations[name](i)
            latencies[name].append(time.perf_counter_ns() - begin)
    wall = (time.perf_counter() - started) / len(names)
    return {name: Measurement(values, wall) for name, values in latencies.items()}


def _dialog(store: Database) -> uuid.UUID:
    staff = Principal.staff()
    lines: list[dict[str, Any]] = []
    for n in range(LINES):
        if n % 2:
            lines.append(
                {
                    "role": "Ana",
                    "text": LINE,
                    "translation": TRANSLATION,
                    "target_words": ["café", "estación"],
                }
            )
        else:
            lines.append({"role": "Luis", "text": f"Muy bien, número {n}.", "translation": "Ok."})
    data = LessonDialogCreate.model_validate(
        {
            "key": "bench-dialog",
            "title": "Bench",
            "language": "es",
            "level": "B1",
            "status": "published",
            "roles": [{"name": "Ana"}, {"name": "Luis", "playable": False}],
            "lines": lines,
        },
        strict=False,
    )
    with store.transaction(staff) as session:
        return tutoring.create_dialog(session, staff, data=data).id


def _conversation(store: Database) -> tuple[Principal, uuid.UUID]:
    owner = Principal.user(uuid.uuid4())
    with store.transaction(owner) as session:
        user_service.register_caller(session, owner)
        conversation = conversation_service.create_conversation(
            session, owner, data=ConversationCreate()
        )
        return owner, conversation.id


def evaluate(sizes: Sizes) -> dict[str, Measurement]:
    """The baseline evaluator on the 40-word line: prepared (cached) and never seen."""
    evaluator = BaselineEvaluator()
    line = ExpectedLine(LINE, (), ("café", "estación"), "es")
    assert len(evaluation.words(LINE).normal) == 40
    rng = random.Random(3)
    said = [rng.choice(SAID) + f" {n}" for n in range(sizes.evaluations + WARMUP)]

    def prepared(i: int) -> object:
        return evaluator.evaluate(said[i], line)

    def unseen(i: int) -> object:
        fresh = ExpectedLine(f"{LINE} {i}", (), ("café", "estación"), "es")
        return evaluator.evaluate(said[i], fresh)

    return {
        "line prepared before": sequential(prepared, sizes.evaluations),
        "line never seen": sequential(unseen, sizes.evaluations),
    }


def turn_table(results: Sequence[Result]) -> str:
    lines = [
        "| db | turn p50 | p95 | p99 | append p50 | p95 | plain p50 | p95 "
        "| turn p95 / append p95 | turn p95 / plain p95 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.turn.p50:.2f} | {r.turn.p95:.2f} | {r.turn.p99:.2f} "
            f"| {r.append.p50:.2f} | {r.append.p95:.2f} | {r.plain.p50:.2f} | {r.plain.p95:.2f} "
            f"| {r.turn.p95 / r.append.p95:.2f}x | {r.turn.p95 / r.plain.p95:.2f}x |"
        )
    return "\n".join(lines)


def evaluation_table(measured: dict[str, Measurement]) -> str:
    lines = [
        "| evaluation of a 40-word line | p50 | p95 | p99 "
        f"| target p95 < {EVALUATION_TARGET_MS:g} ms |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name, m in measured.items():
        met = "met" if m.p95 < EVALUATION_TARGET_MS else "missed"
        lines.append(f"| {name} | {m.p50:.3f} | {m.p95:.3f} | {m.p99:.3f} | {met} |")
    return "\n".join(lines)
