"""Keyset pagination: pages of a list and the opaque cursors between them.

A repository fetches one row more than the page holds (`db.keyset.seek` orders the
rows and starts after a position); `paginate` cuts the page and makes the cursor.
"""

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from convobase.core.errors import ValidationFailed

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


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


def encode_cursor(*key: CursorPart) -> str:
    """Pack a keyset position into an opaque, URL-safe string."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type[Any]) -> tuple[Any, ...]:
    """Unpack a cursor made by `encode_cursor`, checking the type of each part."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidCursor from error
    if (
        not isinstance(key, list)
        or len(key) != len(types)
        or not all(type(part) is kind for part, kind in zip(key, types, strict=True))
    ):
        raise InvalidCursor
    return tuple(key)


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
