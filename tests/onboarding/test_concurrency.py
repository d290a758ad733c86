"""Onboarding writes at the same instant, each in its own committed transaction: of two
writers holding one version one wins and the other is told to read again, and first
reads at once start one session (both databases, under row level security)."""

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.onboarding import service
from convobase.onboarding.errors import SessionChanged
from convobase.onboarding.models import OnboardingSession
from tests import factories

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


def new_user(database: Database) -> Principal:
    with database.transaction(STAFF) as session:
        return factories.user(session)


def test_two_writers_holding_one_version_at_once_get_one_412(database: Database) -> None:
    user = new_user(database)
    with database.transaction(user) as session:
        read_by_both = service.current(session, user)
    distances = ["10K", "marathon"]

    def write(number: int) -> str:
        try:
            with database.transaction(user) as session:
                service.save_answers(
                    session,
                    user,
                    patch={"distance": distances[number]},
                    if_match=read_by_both.etag,
                )
        except SessionChanged:
            return "412"
        return distances[number]

    outcomes = at_once(2, write)

    assert outcomes.count("412") == 1
    (winner,) = [outcome for outcome in outcomes if outcome != "412"]
    with database.transaction(user, readonly=True) as session:
        after = service.peek(session, user)
    assert after is not None
    assert (after.answers["goal"], after.version) == ({"distance": winner}, 2)


def test_first_reads_at_once_start_one_session(database: Database) -> None:
    user = new_user(database)

    def read(number: int) -> uuid.UUID:
        with database.transaction(user) as session:
            return service.current(session, user).id

    ids = at_once(4, read)

    assert len(set(ids)) == 1
    with database.transaction(user, readonly=True) as session:
        count = select(func.count()).select_from(OnboardingSession)
        assert session.scalar(count.where(OnboardingSession.user_id == user.user_id)) == 1
