"""Whatever a caller sends, the answer is never a 500, and it is the same on SQLite and
PostgreSQL: input either database cannot store is refused at the edge, with 422 naming
the field, and nothing is written."""

import base64
import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.api import JWT_SECRET, PERSONALITY, Api, Headers, bearer, token_for
from tests.learning.catalog import assessment_body, course_body
from tests.tutoring.dialogs import short_body

INT32_OVERFLOW = 2**31
INT64_OVERFLOW = 2**63


def send(api: Api, method: str, url: str, body: Any, headers: Headers) -> httpx.Response:
    """Send `body` as JSON text, including what a strict encoder would refuse: lone
    surrogates (escaped as \\ud800), NaN and Infinity. A str is sent as it is."""
    text = body if isinstance(body, str) else json.dumps(body)
    response: httpx.Response = api.client.request(
        method,
        url,
        content=text.encode("utf-8"),
        headers={**headers, "Content-Type": "application/json"},
    )
    return response


def assert_refused(response: httpx.Response, field: str, code: str = "validation_error") -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()  # the answer is valid JSON even when it names odd input
    assert problem["code"] == code
    assert field in problem["detail"], problem


def cursor_of(*parts: Any) -> str:
    raw = json.dumps(list(parts)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def messages_url(conversation: dict[str, Any]) -> str:
    return f"/v1/conversations/{conversation['id']}/messages"


# --- integers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"after": INT32_OVERFLOW},
        {"before": INT32_OVERFLOW},
        {"after": INT64_OVERFLOW},
        {"before": INT64_OVERFLOW},
        {"before": 10**30},
        {"limit": INT64_OVERFLOW},
    ],
    ids=["after-int32", "before-int32", "after-int64", "before-int64", "before-huge", "limit"],
)
def test_integers_beyond_their_column_are_422_in_query_parameters(
    api: Api, params: dict[str, int]
) -> None:
    me = api.new_user()
    conversation = api.conversation(me)

    response = api.client.get(messages_url(conversation), params=params, headers=me)

    assert_refused(response, next(iter(params)))


def test_the_largest_seq_a_column_holds_is_accepted(api: Api) -> None:
    me = api.new_user()
    conversation = api.conversation(me)
    api.say(me, conversation["id"])

    after = api.client.get(messages_url(conversation), params={"after": 2**31 - 1}, headers=me)
    before = api.client.get(messages_url(conversation), params={"before": 2**31 - 1}, headers=me)

    assert after.status_code == before.status_code == 200
    assert (len(after.json()["items"]), len(before.json()["items"])) == (0, 1)


def test_integers_beyond_their_bounds_are_422_in_bodies(api: Api) -> None:
    name = f"huge-{uuid.uuid4().hex[:8]}"
    body = {
        "name": name,
        "display_name": "Huge",
        "personality_config": {**PERSONALITY, "max_response_tokens": INT64_OVERFLOW},
    }

    response = send(api, "POST", "/v1/personas", body, api.staff)

    assert_refused(response, "max_response_tokens")
    assert api.client.get(f"/v1/personas?specialization={name}").json()["items"] == []


# --- text no database stores ------------------------------------------------------

UNSTORABLE = {"nul": "a\x00b", "surrogate": "a\ud800b", "low-surrogate": "\udfff"}


@pytest.mark.parametrize("bad", UNSTORABLE.values(), ids=UNSTORABLE.keys())
@pytest.mark.parametrize(
    ("where", "field"),
    [
        (lambda bad: {"role": "user", "content": bad}, "content"),
        (lambda bad: {"role": "user", "content": "ok", "client_message_id": bad}, "client_"),
        (lambda bad: {"role": "user", "content": "ok", "metadata": {"k": bad}}, "metadata.k"),
        (lambda bad: {"role": "user", "content": "ok", "metadata": {bad: 1}}, "metadata"),
        (
            lambda bad: {"role": "user", "content": "ok", "metadata": {"a": [{"b": [bad]}]}},
            "metadata.a[0].b[0]",
        ),
        (lambda bad: {"role": "user", "content": "ok", "metadata": {"a": {bad: {}}}}, "key"),
    ],
    ids=["content", "client_message_id", "json-value", "json-key", "deep-value", "deep-key"],
)
def test_text_no_database_stores_is_422_in_a_message_and_stores_nothing(
    api: Api, where: Any, field: str, bad: str
) -> None:
    me = api.new_user()
    conversation = api.conversation(me)

    response = send(api, "POST", messages_url(conversation), where(bad), me)

    assert_refused(response, field)
    assert api.client.get(messages_url(conversation), headers=me).json()["items"] == []


@pytest.mark.parametrize("bad", UNSTORABLE.values(), ids=UNSTORABLE.keys())
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (lambda bad: {"title": bad}, "title"),
        (lambda bad: {"context": {"notes": [bad]}}, "context.notes[0]"),
        (lambda bad: {"context": {bad: True}}, "context"),
    ],
    ids=["title", "context-value", "context-key"],
)
def test_text_no_database_stores_is_422_in_a_conversation_and_changes_nothing(
    api: Api, body: Any, field: str, bad: str
) -> None:
    me = api.new_user()
    existing = api.conversation(me, title="Kept")

    created = send(api, "POST", "/v1/conversations", body(bad), me)
    updated = send(api, "PATCH", f"/v1/conversations/{existing['id']}", body(bad), me)

    assert_refused(created, field)
    assert_refused(updated, field)
    listed = api.client.get("/v1/conversations", headers=me).json()["items"]
    assert [(item["id"], item["title"], item["context"]) for item in listed] == [
        (existing["id"], "Kept", {})
    ]


@pytest.mark.parametrize("bad", UNSTORABLE.values(), ids=UNSTORABLE.keys())
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (lambda bad: {"goals": ["ok", bad]}, "goals.1"),
        (lambda bad: {"profile": {"name": bad}}, "profile.name"),
        (lambda bad: {"preferences": {"voice": {bad: 1}}}, "preferences.voice"),
    ],
    ids=["goal", "profile", "preferences-key"],
)
def test_text_no_database_stores_is_422_in_a_profile_and_changes_nothing(
    api: Api, body: Any, field: str, bad: str
) -> None:
    me = api.new_user()
    before = api.client.get("/v1/me", headers=me).json()

    response = send(api, "PATCH", "/v1/me", body(bad), me)

    assert_refused(response, field)
    assert api.client.get("/v1/me", headers=me).json() == before


@pytest.mark.parametrize("bad", UNSTORABLE.values(), ids=UNSTORABLE.keys())
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (lambda bad: {"display_name": bad}, "display_name"),
        (lambda bad: {"description": bad}, "description"),
        (lambda bad: {"personality_config": {**PERSONALITY, "system_prompt": bad}}, "system"),
        (lambda bad: {"personality_config": {**PERSONALITY, "traits": [bad]}}, "traits"),
        (lambda bad: {"personality_config": {**PERSONALITY, "voice": bad}}, "voice"),
        (lambda bad: {"personality_config": {**PERSONALITY, bad: "x"}}, "personality_config"),
        (
            lambda bad: {"personality_config": {**PERSONALITY, "app": {"tags": [{"t": bad}]}}},
            "personality_config.app.tags[0].t",
        ),
    ],
    ids=["display_name", "description", "prompt", "trait", "app-value", "app-key", "deep"],
)
def test_text_no_database_stores_is_422_in_a_persona_and_stores_nothing(
    api: Api, fields: Any, field: str, bad: str
) -> None:
    specialization = f"hostile-{uuid.uuid4().hex[:8]}"
    body = {
        "name": specialization,
        "display_name": "Hostile",
        "personality_config": PERSONALITY,
        "specialization": specialization,
        **fields(bad),
    }

    response = send(api, "POST", "/v1/personas", body, api.staff)

    assert_refused(response, field)
    listed = api.client.get("/v1/personas", params={"specialization": specialization})
    assert listed.json()["items"] == []


@pytest.mark.parametrize("bad", UNSTORABLE.values(), ids=UNSTORABLE.keys())
def test_an_unstorable_guest_token_is_422_naming_it(api: Api, bad: str) -> None:
    response = send(
        api, "POST", "/v1/guest-sessions/claim", {"guest_token": f"x.y.{bad}"}, api.new_user()
    )

    assert_refused(response, "guest_token")


@pytest.mark.parametrize("bad", ["\ud800", "\x00", "x" * 10_000])
def test_an_unknown_field_with_any_name_is_422_and_the_answer_is_valid_json(
    api: Api, bad: str
) -> None:
    me = api.new_user()
    conversation = api.conversation(me)

    response = send(api, "POST", messages_url(conversation), {"role": "user", bad: "x"}, me)

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert all(len(str(part)) < 200 for error in problem["errors"] for part in error["loc"])


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/v1/personas", {"specialization": "chess\x00"}, "specialization"),
        ("/v1/personas", {"cursor": "\x00"}, "cursor"),
        ("/v1/conversations", {"cursor": "abc\x00"}, "cursor"),
        ("{messages}", {"cursor": "\x00"}, "cursor"),
        ("/v1/personas", {"unknown\x00": "1"}, "unknown"),
    ],
    ids=["filter", "persona-cursor", "conversation-cursor", "message-cursor", "unknown"],
)
def test_nul_in_any_query_parameter_is_422_naming_it(
    api: Api, url: str, params: dict[str, str], field: str
) -> None:
    me = api.new_user()
    url = url.format(messages=messages_url(api.conversation(me)))

    response = api.client.get(url, params=params, headers=me)

    assert_refused(response, field)
    assert response.json()["errors"][0]["loc"][0] == "query"


# --- numbers JSON cannot carry ----------------------------------------------------


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
@pytest.mark.parametrize(
    ("template", "field"),
    [
        ('{{"role": "user", "content": "ok", "metadata": {{"x": {n}}}}}', "metadata.x"),
        ('{{"role": "user", "content": "ok", "metadata": {{"x": [1, {{"y": {n}}}]}}}}', "y"),
        ('{{"role": "user", "content": {n}}}', "content"),
    ],
    ids=["metadata", "deep-metadata", "content"],
)
def test_nan_and_infinity_are_422_in_a_message_and_store_nothing(
    api: Api, number: str, template: str, field: str
) -> None:
    me = api.new_user()
    conversation = api.conversation(me)

    response = send(api, "POST", messages_url(conversation), template.format(n=number), me)

    assert_refused(response, field)
    assert api.client.get(messages_url(conversation), headers=me).json()["items"] == []


@pytest.mark.parametrize("number", ["NaN", "Infinity", "1e400"])
@pytest.mark.parametrize(
    "where", ['"temperature": {n}', '"extra": {{"score": {n}}}'], ids=["temperature", "extra"]
)
def test_nan_and_infinity_are_422_in_a_persona(api: Api, number: str, where: str) -> None:
    specialization = f"nan-{uuid.uuid4().hex[:8]}"
    body = (
        f'{{"name": "{specialization}", "display_name": "NaN", "specialization": '
        f'"{specialization}", "personality_config": {{"system_prompt": "Hi", '
        f'"temperature": 0.5, {where.format(n=number)}}}}}'
    )

    response = send(api, "POST", "/v1/personas", body, api.staff)

    assert_refused(response, "personality_config")
    listed = api.client.get("/v1/personas", params={"specialization": specialization})
    assert listed.json()["items"] == []


def test_floats_come_back_the_same_from_both_databases(api: Api) -> None:
    me = api.new_user()
    conversation = api.conversation(me)
    metadata = {"big": 1e20, "exact": 1.2345678901234566e25, "zero": -0.0, "small": 1e-7}

    posted = send(
        api,
        "POST",
        messages_url(conversation),
        {"role": "user", "content": "ok", "metadata": metadata},
        me,
    )
    stored = api.client.get(messages_url(conversation), headers=me).json()["items"][-1]

    # PostgreSQL's jsonb gives 1e20 back as the integer it equals, and 0.0 without a
    # sign; SQLite answers the same, and so does the append itself.
    expected = {"big": 10**20, "exact": 12345678901234566000000000, "zero": 0.0, "small": 1e-7}
    assert posted.status_code == 201
    assert posted.json()["message"]["metadata"] == stored["metadata"] == expected
    types = {key: type(value) for key, value in stored["metadata"].items()}
    assert types == {"big": int, "exact": int, "zero": float, "small": float}
    assert json.dumps(stored["metadata"]["zero"]) == "0.0"


# --- depth and unreadable bodies --------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [8, 100, 900, 5_000, 200_000])
def test_json_nested_past_the_limit_is_422_at_any_depth_and_stores_nothing(
    api: Api, depth: int
) -> None:
    me = api.new_user()
    conversation = api.conversation(me)
    body = f'{{"role": "user", "content": "ok", "metadata": {{"a": {nested(depth)}}}}}'

    response = send(api, "POST", messages_url(conversation), body, me)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert api.client.get(messages_url(conversation), headers=me).json()["items"] == []


@pytest.mark.parametrize("depth", [20, 900, 200_000])
@pytest.mark.parametrize(
    ("method", "url", "template"),
    [
        ("PATCH", "/v1/me", '{{"profile": {{"a": {deep}}}}}'),
        ("POST", "/v1/conversations", '{{"context": {{"a": {deep}}}}}'),
        ("POST", "/v1/conversations", "{deep}"),
    ],
    ids=["profile", "context", "whole-body"],
)
def test_json_nested_past_the_limit_is_422_in_any_body(
    api: Api, depth: int, method: str, url: str, template: str
) -> None:
    me = api.new_user()

    response = send(api, method, url, template.format(deep=nested(depth)), me)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert api.client.get("/v1/conversations", headers=me).json()["items"] == []


def test_json_nested_past_the_limit_is_422_in_a_persona(api: Api) -> None:
    specialization = f"deep-{uuid.uuid4().hex[:8]}"
    for depth in (8, 900, 200_000):
        body = (
            f'{{"name": "{specialization}-{depth}", "display_name": "Deep", '
            f'"specialization": "{specialization}", "personality_config": '
            f'{{"system_prompt": "Hi", "temperature": 0.5, "extra": {nested(depth)}}}}}'
        )

        response = send(api, "POST", "/v1/personas", body, api.staff)

        assert response.status_code == 422, response.text
        assert response.json()["code"] == "validation_error"
    listed = api.client.get("/v1/personas", params={"specialization": specialization})
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"role": "user", "content": "caf\xe9"}',
        b'{"role": "user", "content": "\xff\xfe"}',
        b'{"role": "user", "content": "ok", "metadata": {"n": ' + b"9" * 5_000 + b"}}",
        b'{"role": "user", "content": "ok"',
        b"not json at all",
        b'{"role": "user", "content": "ok"} trailing',
    ],
    ids=["latin-1", "invalid-utf-8", "5000-digit-number", "truncated", "not-json", "trailing"],
)
def test_unreadable_bodies_are_422_validation_error_and_store_nothing(
    api: Api, body: bytes
) -> None:
    me = api.new_user()
    conversation = api.conversation(me)

    response = api.client.post(
        messages_url(conversation),
        content=body,
        headers={**me, "Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["errors"][0]["loc"][0] == "body"
    assert api.client.get(messages_url(conversation), headers=me).json()["items"] == []


# --- strict types -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"is_active": 0}, "is_active"),
        ({"is_active": "false"}, "is_active"),
        ({"title": 5}, "title"),
        ({"context": "{}"}, "context"),
        ({"context": [["a", 1]]}, "context"),
    ],
)
def test_a_conversation_update_takes_values_only_of_their_own_type(
    api: Api, body: dict[str, Any], field: str
) -> None:
    me = api.new_user()
    conversation = api.conversation(me, title="Kept")

    response = api.client.patch(f"/v1/conversations/{conversation['id']}", json=body, headers=me)

    assert_refused(response, field)
    stored = api.client.get(f"/v1/conversations/{conversation['id']}", headers=me).json()
    assert (stored["is_active"], stored["title"], stored["context"]) == (True, "Kept", {})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "user", "content": 42}, "content"),
        ({"role": "user", "content": True}, "content"),
        ({"role": 1, "content": "ok"}, "role"),
        ({"role": "user", "content": "ok", "client_message_id": 7}, "client_message_id"),
        ({"role": "user", "content": "ok", "metadata": []}, "metadata"),
    ],
)
def test_a_message_takes_values_only_of_their_own_type(
    api: Api, body: dict[str, Any], field: str
) -> None:
    me = api.new_user()
    conversation = api.conversation(me)

    response = api.client.post(messages_url(conversation), json=body, headers=me)

    assert_refused(response, field)
    assert api.client.get(messages_url(conversation), headers=me).json()["items"] == []


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"is_active": 0}, "is_active"),
        ({"is_active": 1}, "is_active"),
        ({"is_active": "true"}, "is_active"),
        ({"personality_config": {**PERSONALITY, "temperature": "0.5"}}, "temperature"),
        ({"personality_config": {**PERSONALITY, "max_response_tokens": "100"}}, "max_response"),
        ({"personality_config": {**PERSONALITY, "max_response_tokens": 100.0}}, "max_response"),
        ({"personality_config": {**PERSONALITY, "traits": "kind"}}, "traits"),
        ({"skill_level": 1}, "skill_level"),
    ],
)
def test_a_persona_update_takes_values_only_of_their_own_type(
    api: Api, update: dict[str, Any], field: str
) -> None:
    persona = api.persona()

    response = api.client.patch(f"/v1/personas/{persona['id']}", json=update, headers=api.staff)

    assert_refused(response, field)
    unchanged = api.client.get(f"/v1/staff/personas/{persona['id']}", headers=api.staff)
    assert unchanged.json() == persona


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"goals": "learn"}, "goals"),
        ({"goals": [1]}, "goals"),
        ({"profile": "{}"}, "profile"),
    ],
)
def test_a_profile_update_takes_values_only_of_their_own_type(
    api: Api, body: dict[str, Any], field: str
) -> None:
    me = api.new_user()
    before = api.client.get("/v1/me", headers=me).json()

    response = api.client.patch("/v1/me", json=body, headers=me)

    assert_refused(response, field)
    assert api.client.get("/v1/me", headers=me).json() == before


def test_ids_and_names_of_choices_are_still_sent_as_strings(api: Api) -> None:
    persona = api.persona()
    me = api.new_user()

    created = api.client.post(
        "/v1/conversations",
        json={"persona_id": persona["id"], "kind": "roleplay"},
        headers=me,
    )
    message = api.client.post(
        messages_url(created.json()), json={"role": "user", "content": "Hola"}, headers=me
    )
    ended = api.client.patch(
        f"/v1/conversations/{created.json()['id']}", json={"is_active": False}, headers=me
    )
    guest = api.client.post("/v1/guest-sessions", json={"persona_id": persona["id"]})

    assert (created.status_code, message.status_code, ended.status_code) == (201, 201, 200)
    assert created.json()["kind"] == "roleplay"
    assert ended.json()["is_active"] is False
    assert guest.status_code == 201


# --- cursors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of("after", INT32_OVERFLOW),
        cursor_of("before", INT64_OVERFLOW),
        cursor_of("before", 10**40),
        cursor_of("after", -1),
        cursor_of("after", True),
        cursor_of("after", 1.5),
        cursor_of("after", "1"),
        cursor_of("aft\x00er", 1),
        cursor_of("after\ud800", 1),
        cursor_of("after"),
        cursor_of("after", 1, 2),
        base64.urlsafe_b64encode(b'["after", NaN]').decode(),
        base64.urlsafe_b64encode(b'{"after": 1}').decode(),
        base64.urlsafe_b64encode(b"[" * 700).decode(),
        base64.urlsafe_b64encode(b'["after", 1]\xff').decode(),
        "a" * 5_000,
        "!!!",
    ],
    ids=[
        "int32-overflow",
        "int64-overflow",
        "huge",
        "negative",
        "boolean",
        "float",
        "string-seq",
        "nul",
        "surrogate",
        "too-short",
        "too-long",
        "nan",
        "object",
        "deep",
        "not-utf-8",
        "huge-cursor",
        "not-base64",
    ],
)
def test_message_cursors_that_decode_to_anything_unexpected_are_422_invalid_cursor(
    api: Api, cursor: str
) -> None:
    me = api.new_user()
    conversation = api.conversation(me)
    api.say(me, conversation["id"])

    response = api.client.get(messages_url(conversation), params={"cursor": cursor}, headers=me)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of("0001-01-01T00:00:00+01:00", str(uuid.uuid4())),
        cursor_of("9999-12-31T23:59:59-01:00", str(uuid.uuid4())),
        cursor_of("0001-01-01T00:00:00+23:59", str(uuid.uuid4())),
        cursor_of("2026-01-01T00:00:00+00:00", "\x00"),
        cursor_of("2026-01-01T00:00:00+00:00\ud800", str(uuid.uuid4())),
        cursor_of(1, str(uuid.uuid4())),
        cursor_of("2026-01-01T00:00:00+00:00"),
    ],
    ids=[
        "year-1-ahead",
        "year-9999-behind",
        "year-1-far-ahead",
        "nul",
        "surrogate",
        "int",
        "short",
    ],
)
def test_conversation_cursors_with_dates_out_of_range_are_422_invalid_cursor(
    api: Api, cursor: str
) -> None:
    me = api.new_user()
    api.conversation(me)

    response = api.client.get("/v1/conversations", params={"cursor": cursor}, headers=me)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of("yesterday", str(uuid.uuid4())),
        cursor_of("2026-01-01T00:00:00", str(uuid.uuid4())),
        cursor_of("2026-01-01T00:00:00+00:00", "not-a-uuid"),
    ],
    ids=["not-a-time", "no-zone", "not-a-uuid"],
)
def test_conversation_cursors_with_malformed_parts_are_422(api: Api, cursor: str) -> None:
    me = api.new_user()
    api.conversation(me)

    response = api.client.get("/v1/conversations", params={"cursor": cursor}, headers=me)

    assert response.status_code == 422, response.text
    # The conversation service reads these parts itself, and answers validation_error.
    assert response.json()["code"] in ("invalid_cursor", "validation_error")


def test_conversation_cursors_at_the_edges_of_time_in_utc_are_accepted(api: Api) -> None:
    me = api.new_user()
    api.conversation(me)

    earliest = cursor_of("0001-01-01T00:00:00+00:00", str(uuid.uuid4()))
    latest = cursor_of("9999-12-31T23:59:59+00:00", str(uuid.uuid4()))
    before_all = api.client.get("/v1/conversations", params={"cursor": earliest}, headers=me)
    after_all = api.client.get("/v1/conversations", params={"cursor": latest}, headers=me)

    assert before_all.status_code == after_all.status_code == 200
    assert (len(before_all.json()["items"]), len(after_all.json()["items"])) == (0, 1)


@pytest.mark.parametrize(
    "cursor",
    [cursor_of("a\x00"), cursor_of("\udc80"), cursor_of(1), cursor_of(None), cursor_of([])],
    ids=["nul", "surrogate", "int", "null", "list"],
)
def test_persona_cursors_that_decode_to_anything_unexpected_are_422_invalid_cursor(
    api: Api, cursor: str
) -> None:
    response = api.client.get("/v1/personas", params={"cursor": cursor})

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_cursor"


# --- tokens -----------------------------------------------------------------------


def raw_token(payload: str) -> str:
    """A token signed with the test secret whose payload is `payload` verbatim."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    header = part(b'{"alg":"HS256","typ":"JWT"}')
    signing_input = f"{header}.{part(payload.encode())}"
    signature = hmac.new(JWT_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def payload(**claims: str) -> str:
    fields = {"sub": json.dumps(str(uuid.uuid4())), "exp": "4000000000", **claims}
    return "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"


TOKEN_REFUSALS = {
    "missing": (None, "Authentication is required"),
    "not-bearer": ("Basic dXNlcjpwYXNz", "must be 'Bearer <token>'"),
    "malformed": ("Bearer not.a.jwt", "malformed"),
    "bad-signature": (
        "Bearer " + token_for(uuid.uuid4(), secret="another-secret-also-long-enough-0123456789"),
        "signature is not valid",
    ),
    "expired": ("Bearer " + token_for(uuid.uuid4(), ttl=timedelta(seconds=-1)), "expired"),
    "not-yet-valid": ("Bearer " + raw_token(payload(nbf="4000000000")), "not valid yet (nbf"),
    "issued-in-the-future": (
        "Bearer " + raw_token(payload(iat="4000000000")),
        "not valid yet (iat",
    ),
    "exp-nan": ("Bearer " + raw_token(payload(exp="NaN")), "exp is not a finite number"),
    "exp-infinite": ("Bearer " + raw_token(payload(exp="1e400")), "exp is not a finite number"),
    "exp-boolean": ("Bearer " + raw_token(payload(exp="true")), "exp is not a finite number"),
    "email-nul": ("Bearer " + raw_token(payload(email='"a\\u0000@b.c"')), "email must not"),
    "email-surrogate": ("Bearer " + raw_token(payload(email='"a\\ud800@b.c"')), "email must not"),
}


@pytest.mark.parametrize(("authorization", "reason"), TOKEN_REFUSALS.values(), ids=TOKEN_REFUSALS)
def test_each_token_refusal_is_401_saying_what_was_wrong_without_echoing_the_token(
    api: Api, authorization: str | None, reason: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = api.client.get("/v1/me", headers=headers)

    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "unauthorized"
    assert reason in response.json()["detail"]
    if authorization is not None:
        assert authorization.split()[-1] not in response.text


@pytest.mark.parametrize("email", ['"a\\u0000@b.c"', '"a\\udfff@b.c"'], ids=["nul", "surrogate"])
def test_a_token_with_an_email_no_database_stores_creates_no_user(api: Api, email: str) -> None:
    user_id = uuid.uuid4()
    hostile = raw_token(payload(sub=json.dumps(str(user_id)), email=email))

    refused = api.client.get("/v1/me", headers=bearer(hostile))
    later = api.client.get("/v1/me", headers=bearer(token_for(user_id)))

    assert refused.status_code == 401
    assert later.status_code == 200
    assert later.json()["email"] is None  # created by the later request, not the refused one


# --- every route, every odd body --------------------------------------------------

ODD_BODIES: dict[str, tuple[bytes, str | None]] = {
    "empty": (b"", "application/json"),
    "null": (b"null", "application/json"),
    "array": (b"[]", "application/json"),
    "number": (b"1", "application/json"),
    "string": (b'"x"', "application/json"),
    "nan": (b"NaN", "application/json"),
    "object-of-nan": (b'{"a": NaN, "b": -Infinity}', "application/json"),
    "nul-key": (b'{"\\u0000": 1}', "application/json"),
    "surrogate-key": (b'{"\\ud800": 1}', "application/json"),
    "raw-surrogate": (b'{"a": "\xed\xa0\x80"}', "application/json"),
    "invalid-utf-8": (b'{"a": "\xff"}', "application/json"),
    "utf-16": ('{"title": "x"}'.encode("utf-16"), "application/json"),
    "bom": (b'\xef\xbb\xbf{"title": "x"}', "application/json"),
    "deep": (b"[" * 100_000, "application/json"),
    "deep-object": (b'{"a": ' * 2_000 + b"1" + b"}" * 2_000, "application/json"),
    "many-digits": (b'{"a": ' + b"1" * 5_000 + b"}", "application/json"),
    "huge-exponent": (b'{"a": 1e99999}', "application/json"),
    "no-content-type": (b'{"title": "x"}', None),
    "text-plain": (b'{"title": "x"}', "text/plain"),
    "form": (b"title=x", "application/x-www-form-urlencoded"),
    "bad-content-type": (b"{}", "application/json; charset=\x7f"),
}


def write_routes(api: Api) -> list[tuple[str, str]]:
    paths = api.client.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if method in ("post", "patch", "put")
    ]


def path_ids(
    api: Api, me: Headers, conversation: dict[str, Any], persona: dict[str, Any]
) -> dict[str, str]:
    """Values for every path parameter: the caller's own resources (a job id that
    names no job: staff's job routes then answer 404)."""
    crisis = {"role": "user", "content": "I want to kill myself"}
    card = api.client.post("/v1/reviews/cards", json={"prompt": "¿Qué?"}, headers=me).json()
    course = api.client.post("/v1/courses", json=course_body(), headers=api.staff).json()
    quiz = api.client.post(
        "/v1/assessments", json=assessment_body(course["id"]), headers=api.staff
    ).json()
    attempt = api.client.post(f"/v1/assessments/{quiz['id']}/attempts", headers=me).json()
    dialog = api.client.post(
        "/v1/lesson-dialogs",
        json=short_body(key=f"hostile-{uuid.uuid4().hex[:8]}"),
        headers=api.staff,
    ).json()
    tutor_session = api.client.post(
        "/v1/tutor-sessions",
        json={"dialog_id": dialog["id"], "selected_role": "Ana"},
        headers=me,
    ).json()
    text = api.client.post(
        "/v1/library-texts",
        json={
            "key": f"hostile-{uuid.uuid4().hex[:8]}",
            "title": "Hola",
            "language": "es",
            "level": "A1",
            "body": "Hola. Adiós.",
        },
        headers=api.staff,
    ).json()
    return {
        "conversation_id": conversation["id"],
        "persona_id": persona["id"],
        "user_id": api.client.get("/v1/me", headers=me).json()["id"],
        "job_id": str(uuid.uuid4()),
        "event_id": api.append(me, conversation["id"], crisis)["safety"]["event_id"],
        "card_id": card["id"],
        "course_id": course["id"],
        "section_id": course["sections"][0]["id"],
        "assessment_id": quiz["id"],
        "attempt_id": attempt["id"],
        "question_id": "position",
        "dialog_id": dialog["id"],
        "session_id": tutor_session["id"],
        "text_id": text["id"],
    }


@pytest.mark.parametrize(("body", "content_type"), ODD_BODIES.values(), ids=ODD_BODIES)
def test_no_route_answers_500_to_any_body(api: Api, body: bytes, content_type: str | None) -> None:
    me = api.new_user()
    conversation = api.conversation(me)
    persona = api.persona()
    routes = write_routes(api)

    assert routes
    ids = path_ids(api, me, conversation, persona)
    for method, path in routes:
        url = path.format(**ids)
        for caller in (me, api.staff):
            headers = {**caller, **({"Content-Type": content_type} if content_type else {})}
            response = api.client.request(method, url, content=body, headers=headers)
            assert response.status_code < 500, (method, path, response.text)
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json"


ODD_QUERY_VALUES = [
    "%00",
    "a%00b",
    "%ED%A0%80",
    "%FF",
    "-1",
    "2147483648",
    "9223372036854775808",
    "1e400",
    "NaN",
    "true",
    "",
    "x" * 5_000,
    cursor_of("after", INT64_OVERFLOW),
    cursor_of("0001-01-01T00:00:00+01:00", str(uuid.UUID(int=1))),
]


@pytest.mark.parametrize("value", ODD_QUERY_VALUES)
def test_no_route_answers_500_to_any_query_parameter(api: Api, value: str) -> None:
    me = api.new_user()
    conversation = api.conversation(me)
    api.say(me, conversation["id"])
    persona = api.persona()
    paths = api.client.get("/openapi.json").json()["paths"]
    reads = [
        (path, [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"])
        for path, operations in paths.items()
        for method, operation in operations.items()
        if method == "get"
    ]

    assert any(names for _, names in reads)
    ids = path_ids(api, me, conversation, persona)
    for path, names in reads:
        url = path.format(**ids)
        for name in names:
            for caller in (me, api.staff):
                response = api.client.get(f"{url}?{name}={value}", headers=caller)
                assert response.status_code < 500, (path, name, response.text)
