"""Units of work: one transaction per operation, committed or rolled back whole."""

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from convobase.config import Settings
from convobase.core import events
from convobase.core.events import EventBus
from convobase.core.principal import Principal
from convobase.db import identity
from convobase.db.engine import SQLITE_BEGIN, create_database_engine


class FairLock:
    """A lock handed to its waiters in the order they asked for it.

    `threading.Lock` lets the thread that releases it take it straight back, so under
    contention one writer can run many transactions in a row while others wait: a
    long tail. Here the holder hands the lock to the longest waiter instead.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    @property
    def waiting(self) -> int:
        """How many threads are queued for the lock."""
        return len(self._waiters)

    def __enter__(self) -> "FairLock":
        with self._guard:
            if not self._held:
                self._held = True
                return self
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        turn.acquire()  # released by the thread that hands the lock over
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._guard:
            if self._waiters:
                self._waiters.popleft().release()  # still held: now by that waiter
            else:
                self._held = False


class Database:
    """The database an entry point (HTTP request, CLI command, job run) works in."""

    def __init__(self, engine: Engine, bus: EventBus | None = None) -> None:
        self.engine = engine
        # The domain event handlers every transaction runs (`convobase.core.events`).
        self.bus = bus or EventBus()
        sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time. Waiting for it on a fair lock wakes the next
        # writer the moment the last one commits; SQLite's own busy handler polls with
        # sleeps of up to 100 ms, which shows as long tails under concurrent writes.
        # Other processes on the same file still queue on the busy timeout.
        self._write_turn: AbstractContextManager[object] = FairLock() if sqlite else nullcontext()
        # Readers never wait for the writer: in WAL mode they read a snapshot beside it.
        # They take turns among themselves all the same: SQLite's work runs in this
        # process, and many threads running it at once only contend for the GIL and
        # starve the one holding the write lock (measured in docs/performance.md).
        self._read_turn: AbstractContextManager[object] = FairLock() if sqlite else nullcontext()
        # Read-only units of work: a deferred BEGIN on SQLite (no write lock), and on
        # PostgreSQL a READ ONLY transaction (psycopg sends BEGIN READ ONLY).
        reader_engine = engine if sqlite else engine.execution_options(postgresql_readonly=True)
        self._readers = sessionmaker(reader_engine, expire_on_commit=False, autoflush=False)
        writer_engine = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._writers = sessionmaker(writer_engine, expire_on_commit=False, autoflush=False)

    @classmethod
    def from_settings(cls, settings: Settings, bus: EventBus | None = None) -> "Database":
        return cls(create_database_engine(settings), bus)

    @contextmanager
    def transaction(
        self, principal: Principal | None = None, *, readonly: bool = False
    ) -> Iterator[Session]:
        """Run one unit of work as `principal`: commit when the block ends, roll back
        if it raises. A `readonly` one may not write, and does not wait for writers."""
        if readonly:
            with self._read_turn, self._readers() as session:
                identity.act_as(session, principal)
                with session.begin():
                    yield session
            return
        with self._write_turn, self._writers() as session:
            identity.act_as(session, principal)
            events.attach(session, self.bus)
            with session.begin():
                yield session

    @contextmanager
    def job_keeping(self) -> Iterator[Session]:
        """Run one unit of work on the job queue itself, as a worker does: as the
        queue's keeper, for nobody in particular."""
        with self._write_turn, self._writers() as session:
            identity.act_as_job_keeper(session)
            events.attach(session, self.bus)
            with session.begin():
                yield session

    def dispose(self) -> None:
        self.engine.dispose()
