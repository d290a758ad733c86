"""Onboarding over HTTP: resumed with an ETag, answered with merge patches under
If-Match, moved and completed, imported from a device, counted in staff's funnel
(both databases, under row level security on PostgreSQL)."""

import json
from typing import Any

from tests.api import Api, Headers
from tests.factories import RUNNING_ANSWERS

MERGE_PATCH = "application/merge-patch+json"


def read(api: Api, user: Headers) -> tuple[dict[str, Any], str]:
    response = api.client.get("/v1/onboarding/current", headers=user)
    assert response.status_code == 200, response.text
    return response.json(), response.headers["etag"]


def patch(api: Api, user: Headers, etag: str | None, answers: dict[str, Any]) -> Any:
    headers = {**user, "Content-Type": MERGE_PATCH}
    if etag is not None:
        headers["If-Match"] = etag
    return api.client.patch(
        "/v1/onboarding/current/answers", content=json.dumps(answers), headers=headers
    )


def step(api: Api, user: Headers, etag: str, action: str) -> Any:
    return api.client.post(f"/v1/onboarding/current/{action}", headers={**user, "If-Match": etag})


def walk_to(api: Api, user: Headers, phase: str) -> str:
    """Answer and pass every phase before `phase`; the ETag there."""
    onboarding, etag = read(api, user)
    while onboarding["phase"]["key"] != phase:
        saved = patch(api, user, etag, RUNNING_ANSWERS[onboarding["phase"]["key"]])
        moved = step(api, user, saved.headers["etag"], "advance")
        assert moved.status_code == 200, moved.text
        onboarding, etag = moved.json(), moved.headers["etag"]
    return etag


def test_your_onboarding_starts_where_you_are_and_carries_its_etag(api: Api) -> None:
    user = api.new_user()

    onboarding, etag = read(api, user)

    assert etag == onboarding["etag"] == f'"{onboarding["id"]}.1"'
    assert (onboarding["flow"], onboarding["flow_version"]) == ("running-coach", 2)
    assert onboarding["phase"]["key"] == "goal"
    assert onboarding["phase"]["answers_schema"]["properties"]["distance"]["enum"][0] == "5K"
    assert [phase["state"] for phase in onboarding["phases"]][:2] == ["current", "todo"]
    assert read(api, user)[0]["id"] == onboarding["id"]


def test_answers_are_saved_as_a_merge_patch_under_if_match(api: Api) -> None:
    user = api.new_user()
    _, etag = read(api, user)

    saved = patch(api, user, etag, {"distance": "10K", "has_race": False, "statement": "PB"})
    changed = patch(api, user, saved.headers["etag"], {"statement": None})

    assert (saved.status_code, changed.status_code) == (200, 200)
    assert changed.json()["answers"]["goal"] == {"distance": "10K", "has_race": False}
    assert changed.headers["etag"] == changed.json()["etag"] != saved.headers["etag"]


def test_an_answer_that_does_not_fit_is_a_422_naming_each_field(api: Api) -> None:
    user = api.new_user()
    _, etag = read(api, user)

    refused = patch(api, user, etag, {"distance": "6K", "has_race": 1})

    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == "onboarding_answers_invalid"
    assert [(error["loc"], error["type"]) for error in problem["errors"]] == [
        (["body", "distance"], "enum"),
        (["body", "has_race"], "type"),
    ]


def test_a_write_without_if_match_is_428_and_with_a_stale_one_412(api: Api) -> None:
    user = api.new_user()
    _, etag = read(api, user)
    patch(api, user, etag, {"distance": "10K"})

    missing = patch(api, user, None, {"distance": "5K"})
    stale = patch(api, user, etag, {"distance": "5K"})

    assert (missing.status_code, missing.json()["code"]) == (428, "precondition_required")
    assert (stale.status_code, stale.json()["code"]) == (412, "onboarding_session_changed")
    assert read(api, user)[0]["answers"]["goal"] == {"distance": "10K"}


def test_two_devices_with_one_version_get_one_412(api: Api) -> None:
    user = api.new_user()
    _, etag = read(api, user)  # the phone and the laptop both read it

    phone = patch(api, user, etag, {"distance": "10K"})
    laptop = patch(api, user, etag, {"distance": "marathon"})

    assert (phone.status_code, laptop.status_code) == (200, 412)
    current, _ = read(api, user)
    assert current["answers"]["goal"] == {"distance": "10K"}


def test_a_required_phase_cannot_be_skipped_and_back_is_refused_at_the_first(api: Api) -> None:
    user = api.new_user()
    _, etag = read(api, user)

    skipped = step(api, user, etag, "advance")
    back = step(api, user, etag, "back")

    assert skipped.status_code == 422
    assert skipped.json()["errors"][0]["loc"] == ["answers", "goal", "distance"]
    assert (back.status_code, back.json()["code"]) == (409, "onboarding_transition_not_allowed")


def test_an_onboarding_is_completed_once_and_sets_the_profile(api: Api) -> None:
    user = api.new_user()
    etag = walk_to(api, user, "preferences")
    etag = patch(api, user, etag, RUNNING_ANSWERS["preferences"]).headers["etag"]

    done = step(api, user, etag, "complete")
    again = step(api, user, etag, "complete")
    after = step(api, user, done.headers["etag"], "back")

    assert (done.status_code, again.status_code) == (200, 200)
    assert done.json()["status"] == "completed"
    assert again.json() == done.json()
    assert (after.status_code, after.json()["code"]) == (409, "onboarding_completed")
    me = api.client.get("/v1/me", headers=user).json()
    assert me["goals"] == ["half marathon"]
    assert me["preferences"]["runs_per_week"] == 4
    exported = api.client.get("/v1/me/export", headers=user).json()
    assert [s["status"] for s in exported["onboarding_sessions"]] == ["completed"]


def test_someone_elses_version_is_never_yours(api: Api) -> None:
    owner, stranger = api.new_user(), api.new_user()
    _, owners_etag = read(api, owner)
    read(api, stranger)

    response = patch(api, stranger, owners_etag, {"distance": "5K"})

    assert response.status_code == 412
    assert read(api, owner)[0]["answers"] == {}


def test_a_device_export_imports_once_with_each_records_outcome(api: Api) -> None:
    user = api.new_user()
    export = {
        "format_version": 1,
        "exported_at": "2026-01-02T10:00:00Z",
        "sessions": [
            {
                "client_session_id": "phone-1",
                "flow": "running-coach@2",
                "phase": "experience",
                "status": "active",
                "answers": {"goal": RUNNING_ANSWERS["goal"]},
                "created_at": "2026-01-01T08:00:00Z",
                "updated_at": "2026-01-02T09:00:00Z",
            },
            {"client_session_id": "phone-1"},
        ],
        "messages": [
            {
                "client_message_id": "1",
                "client_session_id": "phone-1",
                "role": "user",
                "content": "I'd like to run a half marathon.",
                "created_at": "2026-01-01T08:01:00Z",
            }
        ],
    }

    dry = api.client.post(
        "/v1/onboarding/import", params={"dry_run": "true"}, json=export, headers=user
    )
    first = api.client.post("/v1/onboarding/import", json=export, headers=user)
    second = api.client.post("/v1/onboarding/import", json=export, headers=user)

    assert [r.status_code for r in (dry, first, second)] == [200, 200, 200]
    assert [s["outcome"] for s in dry.json()["sessions"]] == ["created", "quarantined"]
    assert [s["outcome"] for s in first.json()["sessions"]] == ["created", "quarantined"]
    assert [s["outcome"] for s in second.json()["sessions"]] == ["unchanged", "quarantined"]
    assert [m["outcome"] for m in second.json()["messages"]] == ["unchanged"]
    onboarding, _ = read(api, user)
    assert onboarding["id"] == first.json()["onboarding"]["id"]
    assert onboarding["version"] == first.json()["onboarding"]["version"]
    assert onboarding["phase"]["key"] == "experience"
    messages = api.client.get(
        f"/v1/conversations/{onboarding['conversation_id']}/messages", headers=user
    ).json()["items"]
    assert [m["content"] for m in messages] == ["I'd like to run a half marathon."]


def test_staff_read_the_funnel_per_flow_version(api: Api) -> None:
    user = api.new_user()
    walk_to(api, user, "experience")

    funnel = api.client.get(
        "/v1/staff/onboarding/funnel", params={"flow": "running-coach"}, headers=api.staff
    )
    refused = api.client.get("/v1/staff/onboarding/funnel", headers=user)
    backwards = api.client.get(
        "/v1/staff/onboarding/funnel",
        params={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        headers=api.staff,
    )

    assert funnel.status_code == 200
    (version_2,) = [f for f in funnel.json()["flows"] if f["version"] == 2]
    phases = {phase["phase"]: phase for phase in version_2["phases"]}
    assert phases["goal"]["reached"] >= phases["goal"]["completed"] >= 1
    assert phases["experience"]["reached"] >= 1
    assert list(phases)[:2] == ["goal", "experience"]  # in the flow's order
    assert version_2["sessions"] >= 1
    assert refused.status_code == 403
    assert (backwards.status_code, backwards.json()["flows"]) == (200, [])
