import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from convobase import __version__, bootstrap
from convobase.app import create_app
from convobase.config import Settings
from tests.api import JWT_SECRET, Api


@pytest.fixture
def openapi(tmp_path: Path) -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}", jwt_secret=SecretStr(JWT_SECRET)
    )
    container = bootstrap.build(settings)
    schema: dict[str, dict[str, dict[str, dict[str, str]]]] = create_app(container).openapi()
    container.close()
    return schema


def test_every_operation_has_a_summary_and_a_description(
    openapi: dict[str, dict[str, dict[str, dict[str, str]]]],
) -> None:
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
        if not operation.get("summary") or not operation.get("description")
    ]
    assert undocumented == []


def test_operation_summary_is_the_first_sentence_of_the_docstring(
    openapi: dict[str, dict[str, dict[str, dict[str, str]]]],
) -> None:
    append = openapi["paths"]["/v1/conversations/{conversation_id}/messages"]["post"]
    assert append["summary"] == "Append a message; it gets the next seq"
    assert append["description"].startswith("Append a message; it gets the next seq.")
    assert "client_message_id" in append["description"]


def test_a_one_sentence_docstring_is_the_whole_summary(
    openapi: dict[str, dict[str, dict[str, dict[str, str]]]],
) -> None:
    assert openapi["paths"]["/healthz"]["get"]["summary"] == "The process is alive"


@pytest.fixture
def app_with_a_failing_route(app_settings: Settings) -> Iterator[TestClient]:
    container = bootstrap.build(app_settings)
    app = create_app(container)

    async def fail() -> None:
        raise RuntimeError("the disk is on fire")

    app.add_api_route("/fail", fail)
    yield TestClient(app, raise_server_exceptions=False)
    container.close()


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "convobase.request"]


def test_each_request_logs_one_line_with_route_template_and_caller_kind(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    owner = api.new_user()
    conversation = api.conversation(owner)
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="convobase.request"):
        response = api.client.get(
            f"/v1/conversations/{conversation['id']}/messages?limit=5", headers=owner
        )

    (line,) = request_lines(caplog)
    assert line.__dict__["route"] == "/v1/conversations/{conversation_id}/messages"
    assert (line.__dict__["method"], line.__dict__["status"]) == ("GET", 200)
    assert line.__dict__["caller"] == "user"
    assert line.__dict__["duration_ms"] > 0
    assert line.__dict__["request_id"] == response.headers["x-request-id"]


def test_request_logs_carry_no_token_and_no_content(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    owner = api.new_user()
    conversation = api.conversation(owner)

    with caplog.at_level(logging.DEBUG):
        api.say(owner, conversation["id"], "mi secreto")

    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    token = owner["Authorization"].removeprefix("Bearer ")
    assert token not in logged
    assert "mi secreto" not in logged


def test_the_landing_page_names_the_version_and_links_the_docs_and_health_checks(
    api: Api,
) -> None:
    response = api.client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f"convobase {__version__}" in response.text
    for link in ("docs", "redoc", "openapi.json", "healthz", "readyz"):
        assert f'href="{link}"' in response.text
        assert api.client.get(f"/{link}").status_code == 200


def test_a_given_request_id_is_kept_and_echoed(api: Api) -> None:
    response = api.client.get("/healthz", headers={"X-Request-ID": "trace-4711"})

    assert response.headers["x-request-id"] == "trace-4711"


def test_an_unexpected_error_is_a_500_problem_logged_once_with_its_request_id(
    app_with_a_failing_route: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = app_with_a_failing_route.get("/fail")

    errors = [record for record in caplog.records if record.exc_info]
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert "fire" not in response.text
    assert len(errors) == 1
    assert errors[0].__dict__["request_id"] == response.headers["x-request-id"]
    assert request_lines(caplog)[-1].__dict__["status"] == 500
