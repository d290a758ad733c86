"""Bearer tokens: HS256 JWTs compatible with Supabase access tokens."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

import jwt

from convobase.core.errors import Unauthorized
from convobase.core.principal import Principal, Role
from convobase.core.time import utc_now

ALGORITHM = "HS256"


class InvalidToken(Unauthorized):
    """The bearer token is missing, malformed, badly signed or expired."""


def mint_token(
    secret: str,
    *,
    sub: str,
    role: Role,
    ttl: timedelta,
    email: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign a token for `sub` with `role`, valid for `ttl`."""
    now = utc_now()
    claims: dict[str, Any] = {
        "sub": sub,
        "role": role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        **(extra or {}),
    }
    if email is not None:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def principal_from_token(token: str, secret: str) -> Principal:
    """Verify a token and return who it speaks for; raise InvalidToken otherwise."""
    principal, expires_at = _verified(token, secret)
    if expires_at <= utc_now().timestamp():
        raise InvalidToken("The bearer token has expired.")
    return principal


# A client sends the same token with every request: its signature and claims are
# checked once, its expiry on every use. Invalid tokens are not cached.
@lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # Supabase sets aud="authenticated"; the signature is what we trust.
            options={"require": ["exp", "sub"], "verify_aud": False, "verify_exp": False},
        )
    except jwt.InvalidTokenError as error:
        raise InvalidToken from error
    expires_at = claims["exp"]
    if not isinstance(expires_at, int | float) or isinstance(expires_at, bool):
        raise InvalidToken("The token's exp is not a number.")
    try:
        role = Role(claims.get("role", Role.AUTHENTICATED.value))
    except ValueError as error:
        raise InvalidToken(f"The token's role {claims.get('role')!r} is not accepted.") from error
    subject = _uuid(claims["sub"])
    if role is Role.GUEST:
        return Principal.guest(str(subject)), expires_at
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    return Principal(role=role, user_id=subject, email=email or None), expires_at


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as error:
        raise InvalidToken("The token's subject is not a UUID.") from error


@dataclass(frozen=True, slots=True)
class TokenAuthority:
    """Signs and verifies the service's bearer tokens with one secret."""

    secret: str
    guest_ttl: timedelta

    def verify(self, token: str) -> Principal:
        """The principal a token speaks for; raise InvalidToken if it is not valid."""
        return principal_from_token(token, self.secret)

    def mint_guest(self, session_id: str) -> str:
        """A token that reaches only the guest session `session_id`."""
        return mint_token(self.secret, sub=session_id, role=Role.GUEST, ttl=self.guest_ttl)
