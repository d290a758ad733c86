"""The plain drivers doing what convobase does, by hand, on the same schema.

Each operation sends the statements convobase sends for it: an append locks the
conversation, takes the next seq with UPDATE … RETURNING and inserts the message; a
read checks the conversation's owner and selects the newest 50 messages.
"""

import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg

from bench.databases import BenchDatabase, postgres_connect

LATEST = 50
MESSAGE_COLUMNS = (
    "id, conversation_id, user_id, seq, role, content, metadata, client_message_id,"
    " analysis_included, created_at"
)


class PlainConnection(Protocol):
    def append(self, conversation_id: uuid.UUID, user_id: uuid.UUID, content: str) -> int: ...

    def latest(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> list[Any]: ...

    def close(self) -> None: ...


def connect(database: BenchDatabase) -> PlainConnection:
    """A plain connection to `database`, configured as convobase configures its own."""
    if database.backend == "sqlite":
        return SqliteConnection(database)
    return PostgresConnection(database)


def _now() -> datetime:
    return datetime.now(UTC)


class SqliteConnection:
    def __init__(self, database: BenchDatabase) -> None:
        path = database.settings.sqlite_path
        assert path is not None
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in (
            "journal_mode = WAL",
            f"synchronous = {database.settings.sqlite_synchronous}",
            "foreign_keys = ON",
            f"busy_timeout = {database.settings.sqlite_busy_timeout_ms}",
        ):
            self.connection.execute(f"PRAGMA {pragma}")

    def append(self, conversation_id: uuid.UUID, user_id: uuid.UUID, content: str) -> int:
        db, now = self.connection, sqlite_time(_now())
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "SELECT id, is_active, is_guest_session FROM conversations"
                " WHERE id = ? AND user_id = ?",
                (conversation_id.hex, user_id.hex),
            ).fetchone()
            (seq,) = db.execute(
                "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = ?,"
                " updated_at = ? WHERE id = ? RETURNING last_seq",
                (now, now, conversation_id.hex),
            ).fetchone()
            db.execute(
                f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    uuid.uuid4().hex,
                    conversation_id.hex,
                    user_id.hex,
                    seq,
                    "user",
                    content,
                    "{}",
                    None,
                    0,
                    now,
                ),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(seq)

    def latest(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> list[Any]:
        db = self.connection
        db.execute("BEGIN")
        try:
            db.execute(
                "SELECT id FROM conversations WHERE id = ? AND user_id = ?",
                (conversation_id.hex, user_id.hex),
            ).fetchone()
            rows = db.execute(
                "SELECT id, conversation_id, seq, role, content, metadata, client_message_id,"
                " created_at FROM messages WHERE conversation_id = ?"
                " ORDER BY seq DESC LIMIT ?",
                (conversation_id.hex, LATEST),
            ).fetchall()
        finally:
            db.execute("COMMIT")
        return rows

    def close(self) -> None:
        self.connection.close()


class PostgresConnection:
    def __init__(self, database: BenchDatabase) -> None:
        self.connection = postgres_connect(database.url)

    def append(self, conversation_id: uuid.UUID, user_id: uuid.UUID, content: str) -> int:
        now = _now()
        with self.connection.transaction(), self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, is_active, is_guest_session FROM conversations"
                " WHERE id = %s AND user_id = %s FOR UPDATE",
                (conversation_id, user_id),
            )
            cursor.fetchone()
            cursor.execute(
                "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = %s,"
                " updated_at = %s WHERE id = %s RETURNING last_seq",
                (now, now, conversation_id),
            )
            row = cursor.fetchone()
            assert row is not None
            seq = row[0]
            assert isinstance(seq, int)
            cursor.execute(
                f"INSERT INTO messages ({MESSAGE_COLUMNS})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    uuid.uuid4(),
                    conversation_id,
                    user_id,
                    seq,
                    "user",
                    content,
                    "{}",
                    None,
                    False,
                    now,
                ),
            )
        return seq

    def latest(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> list[Any]:
        with self.connection.transaction(), self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM conversations WHERE id = %s AND user_id = %s",
                (conversation_id, user_id),
            )
            cursor.fetchone()
            cursor.execute(
                "SELECT id, conversation_id, seq, role, content, metadata, client_message_id,"
                " created_at FROM messages WHERE conversation_id = %s"
                " ORDER BY seq DESC LIMIT %s",
                (conversation_id, LATEST),
            )
            return cursor.fetchall()

    def close(self) -> None:
        self.connection.close()


def sqlite_time(moment: datetime) -> str:
    """A UTC time as convobase stores it in SQLite."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# --- bulk loading -----------------------------------------------------------------


def load(database: BenchDatabase, owners: dict[uuid.UUID, uuid.UUID], messages_each: int) -> None:
    """Store users, the conversations of `owners` (conversation → user) and
    `messages_each` messages in every conversation, as fast as the driver allows."""
    users = sorted(set(owners.values()))
    if database.backend == "sqlite":
        _load_sqlite(database, users, owners, messages_each)
    else:
        _load_postgres(database, users, owners, messages_each)


def _message_rows(
    owners: dict[uuid.UUID, uuid.UUID], messages_each: int
) -> Iterator[tuple[uuid.UUID, uuid.UUID, uuid.UUID, int, str, str]]:
    for conversation_id, user_id in owners.items():
        for seq in range(1, messages_each + 1):
            role = "user" if seq % 2 else "assistant"
            content = f"Message {seq}: ¿Qué tal? Practicamos un poco más hoy."
            yield uuid.uuid4(), conversation_id, user_id, seq, role, content


def _load_sqlite(
    database: BenchDatabase,
    users: list[uuid.UUID],
    owners: dict[uuid.UUID, uuid.UUID],
    messages_each: int,
) -> None:
    path = database.settings.sqlite_path
    assert path is not None
    now = sqlite_time(_now())
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = OFF")  # loading only: measurements use FULL
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO users (id, goals, stage, profile, preferences, last_active,"
            " created_at, updated_at) VALUES (?, '[]', 1, '{}', '{}', ?, ?, ?)",
            ((user.hex, now, now, now) for user in users),
        )
        db.executemany(
            "INSERT INTO conversations (id, user_id, is_guest_session, guest_message_count,"
            " kind, context_data, is_active, last_seq, started_at, last_message_at,"
            " created_at, updated_at) VALUES (?, ?, 0, 0, 'chat', '{}', 1, ?, ?, ?, ?, ?)",
            (
                (conversation.hex, user.hex, messages_each, now, now, now, now)
                for conversation, user in owners.items()
            ),
        )
        db.executemany(
            f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, '{{}}',"
            " NULL, 0, ?)",
            (
                (mid.hex, cid.hex, uid.hex, seq, role, content, now)
                for mid, cid, uid, seq, role, content in _message_rows(owners, messages_each)
            ),
        )
        db.execute("COMMIT")
        db.execute("ANALYZE")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _load_postgres(
    database: BenchDatabase,
    users: list[uuid.UUID],
    owners: dict[uuid.UUID, uuid.UUID],
    messages_each: int,
) -> None:
    now = _now()
    with postgres_connect(database.url) as db, db.cursor() as cursor:
        _copy(
            cursor,
            "COPY users (id, goals, stage, profile, preferences, last_active, created_at,"
            " updated_at) FROM STDIN",
            ((user, [], 1, "{}", "{}", now, now, now) for user in users),
        )
        _copy(
            cursor,
            "COPY conversations (id, user_id, is_guest_session, guest_message_count, kind,"
            " context_data, is_active, last_seq, started_at, last_message_at, created_at,"
            " updated_at) FROM STDIN",
            (
                (
                    conversation,
                    user,
                    False,
                    0,
                    "chat",
                    "{}",
                    True,
                    messages_each,
                    now,
                    now,
                    now,
                    now,
                )
                for conversation, user in owners.items()
            ),
        )
        _copy(
            cursor,
            f"COPY messages ({MESSAGE_COLUMNS}) FROM STDIN",
            (
                (mid, cid, uid, seq, role, content, "{}", None, False, now)
                for mid, cid, uid, seq, role, content in _message_rows(owners, messages_each)
            ),
        )
        db.commit()
    with postgres_connect(database.url, autocommit=True) as db:
        db.execute("ANALYZE")


def _copy(cursor: psycopg.Cursor[Any], statement: str, rows: Iterable[tuple[Any, ...]]) -> None:
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
