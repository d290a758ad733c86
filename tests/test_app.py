from pathlib import Path

import pytest
from pydantic import SecretStr

from convobase.app import create_app
from convobase.config import Settings
from tests.api import JWT_SECRET


@pytest.fixture
def openapi(tmp_path: Path) -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}", jwt_secret=SecretStr(JWT_SECRET)
    )
    schema: dict[str, dict[str, dict[str, dict[str, str]]]] = create_app(settings).openapi()
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
