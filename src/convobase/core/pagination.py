"""Keyset pagination: pages of a list and the opaque cursors between them.

A repository fetches one row more than the page holds (`db.keyset.seek` orders the
rows and starts after a position); `paginate` cuts the page and makes the cursor.
"""

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from convobase.core.errors import ValidationFailed
from convobase.core.validation import INT32_MAX, unstorable

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
MAX_CURSOR_LENGTH = 1024


class InvalidCursor(ValidationFailed):
    """The pagination cursor is not one this service issued."""

    code = "invalid_cursor"


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the cursor for the next, if there is one."""

    items: Sequence[T]
    next_cursor: str | None


CursorPart = str | int


def paginate(
    rows: Sequence[T], limit: int, position: Callable[[T], tuple[CursorPart, ...]]
) -> Page[T]:
    """The page of `rows`, fetched with `limit + 1`: the first `limit` of them, and
    when there were more, a cursor holding the `position` of the last."""
    items = rows[:limit]
    more = len(rows) > limit
    return Page(items, encode_cursor(*position(items[-1])) if more else None)


TimePosition = tuple[datetime, uuid.UUID]
"""Where a list ordered by a time and an id (newest first, most often) stands."""


def time_position(cursor: str | None) -> TimePosition | None:
    """The position a cursor of `paginate_by_time` holds; None (the first page) for none."""
    if cursor is None:
        return None
    moment, row_id = decode_cursor(cursor, str, str)
    return cursor_time(moment), cursor_uuid(row_id)


def paginate_by_time(
    rows: Sequence[T], limit: int, position: Callable[[T], TimePosition]
) -> Page[T]:
    """`paginate` for a list ordered by a time and an id."""

    def encoded(last: T) -> tuple[str, str]:
        moment, row_id = position(last)
        return moment.isoformat(), str(row_id)

    return paginate(rows, limit, encoded)


def every(page_of: Callable[[str | None], Page[T]]) -> list[T]:
    """All the items of a paginated list: `page_of(cursor)` for each page in turn."""
    items: list[T] = []
    cursor = None
    while True:
        page = page_of(cursor)
        items += page.items
        if (cursor := page.next_cursor) is None:
            return items


def encode_cursor(*key: CursorPart) -> str:
    """Pack a keyset position into an opaque, URL-safe string."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type[Any]) -> tuple[Any, ...]:
    """Unpack a cursor made by `encode_cursor`, checking the type of each part; raise
    InvalidCursor for anything else.

    A cursor comes back from the caller, so each part is checked as an input would
    be: integers within 0..INT32_MAX (the seq columns), text that `storable_text`
    accepts, and a timestamp (a string with a UTC offset) one that exists in UTC.
    """
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, RecursionError) as error:  # UnicodeError is a ValueError
        raise InvalidCursor from error
    if not isinstance(key, list) or len(key) != len(types):
        raise InvalidCursor
    if not all(type(part) is kind and _fits(part) for part, kind in zip(key, types, strict=True)):
        raise InvalidCursor
    return tuple(key)


def cursor_time(value: str) -> datetime:
    """A timestamp part of a decoded cursor; InvalidCursor if it is not one."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise InvalidCursor("The cursor is malformed.") from error
    if parsed.tzinfo is None:
        raise InvalidCursor("The cursor is malformed.")
    return parsed


def cursor_uuid(value: str) -> uuid.UUID:
    """A UUID part of a decoded cursor; InvalidCursor if it is not one."""
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise InvalidCursor("The cursor is malformed.") from error


def _fits(part: object) -> bool:
    if isinstance(part, int):
        return 0 <= part <= INT32_MAX
    if isinstance(part, str):
        return unstorable(part) is None and _exists_in_utc(part)
    return True


def _exists_in_utc(text: str) -> bool:
    """False for a timestamp with an offset that UTC cannot hold (year 1 at +01:00,
    year 9999 at -01:00); True for any other text."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return True  # not a timestamp: a name, an id
    if moment.utcoffset() is None:
        return True
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


class PageRead(BaseModel, Generic[T]):
    """A page of a list. Pass `next_cursor` back as `?cursor=` for the next page;
    null means this is the last page."""

    items: list[T]
    next_cursor: str | None


Schema = TypeVar("Schema", bound=BaseModel)


def page_read(page: Page[Any], schema: type[Schema]) -> PageRead[Schema]:
    """Shape a page of rows as the API answers it, each row read through `schema`."""
    return PageRead[schema](  # type: ignore[valid-type]
        items=[schema.model_validate(item) for item in page.items],
        next_cursor=page.next_cursor,
    )
