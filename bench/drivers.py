"""psycopg 3 against asyncpg: the same append transaction and latest-50 read, plain
drivers on the same PostgreSQL schema, 1 and 8 clients (threads for psycopg, one event
loop for asyncpg)."""

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import psycopg

from bench import plain
from bench.databases import BenchDatabase
from bench.measure import Measurement, concurrent

LOCK = "SELECT id FROM conversations WHERE id = $1 AND user_id = $2 FOR UPDATE"
NEXT_SEQ = (
    "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = $2, updated_at = $2"
    " WHERE id = $1 RETURNING last_seq"
)
INSERT = (
    "INSERT INTO messages (id, conversation_id, user_id, seq, role, content, metadata,"
    " analysis_included, created_at) VALUES ($1, $2, $3, $4, 'user', 'hola', '{}', false, $5)"
)
LATEST = (
    "SELECT id, seq, role, content, metadata, created_at FROM messages"
    " WHERE conversation_id = $1 ORDER BY seq DESC LIMIT 50"
)
CLIENTS = (1, 8)
Target = tuple[uuid.UUID, uuid.UUID]


def run(database: BenchDatabase, *, operations: int) -> list[tuple[str, int, str, Measurement]]:
    """(operation, clients, driver, measurement) for both drivers."""
    owners = {uuid.uuid4(): uuid.uuid4() for _ in range(2 * max(CLIENTS))}
    plain.load(database, owners, 100)
    targets = list(owners.items())
    url = database.url
    dsn = f"postgresql://{url.username or ''}@{url.host}:{url.port or 5432}/{url.database}"
    results = []
    for clients in CLIENTS:
        for operation in ("append", "latest-50 read"):
            per_client = operations // clients
            results.append(
                (
                    operation,
                    clients,
                    "psycopg 3",
                    _psycopg(dsn, operation, targets[:clients], per_client),
                )
            )
            results.append(
                (
                    operation,
                    clients,
                    "asyncpg",
                    asyncio.run(_asyncpg(dsn, operation, targets[-clients:], per_client)),
                )
            )
    return results


def markdown_table(results: list[tuple[str, int, str, Measurement]]) -> str:
    lines = [
        "| operation | clients | driver | p50 | p95 | ops/s |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for operation, clients, driver, measured in results:
        lines.append(
            f"| {operation} | {clients} | {driver} | {measured.p50:.2f} | {measured.p95:.2f} "
            f"| {measured.ops_per_second:,.0f} |"
        )
    return "\n".join(lines)


def _psycopg(dsn: str, operation: str, targets: list[Target], per_client: int) -> Measurement:
    connections: list[psycopg.Connection[Any]] = []

    def client(number: int) -> Callable[[int], object]:
        connection = psycopg.connect(dsn)
        connections.append(connection)
        conversation, user = targets[number]

        def append(_: int) -> None:
            now = datetime.now(UTC)
            with connection.transaction():
                connection.execute(_placeholders(LOCK), (conversation, user))
                row = connection.execute(
                    "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = %s,"
                    " updated_at = %s WHERE id = %s RETURNING last_seq",
                    (now, now, conversation),
                ).fetchone()
                assert row is not None
                connection.execute(
                    _placeholders(INSERT), (uuid.uuid4(), conversation, user, row[0], now)
                )

        def latest(_: int) -> None:
            with connection.transaction():
                connection.execute(_placeholders(LATEST), (conversation,)).fetchall()

        return append if operation == "append" else latest

    try:
        return concurrent(client, len(targets), per_client)
    finally:
        for connection in connections:
            connection.close()


def _placeholders(statement: str) -> str:
    """$1, $2 … (asyncpg) as %s (psycopg), for statements that use each once, in order."""
    for number in range(9, 0, -1):
        statement = statement.replace(f"${number}", "%s")
    return statement


async def _asyncpg(dsn: str, operation: str, targets: list[Target], per_client: int) -> Measurement:
    connections = [await asyncpg.connect(dsn) for _ in targets]
    latencies: list[int] = []

    async def once(number: int) -> None:
        connection, (conversation, user) = connections[number], targets[number]
        async with connection.transaction():
            if operation == "append":
                now = datetime.now(UTC)
                await connection.fetchrow(LOCK, conversation, user)
                seq = await connection.fetchval(NEXT_SEQ, conversation, now)
                await connection.execute(INSERT, uuid.uuid4(), conversation, user, seq, now)
            else:
                await connection.fetch(LATEST, conversation)

    async def client(number: int) -> None:
        for _ in range(per_client):
            begin = time.perf_counter_ns()
            await once(number)
            latencies.append(time.perf_counter_ns() - begin)

    try:
        for number in range(len(targets)):
            for _ in range(5):
                await once(number)
        started = time.perf_counter()
        await asyncio.gather(*(client(number) for number in range(len(targets))))
        return Measurement(latencies, time.perf_counter() - started)
    finally:
        for connection in connections:
            await connection.close()
