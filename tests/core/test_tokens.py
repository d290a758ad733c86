import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr

from convobase import bootstrap
from convobase.config import Settings
from convobase.core.principal import Role
from convobase.core.time import utc_now
from convobase.core.tokens import InvalidToken, TokenAuthority, mint_token, principal_from_token

SECRET = "a-secret-for-token-tests-that-is-long-enough"


def test_a_minted_token_speaks_for_its_subject() -> None:
    user_id = uuid.uuid4()
    token = mint_token(
        SECRET, sub=str(user_id), role=Role.AUTHENTICATED, ttl=timedelta(minutes=5), email="a@b.c"
    )

    principal = principal_from_token(token, SECRET)

    assert (principal.user_id, principal.role, principal.email) == (
        user_id,
        Role.AUTHENTICATED,
        "a@b.c",
    )


def test_a_guest_token_reaches_its_session() -> None:
    session_id = str(uuid.uuid4())
    token = mint_token(SECRET, sub=session_id, role=Role.GUEST, ttl=timedelta(minutes=5))

    principal = principal_from_token(token, SECRET)

    assert (principal.is_guest, principal.guest_session_id, principal.user_id) == (
        True,
        session_id,
        None,
    )


def test_a_token_verified_before_is_refused_once_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = mint_token(
        SECRET, sub=str(uuid.uuid4()), role=Role.AUTHENTICATED, ttl=timedelta(seconds=30)
    )
    principal_from_token(token, SECRET)  # verified and remembered while valid

    monkeypatch.setattr("convobase.core.tokens.utc_now", lambda: utc_now() + timedelta(seconds=31))

    with pytest.raises(InvalidToken, match="expired"):
        principal_from_token(token, SECRET)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": str(uuid.uuid4()), "role": "authenticated"},
        {"sub": str(uuid.uuid4()), "role": "authenticated", "exp": "tomorrow"},
        {"role": "authenticated", "exp": 4_000_000_000},
        {"sub": "not-a-uuid", "exp": 4_000_000_000},
        {"sub": str(uuid.uuid4()), "role": "superuser", "exp": 4_000_000_000},
    ],
    ids=["no-exp", "exp-not-a-number", "no-sub", "sub-not-uuid", "unknown-role"],
)
def test_malformed_claims_are_refused(claims: dict[str, object]) -> None:
    token = jwt.encode(claims, SECRET, algorithm="HS256")

    with pytest.raises(InvalidToken):
        principal_from_token(token, SECRET)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = mint_token(
        "another-secret-that-is-also-long-enough!!",
        sub=str(uuid.uuid4()),
        role=Role.AUTHENTICATED,
        ttl=timedelta(minutes=5),
    )

    with pytest.raises(InvalidToken):
        principal_from_token(token, SECRET)


# --- hardening: times, audience, issuer, claims no database stores --------------------

NOW = 2_000_000_000


def signed(**claims: object) -> str:
    return jwt.encode({"sub": str(uuid.uuid4()), "exp": NOW + 3600, **claims}, SECRET, "HS256")


def at(monkeypatch: pytest.MonkeyPatch, timestamp: float) -> None:
    moment = datetime.fromtimestamp(timestamp, UTC)
    monkeypatch.setattr("convobase.core.tokens.utc_now", lambda: moment)


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_nbf_and_iat_within_the_leeway_are_accepted(
    monkeypatch: pytest.MonkeyPatch, claim: str
) -> None:
    at(monkeypatch, NOW)
    token = signed(**{claim: NOW + 29})

    principal = principal_from_token(token, SECRET, leeway=timedelta(seconds=30))

    assert principal.role is Role.AUTHENTICATED


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_token_not_valid_yet_is_refused_and_accepted_once_it_is(
    monkeypatch: pytest.MonkeyPatch, claim: str
) -> None:
    token = signed(**{claim: NOW + 60})
    at(monkeypatch, NOW)

    with pytest.raises(InvalidToken, match=rf"not valid yet \({claim}"):
        principal_from_token(token, SECRET, leeway=timedelta(seconds=30))
    at(monkeypatch, NOW + 31)  # the refusal was not remembered

    assert principal_from_token(token, SECRET, leeway=timedelta(seconds=30)).user_id


def test_the_leeway_does_not_stretch_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    token = signed(exp=NOW)
    at(monkeypatch, NOW)

    with pytest.raises(InvalidToken, match="expired"):
        principal_from_token(token, SECRET, leeway=timedelta(seconds=300))


@pytest.mark.parametrize(
    "payload",
    [
        '"exp": NaN',
        '"exp": Infinity',
        '"exp": -Infinity',
        '"exp": 1e400',
        '"exp": true',
        '"exp": "4000000000"',
        '"exp": [4000000000]',
        '"exp": 4000000000, "nbf": NaN',
        '"exp": 4000000000, "nbf": "0"',
        '"exp": 4000000000, "iat": 1e400',
        '"exp": 4000000000, "iat": false',
    ],
)
def test_times_must_be_finite_numbers(payload: str) -> None:
    token = _raw_token(f'{{"sub": "{uuid.uuid4()}", {payload}}}')

    with pytest.raises(InvalidToken, match="is not a finite number"):
        principal_from_token(token, SECRET)


ISSUER = "https://auth.example"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": ISSUER}, "has no aud claim"),
        ({"iss": ISSUER, "aud": "someone-else"}, "not meant for this service"),
        ({"iss": ISSUER, "aud": ["a", "b"]}, "not meant for this service"),
        ({"iss": ISSUER, "aud": 5}, "not meant for this service"),
        ({"aud": "convobase"}, "has no iss claim"),
        ({"aud": "convobase", "iss": "https://elsewhere"}, "not from the expected issuer"),
        ({"aud": "convobase", "iss": 7}, "not from the expected issuer"),
    ],
)
def test_audience_and_issuer_are_checked_when_configured(
    claims: dict[str, object], reason: str
) -> None:
    authority = TokenAuthority(SECRET, timedelta(hours=1), audience="convobase", issuer=ISSUER)
    payload = {"sub": str(uuid.uuid4()), "exp": 4_000_000_000, **claims}

    with pytest.raises(InvalidToken, match=reason):
        authority.verify(_raw_token(json.dumps(payload)))


def test_tokens_with_the_configured_audience_and_issuer_are_accepted() -> None:
    authority = TokenAuthority(SECRET, timedelta(hours=1), audience="convobase", issuer=ISSUER)
    session_id = str(uuid.uuid4())

    user = authority.verify(signed(aud=["other", "convobase"], iss=ISSUER))
    guest = authority.verify(authority.mint_guest(session_id))

    assert user.role is Role.AUTHENTICATED
    assert (guest.is_guest, guest.guest_session_id) == (True, session_id)


def test_without_a_configured_audience_any_aud_is_accepted() -> None:
    authority = TokenAuthority(SECRET, timedelta(hours=1))

    assert authority.verify(signed(aud="authenticated", iss="https://x.supabase.co/auth/v1"))


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ('"a\\u0000@b.c"', "NUL"),
        ('"a\\ud800@b.c"', "surrogates"),
        ('"\\udc00"', "surrogates"),
        (f'"{"a" * 400}@b.c"', "longer than"),
    ],
    ids=["nul", "high-surrogate", "low-surrogate", "too-long"],
)
def test_an_email_claim_no_database_stores_is_refused(email: str, reason: str) -> None:
    token = _raw_token(f'{{"sub": "{uuid.uuid4()}", "exp": 4000000000, "email": {email}}}')

    with pytest.raises(InvalidToken, match=reason):
        principal_from_token(token, SECRET)


@pytest.mark.parametrize("email", [None, 5, "", ["a@b.c"]])
def test_an_email_claim_that_is_not_text_is_ignored(email: object) -> None:
    assert principal_from_token(signed(email=email), SECRET).email is None


@pytest.mark.parametrize("role", [None, 1, [], {}, "x" * 10_000, "guest\x00"])
def test_a_role_that_is_not_one_of_ours_is_refused_without_echoing_it(role: object) -> None:
    with pytest.raises(InvalidToken, match="role is not one convobase accepts") as refused:
        principal_from_token(signed(role=role), SECRET)

    assert "xxxx" not in refused.value.detail


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("not.a.jwt", "malformed"),
        ("", "malformed"),
        ("a\ud800.b.c", "malformed"),
        ("é.b.c", "malformed"),
        (jwt.encode({"sub": "x", "exp": 1}, "k" * 64, "HS512"), "not signed with HS256"),
        (jwt.encode({"sub": 5, "exp": 4_000_000_000}, SECRET, "HS256"), "subject is not a UUID"),
        (jwt.encode({"sub": str(uuid.uuid4())}, SECRET, "HS256"), "has no exp claim"),
        (jwt.encode({"exp": 4_000_000_000}, SECRET, "HS256"), "has no sub claim"),
        (
            jwt.encode({"sub": str(uuid.uuid4()), "exp": 4_000_000_000}, "x" * 40, "HS256"),
            "signature is not valid",
        ),
    ],
    ids=[
        "segments",
        "empty",
        "surrogate",
        "not-ascii",
        "algorithm",
        "sub-type",
        "no-exp",
        "no-sub",
        "signature",
    ],
)
def test_each_refusal_says_what_was_wrong_without_echoing_the_token(
    token: str, reason: str
) -> None:
    with pytest.raises(InvalidToken, match=reason) as refused:
        principal_from_token(token, SECRET)

    assert token == "" or token not in refused.value.detail


def _raw_token(payload: str) -> str:
    """A token whose payload is `payload` verbatim, as a strict encoder would not write
    it (NaN, lone surrogates)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    header = part(b'{"alg":"HS256","typ":"JWT"}')
    signing_input = f"{header}.{part(payload.encode())}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def test_the_settings_configure_leeway_audience_and_issuer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVOBASE_JWT_LEEWAY_SECONDS", "5")
    monkeypatch.setenv("CONVOBASE_JWT_AUDIENCE", "convobase")
    monkeypatch.setenv("CONVOBASE_JWT_ISSUER", ISSUER)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}", jwt_secret=SecretStr(SECRET)
    )

    container = bootstrap.build(settings)
    container.close()

    tokens = container.tokens
    assert (tokens.leeway, tokens.audience, tokens.issuer) == (
        timedelta(seconds=5),
        "convobase",
        ISSUER,
    )
    guest_claims = jwt.decode(
        tokens.mint_guest(str(uuid.uuid4())), options={"verify_signature": False}
    )
    assert (guest_claims["aud"], guest_claims["iss"]) == ("convobase", ISSUER)


def test_by_default_the_leeway_is_30_seconds_and_aud_and_iss_are_not_checked(
    tmp_path: Path,
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}", jwt_secret=SecretStr(SECRET)
    )

    container = bootstrap.build(settings)
    container.close()

    tokens = container.tokens
    assert (tokens.leeway, tokens.audience, tokens.issuer) == (timedelta(seconds=30), None, None)
