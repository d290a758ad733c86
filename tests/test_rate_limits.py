"""Abuse limits over a real socket: guest sessions per client address and requests per
token answer 429 with Retry-After once spent; on PostgreSQL they hold across two worker
processes, which count in the database."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api import JWT_SECRET, bearer, token_for
from tests.databases import LiveDatabase
from tests.servers import running_server

REQUESTS_PER_TOKEN = 5
GUEST_SESSIONS_PER_ADDRESS = 2


@pytest.fixture
def base(committing_database: LiveDatabase, backend: str, tmp_path: Path) -> Iterator[str]:
    settings = {
        "database_url": committing_database.settings.url.render_as_string(hide_password=False),
        "jwt_secret": JWT_SECRET,
        "requests_per_token": str(REQUESTS_PER_TOKEN),
        "guest_sessions_per_address": str(GUEST_SESSIONS_PER_ADDRESS),
        # Windows are fixed and aligned to the clock: a day's starts only at midnight UTC,
        # so a test's requests fall into one window.
        "request_window_seconds": "86400",
        "guest_session_window_seconds": "86400",
    }
    workers = 2 if backend == "postgresql" else 1
    with running_server(tmp_path, settings, workers=workers) as (url, _, _):
        yield url


def _refused_as_rate_limited(response: httpx.Response) -> bool:
    if response.status_code != 429:
        return False
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "rate_limited"
    assert int(response.headers["retry-after"]) >= 1
    return True


def test_guest_sessions_per_address_are_limited(base: str) -> None:
    persona_id = httpx.get(f"{base}/v1/personas").json()["items"][0]["id"]

    statuses = [
        httpx.post(f"{base}/v1/guest-sessions", json={"persona_id": persona_id})
        for _ in range(GUEST_SESSIONS_PER_ADDRESS + 2)
    ]

    codes = [response.status_code for response in statuses]
    assert codes == [201] * GUEST_SESSIONS_PER_ADDRESS + [429, 429]
    assert all(_refused_as_rate_limited(r) for r in statuses[GUEST_SESSIONS_PER_ADDRESS:])


def test_requests_per_token_are_limited_across_connections_and_workers(base: str) -> None:
    me = bearer(token_for(uuid.uuid4()))
    other = bearer(token_for(uuid.uuid4()))

    # A new connection each time: with two workers, requests land on both.
    answers = [httpx.get(f"{base}/v1/me", headers=me) for _ in range(REQUESTS_PER_TOKEN * 3)]
    someone_else = httpx.get(f"{base}/v1/me", headers=other)

    codes = [answer.status_code for answer in answers]
    assert codes == [200] * REQUESTS_PER_TOKEN + [429] * REQUESTS_PER_TOKEN * 2
    assert sum(_refused_as_rate_limited(answer) for answer in answers) == REQUESTS_PER_TOKEN * 2
    assert someone_else.status_code == 200
