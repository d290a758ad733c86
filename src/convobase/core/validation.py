"""Bounds on what callers may send and store, the same on SQLite and PostgreSQL.

Every request schema derives from `RequestModel` (unknown fields refused, strict
types, finite numbers), every free text is `Text`, every JSON document is a
`json_document(...)`, and every integer a caller gives has bounds that fit where it
is stored (`INT32_MAX` for the `INTEGER` columns). What a schema lets through, both
databases store and give back alike.
"""

import json
import math
import re
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Strict
from pydantic_core import PydanticCustomError

INT32_MAX: Final = 2**31 - 1
"""The largest value of an `INTEGER` column (32 bits on PostgreSQL): seqs, counts."""

MAX_JSON_DEPTH: Final = 8

# The smallest magnitude at which PostgreSQL's jsonb gives a float back as an integer
# (it prints 1e16 as 10000000000000000); below it, a float keeps its point.
_JSONB_INTEGRAL_FLOAT: Final = 1e16
_SHOWN_KEY_CHARACTERS: Final = 40


class RequestModel(BaseModel):
    """The base of every request schema: unknown fields are refused, types are strict
    (no `0` for false, no `"1"` for 1) and numbers finite (no NaN or Infinity).

    UUIDs and enums, which JSON can only spell as strings, are annotated `FromString`.
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


FromString: Final = Strict(False)
"""For a type JSON spells as a string (a UUID, an enum): parsed from it in a strict
schema."""


def _a_boolean(value: object) -> object:
    # A strict Literal[False] still takes 0, which equals False.
    if not isinstance(value, bool):
        raise PydanticCustomError("bool_type", "Input should be a valid boolean")
    return value


OnlyBooleans: Final = BeforeValidator(_a_boolean)
"""For `Literal[True]` or `Literal[False]`: refuse 0 and 1, which equal them."""


# RFC 3339's date-time, the published schema's `format: date-time`: a date, "T", a time
# and an offset. Pydantic's lax parsing would also take a bare number (seconds since the
# epoch) or a date alone.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)


def _a_date_and_time(value: object) -> object:
    if not (isinstance(value, str) and _RFC3339.fullmatch(value)):
        raise PydanticCustomError(
            "datetime_type",
            "Input should be an RFC 3339 date and time, such as 2026-01-31T12:00:00Z",
        )
    return value


DateAndTime: Final = BeforeValidator(_a_date_and_time)
"""For a `datetime` a caller sends (a query parameter): RFC 3339 text with an offset,
never a number, a date alone or a time without its offset."""


def unstorable(value: str) -> str | None:
    """Why a database cannot store `value`, or None if it can: U+0000 (PostgreSQL
    cannot hold it in text or JSON) and lone surrogates (they are not characters: no
    UTF-8 encodes them, so neither database stores them, nor can a JSON answer)."""
    if "\x00" in value:
        return "must not contain the NUL character (U+0000)"
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            return "must not contain lone surrogates (U+D800 to U+DFFF): send valid Unicode"
    return None


def storable_text(value: str) -> str:
    """`value` if a database can store it, else ValueError saying why (`unstorable`)."""
    if (reason := unstorable(value)) is not None:
        raise ValueError(reason)
    return value


# Text that every supported database stores exactly.
Text = Annotated[str, AfterValidator(storable_text)]


def bounded_json(value: dict[str, Any], *, max_bytes: int, name: str) -> dict[str, Any]:
    """Check that a JSON object is one both databases store and give back alike, or
    raise ValueError naming where it is not.

    It must nest at most MAX_JSON_DEPTH levels, hold only JSON values (objects with
    string keys, arrays, text, finite numbers, booleans, null), no key or text that
    `storable_text` refuses, and take at most `max_bytes` of UTF-8. The check walks the
    document without recursion, so no depth can exhaust the stack. Floats PostgreSQL
    would give back as integers (±1e16 and beyond) or without their sign (-0.0) are
    returned as it gives them back, so that SQLite answers the same.
    """
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object")
    normalize = False
    # Containers still to look into: each with its depth and where it is (a chain of
    # (parent, key) links, spelled out only for an error message).
    pending: list[tuple[dict[str, Any] | list[Any], int, _Where]] = [(value, 1, None)]
    while pending:
        container, depth, where = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"{name} nests deeper than {MAX_JSON_DEPTH} levels")
        is_object = isinstance(container, dict)
        children = container.items() if isinstance(container, dict) else enumerate(container)
        for key, child in children:
            if is_object:
                if type(key) is not str:
                    raise ValueError(f"{_path(name, where)}: keys must be strings")
                if (reason := unstorable(key)) is not None:
                    raise ValueError(f"{_path(name, (where, key))}: the key {reason}")
            kind = type(child)
            if kind is int or kind is bool or child is None:
                continue
            if kind is str:
                if (reason := unstorable(child)) is not None:
                    raise ValueError(f"{_path(name, (where, key))}: {reason}")
            elif kind is dict or kind is list:
                pending.append((child, depth + 1, (where, key)))
            elif kind is float:
                if not math.isfinite(child):
                    raise ValueError(
                        f"{_path(name, (where, key))}: numbers must be finite (no NaN or Infinity)"
                    )
                normalize = normalize or _jsonb_changes(child)
            else:  # what json.loads never makes: a caller's tuple, set, subclass...
                raise ValueError(
                    f"{_path(name, (where, key))}: {kind.__name__} is not a JSON value"
                )
    if normalize:
        value = _as_jsonb_gives_back(value)
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    size = len(encoded.encode())
    if size > max_bytes:
        raise ValueError(f"{name} is {size} bytes; the limit is {max_bytes}")
    return value


# Where a value sits in a document: None for the document itself, else its
# container's place and its key or index there.
_Where = tuple["_Where", str | int] | None


def _path(name: str, where: _Where) -> str:
    """`where` spelled out as in error messages: `metadata.notes[2]`."""
    steps: list[str | int] = []
    while where is not None:
        where, step = where
        steps.append(step)
    shown = (f"[{step}]" if isinstance(step, int) else _show_key(step) for step in reversed(steps))
    return name + "".join(shown)


def json_document(max_bytes: int, name: str) -> AfterValidator:
    """The validator of a JSON object field: `bounded_json` with these bounds."""

    def check(value: dict[str, Any]) -> dict[str, Any]:
        return bounded_json(value, max_bytes=max_bytes, name=name)

    return AfterValidator(check)


def _show_key(key: str) -> str:
    """`key` as a step of a path in an error message: plain when it is short printable
    ASCII, else quoted and escaped, so the message itself is always valid JSON text."""
    plain = key.isascii() and key.isprintable() and not any(mark in key for mark in ".[]")
    if key and plain and len(key) <= _SHOWN_KEY_CHARACTERS:
        return f".{key}"
    shown = key if len(key) <= _SHOWN_KEY_CHARACTERS else f"{key[:_SHOWN_KEY_CHARACTERS]}..."
    return f"[{json.dumps(shown, ensure_ascii=True)}]"


def _jsonb_changes(number: float) -> bool:
    return abs(number) >= _JSONB_INTEGRAL_FLOAT or (number == 0 and math.copysign(1, number) < 0)


def _as_jsonb_gives_back(value: Any) -> Any:
    # Depth is already checked: recursion is bounded by MAX_JSON_DEPTH.
    if isinstance(value, dict):
        return {key: _as_jsonb_gives_back(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_as_jsonb_gives_back(child) for child in value]
    if isinstance(value, float) and _jsonb_changes(value):
        # jsonb keeps the decimal the float was written as: 1.2345678901234566e+25 comes
        # back as 12345678901234566000000000, not as the float's exact binary value.
        return int(Decimal(repr(value))) if value else 0.0
    return value
