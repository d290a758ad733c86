"""The real `convobase serve` process, driven over a socket like an app would."""

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import running_server
from tests.webhooks import SECRET, webhook_server


def minted_user_token(env: dict[str, str], workdir: Path, *, role: str = "authenticated") -> str:
    """A new user's token, minted by `convobase token` as a developer would."""
    return subprocess.run(
        [sys.executable, "-m", "convobase", "token", "--sub", str(uuid.uuid4()), "--role", role],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    with running_server(tmp_path, {"guest_message_limit": "3"}) as running:
        yield running


def test_guest_chats_to_the_limit_signs_up_and_keeps_the_conversation(
    server: tuple[str, dict[str, str], Path],
) -> None:
    base, env, log = server
    user_token = minted_user_token(env, log.parent)

    with httpx.Client(base_url=base, timeout=10) as client:
        personas = client.get("/v1/personas").json()["items"]
        maria = next(persona for persona in personas if persona["display_name"] == "María")
        guest = client.post("/v1/guest-sessions", json={"persona_id": maria["id"]}).json()
        as_guest = {"Authorization": f"Bearer {guest['token']}"}
        messages = f"/v1/conversations/{guest['conversation_id']}/messages"
        sent = [
            client.post(messages, json={"role": "user", "content": f"Hola {n}"}, headers=as_guest)
            for n in range(4)
        ]
        as_user = {"Authorization": f"Bearer {user_token}"}
        claimed = client.post(
            "/v1/guest-sessions/claim", json={"guest_token": guest["token"]}, headers=as_user
        )
        mine = client.get("/v1/conversations", headers=as_user).json()["items"]
        history = client.get(messages, headers=as_user).json()["items"]

    assert "API docs:" in log.read_text()
    assert [response.status_code for response in sent] == [201, 201, 201, 403]
    assert sent[-1].json()["code"] == "guest_limit_reached"
    assert claimed.status_code == 200
    assert [conversation["id"] for conversation in mine] == [guest["conversation_id"]]
    assert [message["content"] for message in history] == ["Hola 0", "Hola 1", "Hola 2"]


def test_the_25th_message_becomes_an_analysis_within_seconds(
    server: tuple[str, dict[str, str], Path],
) -> None:
    base, env, log = server
    user_token = minted_user_token(env, log.parent)
    as_user = {"Authorization": f"Bearer {user_token}"}

    with httpx.Client(base_url=base, timeout=10, headers=as_user) as client:
        conversation = client.post("/v1/conversations", json={}).json()
        messages = f"/v1/conversations/{conversation['id']}/messages"
        for n in range(25):
            sent = client.post(messages, json={"role": "user", "content": f"Message {n}, ¡vamos!"})
            assert sent.status_code == 201
        deadline = time.monotonic() + 30
        while not (analyses := client.get("/v1/me/analysis").json()["items"]):
            assert time.monotonic() < deadline, "no analysis appeared: " + log.read_text()
            time.sleep(0.2)
        ready = client.get("/readyz")

    scoring = next(item for item in analyses if item["analysis_type"] == "chat_scoring")
    assert scoring["message_range"]["count"] == 25
    assert ready.status_code == 200, "the in-process worker is alive"


def test_a_crisis_message_is_answered_with_help_and_staff_are_notified_once(
    tmp_path: Path,
) -> None:
    with webhook_server() as (receiver, accepted):
        settings = {"crisis_webhook_url": receiver, "crisis_webhook_secret": SECRET}
        with running_server(tmp_path, settings) as (base, env, log):
            as_user = {"Authorization": f"Bearer {minted_user_token(env, tmp_path)}"}
            as_staff = {
                "Authorization": f"Bearer {minted_user_token(env, tmp_path, role='service_role')}"
            }
            with httpx.Client(base_url=base, timeout=10) as client:
                conversation = client.post("/v1/conversations", json={}, headers=as_user).json()
                sent = client.post(
                    f"/v1/conversations/{conversation['id']}/messages",
                    json={"role": "user", "content": "I'm going to end my life tonight"},
                    headers=as_user,
                )
                deadline = time.monotonic() + 30
                while not accepted:
                    assert time.monotonic() < deadline, "no notification: " + log.read_text()
                    time.sleep(0.1)
                event_id = sent.json()["safety"]["event_id"]
                while True:
                    event = client.get(f"/v1/staff/crisis-events/{event_id}", headers=as_staff)
                    if event.json()["event"]["staff_notified_at"] is not None:
                        break
                    assert time.monotonic() < deadline, "never marked notified: " + log.read_text()
                    time.sleep(0.1)
                time.sleep(1)  # long enough for a second notification to show up

    safety = sent.json()["safety"]
    assert sent.status_code == 201
    assert (safety["flagged"], safety["severity"], safety["category"]) == (
        True,
        "critical",
        "suicide",
    )
    (notice,) = [json.loads(body) for body in accepted]
    assert notice["event_id"] == event_id
    assert notice["severity_level"] == "critical"
    assert "end my life" not in json.dumps(notice), "the message never leaves the service"
