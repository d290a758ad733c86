"""The fuzzing gate: schemathesis sends every operation what the OpenAPI document
allows, and what it does not, as a user, a guest and staff, on both databases.

Every check schemathesis has is on: no answer is a 5xx; every status, content type,
header and body is one the document declares; schema-valid requests are accepted and
invalid ones refused; an operation that says it needs a token refuses a request
without one; `Allow` names every method of a path. Its examples, coverage and fuzzing
phases run, derandomized (the same cases every run), each fuzzing phase at most
`MAX_EXAMPLES` cases, every case within `DEADLINE`, and the whole gate within its
budget (gate.py).

Generated requests get help only where the document cannot say what the service needs:
path ids are drawn from resources the caller reaches as well as at random (`_World`),
as are a persona in a body and a guest token to claim; and the few refusals of
schema-valid data that the API documents but its JSON Schema cannot express are
excused, each by what the answer says (`_documented_refusal`).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case, HookContext, Response
from schemathesis.core.failures import Failure
from schemathesis.openapi.checks import RejectedPositiveData

from tests.api import Api, Headers, bearer
from tests.fuzzing.gate import GateLedger

CALLERS = ("user", "guest", "staff")
MAX_EXAMPLES = 4
DEADLINE = timedelta(seconds=2)

schema = schemathesis.pytest.from_fixture("fuzzed_schema")


@dataclass
class _World:
    """One kind of caller, and resources it reaches: made afresh for each operation, so
    that what one operation deletes or ends does not leave the next only 404s."""

    api: Api
    kind: str
    backend: str
    headers: Headers = field(default_factory=dict)
    _ids: dict[str, dict[str, str]] = field(default_factory=dict)
    _persona_id: str | None = None
    _etag: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "staff":
            self.headers = self.api.staff
        elif self.kind == "user":
            self.headers = self.api.new_user()
        else:
            self.headers = bearer(self.api.guest_session()["token"])

    def persona_id(self) -> str:
        """An active persona's id."""
        if self._persona_id is None:
            self._persona_id = str(self.api.persona()["id"])
        return self._persona_id

    def guest_token(self) -> str:
        """The token of a new guest session, which a user may claim."""
        return str(self.api.guest_session(self.persona_id())["token"])

    def onboarding_etag(self) -> str | None:
        """The ETag of this caller's onboarding as it is now (guests have none): the
        one the last answer carried, else read afresh."""
        if self._etag is None:
            response = self.api.client.get("/v1/onboarding/current", headers=self.headers)
            self._etag = response.headers["etag"] if response.status_code == 200 else None
        return self._etag

    def answered(self, path: str, response: Response) -> None:
        """Keep the ETag an onboarding answer carries; forget it when one changed the
        session without saying its new version (an import)."""
        if etags := response.headers.get("etag"):
            self._etag = etags[0]
        elif path.startswith("/v1/onboarding") and 200 <= response.status_code < 300:
            self._etag = None

    def ids_for(self, operation: str) -> dict[str, str]:
        """Ids of a persona and a conversation (with a message) this caller reaches,
        new for each operation. A guest gets a new session for it, and its token."""
        if operation not in self._ids:
            persona = self.api.persona()
            if self.kind == "guest":
                guest = self.api.guest_session(persona["id"])
                self.headers = writer = bearer(guest["token"])
                conversation_id = guest["conversation_id"]
            else:
                writer = self.headers if self.kind == "user" else self.api.new_user()
                conversation_id = self.api.conversation(writer, persona_id=persona["id"])["id"]
            self.api.say(writer, conversation_id)
            self._ids[operation] = {"conversation_id": conversation_id, "persona_id": persona["id"]}
        return self._ids[operation]


@pytest.fixture(params=CALLERS)
def world(request: pytest.FixtureRequest, api: Api, backend: str) -> _World:
    return _World(api, request.param, backend)


@pytest.fixture
def fuzzed_schema(app: FastAPI, world: _World) -> Any:
    """The app's own document, loaded from it, with this caller's hooks."""
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    # The caller's real token is sent with every case; the checks that probe
    # authentication send requests without it, or with a made-up one, themselves.
    loaded.config.generation.update(deterministic=True, with_security_parameters=False)

    @loaded.hook
    def flatmap_path_parameters(
        context: HookContext, path_parameters: dict[str, Any]
    ) -> st.SearchStrategy[dict[str, Any]]:
        # As often as Hypothesis draws it: ids of resources the caller reaches, so the
        # operation does more than answer 404.
        if context.operation is None or not path_parameters:
            return st.just(path_parameters)
        reachable = world.ids_for(context.operation.label)
        real = {
            name: reachable.get(name, value) if _is_uuid(value) else value
            for name, value in path_parameters.items()
        }
        return st.sampled_from([path_parameters, real])

    token_schema = loaded.raw_schema["components"]["schemas"]["GuestSessionClaim"]
    token_lengths = range(
        token_schema["properties"]["guest_token"]["minLength"],
        token_schema["properties"]["guest_token"]["maxLength"] + 1,
    )

    @loaded.hook
    def flatmap_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
        # As often: a persona that exists, a guest token this service issued. Only a
        # value the schema allows is replaced, so an invalid body stays invalid.
        if not isinstance(body, dict):
            return st.just(body)
        if _is_uuid(body.get("persona_id")):
            return st.sampled_from([body, {**body, "persona_id": world.persona_id()}])
        token = body.get("guest_token")
        if isinstance(token, str) and len(token) in token_lengths:
            issued = st.builds(lambda: {**body, "guest_token": world.guest_token()})
            return st.one_of(st.just(body), issued)
        return st.just(body)

    @loaded.hook
    def flatmap_headers(context: HookContext, headers: Any) -> st.SearchStrategy[Any]:
        # As often: an If-Match naming the caller's onboarding as it is now, so that
        # conditional writes do more than answer 412.
        names = [name for name in headers or {} if name.lower() == "if-match"]
        if not isinstance(headers, dict) or not names:
            return st.just(headers)

        def current() -> Any:
            etag = world.onboarding_etag()
            return headers if etag is None else {**headers, names[0]: etag}

        return st.one_of(st.just(headers), st.builds(current))

    @loaded.hook
    def after_call(context: HookContext, case: Case[Any], response: Response) -> None:
        world.answered(case.operation.path, response)

    @loaded.hook
    def filter_failure(
        context: HookContext, failure: Failure, case: Case[Any], response: Response
    ) -> bool:
        return not _documented_refusal(failure, case, response)

    return loaded


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _documented_refusal(failure: Failure, case: Case[Any], response: Response) -> bool:
    """Whether `failure` is a schema-valid request refused for a reason the API
    documents (docs/api.md) and its JSON Schema cannot state."""
    if not isinstance(failure, RejectedPositiveData):
        return False
    problem: dict[str, Any] = response.json()
    if response.status_code in (412, 428):
        return problem.get("code") in _DOCUMENTED_PRECONDITIONS
    if response.status_code != 422:
        return False
    if problem.get("code") in _DOCUMENTED_CODES:
        return True
    if problem.get("detail") in _DOCUMENTED_DETAILS:
        return True
    errors: list[dict[str, Any]] = problem.get("errors") or []
    return bool(errors) and all(
        any(excused(error, case) for excused in _DOCUMENTED_FIELD_ERRORS) for error in errors
    )


# A cursor or a guest token this service did not issue: opaque strings to the schema.
# Onboarding answers are checked against the JSON Schema of the phase the session is at,
# which the answer names (docs/onboarding.md) and the document cannot know. An
# assessment's questions follow their own published JSON Schema (docs/assessments.md),
# and a course's prerequisites must be other courses, without a cycle: state, not schema.
# An attempt's answer must fit its question's kind (docs/learning.md), which the
# attempt's assessment holds. A dialog's script must be playable (each line by one of
# its roles, docs/tutoring.md), and a role one the dialog has, learners may play, in a
# dialog not archived.
_DOCUMENTED_CODES = {
    "attempt_answer_invalid",
    "assessment_questions_invalid",
    "lesson_dialog_archived",
    "lesson_dialog_script_invalid",
    "library_text_archived",
    "role_not_in_dialog",
    "role_not_playable",
    "content_invalid",
    "prerequisite_cycle",
    "prerequisite_not_found",
    "invalid_cursor",
    "invalid_guest_token",
    "onboarding_answers_invalid",
    "onboarding_incomplete",
}
# A conditional write must name the version it changes (If-Match): which one is current
# is state, not schema (docs/onboarding.md).
_DOCUMENTED_PRECONDITIONS = {"precondition_required", "onboarding_session_changed"}
# At most one of `after`, `before` and `cursor`: JSON Schema cannot relate query parameters.
_DOCUMENTED_DETAILS = {"Give at most one of after, before and cursor."}


def _nul_character(error: dict[str, Any], case: Case[Any]) -> bool:
    # Text may hold any character but U+0000 (docs/api.md, "Text"). Stating it in the
    # schema is for core/validation.Text, whose JSON Schema does not say it yet.
    return "NUL character (U+0000)" in error["msg"]


def _integral_float(error: dict[str, Any], case: Case[Any]) -> bool:
    # JSON Schema's `integer` admits 5.0; the service's strict types take only 5 (docs/
    # api.md, "Types are strict"). Accepting 5.0, or saying so, is for the schemas.
    if error["type"] != "int_type" or error["loc"][:1] != ["body"]:
        return False
    value: Any = case.body
    try:
        for step in error["loc"][1:]:
            value = value[step]
    except (LookupError, TypeError):
        return False
    return isinstance(value, float) and value.is_integer()


def _unknown_time_zone(error: dict[str, Any], case: Case[Any]) -> bool:
    # A user's `preferences.time_zone` names a zone of the IANA tz database (docs/api.md,
    # "Reviews"): some 600 names, which the free-form preferences document does not list.
    return error["loc"] == ["body", "preferences"] and "IANA time zone" in error["msg"]


def _repeated_section_key(error: dict[str, Any], case: Case[Any]) -> bool:
    # A course's sections are matched by key (docs/learning.md): JSON Schema can say a
    # list's items are unique, not that one field of each is.
    return error["loc"] == ["body", "sections"] and "section keys must not repeat" in error["msg"]


_DOCUMENTED_FIELD_ERRORS: tuple[Callable[[dict[str, Any], Case[Any]], bool], ...] = (
    _nul_character,
    _integral_float,
    _unknown_time_zone,
    _repeated_section_key,
)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=DEADLINE,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_answer_is_one_the_document_declares(
    case: Case[Any], world: _World, gate_ledger: GateLedger
) -> None:
    gate_ledger.check_budget()
    gate_ledger.cases[(world.backend, world.kind)] += 1
    case.call_and_validate(headers=world.headers)
