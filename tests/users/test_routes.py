import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import update

from convobase.config import Settings
from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.users.models import User
from tests.api import Api, bearer, token_for


def test_first_request_creates_the_user(api: Api) -> None:
    user_id = uuid.uuid4()
    me = bearer(token_for(user_id, email="maria@example.com"))

    profile = api.client.get("/v1/me", headers=me)

    assert profile.status_code == 200
    assert profile.json()["id"] == str(user_id)
    assert profile.json()["email"] == "maria@example.com"
    assert profile.json()["stage"] == 1


def test_user_updates_goals_profile_and_preferences(api: Api) -> None:
    me = api.new_user()

    updated = api.client.patch(
        "/v1/me",
        json={
            "goals": ["order coffee", "small talk"],
            "profile": {"name": "María", "native": "English"},
            "preferences": {"voice": False},
        },
        headers=me,
    )
    again = api.client.get("/v1/me", headers=me).json()

    assert updated.status_code == 200
    assert again["goals"] == ["order coffee", "small talk"]
    assert again["profile"] == {"name": "María", "native": "English"}
    assert again["preferences"] == {"voice": False}


def test_user_cannot_set_fields_that_are_not_theirs_to_set(api: Api) -> None:
    response = api.client.patch("/v1/me", json={"stage": 3}, headers=api.new_user())

    assert response.status_code == 422


def test_deleting_the_account_removes_everything_it_owns(api: Api) -> None:
    me = api.new_user()
    conversation = api.conversation(me)
    api.say(me, conversation["id"])
    guest = api.guest_session()
    api.client.post("/v1/guest-sessions/claim", json={"guest_token": guest["token"]}, headers=me)

    deleted = api.client.delete("/v1/me", headers=me)
    staff_view = api.client.get(f"/v1/conversations/{conversation['id']}", headers=api.staff)
    claimed_view = api.client.get(
        f"/v1/conversations/{guest['conversation_id']}", headers=api.staff
    )

    assert deleted.status_code == 204
    assert staff_view.status_code == 404
    assert claimed_view.status_code == 404


def test_export_holds_the_users_conversations_and_messages(api: Api) -> None:
    me = api.new_user()
    first = api.conversation(me, title="Primera")
    api.say(me, first["id"], "Hola")
    api.reply(first["id"], "¡Hola! ¿Qué tal?")
    second = api.conversation(me, title="Segunda")
    api.say(me, second["id"], "I want to die")
    api.conversation(api.new_user(), title="Not mine")

    export = api.client.get("/v1/me/export", headers=me).json()

    assert export["user"]["id"] == api.client.get("/v1/me", headers=me).json()["id"]
    assert sorted(conversation["title"] for conversation in export["conversations"]) == [
        "Primera",
        "Segunda",
    ]
    messages = {c["title"]: c["messages"] for c in export["conversations"]}
    assert [m["content"] for m in messages["Primera"]] == ["Hola", "¡Hola! ¿Qué tal?"]
    assert [event["conversation_id"] for event in export["crisis_events"]] == [second["id"]]
    assert export["analyses"] == []


def test_last_active_follows_the_user(api: Api, app_settings: Settings) -> None:
    user_id = uuid.uuid4()
    me = bearer(token_for(user_id))
    api.client.get("/v1/me", headers=me)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    database = Database.from_settings(app_settings)
    with database.transaction(Principal.user(user_id)) as session:
        session.execute(update(User).where(User.id == user_id).values(last_active=long_ago))
    database.dispose()

    api.client.get("/v1/conversations", headers=me)

    assert api.client.get("/v1/me", headers=me).json()["last_active"] > "2020-01-02"


def test_staffs_own_export_holds_only_their_own_conversations(api: Api) -> None:
    someone = api.new_user()
    api.say(someone, api.conversation(someone)["id"], "not for staff's export")
    own = api.conversation(api.staff, title="staff's own")

    exported = api.client.get("/v1/me/export", headers=api.staff).json()

    assert [conversation["id"] for conversation in exported["conversations"]] == [own["id"]]


def test_deleting_the_account_while_its_conversations_take_messages_never_fails(
    api: Api,
) -> None:
    for _ in range(5):
        _delete_while_appending(api, conversations=4, appends_each=5)


def _delete_while_appending(api: Api, *, conversations: int, appends_each: int) -> None:
    me = api.new_user()
    ids = [api.conversation(me)["id"] for _ in range(conversations)]
    go = threading.Barrier(conversations + 1)

    def append(conversation_id: str) -> list[int]:
        go.wait()
        url = f"/v1/conversations/{conversation_id}/messages"
        body = {"role": "user", "content": "¿sigues ahí?"}
        return [
            api.client.post(url, json=body, headers=me).status_code for _ in range(appends_each)
        ]

    def delete() -> int:
        go.wait()
        status: int = api.client.delete("/v1/me", headers=me).status_code
        return status

    with ThreadPoolExecutor(max_workers=conversations + 1) as pool:
        deleted = pool.submit(delete)
        appended = [status for each in pool.map(append, ids) for status in each]

    assert deleted.result() == 204
    # Before the deletion an append stores its message; after it, the account is gone.
    assert set(appended) <= {201, 404}
    assert api.client.get("/v1/me/export", headers=me).json()["conversations"] == []
