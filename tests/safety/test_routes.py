"""Crisis safety through HTTP: the append's safety block, the guest refused at the cap,
the user's events, and staff's follow-up (both databases)."""

from typing import Any

from tests.api import Api, bearer

CRISIS = "I'm going to kill myself tonight"


def conversation_of(api: Api) -> tuple[dict[str, str], str]:
    user = api.new_user()
    return user, api.conversation(user)["id"]


def test_a_crisis_message_answers_with_the_safety_block(api: Api) -> None:
    user, conversation_id = conversation_of(api)

    response = api.client.post(
        f"/v1/conversations/{conversation_id}/messages",
        json={"role": "user", "content": CRISIS},
        headers={**user, "Accept-Language": "en-US"},
    )

    answer = response.json()
    safety = answer["safety"]
    assert (safety["flagged"], safety["severity"], safety["category"]) == (
        True,
        "critical",
        "suicide",
    )
    assert safety["message"]
    first = safety["resources"][0]
    assert (first["id"], first["country"]) == ("us-988", "US")
    assert {"kind": "phone", "number": "988", "keyword": None, "url": None} in first["contacts"]
    event = api.client.get(f"/v1/crisis-events/{safety['event_id']}", headers=user).json()
    assert event["message_id"] == answer["message"]["id"]
    assert event["resources_shown"] == safety["resources"]
    assert event["followup_required"] is True


def test_the_writers_language_chooses_the_help_shown(api: Api) -> None:
    user, conversation_id = conversation_of(api)

    response = api.client.post(
        f"/v1/conversations/{conversation_id}/messages",
        json={"role": "user", "content": "me quiero morir"},
        headers={**user, "Accept-Language": "es-ES,es;q=0.9,en;q=0.5"},
    )

    safety = response.json()["safety"]
    assert safety["resources"][0]["country"] == "ES"
    assert any(c["number"] == "024" for r in safety["resources"] for c in r["contacts"])
    assert "024" in safety["message"]


def test_a_guest_at_the_cap_is_refused_with_the_safety_block(api: Api) -> None:
    started = api.guest_session()
    guest = bearer(started["token"])
    messages = f"/v1/conversations/{started['conversation_id']}/messages"
    for n in range(started["message_limit"]):
        api.say(guest, started["conversation_id"], f"question {n}")
        api.reply(started["conversation_id"], f"answer {n}")

    refused = api.client.post(messages, json={"role": "user", "content": CRISIS}, headers=guest)
    plain = api.client.post(messages, json={"role": "user", "content": "hola"}, headers=guest)

    assert refused.status_code == 403
    problem = refused.json()
    assert problem["code"] == "guest_limit_reached"
    assert problem["safety"]["severity"] == "critical"
    assert (plain.status_code, "safety" in plain.json()) == (403, False)
    events = api.client.get("/v1/crisis-events", headers=guest).json()["items"]
    assert [(e["id"], e["message_id"]) for e in events] == [(problem["safety"]["event_id"], None)]
    history = api.client.get(messages, headers=guest).json()["items"]
    assert CRISIS not in [message["content"] for message in history]


def test_users_see_and_acknowledge_their_own_events_only(api: Api) -> None:
    user, conversation_id = conversation_of(api)
    said = api.append(user, conversation_id, {"role": "user", "content": "kms"})
    event_id = said["safety"]["event_id"]
    stranger = api.new_user()

    acknowledged = api.client.post(f"/v1/crisis-events/{event_id}/acknowledge", headers=user)
    theirs = api.client.post(f"/v1/crisis-events/{event_id}/acknowledge", headers=stranger)
    mine = api.client.get("/v1/crisis-events", headers=user).json()["items"]

    assert acknowledged.status_code == 200
    assert acknowledged.json()["user_acknowledged"] is True
    assert theirs.status_code == 404
    assert theirs.json()["code"] == "crisis_event_not_found"
    assert [event["id"] for event in mine] == [event_id]
    assert api.client.get("/v1/crisis-events", headers=stranger).json()["items"] == []


def test_staff_follow_an_event_up_to_its_resolution(api: Api) -> None:
    user, conversation_id = conversation_of(api)
    api.say(user, conversation_id, "hi")
    event_id = api.append(user, conversation_id, {"role": "user", "content": CRISIS})["safety"][
        "event_id"
    ]
    api.reply(conversation_id, "I'm really sorry you're feeling this way.")
    user_id = api.client.get("/v1/me", headers=user).json()["id"]
    events = f"/v1/staff/crisis-events/{event_id}"

    listed = api.client.get(
        "/v1/staff/crisis-events", params={"user_id": user_id}, headers=api.staff
    ).json()
    noted = api.client.post(f"{events}/notes", json={"note": "Called."}, headers=api.staff)
    resolved = api.client.post(
        f"{events}/resolve", json={"outcome": "supported", "note": "Safe."}, headers=api.staff
    )
    again = api.client.post(f"{events}/resolve", json={"outcome": "referred"}, headers=api.staff)
    detail = api.client.get(events, headers=api.staff).json()
    still_open = api.client.get(
        "/v1/staff/crisis-events", params={"user_id": user_id}, headers=api.staff
    ).json()
    stats = api.client.get("/v1/crisis-events/stats", params={"period": "day"}, headers=api.staff)

    assert [event["id"] for event in listed["items"]] == [event_id]
    assert noted.status_code == 201
    assert resolved.json()["resolution_outcome"] == "supported"
    assert resolved.json()["resolution_timestamp"] is not None
    assert (again.status_code, again.json()["code"]) == (409, "crisis_event_resolved")
    assert [m["content"] for m in detail["context"]] == [
        "hi",
        CRISIS,
        "I'm really sorry you're feeling this way.",
    ]
    assert [action["action"] for action in detail["actions"]] == ["note", "resolved", "viewed"]
    assert still_open["items"] == []
    assert stats.status_code == 200
    assert _today(stats.json())["resolved"] >= 1


def test_bad_follow_up_input_is_refused_with_a_problem(api: Api) -> None:
    user, conversation_id = conversation_of(api)
    event_id = api.append(user, conversation_id, {"role": "user", "content": CRISIS})["safety"][
        "event_id"
    ]
    events = f"/v1/staff/crisis-events/{event_id}"

    cases = [
        api.client.post(f"{events}/resolve", json={"outcome": "fine"}, headers=api.staff),
        api.client.post(f"{events}/notes", json={"note": ""}, headers=api.staff),
        api.client.post(f"{events}/notes", json={"note": "x" * 4001}, headers=api.staff),
        api.client.get("/v1/staff/crisis-events", params={"cursor": "nope"}, headers=api.staff),
        api.client.get("/v1/crisis-events/stats", params={"period": "year"}, headers=api.staff),
    ]

    assert [response.status_code for response in cases] == [422] * len(cases)
    assert all(r.headers["content-type"] == "application/problem+json" for r in cases)


def _today(stats: dict[str, Any]) -> dict[str, Any]:
    period: dict[str, Any] = stats["periods"][-1]
    return period


def test_with_no_country_known_the_international_directory_is_shown(api: Api) -> None:
    user, conversation_id = conversation_of(api)

    answer = api.append(user, conversation_id, {"role": "user", "content": CRISIS})

    assert answer["safety"]["resources"][0]["country"] is None


def test_stats_take_rfc_3339_times_only(api: Api) -> None:
    stats = "/v1/crisis-events/stats"

    odd = [
        api.client.get(stats, params={"until": value}, headers=api.staff)
        for value in ("0.5", "1700000000", "2026-01-01", "2026-01-01T00:00:00")
    ]
    good = api.client.get(stats, params={"until": "2026-01-01T00:00:00+01:00"}, headers=api.staff)

    assert [response.status_code for response in odd] == [422] * len(odd)
    assert good.status_code == 200


def test_stats_of_an_empty_or_reversed_range_have_no_periods(api: Api) -> None:
    reversed_range = {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    long_ago = {"period": "day", "since": "2000-01-01T00:00:00Z", "until": "2000-06-01T00:00:00Z"}

    answers = [
        api.client.get("/v1/crisis-events/stats", params=params, headers=api.staff)
        for params in (reversed_range, long_ago)
    ]

    assert [(a.status_code, a.json()["periods"]) for a in answers] == [(200, []), (200, [])]
