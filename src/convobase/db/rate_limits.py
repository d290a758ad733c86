"""Fixed-window counters of requests, kept in the database so that every worker process
counts against the same limit.

One statement counts a hit and reads the count back: an upsert on the window's key, so
concurrent hits from any process queue on one row and none is lost. On PostgreSQL the
table is UNLOGGED (a count waits for no disk flush; counters start again after a
crash).
"""

import math
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, Engine, Integer, Table, bindparam, case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from convobase.core.time import utc_now
from convobase.db.base import Base, UTCDateTime


class RateLimitWindow(Base):
    """How many hits a key has had in its current window."""

    __tablename__ = "rate_limits"
    __table_args__ = (
        {
            "comment": (
                "Infrastructure (no story: request limits): fixed-window counters of "
                "requests per key (a token, or the address guest sessions start from), kept "
                "in the database so that every worker process counts against the same "
                "limit. UNLOGGED on PostgreSQL: counters start again after a crash."
            ),
            "info": {"stories": ()},
        },
    )

    key: Mapped[str] = mapped_column(
        primary_key=True,
        comment=(
            "What is counted: a token (token:<role>:<owner id>) or an address guest "
            "sessions start from (guest-sessions:<address>)."
        ),
    )
    window_start: Mapped[datetime] = mapped_column(comment="When the current window began.")
    hits: Mapped[int] = mapped_column(Integer(), comment="Hits in the current window.")


windows = cast(Table, RateLimitWindow.__table__)


def hit(connection: Connection, key: str, *, limit: int, window: timedelta) -> float | None:
    """Count one hit of `key`; None while within `limit` hits per `window`, otherwise the
    seconds until the window ends."""
    now = utc_now()
    seconds = window.total_seconds()
    start = datetime.fromtimestamp(math.floor(now.timestamp() / seconds) * seconds, now.tzinfo)
    statement = _count_statement(connection.dialect.name)
    hits: int = connection.execute(statement, {"key": key, "start": start}).scalar_one()
    if hits <= limit:
        return None
    return max((start + window - now).total_seconds(), 0.0)


@cache
def _count_statement(dialect: str) -> Any:
    # Built once: every request with a token runs it.
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(windows).values(
        key=bindparam("key"), window_start=bindparam("start", type_=UTCDateTime()), hits=1
    )
    return statement.on_conflict_do_update(
        index_elements=[windows.c.key],
        set_={
            "hits": case(
                (windows.c.window_start == statement.excluded.window_start, windows.c.hits + 1),
                else_=1,
            ),
            "window_start": statement.excluded.window_start,
        },
    ).returning(windows.c.hits)


class DatabaseRateLimiter:
    """Counts hits in the database, each as one autocommit statement of its own: one
    round trip, and a read-only unit of work stays read-only."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    def hit(self, key: str, *, limit: int, window: timedelta) -> float | None:
        """Count one hit of `key`; None while within the limit, else seconds to wait."""
        with self._engine.connect() as connection:
            return hit(connection, key, limit=limit, window=window)
