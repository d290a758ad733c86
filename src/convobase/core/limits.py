"""Operator-set bounds on what callers may do, read once from the settings."""

from dataclasses import dataclass

from convobase.config import Settings


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds the services enforce; each is a CONVOBASE_* setting."""

    max_content_bytes: int = 32 * 1024
    guest_message_limit: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        return cls(
            max_content_bytes=settings.max_content_bytes,
            guest_message_limit=settings.guest_message_limit,
        )


DEFAULT_LIMITS = Limits()
"""The limits of an unconfigured service."""
