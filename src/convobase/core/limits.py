"""Operator-set bounds on what callers may do, read once from the settings, and the
counters that enforce the rate limits."""

import math
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from convobase.config import Settings
from convobase.core.time import utc_now


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds the services enforce; each is a CONVOBASE_* setting."""

    max_content_bytes: int = 32 * 1024
    guest_message_limit: int = 10
    # Let user and guest tokens write assistant and system messages (front-end-only apps).
    client_written_replies: bool = False
    # Requests one token may make per window, and guest sessions one client address may
    # start per window; 0 turns a limit off.
    requests_per_token: int = 0
    request_window: timedelta = timedelta(minutes=1)
    guest_sessions_per_address: int = 0
    guest_session_window: timedelta = timedelta(hours=1)
    # Count each signed-in user's messages as they are written (for analysis).
    counts_user_messages: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        return cls(
            max_content_bytes=settings.max_content_bytes,
            guest_message_limit=settings.guest_message_limit,
            client_written_replies=settings.client_written_replies,
            requests_per_token=settings.requests_per_token,
            request_window=timedelta(seconds=settings.request_window_seconds),
            guest_sessions_per_address=settings.guest_sessions_per_address,
            guest_session_window=timedelta(seconds=settings.guest_session_window_seconds),
            counts_user_messages=settings.analysis_enabled,
        )


DEFAULT_LIMITS = Limits()
"""The limits of an unconfigured service."""


class RateLimiter(Protocol):
    """Counts hits of a key in fixed windows."""

    def hit(self, key: str, *, limit: int, window: timedelta) -> float | None:
        """Count one hit of `key`; None while within `limit` hits per `window`,
        otherwise the seconds until the window ends."""
        ...


class MemoryRateLimiter:
    """Counts hits in this process: enough where one process serves everything (SQLite),
    and it keeps reads from writing to count them."""

    # Windows that have ended are forgotten once this many keys are held.
    PRUNE_AT = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, *, limit: int, window: timedelta) -> float | None:
        """Count one hit of `key`; None while within the limit, else seconds to wait."""
        now = utc_now().timestamp()
        seconds = window.total_seconds()
        start = math.floor(now / seconds) * seconds
        with self._lock:
            if len(self._windows) >= self.PRUNE_AT:
                self._windows = {
                    held: (began, hits)
                    for held, (began, hits) in self._windows.items()
                    if began + seconds > now
                }
            began, hits = self._windows.get(key, (start, 0))
            hits = hits + 1 if began == start else 1
            self._windows[key] = (start, hits)
        return None if hits <= limit else max(start + seconds - now, 0.0)
