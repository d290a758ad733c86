"""What a request may send, enforced before any route runs, tested over a real socket:
headers, body size (declared or not) and a body that stops arriving."""

import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import running_server

MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = {"max_body_bytes": str(MAX_BODY), "body_timeout_seconds": "1"}
    with running_server(tmp_path_factory.mktemp("bounds"), settings) as (url, _, _):
        yield url


def _personas_body(size: int) -> bytes:
    return b'{"name": "' + b"x" * size + b'"}'


def test_a_body_declared_over_the_limit_is_refused_before_it_is_read(base: str) -> None:
    response = httpx.post(
        f"{base}/v1/guest-sessions",
        content=_personas_body(MAX_BODY + 1),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"


def test_a_body_sent_without_a_length_is_counted_as_it_arrives(base: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"persona_id": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    response = httpx.post(
        f"{base}/v1/guest-sessions",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_a_body_that_stops_arriving_is_answered_408(base: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/guest-sessions HTTP/1.1\r\nHost: test\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"persona'
        )
        answer = b""
        while chunk := connection.recv(65536):  # the server closes after its answer
            answer += chunk

    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 408 Request Timeout"
    assert b"request_timeout" in answer


def test_headers_over_the_limit_are_refused(base: str) -> None:
    response = httpx.get(f"{base}/v1/personas", headers={"X-Padding": "x" * 20_000})

    assert response.status_code == 431
    assert response.json()["code"] == "headers_too_large"


def test_an_over_long_token_is_refused_before_it_is_decoded(base: str) -> None:
    response = httpx.get(f"{base}/v1/me", headers={"Authorization": "Bearer " + "a" * 9000})

    assert response.status_code == 401
    assert "too long" in response.json()["detail"]


def test_requests_within_the_bounds_still_work(base: str) -> None:
    personas = httpx.get(f"{base}/v1/personas").json()["items"]

    response = httpx.post(f"{base}/v1/guest-sessions", json={"persona_id": personas[0]["id"]})

    assert response.status_code == 201
    assert uuid.UUID(response.json()["conversation_id"])


def test_errors_are_answered_and_the_kept_alive_connection_serves_on(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        answers = [
            client.get("/v1/conversations/not-a-uuid/messages"),
            client.post("/v1/guest-sessions", content=b"{not json"),
            client.get("/v1/me", headers={"Authorization": "Bearer x"}),
            client.get("/v1/personas", params={"cursor": "\x00"}),
            client.get("/healthz"),
        ]

    assert [answer.status_code for answer in answers] == [401, 422, 401, 422, 200]
    # Every answer came back on the one connection.
    assert len({id(answer.extensions["network_stream"]) for answer in answers}) == 1
