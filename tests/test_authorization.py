"""Every route, for every kind of caller: the status it must answer.

The routes come from the application itself: a new route without a row here fails
`test_every_route_has_a_row`, so nobody can add one without deciding who may call it.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from tests.api import JWT_SECRET, PERSONALITY, Api, Headers, bearer, token_for

CALLERS = ("owner", "other_user", "other_guest", "staff", "no_token", "expired_token")


@dataclass
class World:
    """Fresh resources for one request: what the owner owns, and who else is calling."""

    api: Api
    owner: Headers
    owner_id: str
    conversation_id: str
    persona_id: str
    own_guest_token: str
    headers: dict[str, Headers]
    crisis_event_id: str

    @classmethod
    def build(cls, api: Api) -> "World":
        owner = api.new_user()
        persona = api.persona()
        conversation = api.conversation(owner, persona_id=persona["id"])
        crisis = {"role": "user", "content": "I want to kill myself"}
        said = api.append(owner, conversation["id"], crisis)
        other_guest = api.guest_session(persona["id"])
        own_guest = api.guest_session(persona["id"])
        expired = token_for(uuid.uuid4(), ttl=timedelta(seconds=-10))
        headers = {
            "owner": owner,
            "other_user": api.new_user(),
            "other_guest": bearer(other_guest["token"]),
            "staff": api.staff,
            "no_token": {},
            "expired_token": bearer(expired),
        }
        owner_id = api.client.get("/v1/me", headers=owner).json()["id"]
        return cls(
            api,
            owner,
            owner_id,
            conversation["id"],
            persona["id"],
            own_guest["token"],
            headers,
            said["safety"]["event_id"],
        )

    def conditions(self, caller: str) -> Headers:
        """An If-Match with the ETag of the caller's own onboarding, if they have one."""
        response = self.api.client.get("/v1/onboarding/current", headers=self.headers[caller])
        return {"If-Match": response.headers["etag"]} if response.status_code == 200 else {}


Body = Callable[[World], dict[str, Any] | None]


def _none(world: World) -> None:
    return None


def _persona_body(world: World) -> dict[str, Any]:
    return {
        "name": f"matrix-{uuid.uuid4().hex[:8]}",
        "display_name": "Matrix",
        "personality_config": PERSONALITY,
    }


def _same(status: int, **exceptions: int) -> dict[str, int]:
    return {caller: exceptions.get(caller, status) for caller in CALLERS}


PUBLIC = _same(200)
PUBLIC_TOKEN_CHECKED = _same(200, expired_token=401)
USER_ONLY = _same(200, other_guest=403, no_token=401, expired_token=401)
STAFF_ONLY = _same(403, staff=200, no_token=401, expired_token=401)
# Staff act on other users' conversations only through the staff routes: on the user
# routes someone else's conversation is as missing for them as for anybody.
OWNER_ONLY = _same(404, owner=200, other_guest=403, no_token=401, expired_token=401)
OWNER_OR_GUEST_OWNER = _same(404, owner=200, no_token=401, expired_token=401)


def _signed_in(status: int) -> dict[str, int]:
    return {"owner": status, "other_user": status, "staff": status}


MATRIX: dict[tuple[str, str], tuple[dict[str, int], Body]] = {
    ("GET", "/openapi.json"): (PUBLIC, _none),
    ("GET", "/docs"): (PUBLIC, _none),
    ("GET", "/docs/oauth2-redirect"): (PUBLIC, _none),
    ("GET", "/redoc"): (PUBLIC, _none),
    ("GET", "/healthz"): (PUBLIC, _none),
    ("GET", "/readyz"): (PUBLIC, _none),
    ("GET", "/v1/me"): (USER_ONLY, _none),
    ("PATCH", "/v1/me"): (USER_ONLY, lambda w: {"goals": ["speak"]}),
    ("DELETE", "/v1/me"): ({**USER_ONLY, "owner": 204, "other_user": 204, "staff": 204}, _none),
    ("GET", "/v1/me/export"): (USER_ONLY, _none),
    ("GET", "/v1/personas"): (PUBLIC_TOKEN_CHECKED, _none),
    ("GET", "/v1/personas/{persona_id}"): (PUBLIC_TOKEN_CHECKED, _none),
    ("POST", "/v1/personas"): ({**STAFF_ONLY, "staff": 201}, _persona_body),
    ("PATCH", "/v1/personas/{persona_id}"): (STAFF_ONLY, lambda w: {"display_name": "New"}),
    ("DELETE", "/v1/personas/{persona_id}"): (STAFF_ONLY, _none),
    ("POST", "/v1/conversations"): (
        {**USER_ONLY, "owner": 201, "other_user": 201, "staff": 201},
        lambda w: {"title": "New"},
    ),
    ("GET", "/v1/conversations"): (USER_ONLY, _none),
    ("GET", "/v1/conversations/{conversation_id}"): (OWNER_ONLY, _none),
    ("PATCH", "/v1/conversations/{conversation_id}"): (OWNER_ONLY, lambda w: {"title": "x"}),
    ("DELETE", "/v1/conversations/{conversation_id}"): ({**OWNER_ONLY, "owner": 204}, _none),
    ("POST", "/v1/conversations/{conversation_id}/messages"): (
        {**OWNER_OR_GUEST_OWNER, "owner": 201},
        lambda w: {"role": "user", "content": "hi"},
    ),
    ("GET", "/v1/conversations/{conversation_id}/messages"): (OWNER_OR_GUEST_OWNER, _none),
    ("GET", "/v1/staff/conversations/{conversation_id}"): (STAFF_ONLY, _none),
    ("GET", "/v1/staff/personas/{persona_id}"): (STAFF_ONLY, _none),
    ("GET", "/v1/staff/conversations/{conversation_id}/messages"): (STAFF_ONLY, _none),
    ("POST", "/v1/staff/conversations/{conversation_id}/messages"): (
        {**STAFF_ONLY, "staff": 201},
        lambda w: {"role": "assistant", "content": "¡Hola! ¿En qué te ayudo?"},
    ),
    ("POST", "/v1/guest-sessions"): (
        _same(201, expired_token=401),
        lambda w: {"persona_id": w.persona_id},
    ),
    ("GET", "/v1/guest-sessions/current"): (
        _same(403, other_guest=200, no_token=401, expired_token=401),
        _none,
    ),
    ("POST", "/v1/guest-sessions/claim"): (
        USER_ONLY,
        lambda w: {"guest_token": w.own_guest_token},
    ),
    ("GET", "/v1/me/analysis"): (USER_ONLY, _none),
    ("GET", "/v1/staff/users/{user_id}/analysis"): (STAFF_ONLY, _none),
    ("GET", "/v1/jobs"): (STAFF_ONLY, _none),
    ("GET", "/v1/jobs/stats"): (STAFF_ONLY, _none),
    # No job is made for each request here: staff get a missing one's 404
    # (tests/jobs/test_routes.py covers real ones).
    ("GET", "/v1/jobs/{job_id}"): ({**STAFF_ONLY, "staff": 404}, _none),
    ("POST", "/v1/jobs/{job_id}/retry"): ({**STAFF_ONLY, "staff": 404}, _none),
    ("POST", "/v1/jobs/{job_id}/cancel"): ({**STAFF_ONLY, "staff": 404}, _none),
    ("GET", "/v1/crisis-events"): (_same(200, no_token=401, expired_token=401), _none),
    ("GET", "/v1/crisis-events/stats"): (STAFF_ONLY, _none),
    ("GET", "/v1/crisis-events/{event_id}"): (OWNER_OR_GUEST_OWNER, _none),
    ("POST", "/v1/crisis-events/{event_id}/acknowledge"): (OWNER_OR_GUEST_OWNER, _none),
    ("GET", "/v1/staff/crisis-events"): (STAFF_ONLY, _none),
    ("GET", "/v1/staff/crisis-events/{event_id}"): (STAFF_ONLY, _none),
    ("POST", "/v1/staff/crisis-events/{event_id}/notes"): (
        {**STAFF_ONLY, "staff": 201},
        lambda w: {"note": "Reached out by email."},
    ),
    ("POST", "/v1/staff/crisis-events/{event_id}/resolve"): (
        STAFF_ONLY,
        lambda w: {"outcome": "supported"},
    ),
    # Open, so there is nothing to reopen.
    ("POST", "/v1/staff/crisis-events/{event_id}/reopen"): (
        {**STAFF_ONLY, "staff": 409},
        lambda w: {},
    ),
    # Everyone signed in has an onboarding of their own (staff too, with a user id).
    ("GET", "/v1/onboarding/current"): (USER_ONLY, _none),
    ("PATCH", "/v1/onboarding/current/answers"): (USER_ONLY, lambda w: {"distance": "5K"}),
    # A new onboarding: its first phase is not answered, nor is there one before it.
    ("POST", "/v1/onboarding/current/advance"): ({**USER_ONLY, **_signed_in(422)}, _none),
    ("POST", "/v1/onboarding/current/back"): ({**USER_ONLY, **_signed_in(409)}, _none),
    ("POST", "/v1/onboarding/current/complete"): ({**USER_ONLY, **_signed_in(422)}, _none),
    ("POST", "/v1/onboarding/import"): (USER_ONLY, lambda w: {"format_version": 1}),
    ("GET", "/v1/staff/onboarding/funnel"): (STAFF_ONLY, _none),
}
# Writes that must name the version they change (If-Match): each caller sends their own.
CONDITIONAL = {
    ("PATCH", "/v1/onboarding/current/answers"),
    ("POST", "/v1/onboarding/current/advance"),
    ("POST", "/v1/onboarding/current/back"),
    ("POST", "/v1/onboarding/current/complete"),
}


def _route_table(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves: its API operations as the OpenAPI document
    publishes them, plus the documentation pages themselves."""
    operations = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    pages = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    return operations | pages


def test_every_route_has_a_row(app: FastAPI) -> None:
    assert _route_table(app) == set(MATRIX)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
def test_caller_gets_the_expected_status(api: Api, method: str, path: str, caller: str) -> None:
    expected, body = MATRIX[(method, path)]
    world = World.build(api)
    url = path.format(
        conversation_id=world.conversation_id,
        persona_id=world.persona_id,
        user_id=world.owner_id,
        job_id=uuid.uuid4(),
        event_id=world.crisis_event_id,
    )

    headers = world.headers[caller]
    if (method, path) in CONDITIONAL:
        headers = {**headers, **world.conditions(caller)}

    response = api.client.request(method, url, json=body(world), headers=headers)

    assert response.status_code == expected[caller], response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not.a.jwt",
        "Basic dXNlcjpwYXNz",
        "Bearer " + token_for(uuid.uuid4(), secret="another-secret-also-long-enough-0123456789"),
        "Bearer " + token_for("not-a-uuid"),
    ],
    ids=["malformed", "not-bearer", "bad-signature", "subject-not-uuid"],
)
def test_bad_tokens_are_401(api: Api, authorization: str) -> None:
    response = api.client.get("/v1/me", headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("role", ["anon", "admin", ""])
def test_token_with_a_role_convobase_does_not_know_is_401(api: Api, role: str) -> None:
    claims = {"sub": str(uuid.uuid4()), "role": role, "exp": 4_000_000_000}
    token = jwt.encode(claims, JWT_SECRET, algorithm="HS256")

    response = api.client.get("/v1/me", headers=bearer(token))

    assert response.status_code == 401


def test_supabase_access_token_works_unchanged(api: Api) -> None:
    user_id = uuid.uuid4()
    supabase_claims = {
        "aud": "authenticated",
        "exp": 4_000_000_000,
        "iat": 1_700_000_000,
        "iss": "https://project.supabase.co/auth/v1",
        "sub": str(user_id),
        "email": "maria@example.com",
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": 1_700_000_000}],
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }
    token = jwt.encode(supabase_claims, JWT_SECRET, algorithm="HS256")

    response = api.client.get("/v1/me", headers=bearer(token))

    assert response.status_code == 200
    assert response.json()["id"] == str(user_id)
    assert response.json()["email"] == "maria@example.com"
