"""Analyses over HTTP: your own at /v1/me/analysis, anyone's for staff."""

import threading
import time

from fastapi.testclient import TestClient
from pydantic import SecretStr

from convobase import bootstrap
from convobase.app import create_app
from convobase.config import Settings
from tests.api import JWT_SECRET, Api, Headers
from tests.databases import LiveDatabase


def analysed_user(api: Api, app_settings: Settings) -> tuple[Headers, str]:
    """A user who wrote 25 messages, analysed by a worker; their headers and id."""
    user = api.new_user()
    conversation = api.conversation(user)
    for n in range(25):
        api.say(user, conversation["id"], f"I want to practise my Spanish, step {n}.")
    container = bootstrap.build(app_settings)
    try:
        bootstrap.worker(container).run_until_idle()
    finally:
        container.close()
    return user, api.client.get("/v1/me", headers=user).json()["id"]


def test_your_25th_message_becomes_an_analysis_you_can_read(
    api: Api, app_settings: Settings
) -> None:
    user, _ = analysed_user(api, app_settings)

    page = api.client.get("/v1/me/analysis", headers=user)

    assert page.status_code == 200
    kinds = sorted(item["analysis_type"] for item in page.json()["items"])
    assert kinds == ["chat_scoring", "milestone_check"]
    scoring = next(i for i in page.json()["items"] if i["analysis_type"] == "chat_scoring")
    assert 0 <= scoring["chat_score"] <= 14
    assert scoring["message_range"]["count"] == 25
    assert scoring["analyzer"] == "baseline"


def test_you_see_only_your_own_analyses_and_staff_see_anyones(
    api: Api, app_settings: Settings
) -> None:
    _, user_id = analysed_user(api, app_settings)
    stranger = api.new_user()

    mine = api.client.get("/v1/me/analysis", headers=stranger).json()
    theirs = api.client.get(f"/v1/staff/users/{user_id}/analysis", headers=api.staff).json()
    not_staff = api.client.get(f"/v1/staff/users/{user_id}/analysis", headers=stranger)

    assert mine["items"] == []
    assert {item["user_id"] for item in theirs["items"]} == {user_id}
    assert not_staff.status_code == 403


def test_your_profile_shows_your_stage(api: Api) -> None:
    me = api.client.get("/v1/me", headers=api.new_user()).json()
    assert (me["stage"], me["graduation_date"]) == (1, None)


def test_readyz_reports_a_stale_worker_when_one_is_expected(
    committing_database: LiveDatabase,
) -> None:
    settings = committing_database.settings.model_copy(
        update={
            "jwt_secret": SecretStr(JWT_SECRET),
            "worker_expected": True,
            "in_process_worker": "off",
        }
    )
    container = bootstrap.build(settings)
    worker = bootstrap.worker(container)
    running = threading.Thread(target=worker.run)
    try:
        with TestClient(create_app(container)) as client:
            before = client.get("/readyz")
            running.start()
            while client.get("/readyz").status_code != 200:
                time.sleep(0.05)  # until the worker has said it is alive
            worker.stop()
            running.join()
            after = client.get("/readyz")
    finally:
        worker.stop()
        container.close()

    assert (before.status_code, before.json()["code"]) == (503, "worker_stale")
    assert (after.status_code, after.json()["code"]) == (503, "worker_stale")
