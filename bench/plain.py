"""The minimal design, with the plain drivers, on the same schema and durability.

What a hand-written store with none of convobase's guarantees would do: an append is
one autocommit `INSERT … SELECT max(seq) + 1`, a read one autocommit `SELECT … ORDER BY
seq DESC LIMIT 50`. No owner check, no row level security, no idempotency, no guest
limit, no conversation row kept current; two appends to one conversation at once can
collide. It is the floor convobase's store is measured against.
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


def _latest_page(placeholder: str) -> str:
    return (
        "SELECT id, conversation_id, seq, role, content, metadata, client_message_id,"
        f" created_at FROM messages WHERE conversation_id = {placeholder}"
        f" ORDER BY seq DESC LIMIT {placeholder}"
    )


class PlainConnection(Protocol):
    def append(self, conversation_id: uuid.UUID, user_id: uuid.UUID, content: str) -> int: ...

    def latest(self, conversation_id: uuid.UUID) -> list[Any]: ...

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
        (seq,) = self.connection.execute(
            f"INSERT INTO messages ({MESSAGE_COLUMNS}) SELECT ?, ?, ?, coalesce(max(seq), 0) + 1,"
            " 'user', ?, '{}', NULL, 0, ? FROM messages WHERE conversation_id = ?"
            " RETURNING seq",
            (
                uuid.uuid4().hex,
                conversation_id.hex,
                user_id.hex,
                content,
                sqlite_time(_now()),
                conversation_id.hex,
            ),
        ).fetchone()
        return int(seq)

    def latest(self, conversation_id: uuid.UUID) -> list[Any]:
        return self.connection.execute(_latest_page("?"), (conversation_id.hex, LATEST)).fetchall()

    def close(self) -> None:
        self.connection.close()


class PostgresConnection:
    def __init__(self, database: BenchDatabase) -> None:
        self.connection = postgres_connect(database.url, autocommit=True)

    def append(self, conversation_id: uuid.UUID, user_id: uuid.UUID, content: str) -> int:
        row = self.connection.execute(
            f"INSERT INTO messages ({MESSAGE_COLUMNS}) SELECT %s, %s, %s,"
            " coalesce(max(seq), 0) + 1, 'user', %s, '{}', NULL, false, %s"
            " FROM messages WHERE conversation_id = %s RETURNING seq",
            (uuid.uuid4(), conversation_id, user_id, content, _now(), conversation_id),
        ).fetchone()
        assert row is not None
        seq = row[0]
        assert isinstance(seq, int)
        return seq

    def latest(self, conversation_id: uuid.UUID) -> list[Any]:
        return self.connection.execute(_latest_page("%s"), (conversation_id, LATEST)).fetchall()

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
