"""The learner's side over HTTP (both databases, under row level security on
PostgreSQL): attempts started, answered, submitted and graded on the server, progress
and the dashboard, what is refused and with which code, and no answer key or scoring
rule in anything a learner is answered."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api import Api, Headers
from tests.learning.factories import (
    KEY_NAMES,
    QUESTIONS,
    RIGHT,
    SECRET_ACCEPTED,
    SECRET_EXPLANATION,
    WRONG,
)


def course(api: Api, **fields: Any) -> dict[str, Any]:
    body = {
        "title": f"Reading the table {uuid.uuid4().hex[:8]}",
        "level": "beginner",
        "sections": [{"key": "s1", "title": "Seats"}, {"key": "s2", "title": "Blinds"}],
        **fields,
    }
    response = api.client.post("/v1/courses", json=body, headers=api.staff)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def assessment(api: Api, course_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "course_id": course_id,
        "title": "Seats quiz",
        "difficulty": "easy",
        "questions": QUESTIONS,
        **fields,
    }
    response = api.client.post("/v1/assessments", json=body, headers=api.staff)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def start(api: Api, learner: Headers, assessment_id: str, **body: Any) -> dict[str, Any]:
    response = api.client.post(
        f"/v1/assessments/{assessment_id}/attempts", json=body, headers=learner
    )
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


def save(api: Api, learner: Headers, attempt_id: str, question_id: str, answer: Any) -> Any:
    return api.client.put(
        f"/v1/attempts/{attempt_id}/answers/{question_id}",
        json={"answer": answer},
        headers=learner,
    )


def keys_in(document: Any) -> Iterator[str]:
    """Every key of every object in a JSON document."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield key
            yield from keys_in(value)
    elif isinstance(document, list):
        for value in document:
            yield from keys_in(value)


def test_an_attempt_is_started_answered_and_graded_on_the_server(api: Api) -> None:
    learner = api.new_user()
    quiz = assessment(api, course(api)["id"], time_limit_minutes=30)

    attempt = start(api, learner, quiz["id"])
    for question_id, answer in RIGHT.items():
        assert save(api, learner, attempt["id"], question_id, answer).status_code == 200
    submitted = api.client.post(f"/v1/attempts/{attempt['id']}/submit", headers=learner)

    assert submitted.status_code == 200, submitted.text
    graded = submitted.json()
    assert (graded["status"], graded["score"], graded["passed"]) == ("submitted", 100.0, True)
    assert graded["deadline_at"] is not None
    assert [result["outcome"] for result in graded["results"]] == ["correct"] * len(QUESTIONS)


def test_a_score_the_client_sends_is_ignored(api: Api) -> None:
    learner = api.new_user()
    quiz = assessment(api, course(api)["id"])
    attempt = start(api, learner, quiz["id"])
    for question_id, answer in WRONG.items():
        save(api, learner, attempt["id"], question_id, answer)

    response = api.client.post(
        f"/v1/attempts/{attempt['id']}/submit",
        json={"score": 100, "passed": True, "results": []},
        headers=learner,
    )

    assert response.status_code == 200, response.text
    assert (response.json()["score"], response.json()["passed"]) == (0.0, False)


def test_refusals_carry_their_codes(api: Api) -> None:
    learner = api.new_user()
    basics = course(api)
    advanced = course(api, prerequisites=[basics["id"]])
    locked = assessment(api, advanced["id"])
    quiz = assessment(api, basics["id"], max_attempts=1)

    prerequisites = api.client.post(f"/v1/assessments/{locked['id']}/attempts", headers=learner)
    attempt = start(api, learner, quiz["id"], client_attempt_id="tap-1")
    retried = api.client.post(
        f"/v1/assessments/{quiz['id']}/attempts",
        json={"client_attempt_id": "tap-1"},
        headers=learner,
    )
    limit = api.client.post(f"/v1/assessments/{quiz['id']}/attempts", headers=learner)
    malformed = save(api, learner, attempt["id"], "premium", "aa")
    unknown = save(api, learner, attempt["id"], "no-such-question", "aa")
    api.client.post(f"/v1/attempts/{attempt['id']}/submit", headers=learner)
    closed = save(api, learner, attempt["id"], "position", "btn")

    assert prerequisites.status_code == 403
    assert prerequisites.json()["code"] == "prerequisites_missing"
    assert prerequisites.json()["missing_prerequisites"] == [basics["id"]]
    assert (retried.status_code, retried.json()["id"]) == (200, attempt["id"])
    assert (limit.status_code, limit.json()["code"]) == (409, "attempt_limit_reached")
    assert (malformed.status_code, malformed.json()["code"]) == (422, "attempt_answer_invalid")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "attempt_question_not_found")
    assert (closed.status_code, closed.json()["code"]) == (409, "attempt_closed")


def test_another_learners_attempt_is_404_everywhere(api: Api) -> None:
    owner, stranger = api.new_user(), api.new_user()
    quiz = assessment(api, course(api)["id"])
    attempt = start(api, owner, quiz["id"])

    answers = [
        api.client.get(f"/v1/attempts/{attempt['id']}", headers=stranger),
        save(api, stranger, attempt["id"], "position", "btn"),
        api.client.post(f"/v1/attempts/{attempt['id']}/submit", headers=stranger),
    ]

    assert [answer.status_code for answer in answers] == [404, 404, 404]
    assert {answer.json()["code"] for answer in answers} == {"attempt_not_found"}
    listed = api.client.get(f"/v1/assessments/{quiz['id']}/attempts", headers=stranger)
    assert listed.json()["items"] == []


def test_progress_and_the_dashboard(api: Api) -> None:
    learner = api.new_user()
    taught = course(api)
    quiz = assessment(api, taught["id"])

    first = taught["sections"][0]["id"]
    completed = api.client.post(
        f"/v1/courses/{taught['id']}/sections/{first}/complete", headers=learner
    )
    beat = api.client.post(f"/v1/courses/{taught['id']}/study-time", headers=learner)
    progress = api.client.get(f"/v1/courses/{taught['id']}/progress", headers=learner)
    dashboard = api.client.get("/v1/me/courses", headers=learner)

    assert completed.status_code == 200, completed.text
    assert completed.json()["completion_rate"] == 33.33
    assert (beat.status_code, beat.json()["credited_seconds"]) == (200, 0)
    assert progress.json()["next_step"]["section"]["title"] == "Blinds"
    (item,) = dashboard.json()["items"]
    assert (item["course"]["id"], item["completion_rate"]) == (taught["id"], 33.33)
    assert item["next_step"]["kind"] == "section"
    staff_view = api.client.get(
        f"/v1/staff/users/{api.client.get('/v1/me', headers=learner).json()['id']}/progress",
        headers=api.staff,
    )
    assert [row["course_id"] for row in staff_view.json()["items"]] == [taught["id"]]
    assert quiz["id"]


@pytest.mark.parametrize(
    "scoring_config",
    [{}, {"weights": {"position": 3}, "grade_method": "average", "partial_credit": False}],
    ids=["default", "configured"],
)
def test_no_answer_key_or_scoring_rule_reaches_a_learner(
    api: Api, scoring_config: dict[str, Any]
) -> None:
    learner = api.new_user()
    taught = course(api)
    quiz = assessment(api, taught["id"], scoring_config=scoring_config, time_limit_minutes=60)
    quiz_id = quiz["id"]
    seen: list[Any] = []

    def read(response: Any) -> Any:
        assert response.status_code < 300, response.text
        seen.append(response.json())
        return response.json()

    read(api.client.get(f"/v1/assessments/{quiz_id}", headers=learner))
    attempt = read(api.client.post(f"/v1/assessments/{quiz_id}/attempts", json={}, headers=learner))
    answers = {**WRONG, "position": "btn"}
    for question_id, answer in answers.items():
        read(save(api, learner, attempt["id"], question_id, answer))
    read(api.client.get(f"/v1/attempts/{attempt['id']}", headers=learner))
    read(api.client.post(f"/v1/attempts/{attempt['id']}/submit", headers=learner))
    read(api.client.post(f"/v1/attempts/{attempt['id']}/submit", headers=learner))
    read(api.client.get(f"/v1/attempts/{attempt['id']}", headers=learner))
    read(api.client.get(f"/v1/assessments/{quiz_id}/attempts", headers=learner))
    read(api.client.get(f"/v1/courses/{taught['id']}/progress", headers=learner))
    read(api.client.get("/v1/me/courses", headers=learner))
    read(api.client.get("/v1/reviews/cards", headers=learner))

    assert len(seen) == 10 + len(answers)
    found = set(keys_in(seen))
    assert found.isdisjoint(KEY_NAMES), found & set(KEY_NAMES)
    text = str(seen)
    assert SECRET_ACCEPTED not in text
    assert SECRET_EXPLANATION not in text
    # The questions are there, as the learner may see them.
    assert "Which seat acts last after the flop?" in text


def test_one_client_attempt_id_at_two_courses_at_once_is_409_client_attempt_id_reused(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As when both starts look before either inserts: starts at two courses queue on
    # different progress rows, and the database refuses the second.
    monkeypatch.setattr("convobase.learning.service._retried", lambda *_: None)
    learner = api.new_user()
    first = assessment(api, course(api)["id"])
    second = assessment(api, course(api)["id"])
    start(api, learner, first["id"], client_attempt_id="tap-once")

    response = api.client.post(
        f"/v1/assessments/{second['id']}/attempts",
        json={"client_attempt_id": "tap-once"},
        headers=learner,
    )

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "client_attempt_id_reused"
