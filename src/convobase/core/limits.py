"""Operator-set bounds on what callers may do, read once from the settings."""

from dataclasses import dataclass

from convobase.config import Settings


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds the services enforce; each is a CONVOBASE_* setting."""

    max_content_bytes: int = 32 * 1024
    guest_message_limit: int = 10
    # Let user and guest tokens write assistant and system messages (front-end-only apps).
    client_written_replies: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        return cls(
            max_content_bytes=settings.max_content_bytes,
            guest_message_limit=settings.guest_message_limit,
            client_written_replies=settings.client_written_replies,
        )


DEFAULT_LIMITS = Limits()
"""The limits of an unconfigured service."""
