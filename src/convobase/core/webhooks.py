"""Signing what convobase POSTs to an operator's services.

`Convobase-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`: the
receiver recomputes the HMAC with the shared secret over the timestamp and the raw
body, compares in constant time, and refuses an old timestamp, so a captured request
cannot be replayed later (docs/analyzers.md and docs/safety.md show a receiver).
"""

import hashlib
import hmac

from pydantic import SecretStr

from convobase.config import ConfigurationError
from convobase.core.time import utc_now

SIGNATURE_HEADER = "Convobase-Signature"
MIN_SECRET_LENGTH = 32


def signature(secret: bytes, body: bytes, *, timestamp: int | None = None) -> str:
    """The signature header's value for `body`, signed now (or at `timestamp`)."""
    moment = int(utc_now().timestamp()) if timestamp is None else timestamp
    signed = f"{moment}.".encode() + body
    return f"t={moment},v1={hmac.new(secret, signed, hashlib.sha256).hexdigest()}"


def signing_secret(secret: SecretStr | None, variable: str) -> bytes:
    """The secret a webhook is signed with, from the setting `variable` (its environment
    name); ConfigurationError if it is unset or shorter than MIN_SECRET_LENGTH."""
    if secret is None:
        raise ConfigurationError(f"The webhook needs {variable}.")
    value = secret.get_secret_value()
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigurationError(f"{variable} must be at least {MIN_SECRET_LENGTH} characters.")
    return value.encode()
