"""Browser pages on the origins an operator names may call the API (CORS): preflights
are answered, answers carry the headers a browser checks, and any other origin gets
none of them. With no origin configured, nothing changes."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from convobase import bootstrap
from convobase.app import create_app
from convobase.config import Settings
from convobase.db import migrate
from tests.api import JWT_SECRET, bearer, token_for
from tests.servers import running_server

APP_ORIGIN = "https://app.example.com"
OTHER_ORIGIN = "https://elsewhere.example.com"


def _client(tmp_path: Path, **settings: object) -> Iterator[TestClient]:
    configured = Settings(
        database_url=f"sqlite:///{tmp_path / 'cors.db'}",
        jwt_secret=SecretStr(JWT_SECRET),
        in_process_worker="off",
        backup_before_migrate=False,
        **settings,  # type: ignore[arg-type]
    )
    migrate.upgrade(configured)
    container = bootstrap.build(configured)
    try:
        yield TestClient(create_app(container))
    finally:
        container.close()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path, cors_origins=[APP_ORIGIN])


@pytest.fixture
def client_without_cors(tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path)


def _preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }


def test_a_preflight_from_an_allowed_origin_is_answered_with_what_it_may_send(
    client: TestClient,
) -> None:
    answer = client.options("/v1/conversations", headers=_preflight(APP_ORIGIN))

    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed = answer.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "access-control-allow-credentials" not in answer.headers


def test_a_preflight_from_another_origin_gets_no_permission(client: TestClient) -> None:
    answer = client.options("/v1/conversations", headers=_preflight(OTHER_ORIGIN))

    assert "access-control-allow-origin" not in answer.headers


def test_an_answer_to_an_allowed_origin_names_it_and_the_headers_it_may_read(
    client: TestClient,
) -> None:
    answer = client.get("/v1/personas", headers={"Origin": APP_ORIGIN})

    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    exposed = answer.headers["access-control-expose-headers"].lower()
    assert {"etag", "retry-after", "x-request-id"} <= set(exposed.replace(" ", "").split(","))


def test_an_error_answer_to_an_allowed_origin_is_readable_too(client: TestClient) -> None:
    token = bearer(token_for(uuid.uuid4(), secret=JWT_SECRET))
    answer = client.get(
        f"/v1/conversations/{uuid.uuid4()}", headers={"Origin": APP_ORIGIN, **token}
    )

    assert answer.status_code == 404
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    assert answer.headers["content-type"] == "application/problem+json"


def test_without_origins_configured_no_cors_header_is_sent(
    client_without_cors: TestClient,
) -> None:
    preflight = client_without_cors.options("/v1/conversations", headers=_preflight(APP_ORIGIN))
    answer = client_without_cors.get("/v1/personas", headers={"Origin": APP_ORIGIN})

    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in answer.headers


@pytest.mark.parametrize(
    "origin", ["*", "https://app.example.com/", "app.example.com", "https://a.example.com/x"]
)
def test_an_origin_that_is_not_scheme_host_and_port_is_refused(origin: str) -> None:
    with pytest.raises(ValidationError, match="is not an origin"):
        Settings(cors_origins=[origin])


def test_the_served_api_answers_a_browsers_preflight_over_a_socket(tmp_path: Path) -> None:
    settings = {"cors_origins": json.dumps([APP_ORIGIN, "http://localhost:5173"])}
    with running_server(tmp_path, settings) as (base, _, _):
        preflight = httpx.options(
            f"{base}/v1/conversations", headers=_preflight("http://localhost:5173")
        )
        read = httpx.get(f"{base}/v1/personas", headers={"Origin": APP_ORIGIN})

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert read.headers["access-control-allow-origin"] == APP_ORIGIN
