"""The catalog over HTTP (both databases, under row level security on PostgreSQL):
staff manage courses and assessments, anyone browses the active ones, and what is
refused says why in problem+json."""

import uuid
from typing import Any

from tests.api import Api
from tests.learning.catalog import QUESTIONS, assessment_body, course_body


def create_course(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.client.post("/v1/courses", json=course_body(**fields), headers=api.staff)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_course_created_by_staff_is_listed_by_level_and_tag(api: Api) -> None:
    tag = f"tag-{uuid.uuid4().hex[:8]}"
    course = create_course(api, tags=[tag, "cash"], level="intermediate")

    listed = api.client.get(
        "/v1/courses", params={"level": "intermediate", "tag": [tag, "cash"]}
    ).json()
    other_level = api.client.get("/v1/courses", params={"level": "advanced", "tag": tag}).json()

    assert [item["id"] for item in listed["items"]] == [course["id"]]
    assert listed["items"][0]["tags"] == ["cash", tag]
    assert other_level["items"] == []


def test_a_prerequisite_cycle_is_a_422_naming_the_cycle(api: Api) -> None:
    first = create_course(api)
    second = create_course(api, prerequisites=[first["id"]])

    response = api.client.patch(
        f"/v1/courses/{first['id']}", json={"prerequisites": [second["id"]]}, headers=api.staff
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "prerequisite_cycle"
    assert set(problem["cycle"]) == {first["id"], second["id"]}
    assert first["title"] in problem["detail"]
    assert second["title"] in problem["detail"]


def test_a_learner_sees_the_prerequisites_they_lack(api: Api) -> None:
    basics = create_course(api)
    advanced = create_course(api, prerequisites=[basics["id"]])

    seen = api.client.get(f"/v1/courses/{advanced['id']}", headers=api.new_user()).json()

    assert seen["prerequisites"] == [basics["id"]]
    assert seen["missing_prerequisites"] == [basics["id"]]


def test_bad_questions_are_a_422_saying_where(api: Api) -> None:
    course = create_course(api)
    broken = [{**QUESTIONS[0], "choices": QUESTIONS[0]["choices"][:1]}]

    response = api.client.post(
        "/v1/assessments",
        json=assessment_body(course["id"], questions=broken),
        headers=api.staff,
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "assessment_questions_invalid"
    assert problem["errors"][0]["path"].startswith("/questions/0/choices")


def test_learners_never_receive_answers_or_scoring(api: Api) -> None:
    course = create_course(api)
    created = api.client.post(
        "/v1/assessments",
        json=assessment_body(course["id"], scoring_config={"weights": {"pot-odds": 2}}),
        headers=api.staff,
    ).json()

    shown = api.client.get(f"/v1/assessments/{created['id']}", headers=api.new_user()).json()
    staff_view = api.client.get(f"/v1/staff/assessments/{created['id']}", headers=api.staff)

    text = str(shown)
    assert "correct" not in text
    assert "tolerance" not in text
    assert "weights" not in text
    assert [question["points"] for question in shown["questions"]] == [1, 2, 1]
    assert staff_view.json()["questions"][0]["correct"] == "b"


def test_deleting_a_course_nobody_studied_removes_it(api: Api) -> None:
    course = create_course(api)

    response = api.client.delete(f"/v1/courses/{course['id']}", headers=api.staff)

    assert response.status_code == 204
    assert response.content == b""
    gone = api.client.get(f"/v1/courses/{course['id']}", headers=api.staff)
    assert gone.status_code == 404


def test_deleting_a_course_others_require_archives_it(api: Api) -> None:
    basics = create_course(api)
    create_course(api, prerequisites=[basics["id"]])

    response = api.client.delete(f"/v1/courses/{basics['id']}", headers=api.staff)

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert response.json()["archived_at"] is not None
    hidden = api.client.get(f"/v1/courses/{basics['id']}", headers=api.new_user())
    assert hidden.status_code == 404
