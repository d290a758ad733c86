"""Units of work: reads are reads, on both databases."""

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from convobase.config import Settings
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
