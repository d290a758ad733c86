"""Bounds on what callers may store, the same on SQLite and PostgreSQL."""

import json
from typing import Annotated, Any

from pydantic import AfterValidator

MAX_JSON_DEPTH = 8


def no_nul(value: str) -> str:
    """Refuse U+0000: PostgreSQL cannot store it in text or JSON, SQLite can."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


# Text that every supported database stores exactly.
Text = Annotated[str, AfterValidator(no_nul)]


def json_depth(value: Any) -> int:
    """How deeply `value` nests: a scalar is 0, `{}` and `[]` are 1."""
    if isinstance(value, dict):
        return 1 + max((json_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((json_depth(item) for item in value), default=0)
    return 0


def bounded_json(value: dict[str, Any], *, max_bytes: int, name: str) -> dict[str, Any]:
    """Check that a JSON object is at most `max_bytes` of UTF-8, MAX_JSON_DEPTH deep,
    and free of NUL characters."""
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"{name} nests deeper than {MAX_JSON_DEPTH} levels")
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # json.dumps spells a NUL inside a string as the escape \u0000.
    if "\\u0000" in encoded:
        raise ValueError(f"{name} must not contain the NUL character (U+0000)")
    size = len(encoded.encode())
    if size > max_bytes:
        raise ValueError(f"{name} is {size} bytes; the limit is {max_bytes}")
    return value
