"""Units of work: reads are reads, on both databases."""

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from convobase.config import Settings
from convobase.core.deps import ATTEMPTS, with_retries
from convobase.core.principal import Principal
from convobase.db.session import Database
from tests.api import Api
from tests.databases import LiveDatabase


@contextmanager
def sqlite_writer_holding_the_lock(path: Path) -> Iterator[None]:
    """Another connection in the middle of a write transaction, for the block."""
    with closing(sqlite3.connect(path, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE personas SET description = description")
        try:
            yield
        finally:
            writer.execute("ROLLBACK")


@pytest.mark.parametrize("template_database", ["sqlite"], indirect=True)
def test_an_http_read_completes_while_a_write_transaction_is_open(
    api: Api, app_settings: Settings
) -> None:
    owner = api.new_user()
    conversation = api.conversation(owner)
    api.say(owner, conversation["id"], "Hola")
    assert app_settings.sqlite_path is not None

    with sqlite_writer_holding_the_lock(app_settings.sqlite_path):
        page = api.client.get(f"/v1/conversations/{conversation['id']}/messages", headers=owner)
        profile = api.client.get("/v1/me", headers=owner)

    assert page.status_code == 200
    assert [message["content"] for message in page.json()["items"]] == ["Hola"]
    assert profile.status_code == 200


@pytest.mark.parametrize("template_database", ["sqlite"], indirect=True)
def test_a_read_only_unit_of_work_does_not_wait_for_the_writer(
    committing_database: LiveDatabase,
) -> None:
    database = Database(committing_database.engine)
    assert committing_database.settings.sqlite_path is not None
    with database.transaction() as session:
        session.connection()  # the first connection switches the file to WAL

    with (
        sqlite_writer_holding_the_lock(committing_database.settings.sqlite_path),
        database.transaction(readonly=True) as session,
    ):
        assert session.scalar(text("SELECT count(*) FROM personas")) == 0


@pytest.mark.parametrize("template_database", ["postgresql"], indirect=True)
def test_a_read_only_unit_of_work_cannot_write_on_postgresql(
    committing_database: LiveDatabase,
) -> None:
    database = Database.from_settings(committing_database.settings)
    user = Principal.user(uuid.uuid4())
    try:
        with (
            pytest.raises(DBAPIError, match="read-only transaction"),
            database.transaction(user, readonly=True) as session,
        ):
            session.execute(text("DELETE FROM messages"))
        with database.transaction(user) as session:
            assert session.scalar(text("SELECT current_setting('transaction_read_only')")) == "off"
    finally:
        database.dispose()


class _DatabaseError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _failing(sqlstate: str, times: int) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def transaction() -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= times:
            raise OperationalError("UPDATE …", {}, _DatabaseError(sqlstate))
        return "done"

    return calls, transaction


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"], ids=["deadlock", "serialization"])
def test_a_transaction_the_database_aborted_as_transient_runs_again(sqlstate: str) -> None:
    calls, transaction = _failing(sqlstate, times=ATTEMPTS - 1)

    assert with_retries(transaction) == "done"
    assert calls == list(range(1, ATTEMPTS + 1))


def test_retries_are_bounded() -> None:
    calls, transaction = _failing("40P01", times=ATTEMPTS)

    with pytest.raises(OperationalError):
        with_retries(transaction)
    assert len(calls) == ATTEMPTS


def test_other_database_errors_are_not_retried() -> None:
    calls, transaction = _failing("23505", times=1)  # unique_violation

    with pytest.raises(OperationalError):
        with_retries(transaction)
    assert calls == [1]
