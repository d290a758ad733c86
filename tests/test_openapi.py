"""The OpenAPI document tells the truth, so that clients generated from it work: every
error is problem+json, each operation says whether it needs a token, operation ids are
stable and readable, choices are named schemas, and tags are described."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import SecretStr

from convobase import bootstrap
from convobase.app import create_app, document_operations
from convobase.config import Settings
from convobase.core.errors import NotFound, ValidationFailed
from convobase.core.problems import MEDIA_TYPE, Problem
from tests.api import JWT_SECRET, Api

Security = list[dict[str, list[str]]]
BEARER: Security = [{"HTTPBearer": []}]
NO_TOKEN: Security = [{}]
OPTIONAL_TOKEN: Security = [{}, {"HTTPBearer": []}]
PUBLIC: dict[tuple[str, str], Security] = {
    ("get", "/v1/personas"): OPTIONAL_TOKEN,
    ("get", "/v1/personas/{persona_id}"): OPTIONAL_TOKEN,
    ("post", "/v1/guest-sessions"): OPTIONAL_TOKEN,
    ("get", "/v1/courses"): OPTIONAL_TOKEN,
    ("get", "/v1/courses/{course_id}"): OPTIONAL_TOKEN,
    ("get", "/healthz"): NO_TOKEN,
    ("get", "/readyz"): NO_TOKEN,
}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    database = tmp_path_factory.mktemp("openapi") / "unused.db"
    settings = Settings(database_url=f"sqlite:///{database}", jwt_secret=SecretStr(JWT_SECRET))
    container = bootstrap.build(settings)
    yield create_app(container).openapi()
    container.close()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_every_error_is_problem_json_with_an_example_of_its_own_status(
    document: dict[str, Any],
) -> None:
    errors = 0
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            errors += 1
            where = f"{method.upper()} {path} {status}"
            assert list(response["content"]) == [MEDIA_TYPE], where
            content = response["content"][MEDIA_TYPE]
            assert content["schema"] == {"$ref": "#/components/schemas/Problem"}, where
            example = Problem.model_validate(content["example"])
            assert example.status == int(status), where
            assert example.type.endswith(f"/{example.code}"), where
    assert errors > 50


def test_invalid_input_is_documented_as_the_422_problem_it_is(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        if operation.get("parameters") or operation.get("requestBody"):
            example = operation["responses"]["422"]["content"][MEDIA_TYPE]["example"]
            assert example["code"] == "validation_error", f"{method.upper()} {path}"
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "ValidationError" not in document["components"]["schemas"]


def test_the_problem_schema_is_a_component(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]

    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    assert "FieldError" in document["components"]["schemas"]


def test_public_operations_need_no_token_and_the_rest_the_bearer_token(
    document: dict[str, Any],
) -> None:
    security = {(method, path): op["security"] for method, path, op in _operations(document)}

    assert {key: value for key, value in security.items() if value != BEARER} == PUBLIC
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_operations_that_read_a_token_document_401(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        if operation["security"] != NO_TOKEN:
            unauthorized = operation["responses"]["401"]
            assert "WWW-Authenticate" in unauthorized["headers"], f"{method.upper()} {path}"


def test_operation_ids_are_the_route_functions_names_in_camel_case(
    document: dict[str, Any],
) -> None:
    ids = {(method, path): op["operationId"] for method, path, op in _operations(document)}

    assert len(set(ids.values())) == len(ids)
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", name) for name in ids.values()), ids
    assert ids[("post", "/v1/conversations/{conversation_id}/messages")] == "appendMessage"
    assert ids[("get", "/v1/conversations/{conversation_id}/messages")] == "listMessages"
    assert ids[("get", "/v1/me")] == "readMe"
    assert ids[("post", "/v1/guest-sessions/claim")] == "claimGuestSession"


def test_two_routes_of_one_name_are_refused() -> None:
    first, second = APIRouter(), APIRouter(prefix="/other")

    async def read_thing() -> None:
        """Read it."""

    first.add_api_route("/thing", read_thing)
    second.add_api_route("/thing", read_thing)

    with pytest.raises(RuntimeError, match="readThing"):
        document_operations(FastAPI(), [first, second])


def test_choices_are_named_schemas_not_repeated_inline(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    inline: list[str] = []

    def find_inline(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if "enum" in node and not re.fullmatch(r"/components/schemas/\w+", where):
                inline.append(where)
            for key, child in node.items():
                find_inline(child, f"{where}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                find_inline(child, f"{where}/{index}")

    find_inline(document, "")

    assert inline == []
    assert [name for name in schemas if "enum" in schemas[name]] == [
        "AnalysisType",
        "AnswerOutcome",
        "AttemptCloser",
        "AttemptStatus",
        "CefrLevel",
        "ContactKind",
        "ConversationKind",
        "ConversationStyle",
        "CourseLevel",
        "CrisisActionKind",
        "CrisisCategory",
        "CrisisEventStatus",
        "CrisisOutcome",
        "CrisisSeverity",
        "CrisisTrigger",
        "DialogStatus",
        "Difficulty",
        "GradeMethod",
        "ImportOutcome",
        "JobState",
        "MessageRole",
        "NextStepKind",
        "OnboardingStatus",
        "PhaseState",
        "ReviewCardState",
        "ReviewRating",
        "SkillLevel",
        "StatsPeriod",
        "TurnVerdict",
        "TutorSessionKind",
        "TutoringImportOutcome",
    ]
    persona = schemas["PersonaCreate"]["properties"]
    assert persona["skill_level"]["$ref"] == "#/components/schemas/SkillLevel"
    assert persona["conversation_style"]["$ref"] == "#/components/schemas/ConversationStyle"


def test_every_tag_is_described(document: dict[str, Any]) -> None:
    used = {tag for _, _, operation in _operations(document) for tag in operation["tags"]}
    described = {tag["name"]: tag.get("description", "") for tag in document["tags"]}

    assert used == set(described)
    assert all(description for description in described.values())


def test_a_wrong_method_is_told_every_method_of_the_path(api: Api) -> None:
    response = api.client.request("PUT", "/v1/conversations", headers=api.new_user())

    assert response.status_code == 405
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.json()["code"] == "method_not_allowed"
    assert response.headers["allow"] == "GET, POST"


def test_a_problem_type_has_one_title_whoever_answers_it(api: Api) -> None:
    invalid = api.client.get("/v1/personas", params={"limit": 0})
    unknown_path = api.client.get("/v1/nothing-here")

    assert invalid.json()["code"] == "validation_error"
    assert invalid.json()["title"] == ValidationFailed().title
    assert unknown_path.json()["code"] == "not_found"
    assert unknown_path.json()["title"] == NotFound().title
