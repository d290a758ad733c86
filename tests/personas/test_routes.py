import uuid

import pytest

from tests.api import PERSONALITY, Api


def test_staff_creates_and_users_list_active_personas(api: Api) -> None:
    specialization = f"chess-{uuid.uuid4().hex[:6]}"
    created = api.persona(specialization=specialization, skill_level="expert")

    listed = api.client.get(
        "/v1/personas", params={"specialization": specialization}, headers=api.new_user()
    ).json()

    assert [persona["id"] for persona in listed["items"]] == [created["id"]]
    assert created["personality_config"]["temperature"] == 0.7


def test_only_staff_see_a_personas_personality_config(api: Api) -> None:
    persona = api.persona()
    guest = api.guest_session(persona["id"])
    callers = {
        "anonymous": {},
        "user": api.new_user(),
        "guest": {"Authorization": f"Bearer {guest['token']}"},
        "staff": api.staff,
    }

    seen = {
        caller: [
            api.client.get(f"/v1/personas/{persona['id']}", headers=headers).json(),
            *api.client.get("/v1/personas", params={"limit": 200}, headers=headers).json()["items"],
        ]
        for caller, headers in callers.items()
    }
    staff_view = api.client.get(f"/v1/staff/personas/{persona['id']}", headers=api.staff)
    user_tries = api.client.get(f"/v1/staff/personas/{persona['id']}", headers=api.new_user())

    for caller, personas in seen.items():
        assert all("personality_config" not in item for item in personas), caller
    assert staff_view.json()["personality_config"] == persona["personality_config"]
    assert user_tries.status_code == 403


def test_personas_filter_by_skill_level_and_paginate(api: Api) -> None:
    specialization = f"go-{uuid.uuid4().hex[:6]}"
    beginners = {api.persona(specialization=specialization)["id"] for _ in range(3)}
    api.persona(specialization=specialization, skill_level="advanced")

    seen: list[str] = []
    params: dict[str, str | int] = {
        "specialization": specialization,
        "skill_level": "beginner",
        "limit": 2,
    }
    while True:
        page = api.client.get("/v1/personas", params=params).json()
        seen += [persona["id"] for persona in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert sorted(seen) == sorted(beginners)


def test_deactivated_persona_disappears_for_users_but_not_for_staff(api: Api) -> None:
    persona = api.persona()
    owner = api.new_user()
    conversation = api.conversation(owner, persona_id=persona["id"])
    api.say(owner, conversation["id"])

    deleted = api.client.delete(f"/v1/personas/{persona['id']}", headers=api.staff)
    for_user = api.client.get(f"/v1/personas/{persona['id']}", headers=owner)
    for_staff = api.client.get(f"/v1/personas/{persona['id']}", headers=api.staff)
    history = api.client.get(f"/v1/conversations/{conversation['id']}/messages", headers=owner)
    new_chat = api.client.post(
        "/v1/conversations", json={"persona_id": persona["id"]}, headers=owner
    )

    assert deleted.status_code == 200
    assert deleted.json()["is_active"] is False
    assert for_user.status_code == 404
    assert for_staff.json()["is_active"] is False
    assert len(history.json()["items"]) == 1
    assert new_chat.status_code == 404


def test_staff_updates_and_reactivates_a_persona(api: Api) -> None:
    persona = api.persona()
    api.client.delete(f"/v1/personas/{persona['id']}", headers=api.staff)

    updated = api.client.patch(
        f"/v1/personas/{persona['id']}",
        json={"display_name": "Doña María", "is_active": True, "skill_level": "advanced"},
        headers=api.staff,
    )

    assert updated.status_code == 200
    assert updated.json()["display_name"] == "Doña María"
    assert updated.json()["is_active"] is True


def test_duplicate_persona_name_is_a_conflict(api: Api) -> None:
    persona = api.persona()
    body = {"name": persona["name"], "display_name": "Twin", "personality_config": PERSONALITY}

    response = api.client.post("/v1/personas", json=body, headers=api.staff)

    assert response.status_code == 409
    assert response.json()["code"] == "persona_name_taken"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"temperature": 0.5}, "system_prompt"),
        ({"system_prompt": "Be kind."}, "temperature"),
        ({"system_prompt": "Be kind.", "temperature": 3}, "temperature"),
        ({"system_prompt": "   ", "temperature": 0.5}, "system_prompt"),
        ({"system_prompt": "Be kind.", "temperature": "warm"}, "temperature"),
    ],
)
def test_bad_personality_config_is_422_naming_the_field(
    api: Api, config: dict[str, object], field: str
) -> None:
    body = {
        "name": f"bad-{uuid.uuid4().hex[:6]}",
        "display_name": "Bad",
        "personality_config": config,
    }

    response = api.client.post("/v1/personas", json=body, headers=api.staff)

    assert response.status_code == 422
    assert f"personality_config.{field}" in response.json()["detail"]


def test_personality_config_schema_is_documented(api: Api) -> None:
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]

    config = schemas["PersonalityConfig"]
    assert set(config["required"]) == {"system_prompt", "temperature"}
    assert config["properties"]["temperature"]["maximum"] == 2
