"""The real `convobase serve` process, driven over a socket like an app would."""

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

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


def test_a_wrong_answer_to_the_seeded_course_is_due_for_review_on_the_learners_own_day(
    server: tuple[str, dict[str, str], Path],
) -> None:
    base, env, log = server
    as_user = {"Authorization": f"Bearer {minted_user_token(env, log.parent)}"}
    # UTC+14: most of the time its date is not UTC's, and its day starts at 04:00 there.
    zone = "Pacific/Kiritimati"

    with httpx.Client(base_url=base, timeout=10, headers=as_user) as client:
        client.patch("/v1/me", json={"preferences": {"time_zone": zone}}).raise_for_status()
        courses = client.get("/v1/courses", params={"tag": "poker"}).json()["items"]
        seeded = next(course for course in courses if course["key"] == "poker-fundamentals")
        course = client.get(f"/v1/courses/{seeded['id']}").json()
        assessment = course["assessments"][0]
        started = client.post(f"/v1/assessments/{assessment['id']}/attempts", json={})
        attempt = started.json()
        numeric = next(q for q in attempt["questions"] if q["kind"] == "numeric")
        saved = client.put(
            f"/v1/attempts/{attempt['id']}/answers/{numeric['id']}", json={"answer": 999_999}
        )
        submitted = client.post(f"/v1/attempts/{attempt['id']}/submit")
        due = client.get("/v1/reviews/due").json()
    now_there = datetime.now(ZoneInfo(zone))

    assert started.status_code == 201
    assert saved.status_code == 200
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["score"] is not None
    card = next(card for card in due["cards"] if card["source_key"].endswith(f":{numeric['id']}"))
    assert card["source_kind"] == "assessment_question"
    assert due["time_zone"] == zone
    assert due["local_date"] == (now_there - timedelta(hours=4)).date().isoformat()
    due_at, day_ends_at = (datetime.fromisoformat(t) for t in (card["due_at"], due["day_ends_at"]))
    assert due_at < day_ends_at


def test_the_seeded_cafe_dialog_is_played_through_and_then_reported_practised(
    server: tuple[str, dict[str, str], Path],
) -> None:
    base, env, log = server
    as_user = {"Authorization": f"Bearer {minted_user_token(env, log.parent)}"}
    maria_says = (
        "Buenos días. Un café con leche, por favor.",
        "Sí, una tostada con tomate, por favor.",
        "Para tomar aquí. ¿Cuánto es?",
        "Aquí tiene. ¡Muchas gracias!",
    )

    with httpx.Client(base_url=base, timeout=10, headers=as_user) as client:
        dialogs = client.get("/v1/lesson-dialogs", params={"language": "es", "level": "A1"})
        cafe = next(d for d in dialogs.json()["items"] if d["key"] == "en-el-cafe")
        started = client.post(
            "/v1/tutor-sessions", json={"dialog_id": cafe["id"], "selected_role": "María"}
        )
        session = started.json()
        turns = [
            client.post(
                f"/v1/tutor-sessions/{session['id']}/turns",
                json={"content": line, "client_turn_id": f"turn-{n}"},
            )
            for n, line in enumerate(maria_says)
        ]
        done = client.get(f"/v1/tutor-sessions/{session['id']}").json()
        evaluations = client.get(f"/v1/tutor-sessions/{session['id']}/turns").json()["items"]
        transcript = client.get(f"/v1/conversations/{session['conversation_id']}/messages").json()[
            "items"
        ]
        again = client.post(
            "/v1/tutor-sessions", json={"dialog_id": cafe["id"], "selected_role": "María"}
        )
        practice = client.get(f"/v1/lesson-dialogs/{cafe['id']}/practice").json()

    assert [role["name"] for role in cafe["roles"]] == ["María", "Carlos"]
    assert started.status_code == 201
    assert [reply["role"] for reply in session["replies"]] == ["Carlos"]
    assert [turn.status_code for turn in turns] == [201] * 4
    assert [turn.json()["turn"]["verdict"] for turn in turns] == ["pass"] * 4
    assert [e["line_seq"] for e in evaluations] == [2, 4, 6, 8]
    assert done["completed_at"] is not None
    assert done["score"] == 100
    assert len(transcript) == 9
    assert transcript[-1]["content"] == "¡De nada! Que aproveche."
    assert again.status_code == 201
    assert practice["practised_before"] is True
    assert (practice["sessions"], practice["completed_sessions"]) == (2, 1)
