"""Signing what convobase POSTs to an operator's services.

`Convobase-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`: the
receiver recomputes the HMAC with the shared secret over the timestamp and the raw
body, compares in constant time, and refuses an old timestamp, so a captured request
cannot be replayed later (docs/analyzers.md and docs/safety.md show a receiver).
"""

import hashlib
import hmac

from convobase.core.time import utc_now

SIGNATURE_HEADER = "Convobase-Signature"
MIN_SECRET_LENGTH = 32


def signature(secret: bytes, body: bytes, *, timestamp: int | None = None) -> str:
    """The signature header's value for `body`, signed now (or at `timestamp`)."""
    moment = int(utc_now().timestamp()) if timestamp is None else timestamp
    signed = f"{moment}.".encode() + body
    return f"t={moment},v1={hmac.new(secret, signed, hashlib.sha256).hexdigest()}"
