"""Spaced review over HTTP: your own cards, what is due today by your own day, reviews
that a retry cannot make twice, each card's history; someone else's card is a 404 and
guests have none (both databases, under row level security on PostgreSQL)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api import Api, Headers, bearer
from tests.clocks import FakeClock


def make_card(api: Api, user: Headers, prompt: str = "¿Cómo se dice 'tired'?") -> dict[str, Any]:
    response = api.client.post(
        "/v1/reviews/cards", json={"prompt": prompt, "answer": "cansado"}, headers=user
    )
    assert response.status_code == 201, response.text
    card: dict[str, Any] = response.json()
    return card


def review(api: Api, user: Headers, card: str, rating: str = "good", **fields: Any) -> Any:
    body = {"card_id": card, "rating": rating, "client_review_id": str(uuid.uuid4()), **fields}
    return api.client.post("/v1/reviews", json=body, headers=user)


def due(api: Api, user: Headers, **params: Any) -> dict[str, Any]:
    response = api.client.get("/v1/reviews/due", params=params, headers=user)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_a_card_of_your_own_is_due_today_and_listed(api: Api) -> None:
    user = api.new_user()

    card = make_card(api, user)
    today = due(api, user)

    assert (card["source_kind"], card["state"], card["step"], card["stability"]) == (
        "own",
        "learning",
        0,
        None,
    )
    assert [item["id"] for item in today["cards"]] == [card["id"]]
    assert today["counts"] == {"due": 1, "new": 1, "learning": 0, "review": 0}
    assert (today["time_zone"], today["next_due_at"]) == ("UTC", None)
    assert api.client.get(f"/v1/reviews/cards/{card['id']}", headers=user).json() == card
    listed = api.client.get("/v1/reviews/cards", headers=user).json()
    assert (listed["items"], listed["next_cursor"]) == ([card], None)


def test_a_review_answers_201_and_its_retry_200_with_the_same_review(api: Api) -> None:
    user = api.new_user()
    card = make_card(api, user)
    body = {"card_id": card["id"], "rating": "good", "client_review_id": "tap-1"}

    first = api.client.post("/v1/reviews", json={**body, "duration_ms": 3100}, headers=user)
    retry = api.client.post("/v1/reviews", json=body, headers=user)

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    answer = first.json()
    assert answer["review"]["rating"] == "good"
    assert answer["review"]["duration_ms"] == 3100
    assert (answer["card"]["state"], answer["card"]["step"]) == ("learning", 1)
    assert answer["card"]["due_at"] == answer["review"]["due_at"]
    history = api.client.get(f"/v1/reviews/cards/{card['id']}/history", headers=user).json()
    assert history["items"] == [answer["review"]]


def test_a_client_review_id_reused_for_another_rating_is_409(api: Api) -> None:
    user = api.new_user()
    card = make_card(api, user)
    body = {"card_id": card["id"], "rating": "good", "client_review_id": "tap-1"}
    api.client.post("/v1/reviews", json=body, headers=user)

    refused = api.client.post("/v1/reviews", json={**body, "rating": "easy"}, headers=user)

    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "client_review_id_reused"


def test_a_suspended_card_is_not_due_and_not_reviewed(api: Api) -> None:
    user = api.new_user()
    card = make_card(api, user)

    suspended = api.client.patch(
        f"/v1/reviews/cards/{card['id']}", json={"suspended": True}, headers=user
    )
    refused = review(api, user, card["id"])

    assert (suspended.status_code, suspended.json()["suspended"]) == (200, True)
    assert due(api, user)["counts"]["due"] == 0
    assert (refused.status_code, refused.json()["code"]) == (409, "review_card_suspended")


def test_your_own_card_can_be_rewritten_and_deleted(api: Api) -> None:
    user = api.new_user()
    card = make_card(api, user)
    review(api, user, card["id"])
    path = f"/v1/reviews/cards/{card['id']}"

    changed = api.client.patch(path, json={"prompt": "Tired?", "answer": "cansado"}, headers=user)
    deleted = api.client.delete(path, headers=user)

    assert changed.json()["prompt"] == "Tired?"
    assert deleted.status_code == 204
    assert api.client.get(path, headers=user).status_code == 404
    assert api.client.get(f"{path}/history", headers=user).status_code == 404


def test_patching_a_null_answer_clears_it_and_a_null_prompt_is_422(api: Api) -> None:
    user = api.new_user()
    card = make_card(api, user)
    path = f"/v1/reviews/cards/{card['id']}"

    cleared = api.client.patch(path, json={"answer": None}, headers=user)
    null_prompt = api.client.patch(path, json={"prompt": None}, headers=user)
    null_suspended = api.client.patch(path, json={"suspended": None}, headers=user)

    assert (cleared.status_code, cleared.json()["answer"]) == (200, None)
    assert (null_prompt.status_code, null_suspended.status_code) == (422, 422)
    stored = api.client.get(path, headers=user).json()
    assert (stored["prompt"], stored["answer"], stored["suspended"]) == (
        card["prompt"],
        None,
        False,
    )


def test_someone_elses_card_is_404_whatever_you_do_with_it(api: Api) -> None:
    owner, stranger = api.new_user(), api.new_user()
    card = make_card(api, owner)
    path = f"/v1/reviews/cards/{card['id']}"

    answers = [
        api.client.get(path, headers=stranger),
        api.client.get(f"{path}/history", headers=stranger),
        api.client.patch(path, json={"suspended": True}, headers=stranger),
        api.client.delete(path, headers=stranger),
        review(api, stranger, card["id"]),
        review(api, api.staff, card["id"]),
    ]

    assert [answer.status_code for answer in answers] == [404] * 6
    assert due(api, stranger)["cards"] == []
    assert api.client.get(path, headers=owner).json()["suspended"] is False


def test_guests_have_no_review_cards(api: Api) -> None:
    guest = bearer(api.guest_session()["token"])

    assert api.client.get("/v1/reviews/due", headers=guest).status_code == 403
    made = api.client.post("/v1/reviews/cards", json={"prompt": "x"}, headers=guest)
    assert made.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"rating": "great"},
        {"rating": 3},
        {"duration_ms": -1},
        {"duration_ms": 86_400_001},
        {"client_review_id": ""},
        {"client_review_id": "x" * 129},
        {"card_id": "not-a-uuid"},
        {"extra": True},
    ],
)
def test_a_review_that_does_not_fit_is_422(api: Api, body: dict[str, Any]) -> None:
    user = api.new_user()
    card = make_card(api, user)

    refused = review(api, user, card["id"], **body)

    assert refused.status_code == 422
    assert refused.json()["code"] == "validation_error"


@pytest.mark.parametrize("prompt", ["", "   \n", "x" * 4001, "nul \x00"])
def test_a_card_whose_prompt_does_not_fit_is_422(api: Api, prompt: str) -> None:
    refused = api.client.post("/v1/reviews/cards", json={"prompt": prompt}, headers=api.new_user())

    assert refused.status_code == 422


def test_a_time_zone_preference_must_be_a_real_one(api: Api) -> None:
    user = api.new_user()

    bogus = api.client.patch(
        "/v1/me", json={"preferences": {"time_zone": "Mars/Olympus"}}, headers=user
    )
    not_text = api.client.patch("/v1/me", json={"preferences": {"time_zone": 14}}, headers=user)
    real = api.client.patch(
        "/v1/me", json={"preferences": {"time_zone": "Pacific/Kiritimati"}}, headers=user
    )

    assert (bogus.status_code, not_text.status_code, real.status_code) == (422, 422, 200)
    assert "IANA time zone" in bogus.json()["detail"]
    assert due(api, user)["time_zone"] == "Pacific/Kiritimati"


def test_due_today_follows_the_learners_day_across_kiritimatis_midnight(
    api: Api, now: FakeClock
) -> None:
    user = api.new_user()
    preferences = {"preferences": {"time_zone": "Pacific/Kiritimati"}}
    assert api.client.patch("/v1/me", json=preferences, headers=user).status_code == 200
    # 03:00 on 2 March there: before the 4 o'clock rollover, 1 March's day.
    now.now = datetime(2026, 3, 1, 13, tzinfo=UTC)
    card = make_card(api, user)
    graduated = review(api, user, card["id"], "easy").json()["card"]  # due in 8 days

    # 02:00 on 10 March there: 9 March's day, in which the card falls due (03:00).
    now.advance(timedelta(days=8) - timedelta(hours=1))
    before = due(api, user)
    now.advance(timedelta(hours=2))  # 04:00: 10 March's day has started
    after = due(api, user)

    assert graduated["due_at"] == "2026-03-09T13:00:00Z"
    assert (before["local_date"], before["day_ends_at"]) == ("2026-03-09", "2026-03-09T14:00:00Z")
    assert [item["id"] for item in before["cards"]] == [card["id"]]
    assert (after["local_date"], after["counts"]["due"]) == ("2026-03-10", 1)


def test_the_account_export_holds_your_cards_and_their_reviews(api: Api) -> None:
    user = api.new_user()
    card = make_card(api, user)
    reviewed = review(api, user, card["id"]).json()

    export = api.client.get("/v1/me/export", headers=user).json()

    (exported,) = export["review_cards"]
    assert exported["id"] == card["id"]
    assert exported["reviews"] == [reviewed["review"]]
