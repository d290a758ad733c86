"""Tutoring over HTTP, on both databases: the seeded café dialog played through to the
end, the refusals that say why, staff's content management, files in and out, and
the story's queries as routes."""

import uuid
from typing import Any

import pytest

from convobase.tutoring import content
from tests.api import Api, Headers
from tests.tutoring.dialogs import MARIA_SAYS, short_body


def seeded_cafe(api: Api) -> dict[str, Any]:
    """The shipped content, imported as the seed does (what exists is kept): the café."""
    document = content.shipped().model_dump(mode="json")
    response = api.client.post(
        "/v1/staff/tutoring/import",
        params={"update_existing": "false"},
        json=document,
        headers=api.staff,
    )
    assert response.status_code == 200, response.text
    (cafe,) = response.json()["dialogs"]
    read: dict[str, Any] = api.client.get(
        f"/v1/lesson-dialogs/{cafe['id']}", headers=api.staff
    ).json()
    return read


def new_dialog(api: Api, **fields: Any) -> dict[str, Any]:
    body = short_body(key=f"short-{uuid.uuid4().hex[:8]}", **fields)
    response = api.client.post("/v1/lesson-dialogs", json=body, headers=api.staff)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def start(api: Api, learner: Headers, dialog_id: str, role: str, **params: str) -> Any:
    return api.client.post(
        "/v1/tutor-sessions",
        json={"dialog_id": dialog_id, "selected_role": role},
        params=params,
        headers=learner,
    )


def turn(api: Api, learner: Headers, session_id: str, content: str, **body: str) -> Any:
    return api.client.post(
        f"/v1/tutor-sessions/{session_id}/turns",
        json={"content": content, **body},
        headers=learner,
    )


def test_the_seeded_cafe_is_played_to_the_end_and_then_reported_practised(api: Api) -> None:
    learner = api.new_user()
    cafe = seeded_cafe(api)

    started = start(api, learner, cafe["id"], "María")
    assert started.status_code == 201, started.text
    session = started.json()
    turns = [turn(api, learner, session["id"], line) for line in MARIA_SAYS]
    stored = api.client.get(f"/v1/tutor-sessions/{session['id']}/turns", headers=learner)
    read = api.client.get(f"/v1/tutor-sessions/{session['id']}", headers=learner)
    practice = api.client.get(f"/v1/lesson-dialogs/{cafe['id']}/practice", headers=learner)
    messages = api.client.get(
        f"/v1/conversations/{session['conversation_id']}/messages", headers=learner
    )

    assert [role["name"] for role in cafe["roles"]] == ["María", "Carlos"]
    assert [r["text"] for r in session["replies"]] == ["¡Buenos días! ¿Qué desea tomar?"]
    assert [t.status_code for t in turns] == [201] * 4
    assert [t.json()["turn"]["verdict"] for t in turns] == ["pass"] * 4
    assert [(t["line_seq"], t["score"]) for t in stored.json()["items"]] == [
        (2, 100),
        (4, 100),
        (6, 100),
        (8, 100),
    ]
    assert read.json()["completed_at"] is not None
    assert read.json()["score"] == 100
    assert read.json()["expected"] is None
    assert practice.json()["practised_before"] is True
    assert practice.json()["best_score"] == 100
    assert [m["role"] for m in messages.json()["items"]] == ["assistant", "user"] * 4 + [
        "assistant"
    ]
    again = start(api, learner, cafe["id"], "María")
    assert again.status_code == 201
    assert (
        api.client.get(f"/v1/lesson-dialogs/{cafe['id']}/practice", headers=learner).json()[
            "completed_sessions"
        ]
        == 1
    )


@pytest.mark.parametrize(
    ("role", "code", "detail"),
    [
        ("Pedro", "role_not_in_dialog", "has no role 'Pedro': its roles are 'Ana', 'Luis'."),
        ("Luis", "role_not_playable", "Learners may not play 'Luis' in 'Saludos': play 'Ana'."),
    ],
)
def test_a_role_that_cannot_be_played_is_a_422_that_says_why(
    api: Api, role: str, code: str, detail: str
) -> None:
    dialog = new_dialog(api)

    refused = start(api, api.new_user(), dialog["id"], role)

    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == code
    assert refused.json()["detail"].endswith(detail)


def test_an_archived_dialog_is_a_422_that_says_why(api: Api) -> None:
    dialog = new_dialog(api, status="archived")

    refused = start(api, api.new_user(), dialog["id"], "Ana")

    assert refused.status_code == 422
    assert refused.json()["code"] == "lesson_dialog_archived"
    assert "is archived" in refused.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"dialog_id": str(uuid.UUID(int=7))},
        {"selected_role": "María"},
        {
            "dialog_id": str(uuid.UUID(int=7)),
            "selected_role": "Ana",
            "text_id": str(uuid.UUID(int=8)),
        },
        {},
    ],
)
def test_a_session_names_a_dialog_with_a_role_or_a_text(api: Api, body: dict[str, Any]) -> None:
    refused = api.client.post("/v1/tutor-sessions", json=body, headers=api.new_user())

    assert refused.status_code == 422
    assert refused.json()["code"] == "validation_error"


def test_a_retried_turn_answers_200_with_the_first(api: Api) -> None:
    learner = api.new_user()
    dialog = new_dialog(api)
    session = start(api, learner, dialog["id"], "Ana", hint="true").json()

    first = turn(api, learner, session["id"], "Hola, ¿qué tal?", client_turn_id="tap-1")
    again = turn(api, learner, session["id"], "Hola, ¿qué tal?", client_turn_id="tap-1")
    other = turn(api, learner, session["id"], "Hola.", client_turn_id="tap-1")

    assert session["expected"]["hint"] == "H___, ¿q__ t__?"
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["turn"] == first.json()["turn"]
    assert other.status_code == 409
    assert other.json()["code"] == "client_turn_id_reused"


def test_a_completed_session_refuses_another_turn(api: Api) -> None:
    learner = api.new_user()
    session = start(api, learner, new_dialog(api)["id"], "Ana").json()
    turn(api, learner, session["id"], "Hola, ¿qué tal?")
    turn(api, learner, session["id"], "Un té, por favor.")

    refused = turn(api, learner, session["id"], "Un té, por favor.")

    assert refused.status_code == 409
    assert refused.json()["code"] == "tutor_session_completed"


def test_another_learners_session_is_a_404(api: Api) -> None:
    learner, stranger = api.new_user(), api.new_user()
    session = start(api, learner, new_dialog(api)["id"], "Ana").json()

    for response in (
        api.client.get(f"/v1/tutor-sessions/{session['id']}", headers=stranger),
        turn(api, stranger, session["id"], "Hola, ¿qué tal?"),
        api.client.get(f"/v1/tutor-sessions/{session['id']}/turns", headers=stranger),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "tutor_session_not_found"


def test_the_lists_of_sessions_and_mistakes(api: Api) -> None:
    learner = api.new_user()
    dialog = new_dialog(api)
    first = start(api, learner, dialog["id"], "Ana").json()
    turn(api, learner, first["id"], "Hola, ¿qué?")
    second = start(api, learner, dialog["id"], "Ana").json()

    sessions = api.client.get(
        "/v1/tutor-sessions", params={"kind": "roleplay", "limit": 1}, headers=learner
    ).json()
    rest = api.client.get(
        "/v1/tutor-sessions", params={"cursor": sessions["next_cursor"]}, headers=learner
    ).json()
    mistakes = api.client.get("/v1/me/word-mistakes", headers=learner).json()

    assert [s["id"] for s in sessions["items"] + rest["items"]] == [second["id"], first["id"]]
    assert [(m["word"], m["missed"]) for m in mistakes["items"]] == [("tal", 1)]
    exported = api.client.get("/v1/me/export", headers=learner).json()["tutoring"]
    assert {s["id"] for s in exported["sessions"]} == {first["id"], second["id"]}
    assert [t["said"] for t in exported["turns"]] == ["Hola, ¿qué?"]
    assert [m["word"] for m in exported["word_mistakes"]] == ["tal"]


def test_staff_manage_dialogs_archive_what_was_practised_and_purge_on_purpose(api: Api) -> None:
    learner = api.new_user(email="ana@example.com")
    dialog = new_dialog(api)
    path = f"/v1/lesson-dialogs/{dialog['id']}"
    staff_path = f"/v1/staff/lesson-dialogs/{dialog['id']}"
    start(api, learner, dialog["id"], "Ana")

    patched = api.client.patch(path, json={"title": "Saludos y té"}, headers=api.staff)
    sessions = api.client.get(f"{staff_path}/sessions", headers=api.staff)
    deleted = api.client.delete(path, headers=api.staff)
    listed = api.client.get(
        "/v1/staff/lesson-dialogs", params={"status": "archived"}, headers=api.staff
    )
    purged = api.client.post(f"{staff_path}/purge", headers=api.staff)
    gone = api.client.get(path, headers=api.staff)

    assert (patched.status_code, patched.json()["version"]) == (200, 1)
    assert [s["user_email"] for s in sessions.json()["items"]] == ["ana@example.com"]
    assert (deleted.status_code, deleted.json()["status"]) == (200, "archived")
    assert dialog["id"] in [d["id"] for d in listed.json()["items"]]
    assert (purged.status_code, purged.json()["sessions_deleted"]) == (200, 1)
    assert gone.status_code == 404
    assert api.client.get("/v1/tutor-sessions", headers=learner).json()["items"] == []


def test_a_dialog_nobody_practised_is_deleted_with_204(api: Api) -> None:
    dialog = new_dialog(api)

    deleted = api.client.delete(f"/v1/lesson-dialogs/{dialog['id']}", headers=api.staff)

    assert deleted.status_code == 204


def test_learners_see_the_catalog_but_not_the_lines_or_drafts(api: Api) -> None:
    learner = api.new_user()
    draft = new_dialog(api, status="draft")

    read_draft = api.client.get(f"/v1/lesson-dialogs/{draft['id']}", headers=learner)
    staff_read = api.client.get(f"/v1/staff/lesson-dialogs/{draft['id']}", headers=api.staff)
    learners_lines = api.client.get(f"/v1/staff/lesson-dialogs/{draft['id']}", headers=learner)

    assert read_draft.status_code == 404
    assert [line["seq"] for line in staff_read.json()["lines"]] == [1, 2, 3]
    assert learners_lines.status_code == 403


def test_an_invalid_content_file_is_a_422_naming_each_problem(api: Api) -> None:
    body = short_body(roles=[{"name": "Ana"}, {"name": "Luis"}, {"name": "Eva"}])

    refused = api.client.post(
        "/v1/staff/tutoring/import", json={"dialogs": [body]}, headers=api.staff
    )

    assert refused.status_code == 422
    assert "'Eva' is playable but has no line" in refused.text


def test_an_unplayable_script_is_a_422_naming_each_problem(api: Api) -> None:
    body = short_body(key=f"bad-{uuid.uuid4().hex[:8]}", roles=[{"name": "Luis"}])

    refused = api.client.post("/v1/lesson-dialogs", json=body, headers=api.staff)

    assert refused.status_code == 422
    assert refused.json()["code"] == "lesson_dialog_script_invalid"
    assert refused.json()["errors"][0] == {
        "path": "/lines/0/role",
        "message": "'Ana' is not a role (Luis)",
    }


def test_the_export_is_a_file_that_imports_unchanged(api: Api) -> None:
    seeded_cafe(api)

    exported = api.client.get(
        "/v1/staff/tutoring/export", params={"dialog": "en-el-cafe"}, headers=api.staff
    )
    imported = api.client.post(
        "/v1/staff/tutoring/import",
        json=exported.json(),
        params={"dry_run": "true"},
        headers=api.staff,
    )

    assert [d["key"] for d in exported.json()["dialogs"]] == ["en-el-cafe"]
    assert exported.json()["texts"] == []
    assert [d["outcome"] for d in imported.json()["dialogs"]] == ["unchanged"]


def test_library_texts_are_managed_and_read_aloud(api: Api) -> None:
    learner = api.new_user()
    body = {
        "key": f"text-{uuid.uuid4().hex[:8]}",
        "title": "Una frase",
        "language": "es",
        "level": "A2",
        "body": "Hola. Adiós.",
    }
    created = api.client.post("/v1/library-texts", json=body, headers=api.staff).json()
    started = api.client.post(
        "/v1/tutor-sessions", json={"text_id": created["id"]}, headers=learner
    ).json()
    read = api.client.get(f"/v1/library-texts/{created['id']}", headers=learner)
    changed = api.client.patch(
        f"/v1/library-texts/{created['id']}",
        json={"body": "Hola. Adiós. Hasta luego."},
        headers=api.staff,
    )

    assert (started["kind"], started["expected"]["text"], started["lines_total"]) == (
        "reading",
        "Hola.",
        2,
    )
    assert read.json()["sentence_count"] == 2
    assert changed.json()["version"] == 2
    stale = turn(api, learner, started["id"], "Hola.")
    assert (stale.status_code, stale.json()["code"]) == (409, "lesson_dialog_changed")


def test_suggestions_route_answers_the_least_practised_at_a_level(api: Api) -> None:
    learner = api.new_user()
    language = "xq"  # a language no other test's dialogs are in
    dialog = new_dialog(api, language=language, level="C2")

    suggested = api.client.get(
        "/v1/me/suggested-dialogs",
        params={"level": "C2", "language": language},
        headers=learner,
    )

    assert suggested.status_code == 200
    assert [(s["dialog"]["id"], s["sessions"]) for s in suggested.json()["items"]] == [
        (dialog["id"], 0)
    ]
