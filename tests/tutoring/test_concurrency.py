"""Turns of one session at the same instant, each in its own committed transaction
(both databases, under row level security): they take turns on the session's row, so
each is numbered and evaluated against the line left by the one before, and a retried
turn sent twice at once is stored once."""

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.tutoring import service
from convobase.tutoring.schemas import TurnCreate, TutorSessionCreate
from tests import factories
from tests.tutoring import dialogs
from tests.tutoring.dialogs import MARIA_SAYS

pytestmark = pytest.mark.concurrency

STAFF = Principal.staff(uuid.uuid4())
T = TypeVar("T")


def at_once(workers: int, job: Callable[[int], T]) -> list[T]:
    """Run `job(n)` on `workers` threads released at the same instant."""
    start = threading.Barrier(workers)

    def worker(number: int) -> T:
        start.wait()
        return job(number)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(worker, range(workers)))


def _session(database: Database) -> tuple[Principal, uuid.UUID]:
    with database.transaction(STAFF) as session:
        learner = factories.user(session)
        cafe = dialogs.cafe(session)
    data = TutorSessionCreate(dialog_id=cafe.id, selected_role="María")
    with database.transaction(learner) as session:
        return learner, service.start_session(session, learner, data=data).id


def test_turns_at_once_take_turns_on_the_session(database: Database) -> None:
    learner, session_id = _session(database)

    def say(number: int) -> tuple[int, int]:
        with database.transaction(learner) as session:
            turn = service.take_turn(
                session, learner, session_id, data=TurnCreate(content=MARIA_SAYS[0])
            ).result.turn
            return turn.turn, turn.line_seq

    outcomes = sorted(at_once(3, say))

    # The first says line 2 and passes; the others then face line 4 and are retries.
    assert [turn for turn, _ in outcomes] == [1, 2, 3]
    assert [line for _, line in outcomes] == [2, 4, 4]


def test_a_retried_turn_sent_twice_at_once_is_stored_once(database: Database) -> None:
    learner, session_id = _session(database)

    def say(number: int) -> bool:
        data = TurnCreate(content=MARIA_SAYS[0], client_turn_id="tap-1")
        with database.transaction(learner) as session:
            return service.take_turn(session, learner, session_id, data=data).replayed

    replayed = at_once(2, say)

    assert sorted(replayed) == [False, True]
    with database.transaction(learner, readonly=True) as session:
        assert len(service.list_turns(session, learner, session_id).items) == 1
