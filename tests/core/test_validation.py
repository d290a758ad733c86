import json
import math
from typing import Any

import pytest
from pydantic import ValidationError

from convobase.conversations.schemas import ConversationUpdate, MessageCreate
from convobase.core.validation import MAX_JSON_DEPTH, bounded_json, storable_text, unstorable
from convobase.personas.schemas import PersonalityConfig


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "text", ["", "plain", "María ☕", "日本語", "🙂" * 100, "\ufffd", "\uffff"]
)
def test_any_unicode_text_is_storable(text: str) -> None:
    assert storable_text(text) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a\x00", "NUL"),
        ("\ud800", "surrogates"),
        ("ok \udfff ok", "surrogates"),
        ("🙂\udbff", "surr"),
    ],
)
def test_nul_and_lone_surrogates_are_not(text: str, reason: str) -> None:
    assert reason in (unstorable(text) or "")
    with pytest.raises(ValueError, match=reason):
        storable_text(text)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 10_000, 1_000_000])
def test_json_of_any_depth_is_checked_without_recursion(depth: int) -> None:
    document = {"a": nested(depth - 1)}

    if depth <= MAX_JSON_DEPTH:
        assert bounded_json(document, max_bytes=10**9, name="doc") == document
    else:
        with pytest.raises(ValueError, match="nests deeper than 8 levels"):
            bounded_json(document, max_bytes=10**9, name="doc")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"a": {"b": [1, float("nan")]}}, r"doc\.a\.b\[1\]: numbers must be finite"),
        ({"a": math.inf}, r"doc\.a: numbers must be finite"),
        ({"a": {"\x00": 1}}, r'doc\.a\["\\u0000"\]: the key must not contain the NUL'),
        ({"x" * 100: "\ud800"}, r'doc\["x{40}\.\.\."\]: must not contain lone surrogates'),
        ({"a.b": "\x00"}, r'doc\["a\.b"\]: must not'),
        ({"a": (1, 2)}, r"doc\.a: tuple is not a JSON value"),
        ({"a": {1: 2}}, r"doc\.a: keys must be strings"),
    ],
)
def test_json_refusals_name_where_the_value_is(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bounded_json(document, max_bytes=10**6, name="doc")


def test_json_values_come_back_as_postgresql_gives_them_back() -> None:
    document = {"a": [1e16, -2.5e20, -0.0, 0.0, 1e15, 0.5, 2**70, True, None, "1e20"]}

    checked = bounded_json(document, max_bytes=10**6, name="doc")

    assert checked == {"a": [10**16, -25 * 10**19, 0.0, 0.0, 1e15, 0.5, 2**70, True, None, "1e20"]}
    assert [type(value) for value in checked["a"][:5]] == [int, int, float, float, float]
    assert math.copysign(1, checked["a"][2]) == 1
    assert isinstance(document["a"][0], float)  # what was given is not changed


def test_the_size_bound_counts_utf8_bytes() -> None:
    assert bounded_json({"a": "é" * 10}, max_bytes=28, name="doc")
    with pytest.raises(ValueError, match="29 bytes; the limit is 28"):
        bounded_json({"a": "é" * 10 + "x"}, max_bytes=28, name="doc")


@pytest.mark.parametrize(
    "fields",
    [
        {"role": "user", "content": 1},
        {"role": "user", "content": "ok", "metadata": {"n": float("nan")}},
        {"role": "user", "content": "ok", "client_message_id": 5},
        {"role": 0, "content": "ok"},
    ],
)
def test_request_schemas_take_values_only_of_their_own_type(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        MessageCreate.model_validate(fields)


@pytest.mark.parametrize("value", [0, 0.0, "false", None])
def test_ending_a_conversation_takes_false_and_nothing_equal_to_it(value: object) -> None:
    if value is None:
        assert ConversationUpdate.model_validate({"is_active": None}).is_active is None
        return
    with pytest.raises(ValidationError, match="valid boolean"):
        ConversationUpdate.model_validate({"is_active": value})


@pytest.mark.parametrize(
    "config",
    [
        {"system_prompt": "Hi", "temperature": float("nan")},
        {"system_prompt": "Hi", "temperature": "0.5"},
        {"system_prompt": "Hi", "temperature": 0.5, "max_response_tokens": 2**63},
        {"system_prompt": "Hi", "temperature": 0.5, "max_response_tokens": True},
        {"system_prompt": "Hi", "temperature": 0.5, "app": {"deep": nested(10_000)}},
        {"system_prompt": "Hi", "temperature": 0.5, "\ud800": 1},
        {"system_prompt": "Hi", "temperature": 0.5, "big": "x" * 33_000},
    ],
)
def test_a_personality_is_refused_whatever_keys_the_oddity_hides_in(
    config: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError):
        PersonalityConfig.model_validate(config)


def test_a_personality_is_within_its_bound_as_stored_with_its_defaults() -> None:
    config = {"system_prompt": "Hi", "temperature": 0.5, "notes": ""}
    config["notes"] = "x" * (32 * 1024 - len(json.dumps(config, separators=(",", ":"))))
    assert len(json.dumps(config, separators=(",", ":"))) == 32 * 1024

    with pytest.raises(ValidationError, match="personality_config is 32780 bytes"):
        PersonalityConfig.model_validate(config)  # stored, it would gain "traits":[]


def test_a_personality_keeps_the_keys_an_app_adds() -> None:
    config = PersonalityConfig.model_validate(
        {"system_prompt": "Hi", "temperature": 1, "voice": {"pitch": 1e20}}
    )

    assert config.as_document() == {
        "system_prompt": "Hi",
        "temperature": 1.0,
        "traits": [],
        "voice": {"pitch": 10**20},
    }
