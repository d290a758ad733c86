"""Identifiers for new rows."""

import uuid


def new_id() -> uuid.UUID:
    """Return a fresh random identifier for a new row."""
    return uuid.uuid4()
