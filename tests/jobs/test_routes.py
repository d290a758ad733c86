"""Staff's view of the job queue over HTTP."""

import uuid
from typing import Any

import pytest

from convobase.core.principal import Role
from tests.api import Api, Headers, bearer, token_for


def queued_analysis(api: Api) -> dict[str, Any]:
    """A user writes 25 messages; their analysis job, still queued (no worker here)."""
    user = api.new_user()
    conversation = api.conversation(user)
    for n in range(25):
        api.say(user, conversation["id"], f"message {n}")
    me = api.client.get("/v1/me", headers=user).json()
    page = api.client.get(
        "/v1/jobs", params={"name": "analysis", "state": "queued", "limit": 200}, headers=api.staff
    ).json()
    (job,) = [job for job in page["items"] if job["for_user_id"] == me["id"]]
    return dict(job)


def test_staff_list_and_read_jobs_with_their_state(api: Api) -> None:
    job = queued_analysis(api)

    read = api.client.get(f"/v1/jobs/{job['id']}", headers=api.staff)

    assert read.status_code == 200
    assert read.json()["state"] == "queued"
    assert read.json()["dedup_key"] == f"analysis:{job['for_user_id']}:1"
    assert read.json()["data"] == {"user_id": job["for_user_id"], "batch": 1}


def test_staff_cancel_a_queued_job_then_retry_it(api: Api) -> None:
    job = queued_analysis(api)

    cancelled = api.client.post(f"/v1/jobs/{job['id']}/cancel", headers=api.staff)
    again = api.client.post(f"/v1/jobs/{job['id']}/cancel", headers=api.staff)
    retried = api.client.post(f"/v1/jobs/{job['id']}/retry", headers=api.staff)
    retried_again = api.client.post(f"/v1/jobs/{job['id']}/retry", headers=api.staff)

    assert (cancelled.status_code, cancelled.json()["state"]) == (200, "cancelled")
    assert (again.status_code, again.json()["code"]) == (409, "job_not_cancellable")
    assert (retried.status_code, retried.json()["state"]) == (200, "queued")
    assert (retried.json()["attempts"], retried.json()["retry_count"]) == (0, 0)
    assert (retried_again.status_code, retried_again.json()["code"]) == (409, "job_not_retryable")


def test_job_stats_count_every_state(api: Api) -> None:
    queued_analysis(api)

    stats = api.client.get("/v1/jobs/stats", headers=api.staff)

    assert stats.status_code == 200
    assert set(stats.json()) == {"queued", "active", "completed", "failed", "cancelled"}
    assert stats.json()["queued"] >= 1


def test_the_list_pages_with_a_cursor(api: Api) -> None:
    queued_analysis(api)
    queued_analysis(api)
    first = api.client.get("/v1/jobs", params={"limit": 1}, headers=api.staff).json()
    second = api.client.get(
        "/v1/jobs", params={"limit": 1, "cursor": first["next_cursor"]}, headers=api.staff
    ).json()
    assert first["items"][0]["id"] != second["items"][0]["id"]


@pytest.mark.parametrize("role", [Role.AUTHENTICATED, Role.GUEST])
@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/jobs/stats", f"/v1/jobs/{uuid.UUID(int=1)}"])
def test_only_staff_see_jobs(api: Api, role: Role, path: str) -> None:
    caller: Headers = bearer(token_for(uuid.uuid4(), role))
    response = api.client.get(path, headers=caller)
    assert response.status_code == 403


def test_an_unknown_job_is_404_and_a_bad_state_422(api: Api) -> None:
    missing = api.client.get(f"/v1/jobs/{uuid.uuid4()}", headers=api.staff)
    bad_state = api.client.get("/v1/jobs", params={"state": "lost"}, headers=api.staff)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert (bad_state.status_code, bad_state.json()["code"]) == (422, "validation_error")
