import uuid
from datetime import timedelta

import jwt
import pytest

from convobase.core.principal import Role
from convobase.core.time import utc_now
from convobase.core.tokens import InvalidToken, mint_token, principal_from_token

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
