import uuid

import pytest

from tests.api import Api


def test_conversation_lifecycle(api: Api) -> None:
    me = api.new_user()
    persona = api.persona()

    created = api.conversation(me, persona_id=persona["id"], title="Café", context={"lvl": "A2"})
    read = api.client.get(f"/v1/conversations/{created['id']}", headers=me)
    renamed = api.client.patch(
        f"/v1/conversations/{created['id']}", json={"title": "Café 2"}, headers=me
    )
    ended = api.client.patch(
        f"/v1/conversations/{created['id']}", json={"is_active": False}, headers=me
    )
    refused = api.client.post(
        f"/v1/conversations/{created['id']}/messages",
        json={"role": "user", "content": "more"},
        headers=me,
    )
    deleted = api.client.delete(f"/v1/conversations/{created['id']}", headers=me)
    gone = api.client.get(f"/v1/conversations/{created['id']}", headers=me)

    assert created["persona_id"] == persona["id"]
    assert created["context"] == {"lvl": "A2"}
    assert created["message_count"] == 0
    assert read.status_code == 200
    assert renamed.json()["title"] == "Café 2"
    assert ended.json()["is_active"] is False
    assert ended.json()["ended_at"] is not None
    assert refused.status_code == 409
    assert refused.json()["code"] == "conversation_ended"
    assert deleted.status_code == 204
    assert gone.status_code == 404


def test_appended_message_has_the_documented_shape(api: Api) -> None:
    me = api.new_user()
    conversation = api.conversation(me)

    response = api.client.post(
        f"/v1/conversations/{conversation['id']}/messages",
        json={"role": "user", "content": "Hola", "metadata": {"lang": "es"}},
        headers=me,
    )

    assert response.status_code == 201
    body = response.json()
    assert body["safety"] == {
        "flagged": False,
        "severity": None,
        "category": None,
        "event_id": None,
        "message": None,
        "resources": [],
    }
    assert set(body["message"]) == {
        "id",
        "conversation_id",
        "seq",
        "role",
        "content",
        "metadata",
        "client_message_id",
        "created_at",
    }
    assert body["message"]["seq"] == 1
    assert body["message"]["metadata"] == {"lang": "es"}


def test_replay_with_known_client_message_id_answers_200_with_the_original(api: Api) -> None:
    me = api.new_user()
    conversation = api.conversation(me)
    url = f"/v1/conversations/{conversation['id']}/messages"
    body = {"role": "user", "content": "Hola", "client_message_id": "abc-1"}

    first = api.client.post(url, json=body, headers=me)
    again = api.client.post(url, json=body, headers=me)
    listed = api.client.get(url, headers=me).json()["items"]

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["message"]["id"] == first.json()["message"]["id"]
    assert len(listed) == 1


def test_conversations_are_listed_newest_activity_first(api: Api) -> None:
    me = api.new_user()
    first, second = api.conversation(me), api.conversation(me)
    api.say(me, first["id"])

    items = api.client.get("/v1/conversations", headers=me).json()["items"]

    assert [item["id"] for item in items] == [first["id"], second["id"]]


def test_pagination_walks_500_messages_both_ways_without_gaps_or_repeats(api: Api) -> None:
    me = api.new_user()
    conversation = api.conversation(me)
    url = f"/v1/conversations/{conversation['id']}/messages"
    for n in range(250):
        api.say(me, conversation["id"], f"question {n}")
        api.reply(conversation["id"], f"answer {n}")

    forwards: list[int] = []
    page = api.client.get(url, params={"after": 0, "limit": 200}, headers=me).json()
    while True:
        forwards += [message["seq"] for message in page["items"]]
        if page["next_cursor"] is None:
            break
        page = api.client.get(url, params={"cursor": page["next_cursor"]}, headers=me).json()
    backwards: list[int] = []
    page = api.client.get(url, params={"limit": 64}, headers=me).json()
    while True:
        backwards = [message["seq"] for message in page["items"]] + backwards
        if page["next_cursor"] is None:
            break
        page = api.client.get(
            url, params={"cursor": page["next_cursor"], "limit": 64}, headers=me
        ).json()

    assert forwards == backwards == list(range(1, 501))


def test_before_gives_the_page_just_older(api: Api) -> None:
    me = api.new_user()
    conversation = api.conversation(me)
    for n in range(10):
        api.say(me, conversation["id"], f"m{n}")

    page = api.client.get(
        f"/v1/conversations/{conversation['id']}/messages",
        params={"before": 6, "limit": 3},
        headers=me,
    ).json()

    assert [message["seq"] for message in page["items"]] == [3, 4, 5]


def test_text_round_trips_exactly_over_http(api: Api) -> None:
    me = api.new_user()
    text = 'María y Carlos 🎉 学习中文 — «ça va?» \\ "quoted"\n\ttabbed'
    conversation = api.conversation(me, title="María ☕", context={"name": "María"})

    api.say(me, conversation["id"], text)
    stored = api.client.get(f"/v1/conversations/{conversation['id']}/messages", headers=me)
    fetched = api.client.get(f"/v1/conversations/{conversation['id']}", headers=me).json()

    assert stored.json()["items"][0]["content"] == text
    assert fetched["title"] == "María ☕"
    assert fetched["context"] == {"name": "María"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "user", "content": "x" * (32 * 1024 + 1)}, "content"),
        ({"role": "user", "content": "é" * (16 * 1024 + 1)}, "content"),
        ({"role": "user", "content": "ok", "metadata": {"v": "x" * 16_400}}, "metadata"),
        ({"role": "user", "content": "ok", "metadata": {"a": [[[[[[[[[1]]]]]]]]]}}, "metadata"),
        ({"role": "wizard", "content": "ok"}, "role"),
        ({"role": "user", "content": "ok", "colour": "red"}, "colour"),
        ({"role": "user"}, "content"),
        ({"role": "user", "content": "nul \x00"}, "content"),
        ({"role": "user", "content": 42}, "content"),
    ],
)
def test_bad_messages_are_422_and_store_nothing(
    api: Api, body: dict[str, object], field: str
) -> None:
    me = api.new_user()
    conversation = api.conversation(me)
    url = f"/v1/conversations/{conversation['id']}/messages"

    response = api.client.post(url, json=body, headers=me)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["code"] in ("validation_error", "content_too_large")
    assert field in response.text
    assert api.client.get(url, headers=me).json()["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"title": "x" * 201},
        {"persona_id": "not-a-uuid"},
        {"context": {"deep": [[[[[[[[[1]]]]]]]]]}},
        {"unexpected": True},
    ],
)
def test_bad_conversations_are_422(api: Api, body: dict[str, object]) -> None:
    response = api.client.post("/v1/conversations", json=body, headers=api.new_user())

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_malformed_json_is_422(api: Api) -> None:
    response = api.client.post(
        "/v1/conversations",
        content=b"{not json",
        headers={**api.new_user(), "Content-Type": "application/json"},
    )

    assert response.status_code == 422


@pytest.mark.parametrize(
    "params",
    [{"limit": 201}, {"limit": 0}, {"after": -1}, {"cursor": "garbage"}, {"after": 1, "before": 5}],
)
def test_bad_page_parameters_are_422(api: Api, params: dict[str, object]) -> None:
    me = api.new_user()
    conversation = api.conversation(me)

    response = api.client.get(
        f"/v1/conversations/{conversation['id']}/messages", params=params, headers=me
    )

    assert response.status_code == 422


def test_unknown_ids_and_paths_are_problem_404s(api: Api) -> None:
    me = api.new_user()

    by_id = api.client.get(f"/v1/conversations/{uuid.uuid4()}", headers=me)
    by_path = api.client.get("/v1/nothing-here", headers=me)

    for response in (by_id, by_path):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("content", ["", "   ", "\n\t "], ids=["empty", "spaces", "whitespace"])
def test_empty_content_is_refused_and_stores_nothing(api: Api, content: str) -> None:
    me = api.new_user()
    conversation = api.conversation(me)
    url = f"/v1/conversations/{conversation['id']}/messages"

    response = api.client.post(url, json={"role": "user", "content": content}, headers=me)

    assert response.status_code == 422
    assert "content" in response.json()["detail"]
    assert api.client.get(url, headers=me).json()["items"] == []
