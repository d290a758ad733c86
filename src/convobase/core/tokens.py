"""Bearer tokens: HS256 JWTs compatible with Supabase access tokens."""

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, Final

import jwt
from jwt.exceptions import InvalidSubjectError

from convobase.core.errors import Unauthorized
from convobase.core.principal import Principal, Role
from convobase.core.time import utc_now
from convobase.core.validation import unstorable

ALGORITHM = "HS256"
DEFAULT_LEEWAY = timedelta(seconds=30)
MAX_EMAIL_LENGTH = 320
_MALFORMED: Final = "The bearer token is malformed: it is not a JWT."

# What each of PyJWT's refusals means, in words that never repeat the token.
_REFUSALS: Final[tuple[tuple[type[jwt.InvalidTokenError], str], ...]] = (
    (jwt.InvalidSignatureError, "The bearer token's signature is not valid."),
    (jwt.InvalidAlgorithmError, f"The bearer token is not signed with {ALGORITHM}."),
    (jwt.InvalidAudienceError, "The bearer token is not meant for this service (aud)."),
    (jwt.InvalidIssuerError, "The bearer token is not from the expected issuer (iss)."),
    (InvalidSubjectError, "The token's subject is not a UUID."),
    (jwt.DecodeError, _MALFORMED),
)


class InvalidToken(Unauthorized):
    """The bearer token is missing, malformed, badly signed, expired or not yet valid."""


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


def principal_from_token(
    token: str,
    secret: str,
    *,
    leeway: timedelta = DEFAULT_LEEWAY,
    audience: str | None = None,
    issuer: str | None = None,
) -> Principal:
    """Verify a token and return who it speaks for; raise InvalidToken otherwise.

    `nbf` and `iat` may be up to `leeway` ahead of this clock (the issuer's may run
    fast); `exp` is honoured to the second. `aud` and `iss` are checked when given.
    """
    principal, expires_at = _verified(token, secret, leeway.total_seconds(), audience, issuer)
    if expires_at <= utc_now().timestamp():
        raise InvalidToken("The bearer token has expired.")
    return principal


# A client sends the same token with every request: its signature and claims are
# checked once, its expiry on every use. Invalid tokens (not yet valid ones too) are
# not cached; a token once valid stays so until it expires.
@lru_cache(maxsize=4096)
def _verified(
    token: str, secret: str, leeway: float, audience: str | None, issuer: str | None
) -> tuple[Principal, float]:
    if not token.isascii():  # a JWT is base64url and dots; PyJWT would fail to encode it
        raise InvalidToken(_MALFORMED)
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={
                "require": ["exp", "sub"],
                # Supabase sets aud="authenticated": it is checked only when configured.
                "verify_aud": audience is not None,
                # The times are checked below, on this module's clock and types.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.MissingRequiredClaimError as error:
        raise InvalidToken(f"The bearer token has no {error.claim} claim.") from error
    except jwt.InvalidTokenError as error:
        reason = next((words for kind, words in _REFUSALS if isinstance(error, kind)), None)
        raise InvalidToken(reason or "The bearer token is not valid.") from error
    expires_at = _time_claim(claims, "exp")
    assert expires_at is not None  # required above
    now = utc_now().timestamp()
    for claim in ("nbf", "iat"):
        moment = _time_claim(claims, claim)
        if moment is not None and moment > now + leeway:
            raise InvalidToken(f"The bearer token is not valid yet ({claim} is in the future).")
    role = _role(claims.get("role", Role.AUTHENTICATED.value))
    subject = _uuid(claims["sub"])
    if role is Role.GUEST:
        return Principal.guest(str(subject)), expires_at
    return Principal(role=role, user_id=subject, email=_email(claims)), expires_at


def _time_claim(claims: dict[str, Any], name: str) -> float | None:
    """A NumericDate claim (seconds since the epoch), if present: a finite number."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidToken(f"The token's {name} is not a finite number.")
    return float(value)


def _email(claims: dict[str, Any]) -> str | None:
    """The `email` claim, stored on the user's first request; ignored unless text."""
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        return None
    if (reason := unstorable(email)) is not None:
        raise InvalidToken(f"The token's email {reason}.")
    if len(email) > MAX_EMAIL_LENGTH:
        raise InvalidToken(f"The token's email is longer than {MAX_EMAIL_LENGTH} characters.")
    return email


def _role(value: object) -> Role:
    if isinstance(value, str):
        try:
            return Role(value)
        except ValueError:
            pass
    raise InvalidToken("The token's role is not one convobase accepts.")


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as error:
        raise InvalidToken("The token's subject is not a UUID.") from error


@dataclass(frozen=True, slots=True)
class TokenAuthority:
    """Signs and verifies the service's bearer tokens with one secret.

    `leeway` is the clock skew allowed to `nbf` and `iat`; when `audience` or `issuer`
    is set, a token must carry it (`aud`, `iss`), and the tokens minted here do.
    """

    secret: str
    guest_ttl: timedelta
    leeway: timedelta = DEFAULT_LEEWAY
    audience: str | None = None
    issuer: str | None = None

    def verify(self, token: str) -> Principal:
        """The principal a token speaks for; raise InvalidToken if it is not valid."""
        return principal_from_token(
            token, self.secret, leeway=self.leeway, audience=self.audience, issuer=self.issuer
        )

    def mint(self, *, sub: str, role: Role, ttl: timedelta, email: str | None = None) -> str:
        """A token for `sub` with `role`, valid for `ttl`, that `verify` accepts."""
        extra = {
            claim: value
            for claim, value in (("aud", self.audience), ("iss", self.issuer))
            if value is not None
        }
        return mint_token(self.secret, sub=sub, role=role, ttl=ttl, email=email, extra=extra)

    def mint_guest(self, session_id: str) -> str:
        """A token that reaches only the guest session `session_id`."""
        return self.mint(sub=session_id, role=Role.GUEST, ttl=self.guest_ttl)
