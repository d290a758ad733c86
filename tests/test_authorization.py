"""Every route, for every kind of caller: the status it must answer.

The routes come from the application itself: a new route without a row here fails
`test_every_route_has_a_row`, so nobody can add one without deciding who may call it.
"""

import functools
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import jwt
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from tests.api import JWT_SECRET, PERSONALITY, Api, Headers, bearer, token_for
from tests.learning.catalog import assessment_body, course_body
from tests.tutoring.dialogs import short_body

CALLERS = ("owner", "other_user", "other_guest", "staff", "no_token", "expired_token")


@dataclass
class World:
    """Resources for one request, each made on first use: what the owner owns, and who
    else is calling. Only what a row's path, body and caller name gets made."""

    api: Api
    owner: Headers
    # The first question of every assessment the matrix makes (tests.learning.catalog).
    question_id: ClassVar[str] = "position"

    @classmethod
    def build(cls, api: Api) -> "World":
        return cls(api, api.new_user())

    def headers(self, caller: str) -> Headers:
        """How `caller` authenticates (or fails to)."""
        match caller:
            case "owner":
                return self.owner
            case "other_user":
                return self.api.new_user()
            case "other_guest":
                return bearer(self.api.guest_session(self.persona_id)["token"])
            case "staff":
                return self.api.staff
            case "no_token":
                return {}
            case "expired_token":
                return bearer(token_for(uuid.uuid4(), ttl=timedelta(seconds=-10)))
        raise ValueError(f"unknown caller {caller!r}")

    def url(self, path: str) -> str:
        """`path` with each placeholder filled by the resource it names."""
        names = {name for _, name, _, _ in string.Formatter().parse(path) if name}
        return path.format(**{name: getattr(self, _RESOURCES.get(name, name)) for name in names})

    @functools.cached_property
    def persona_id(self) -> str:
        """A persona made on first use."""
        return str(self.api.persona()["id"])

    @functools.cached_property
    def conversation_id(self) -> str:
        """The owner's conversation with the world's persona."""
        return str(self.api.conversation(self.owner, persona_id=self.persona_id)["id"])

    @functools.cached_property
    def owner_id(self) -> str:
        return str(self.api.client.get("/v1/me", headers=self.owner).json()["id"])

    @functools.cached_property
    def own_guest_token(self) -> str:
        """The token of a guest session the owner may claim."""
        return str(self.api.guest_session(self.persona_id)["token"])

    @functools.cached_property
    def crisis_event_id(self) -> str:
        """The crisis event of a message the owner said in their conversation."""
        crisis = {"role": "user", "content": "I want to kill myself"}
        said = self.api.append(self.owner, self.conversation_id, crisis)
        return str(said["safety"]["event_id"])

    @functools.cached_property
    def job_id(self) -> str:
        return str(uuid.uuid4())

    @functools.cached_property
    def course_id(self) -> str:
        """A course made on first use."""
        response = self.api.client.post("/v1/courses", json=course_body(), headers=self.api.staff)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    @functools.cached_property
    def assessment_id(self) -> str:
        """An assessment of the world's course."""
        body = assessment_body(self.course_id)
        response = self.api.client.post("/v1/assessments", json=body, headers=self.api.staff)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    @functools.cached_property
    def review_card_id(self) -> str:
        """A review card of the owner's, made on first use (the routes that need one)."""
        body = {"prompt": "¿Cómo estás?", "answer": "Bien"}
        response = self.api.client.post("/v1/reviews/cards", json=body, headers=self.owner)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    @functools.cached_property
    def attempt_id(self) -> str:
        """The owner's attempt at the world's assessment, started on first use."""
        url = f"/v1/assessments/{self.assessment_id}/attempts"
        response = self.api.client.post(url, json={}, headers=self.owner)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    @functools.cached_property
    def section_id(self) -> str:
        """The first section of the world's course."""
        course = self.api.client.get(f"/v1/courses/{self.course_id}").json()
        return str(course["sections"][0]["id"])

    @functools.cached_property
    def dialog_id(self) -> str:
        """A published lesson dialog nobody practised, made on first use."""
        body = short_body(key=f"matrix-{uuid.uuid4().hex[:8]}")
        response = self.api.client.post("/v1/lesson-dialogs", json=body, headers=self.api.staff)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    @functools.cached_property
    def text_id(self) -> str:
        """A library text nobody read, made on first use."""
        response = self.api.client.post(
            "/v1/library-texts", json=_text_body(self), headers=self.api.staff
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    @functools.cached_property
    def tutor_session_id(self) -> str:
        """The owner's tutor session of the world's dialog, started on first use."""
        response = self.api.client.post(
            "/v1/tutor-sessions", json=_tutor_session_body(self), headers=self.owner
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def conditions(self, headers: Headers) -> Headers:
        """An If-Match with the ETag of the caller's own onboarding, if they have one."""
        response = self.api.client.get("/v1/onboarding/current", headers=headers)
        return {"If-Match": response.headers["etag"]} if response.status_code == 200 else {}


Body = Callable[[World], dict[str, Any] | None]


# A path's placeholders that name a resource by another name than the world's.
_RESOURCES = {
    "user_id": "owner_id",
    "event_id": "crisis_event_id",
    "card_id": "review_card_id",
    "session_id": "tutor_session_id",
}


def _none(world: World) -> None:
    return None


def _persona_body(world: World) -> dict[str, Any]:
    return {
        "name": f"matrix-{uuid.uuid4().hex[:8]}",
        "display_name": "Matrix",
        "personality_config": PERSONALITY,
    }


def _text_body(world: World) -> dict[str, Any]:
    return {
        "key": f"matrix-{uuid.uuid4().hex[:8]}",
        "title": "El café de la esquina",
        "language": "es",
        "level": "A1",
        "body": "En mi barrio hay un café pequeño.",
    }


def _tutor_session_body(world: World) -> dict[str, Any]:
    return {"dialog_id": world.dialog_id, "selected_role": "Ana"}


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
    ("GET", "/"): (PUBLIC, _none),
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
    # Everyone signed in has review cards of their own (staff too, with a user id).
    ("GET", "/v1/reviews/due"): (USER_ONLY, _none),
    ("POST", "/v1/reviews"): (
        {**OWNER_ONLY, "owner": 201},
        lambda w: {"card_id": w.review_card_id, "rating": "good", "client_review_id": "tap-1"},
    ),
    ("POST", "/v1/reviews/cards"): (
        {**USER_ONLY, **_signed_in(201)},
        lambda w: {"prompt": "¿Qué tal?"},
    ),
    ("GET", "/v1/reviews/cards"): (USER_ONLY, _none),
    ("GET", "/v1/reviews/cards/{card_id}"): (OWNER_ONLY, _none),
    ("PATCH", "/v1/reviews/cards/{card_id}"): (OWNER_ONLY, lambda w: {"suspended": True}),
    ("DELETE", "/v1/reviews/cards/{card_id}"): ({**OWNER_ONLY, "owner": 204}, _none),
    ("GET", "/v1/reviews/cards/{card_id}/history"): (OWNER_ONLY, _none),
    ("GET", "/v1/courses"): (PUBLIC_TOKEN_CHECKED, _none),
    ("GET", "/v1/courses/{course_id}"): (PUBLIC_TOKEN_CHECKED, _none),
    ("POST", "/v1/courses"): ({**STAFF_ONLY, "staff": 201}, lambda w: course_body()),
    ("PATCH", "/v1/courses/{course_id}"): (STAFF_ONLY, lambda w: {"description": "New"}),
    # Nobody studied the world's course: it is deleted, not archived.
    ("DELETE", "/v1/courses/{course_id}"): ({**STAFF_ONLY, "staff": 204}, _none),
    ("GET", "/v1/staff/courses"): (STAFF_ONLY, _none),
    ("GET", "/v1/assessments/{assessment_id}"): (USER_ONLY, _none),
    ("POST", "/v1/assessments"): (
        {**STAFF_ONLY, "staff": 201},
        lambda w: assessment_body(w.course_id),
    ),
    ("PATCH", "/v1/assessments/{assessment_id}"): (STAFF_ONLY, lambda w: {"title": "New"}),
    ("DELETE", "/v1/assessments/{assessment_id}"): (STAFF_ONLY, _none),
    ("GET", "/v1/staff/assessments/{assessment_id}"): (STAFF_ONLY, _none),
    # Everyone signed in studies for themselves (staff too, with a user id).
    ("POST", "/v1/assessments/{assessment_id}/attempts"): (
        {**USER_ONLY, **_signed_in(201)},
        lambda w: {},
    ),
    ("GET", "/v1/assessments/{assessment_id}/attempts"): (USER_ONLY, _none),
    ("GET", "/v1/attempts/{attempt_id}"): (OWNER_ONLY, _none),
    ("PUT", "/v1/attempts/{attempt_id}/answers/{question_id}"): (
        OWNER_ONLY,
        lambda w: {"answer": "b"},
    ),
    ("POST", "/v1/attempts/{attempt_id}/submit"): (OWNER_ONLY, _none),
    ("POST", "/v1/courses/{course_id}/sections/{section_id}/complete"): (USER_ONLY, _none),
    ("POST", "/v1/courses/{course_id}/study-time"): (USER_ONLY, _none),
    ("GET", "/v1/courses/{course_id}/progress"): (USER_ONLY, _none),
    ("GET", "/v1/me/courses"): (USER_ONLY, _none),
    ("GET", "/v1/staff/users/{user_id}/progress"): (STAFF_ONLY, _none),
    ("GET", "/v1/staff/users/{user_id}/attempts"): (STAFF_ONLY, _none),
    ("GET", "/v1/lesson-dialogs"): (USER_ONLY, _none),
    ("GET", "/v1/me/suggested-dialogs"): (USER_ONLY, _none),
    ("GET", "/v1/lesson-dialogs/{dialog_id}"): (USER_ONLY, _none),
    ("GET", "/v1/lesson-dialogs/{dialog_id}/practice"): (USER_ONLY, _none),
    ("POST", "/v1/lesson-dialogs"): (
        {**STAFF_ONLY, "staff": 201},
        lambda w: short_body(key=f"matrix-{uuid.uuid4().hex[:8]}"),
    ),
    ("PATCH", "/v1/lesson-dialogs/{dialog_id}"): (STAFF_ONLY, lambda w: {"description": "New"}),
    # Nobody practised the world's dialog: it is deleted, not archived.
    ("DELETE", "/v1/lesson-dialogs/{dialog_id}"): ({**STAFF_ONLY, "staff": 204}, _none),
    ("GET", "/v1/staff/lesson-dialogs"): (STAFF_ONLY, _none),
    ("GET", "/v1/staff/lesson-dialogs/{dialog_id}"): (STAFF_ONLY, _none),
    ("GET", "/v1/staff/lesson-dialogs/{dialog_id}/sessions"): (STAFF_ONLY, _none),
    ("POST", "/v1/staff/lesson-dialogs/{dialog_id}/purge"): (STAFF_ONLY, _none),
    ("POST", "/v1/staff/tutoring/import"): (STAFF_ONLY, lambda w: {"dialogs": []}),
    ("GET", "/v1/staff/tutoring/export"): (STAFF_ONLY, _none),
    ("GET", "/v1/library-texts"): (USER_ONLY, _none),
    ("GET", "/v1/library-texts/{text_id}"): (USER_ONLY, _none),
    ("POST", "/v1/library-texts"): ({**STAFF_ONLY, "staff": 201}, _text_body),
    ("PATCH", "/v1/library-texts/{text_id}"): (STAFF_ONLY, lambda w: {"title": "New"}),
    # Nobody read the world's text: it is deleted, not archived.
    ("DELETE", "/v1/library-texts/{text_id}"): ({**STAFF_ONLY, "staff": 204}, _none),
    # Everyone signed in practises for themselves (staff too, with a user id).
    ("POST", "/v1/tutor-sessions"): ({**USER_ONLY, **_signed_in(201)}, _tutor_session_body),
    ("GET", "/v1/tutor-sessions"): (USER_ONLY, _none),
    ("GET", "/v1/tutor-sessions/{session_id}"): (OWNER_ONLY, _none),
    ("POST", "/v1/tutor-sessions/{session_id}/turns"): (
        {**OWNER_ONLY, "owner": 201},
        lambda w: {"content": "Hola, ¿qué tal?"},
    ),
    ("GET", "/v1/tutor-sessions/{session_id}/turns"): (OWNER_ONLY, _none),
    ("GET", "/v1/me/word-mistakes"): (USER_ONLY, _none),
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
    url = world.url(path)
    headers = world.headers(caller)
    if (method, path) in CONDITIONAL:
        headers = {**headers, **world.conditions(headers)}

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
