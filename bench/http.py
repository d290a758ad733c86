"""HTTP workloads: the real `convobase serve` process under concurrent clients, beside
the same operation at the store level and with the plain driver, in the same run."""

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import IO

import aiohttp
import httpx

from bench import plain
from bench.databases import BenchDatabase
from bench.measure import Measurement, concurrent
from bench.store import CONTENT, Convobase
from convobase.core.principal import Principal, Role
from convobase.core.tokens import mint_token

SECRET = "bench-secret-that-is-long-enough-0123456789"
WORKERS = {"sqlite": 1, "postgresql": 2}
CLIENTS = (1, 32)
# The same client and server answering `GET /healthz` (no token, no database): what
# uvicorn, FastAPI and the client cost before convobase does anything.
FLOOR = "floor: GET /healthz"
# Latest-50 reads from readers while as many other clients append to their own
# conversations, beside the same reads with nobody appending (`alone`), same run.
MIXED_CLIENTS = 8


@dataclass(frozen=True)
class HttpRow:
    workload: str
    backend: str
    clients: int
    http: Measurement
    # None for the floor: a request that touches no database has nothing to compare.
    store: Measurement | None
    plain: Measurement | None

    def as_dict(self) -> dict[str, object]:
        return {
            "workload": self.workload,
            "backend": self.backend,
            "clients": self.clients,
            "http": self.http.as_dict(),
            "store": self.store.as_dict() if self.store else None,
            "plain": self.plain.as_dict() if self.plain else None,
        }


def run(database: BenchDatabase, *, quick: bool) -> list[HttpRow]:
    """Append and latest-50 read over HTTP at 1 and 32 clients."""
    per_client = {1: 100 if quick else 500, 32: 8 if quick else 40}
    history = 60
    # Fresh conversations for every run: three kinds of client, two workloads, each
    # concurrency.
    owners = _conversations(database, 3 * 2 * len(CLIENTS) * max(CLIENTS), history)
    pools = iter(_chunks(list(owners.items()), max(CLIENTS)))
    rows = []
    with _server(database) as base:
        for clients in CLIENTS:
            count = per_client[clients]
            floor_targets = [(uuid.uuid4(), uuid.uuid4()) for _ in range(clients)]
            rows.append(
                HttpRow(
                    FLOOR,
                    database.backend,
                    clients,
                    _over_http(base, FLOOR, floor_targets, count),
                    None,
                    None,
                )
            )
            for workload in ("append", "latest-50 read"):
                http_targets, store_targets, plain_targets = (
                    next(pools)[:clients] for _ in range(3)
                )
                rows.append(
                    HttpRow(
                        workload,
                        database.backend,
                        clients,
                        _over_http(base, workload, http_targets, count),
                        _at_store(database, workload, store_targets, count),
                        _with_plain_driver(database, workload, plain_targets, count),
                    )
                )
    return rows


@dataclass(frozen=True)
class MixedRow:
    """Latest-50 reads over HTTP while `appenders` other clients append, and the same
    reads, same clients and conversations, with nobody appending (`alone`)."""

    backend: str
    clients: int
    appenders: int
    reads: Measurement
    # Every append that finished while the readers ran (and the one each appender had
    # in flight when the last reader finished).
    appends: Measurement
    alone: Measurement

    @property
    def workload(self) -> str:
        return f"latest-50 read while {self.appenders} clients append"

    def as_dict(self) -> dict[str, object]:
        return {
            "workload": self.workload,
            "backend": self.backend,
            "clients": self.clients,
            "appenders": self.appenders,
            "http": self.reads.as_dict(),
            "appends": self.appends.as_dict(),
            "alone": self.alone.as_dict(),
            "p95_ratio": round(self.reads.p95 / self.alone.p95, 2),
        }


def run_mixed(database: BenchDatabase, *, quick: bool) -> list[MixedRow]:
    """Latest-50 reads at 8 clients with nobody appending, then the same reads while 8
    other clients append to their own conversations, against one server."""
    # As many requests from the readers as in each 32-client row of `run`.
    per_client = 32 if quick else 160
    owners = list(_conversations(database, 2 * MIXED_CLIENTS, 60).items())
    readers, appenders = owners[:MIXED_CLIENTS], owners[MIXED_CLIENTS:]
    with _server(database) as base:
        alone = _over_http(base, "latest-50 read", readers, per_client)
        reads, appends = asyncio.run(_reads_while_appending(base, readers, appenders, per_client))
    return [MixedRow(database.backend, len(readers), len(appenders), reads, appends, alone)]


def markdown_table(rows: Sequence[HttpRow]) -> str:
    lines = [
        "| workload | db (server workers) | clients | HTTP p50 | p95 | p99 | ops/s "
        "| store ops/s | plain p95 | plain ops/s | HTTP p95 / plain p95 "
        "| store ops/s / HTTP ops/s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        http, store, plain_ = row.http, row.store, row.plain
        compared = (
            f"| {store.ops_per_second:,.0f} | {plain_.p95:.2f} | {plain_.ops_per_second:,.0f} "
            f"| {http.p95 / plain_.p95:.2f}x "
            f"| {store.ops_per_second / http.ops_per_second:.2f}x |"
            if store and plain_
            else "| n/a | n/a | n/a | n/a | n/a |"
        )
        lines.append(
            f"| {row.workload} | {row.backend} ({WORKERS[row.backend]}) | {row.clients} "
            f"| {http.p50:.2f} | {http.p95:.2f} | {http.p99:.2f} | {http.ops_per_second:,.0f} "
            + compared
        )
    return "\n".join(lines)


Target = tuple[uuid.UUID, uuid.UUID]  # conversation id, owner id


def _conversations(
    database: BenchDatabase, count: int, messages_each: int
) -> dict[uuid.UUID, uuid.UUID]:
    owners = {uuid.uuid4(): uuid.uuid4() for _ in range(count)}
    plain.load(database, owners, messages_each)
    return owners


def mixed_markdown_table(rows: Sequence[MixedRow]) -> str:
    lines = [
        "| workload | db (server workers) | clients | HTTP p50 | p95 | p99 | ops/s "
        "| append ops/s | alone p50 | alone p95 | alone p99 | alone ops/s "
        "| HTTP p95 / alone p95 | alone ops/s / HTTP ops/s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for row in rows:
        reads, alone = row.reads, row.alone
        lines.append(
            f"| {row.workload} | {row.backend} ({WORKERS[row.backend]}) | {row.clients} "
            f"| {reads.p50:.2f} | {reads.p95:.2f} | {reads.p99:.2f} "
            f"| {reads.ops_per_second:,.0f} | {row.appends.ops_per_second:,.0f} "
            f"| {alone.p50:.2f} | {alone.p95:.2f} | {alone.p99:.2f} "
            f"| {alone.ops_per_second:,.0f} | {reads.p95 / alone.p95:.2f}x "
            f"| {alone.ops_per_second / reads.ops_per_second:.2f}x |"
        )
    return "\n".join(lines)


def _chunks(items: list[Target], size: int) -> Iterator[list[Target]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _over_http(base: str, workload: str, targets: list[Target], count: int) -> Measurement:
    return asyncio.run(_http_clients(base, workload, targets, count))


async def _http_clients(base: str, workload: str, targets: list[Target], count: int) -> Measurement:
    # aiohttp, not httpx: the load generator shares the two cores with the server, and
    # httpx's pure-Python client spends about as much CPU per request as the server does.
    connector = aiohttp.TCPConnector(limit=len(targets))
    async with aiohttp.ClientSession(base, connector=connector) as client:
        requests = [_request_for(client, workload, *target) for target in targets]
        for request in requests:  # warm up every connection
            await request()
        started = time.perf_counter()
        latencies = await asyncio.gather(*(_timed(request, range(count)) for request in requests))
        wall = time.perf_counter() - started
    return Measurement([ns for each in latencies for ns in each], wall)


async def _reads_while_appending(
    base: str, readers: list[Target], appenders: list[Target], count: int
) -> tuple[Measurement, Measurement]:
    """`count` latest-50 reads from each reader while every appender appends in a loop
    from before the first read until the last read is answered: (reads, appends)."""
    connector = aiohttp.TCPConnector(limit=len(readers) + len(appenders))
    async with aiohttp.ClientSession(base, connector=connector) as client:
        reads = [_request_for(client, "latest-50 read", *target) for target in readers]
        appends = [_request_for(client, "append", *target) for target in appenders]
        for request in (*reads, *appends):  # warm up every connection
            await request()
        done = asyncio.Event()
        started = time.perf_counter()
        appending = asyncio.gather(*(_timed(request, _until(done)) for request in appends))
        try:
            read_latencies = await asyncio.gather(
                *(_timed(request, range(count)) for request in reads)
            )
            read_wall = time.perf_counter() - started
        finally:
            done.set()
            append_latencies = await appending
        append_wall = time.perf_counter() - started
    return (
        Measurement([ns for each in read_latencies for ns in each], read_wall),
        Measurement([ns for each in append_latencies for ns in each], append_wall),
    )


async def _timed(request: Callable[[], Awaitable[None]], turns: Iterable[object]) -> list[int]:
    """The latency of `request` once per item of `turns`, in nanoseconds."""
    latencies = []
    for _ in turns:
        begin = time.perf_counter_ns()
        await request()
        latencies.append(time.perf_counter_ns() - begin)
    return latencies


def _until(done: asyncio.Event) -> Iterator[None]:
    while not done.is_set():
        yield None


def _request_for(
    client: aiohttp.ClientSession, workload: str, conversation: uuid.UUID, owner: uuid.UUID
) -> Callable[[], Awaitable[None]]:
    token = mint_token(SECRET, sub=str(owner), role=Role.AUTHENTICATED, ttl=timedelta(hours=1))
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/v1/conversations/{conversation}/messages"
    body = {"role": "user", "content": CONTENT}

    async def send() -> None:
        if workload == FLOOR:
            request = client.get("/healthz")
        elif workload == "append":
            request = client.post(url, json=body, headers=headers)
        else:
            request = client.get(url, headers=headers)
        async with request as response:
            text = await response.text()
            if response.status >= 300:
                raise RuntimeError(f"{workload}: {response.status} {text}")

    return send


def _at_store(
    database: BenchDatabase, workload: str, targets: list[Target], count: int
) -> Measurement:
    ours = Convobase(database)
    try:

        def client(number: int) -> Callable[[int], object]:
            conversation, owner_id = targets[number]
            owner = Principal.user(owner_id)
            if workload == "append":
                return lambda _: ours.append(owner, conversation)
            return lambda _: ours.latest(owner, conversation)

        return concurrent(client, len(targets), count)
    finally:
        ours.close()


def _with_plain_driver(
    database: BenchDatabase, workload: str, targets: list[Target], count: int
) -> Measurement:
    connections: list[plain.PlainConnection] = []

    def client(number: int) -> Callable[[int], object]:
        conversation, owner = targets[number]
        connection = plain.connect(database)
        connections.append(connection)
        if workload == "append":
            return lambda _: connection.append(conversation, owner, CONTENT)
        return lambda _: connection.latest(conversation)

    try:
        return concurrent(client, len(targets), count)
    finally:
        for connection in connections:
            connection.close()


@contextmanager
def _server(database: BenchDatabase) -> Iterator[str]:
    """`convobase serve` on a free port of 127.0.0.1, stopped after the block."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "CONVOBASE_DATABASE_URL": database.url.render_as_string(hide_password=False),
        "CONVOBASE_JWT_SECRET": SECRET,
        # As in production: one log line per request, here to a file nobody reads.
        "CONVOBASE_LOG_LEVEL": os.environ.get("CONVOBASE_LOG_LEVEL", "INFO"),
        "CONVOBASE_LOG_FORMAT": "json",
        # Every request is counted, as in production, against a limit no client reaches.
        "CONVOBASE_REQUESTS_PER_TOKEN": os.environ.get("CONVOBASE_REQUESTS_PER_TOKEN", "1000000"),
        "CONVOBASE_GUEST_SESSIONS_PER_ADDRESS": "0",
    }
    command = [
        sys.executable,
        "-m",
        "convobase",
        "serve",
        "--port",
        str(port),
        "--no-seed",
        "--workers",
        str(WORKERS[database.backend]),
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_ready(base, process, log)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_until_ready(base: str, process: "subprocess.Popen[bytes]", log: IO[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            output = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"convobase serve did not become ready:\n{output}")
        time.sleep(0.2)
