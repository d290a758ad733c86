"""Keyset pagination in SQL: order by a key and start strictly after a position."""

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, SQLColumnExpression, tuple_

Statement = TypeVar("Statement", bound=Select[Any])


def seek(
    statement: Statement,
    key: Sequence[SQLColumnExpression[Any]],
    after: Sequence[Any] | None,
    *,
    descending: bool = False,
) -> Statement:
    """`statement` ordered by `key` (every column the same way) and, when `after` is
    given, starting strictly after that position.

    The key must be unique, so no row is skipped or repeated between pages; with an
    index on the key (after any equality filters) a page reads only its own rows. The
    position may be values or bind parameters.
    """
    if after is not None:
        if len(key) == 1:
            position, start = key[0], after[0]
        else:
            position, start = tuple_(*key), tuple_(*after)
        statement = statement.where(position < start if descending else position > start)
    return statement.order_by(*(column.desc() if descending else column for column in key))
