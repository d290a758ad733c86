import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from convobase.core.principal import Role
from tests.api import Api, bearer, token_for


def test_guest_session_answers_with_a_token_and_the_limit(api: Api) -> None:
    started = api.guest_session()

    assert set(started) == {
        "session_id",
        "token",
        "conversation_id",
        "message_limit",
        "messages_remaining",
    }
    assert (started["message_limit"], started["messages_remaining"]) == (10, 10)


def test_guest_session_needs_an_active_persona(api: Api) -> None:
    persona = api.persona()
    api.client.delete(f"/v1/personas/{persona['id']}", headers=api.staff)

    response = api.client.post("/v1/guest-sessions", json={"persona_id": persona["id"]})

    assert response.status_code == 404


def test_guest_can_send_ten_user_messages_and_no_more(api: Api) -> None:
    started = api.guest_session()
    guest = bearer(started["token"])
    for n in range(10):
        api.say(guest, started["conversation_id"], f"question {n}")
        api.reply(started["conversation_id"], f"answer {n}")

    refused = api.client.post(
        f"/v1/conversations/{started['conversation_id']}/messages",
        json={"role": "user", "content": "one more"},
        headers=guest,
    )
    current = api.client.get("/v1/guest-sessions/current", headers=guest).json()
    messages = api.client.get(
        f"/v1/conversations/{started['conversation_id']}/messages", headers=guest
    ).json()["items"]

    assert refused.status_code == 403
    assert refused.json()["code"] == "guest_limit_reached"
    assert "sign up" in refused.json()["detail"].lower()
    assert current["message_count"] == 10
    assert current["messages_remaining"] == 0
    assert len(messages) == 20  # assistant messages do not count


def test_guest_limit_holds_under_thirty_parallel_requests(api: Api) -> None:
    started = api.guest_session()
    guest = bearer(started["token"])
    url = f"/v1/conversations/{started['conversation_id']}/messages"
    go = threading.Barrier(30)

    def send(n: int) -> int:
        go.wait()
        body = {"role": "user", "content": f"parallel {n}"}
        status: int = api.client.post(url, json=body, headers=guest).status_code
        return status

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(send, range(30)))

    assert sorted(statuses) == [201] * 10 + [403] * 20
    stored = api.client.get(url, headers=guest).json()["items"]
    assert [message["seq"] for message in stored] == list(range(1, 11))


def test_guest_reaches_only_its_own_conversation(api: Api) -> None:
    mine, theirs = api.guest_session(), api.guest_session()
    owner = api.new_user()
    users_conversation = api.conversation(owner)

    for conversation_id in (theirs["conversation_id"], users_conversation["id"]):
        url = f"/v1/conversations/{conversation_id}/messages"
        read = api.client.get(url, headers=bearer(mine["token"]))
        write = api.client.post(
            url, json={"role": "user", "content": "hi"}, headers=bearer(mine["token"])
        )
        assert (read.status_code, write.status_code) == (404, 404)
    assert api.client.get("/v1/conversations", headers=bearer(mine["token"])).status_code == 403


def test_claim_moves_the_conversation_and_its_messages_to_the_user(api: Api) -> None:
    started = api.guest_session()
    guest = bearer(started["token"])
    api.say(guest, started["conversation_id"], "Hola, soy nueva")
    api.reply(started["conversation_id"], "¡Bienvenida!")
    me = api.new_user()

    claimed = api.client.post(
        "/v1/guest-sessions/claim", json={"guest_token": started["token"]}, headers=me
    )
    mine = api.client.get("/v1/conversations", headers=me).json()["items"]
    messages = api.client.get(
        f"/v1/conversations/{started['conversation_id']}/messages", headers=me
    ).json()["items"]
    more = api.client.post(
        f"/v1/conversations/{started['conversation_id']}/messages",
        json={"role": "user", "content": "now unlimited"},
        headers=me,
    )

    assert claimed.status_code == 200
    assert claimed.json()["is_guest_session"] is False
    assert [conversation["id"] for conversation in mine] == [started["conversation_id"]]
    assert [message["content"] for message in messages] == ["Hola, soy nueva", "¡Bienvenida!"]
    assert more.status_code == 201


def test_claimed_guest_token_stops_working(api: Api) -> None:
    started = api.guest_session()
    guest = bearer(started["token"])
    api.client.post(
        "/v1/guest-sessions/claim", json={"guest_token": started["token"]}, headers=api.new_user()
    )

    current = api.client.get("/v1/guest-sessions/current", headers=guest)
    write = api.client.post(
        f"/v1/conversations/{started['conversation_id']}/messages",
        json={"role": "user", "content": "still here?"},
        headers=guest,
    )

    assert current.status_code == 401
    assert current.json()["code"] == "guest_session_closed"
    assert write.status_code == 401


@pytest.mark.parametrize("same_user", [True, False])
def test_second_claim_is_a_conflict(api: Api, same_user: bool) -> None:
    started = api.guest_session()
    first_user = api.new_user()
    second_user = first_user if same_user else api.new_user()
    body = {"guest_token": started["token"]}

    first = api.client.post("/v1/guest-sessions/claim", json=body, headers=first_user)
    second = api.client.post("/v1/guest-sessions/claim", json=body, headers=second_user)

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["code"] == "guest_session_claimed"


@pytest.mark.parametrize(
    "guest_token",
    [
        "not-a-jwt",
        token_for("8b0d3f3e-5c38-4c43-9d1e-2f1b7d9f0a11", Role.GUEST, secret="x" * 40),
        token_for("8b0d3f3e-5c38-4c43-9d1e-2f1b7d9f0a11", Role.GUEST, ttl=timedelta(seconds=-5)),
        token_for("8b0d3f3e-5c38-4c43-9d1e-2f1b7d9f0a11", Role.AUTHENTICATED),
    ],
    ids=["garbage", "wrong-secret", "expired", "not-a-guest"],
)
def test_claim_with_an_invalid_guest_token_is_422(api: Api, guest_token: str) -> None:
    response = api.client.post(
        "/v1/guest-sessions/claim", json={"guest_token": guest_token}, headers=api.new_user()
    )

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_guest_token"


def test_a_guest_conversation_holds_one_reply_per_user_message_plus_a_greeting(
    api: Api,
) -> None:
    started = api.guest_session()
    guest, conversation_id = bearer(started["token"]), started["conversation_id"]

    def reply() -> int:
        response = api.client.post(
            f"/v1/staff/conversations/{conversation_id}/messages",
            json={"role": "assistant", "content": "…"},
            headers=api.staff,
        )
        if response.status_code == 403:
            assert response.json()["code"] == "guest_reply_limit_reached"
        return int(response.status_code)

    greeting, extra = reply(), reply()
    api.say(guest, conversation_id, "Hola")
    answer, another = reply(), reply()

    assert (greeting, extra, answer, another) == (201, 403, 201, 403)
    page = api.client.get(f"/v1/conversations/{conversation_id}/messages", headers=guest).json()
    assert [message["role"] for message in page["items"]] == ["assistant", "user", "assistant"]


def test_a_guest_cannot_write_the_assistants_replies(api: Api) -> None:
    started = api.guest_session()

    response = api.client.post(
        f"/v1/conversations/{started['conversation_id']}/messages",
        json={"role": "assistant", "content": "I am the assistant now"},
        headers=bearer(started["token"]),
    )

    assert response.status_code == 403
    assert response.json()["code"] == "message_role_forbidden"
