import base64
import json
from typing import Any

import pytest

from convobase.core.pagination import InvalidCursor, decode_cursor, encode_cursor
from convobase.core.validation import INT32_MAX


def raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


@pytest.mark.parametrize(
    ("key", "types"),
    [
        (("after", 0), (str, int)),
        (("before", INT32_MAX), (str, int)),
        (("2026-01-01T00:00:00+00:00", "6f1c1f4e-3c1f-4f7e-9a43-1c3bd2f0f0aa"), (str, str)),
        (("0001-01-01T00:00:00+00:00", "x"), (str, str)),
        (("María ☕ 日本語",), (str,)),
        (("2024-01-01",), (str,)),  # a persona could be named like a date
    ],
)
def test_a_cursor_this_service_issues_decodes_to_its_key(
    key: tuple[Any, ...], types: tuple[type, ...]
) -> None:
    assert decode_cursor(encode_cursor(*key), *types) == key


@pytest.mark.parametrize(
    ("cursor", "types"),
    [
        (encode_cursor("after", INT32_MAX + 1), (str, int)),
        (encode_cursor("after", -1), (str, int)),
        (raw('["after", true]'), (str, int)),
        (raw('["after", 1.0]'), (str, int)),
        (raw('["after", NaN]'), (str, int)),
        (raw('["after", 1e400]'), (str, int)),
        (raw('["a\\u0000", 1]'), (str, int)),
        (raw('["a\\ud800", 1]'), (str, int)),
        (raw('["0001-01-01T00:00:00+00:01", "x"]'), (str, str)),
        (raw('["9999-12-31T23:59:59-00:01", "x"]'), (str, str)),
        (raw("[" * 600), (str,)),
        (raw("[" * 2_000 + "]" * 2_000), (str,)),
        (raw('["a"]') + "\x00", (str,)),
        (raw('["a"]') + "\ud800", (str,)),
        (raw('["' + "a" * 2_000 + '"]'), (str,)),
        ("", (str,)),
    ],
)
def test_a_cursor_that_decodes_to_anything_unexpected_is_invalid(
    cursor: str, types: tuple[type, ...]
) -> None:
    with pytest.raises(InvalidCursor) as refused:
        decode_cursor(cursor, *types)

    assert (refused.value.status, refused.value.code) == (422, "invalid_cursor")


def test_cursors_are_json_arrays_in_url_safe_base64() -> None:
    cursor = encode_cursor("after", 7)

    assert json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))) == ["after", 7]
