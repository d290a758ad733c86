from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from convobase import bootstrap
from convobase.core.time import utc_now
from convobase.db.session import Database
from tests.databases import LiveDatabase


class FakeClock:
    """A clock that moves only when a test moves it."""

    def __init__(self) -> None:
        # Jobs are queued at the real time: the fake one starts a moment after it.
        self.now = utc_now().replace(microsecond=0) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def database(committing_database: LiveDatabase) -> Iterator[Database]:
    """The database as the service uses it (on PostgreSQL: its roles, under row level
    security), in a database of the test's own."""
    database = Database.from_settings(committing_database.settings, bootstrap.event_bus())
    yield database
    database.dispose()
