"""Appends from parallel workers, each in its own committed transaction, as under load."""

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from convobase.conversations import service
from convobase.conversations.models import Message, MessageRole
from convobase.conversations.schemas import MessageCreate
from convobase.core.principal import Principal
from convobase.db.session import Database
from tests import factories
from tests.databases import LiveDatabase

pytestmark = pytest.mark.concurrency

WORKERS = 8
T = TypeVar("T")


def run_in_parallel(workers: int, job: Callable[[int], T]) -> list[T]:
    """Run `job(worker_number)` on `workers` threads released at the same instant."""
    start = threading.Barrier(workers)

    def worker(number: int) -> T:
        start.wait()
        return job(number)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(worker, range(workers)))


def start_conversation(database: Database) -> tuple[Principal, uuid.UUID]:
    with database.transaction() as session:
        owner = factories.user(session)
        return owner, factories.conversation(session, owner).id


def test_parallel_appends_get_consecutive_seqs_and_none_is_lost(
    committing_database: LiveDatabase,
) -> None:
    database = Database(committing_database.engine)
    owner, conversation_id = start_conversation(database)
    per_worker = 50

    def append_many(worker: int) -> list[int]:
        seqs = []
        for n in range(per_worker):
            data = MessageCreate(role=MessageRole.USER, content=f"worker {worker} message {n}")
            with database.transaction() as session:
                appended = service.append_message(session, owner, conversation_id, data=data)
                assert isinstance(appended, service.AppendedMessage)
                seqs.append(appended.message.seq)
        return seqs

    results = run_in_parallel(WORKERS, append_many)

    total = WORKERS * per_worker
    assert sorted(seq for seqs in results for seq in seqs) == list(range(1, total + 1))
    with database.transaction(readonly=True) as session:
        stored = session.scalars(
            select(Message.seq).where(Message.conversation_id == conversation_id)
        ).all()
        conversation = service.get_conversation(session, owner, conversation_id)
    assert sorted(stored) == list(range(1, total + 1))
    assert conversation.last_seq == total
    # Each worker's own messages keep the order it sent them in.
    for seqs in results:
        assert seqs == sorted(seqs)


def test_parallel_retries_of_one_message_store_it_once(
    committing_database: LiveDatabase,
) -> None:
    database = Database(committing_database.engine)
    owner, conversation_id = start_conversation(database)
    data = MessageCreate(role=MessageRole.USER, content="Hola", client_message_id="retry-me")

    def send(_: int) -> tuple[uuid.UUID, bool]:
        with database.transaction() as session:
            appended = service.append_message(session, owner, conversation_id, data=data)
            assert isinstance(appended, service.AppendedMessage)
            return appended.message.id, appended.replayed

    results = run_in_parallel(WORKERS, send)

    assert len({message_id for message_id, _ in results}) == 1
    assert sorted(replayed for _, replayed in results) == [False] + [True] * (WORKERS - 1)
    with database.transaction(readonly=True) as session:
        count = session.scalar(
            select(func.count()).where(Message.conversation_id == conversation_id)
        )
    assert count == 1
