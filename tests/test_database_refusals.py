"""A write the database refuses (a race a service's own check lost) answers a problem,
never a 500: the error registered for the constraint, else 409 `conflict`; and the
unit of work rolls back, so nothing is written."""

import sqlite3
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from convobase import table_registry
from convobase.core.errors import constraints_with_errors
from convobase.core.problems import constraint_name
from convobase.personas import errors as persona_errors
from tests.api import PERSONALITY, Api

WORKERS = 8


def persona_body(name: str, specialization: str) -> dict[str, object]:
    return {
        "name": name,
        "display_name": name,
        "specialization": specialization,
        "personality_config": PERSONALITY,
    }


def test_staff_creating_one_persona_name_at_once_get_one_201_and_409s(api: Api) -> None:
    specialization = f"race-{uuid.uuid4().hex[:8]}"
    body = persona_body(specialization, specialization)
    start = threading.Barrier(WORKERS)

    def create(_: int) -> httpx.Response:
        start.wait()
        response: httpx.Response = api.client.post("/v1/personas", json=body, headers=api.staff)
        return response

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        responses = list(pool.map(create, range(WORKERS)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * (WORKERS - 1), [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"persona_name_taken"}
    listed = api.client.get("/v1/personas", params={"specialization": specialization}).json()
    assert len(listed["items"]) == 1


def test_a_unique_name_the_services_check_missed_answers_its_own_409(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As when two requests both look before either inserts: the database refuses.
    monkeypatch.setattr("convobase.personas.repository.name_exists", lambda *_: False)
    specialization = f"missed-{uuid.uuid4().hex[:8]}"

    first = api.client.post(
        "/v1/personas", json=persona_body(specialization, specialization), headers=api.staff
    )
    second = api.client.post(
        "/v1/personas", json=persona_body(specialization, specialization), headers=api.staff
    )

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["code"] == "persona_name_taken"
    listed = api.client.get("/v1/personas", params={"specialization": specialization}).json()
    assert [item["id"] for item in listed["items"]] == [first.json()["id"]]


def test_a_constraint_with_no_error_of_its_own_answers_409_conflict_and_writes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The persona check is skipped: the foreign key refuses a persona that does not exist.
    monkeypatch.setattr("convobase.personas.service.get_active_persona", lambda *_: None)
    me = api.new_user()

    response = api.client.post(
        "/v1/conversations", json={"persona_id": str(uuid.uuid4())}, headers=me
    )

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "conflict"
    assert api.client.get("/v1/conversations", headers=me).json()["items"] == []


def test_every_constraint_given_an_error_exists_in_the_schema() -> None:
    named = {
        constraint.name
        for table in table_registry.metadata.tables.values()
        for constraint in table.constraints
    }

    registered = constraints_with_errors()

    assert registered["uq_personas_name"] is persona_errors.PersonaNameTaken
    assert set(registered) <= named


@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("UNIQUE constraint failed: personas.name", "uq_personas_name"),
        (
            "UNIQUE constraint failed: messages.conversation_id, messages.client_message_id",
            "uq_messages_conversation_id_client_message_id",
        ),
        ("CHECK constraint failed: ck_users_stage_range", "ck_users_stage_range"),
        ("FOREIGN KEY constraint failed", None),
        ("NOT NULL constraint failed: users.id", None),
    ],
)
def test_sqlite_refusals_are_named_as_the_schema_names_the_constraint(
    message: str, name: str | None
) -> None:
    refused = IntegrityError("INSERT ...", {}, sqlite3.IntegrityError(message))

    assert constraint_name(refused) == name
    named = {c.name for t in table_registry.metadata.tables.values() for c in t.constraints}
    assert name is None or name in named
