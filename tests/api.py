"""Driving the HTTP API in tests: tokens for each kind of caller, and small builders."""

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from convobase.core.principal import Role
from convobase.core.tokens import mint_token

JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
PERSONALITY = {"system_prompt": "You are a patient Spanish tutor.", "temperature": 0.7}
_numbers = itertools.count(1)

Headers = dict[str, str]


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


def token_for(
    sub: uuid.UUID | str,
    role: Role = Role.AUTHENTICATED,
    *,
    ttl: timedelta = timedelta(hours=1),
    secret: str = JWT_SECRET,
    email: str | None = None,
) -> str:
    return mint_token(secret, sub=str(sub), role=role, ttl=ttl, email=email)


@dataclass
class Api:
    """A client with helpers that create what a test needs through the API itself."""

    client: TestClient
    staff: Headers = field(
        default_factory=lambda: bearer(token_for(uuid.uuid4(), Role.SERVICE_ROLE))
    )

    def new_user(self, email: str | None = None) -> Headers:
        return bearer(token_for(uuid.uuid4(), email=email))

    def persona(self, **fields: Any) -> dict[str, Any]:
        number = next(_numbers)
        body = {
            "name": f"persona-{number}-{uuid.uuid4().hex[:6]}",
            "display_name": f"Persona {number}",
            "personality_config": PERSONALITY,
            **fields,
        }
        response = self.client.post("/v1/personas", json=body, headers=self.staff)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def conversation(self, headers: Headers, **fields: Any) -> dict[str, Any]:
        response = self.client.post("/v1/conversations", json=fields, headers=headers)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def say(
        self,
        headers: Headers,
        conversation_id: str,
        content: str = "Hola",
        *,
        role: str = "user",
        client_message_id: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"role": role, "content": content}
        if client_message_id is not None:
            body["client_message_id"] = client_message_id
        result: dict[str, Any] = self.append(headers, conversation_id, body)["message"]
        return result

    def append(
        self, headers: Headers, conversation_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Append a message; the whole answer: the message and its safety block."""
        response = self.client.post(
            f"/v1/conversations/{conversation_id}/messages", json=body, headers=headers
        )
        assert response.status_code in (200, 201), response.text
        answer: dict[str, Any] = response.json()
        return answer

    def reply(self, conversation_id: str, content: str = "¡Hola!", role: str = "assistant") -> None:
        """Post the assistant's reply as the app's server does: with a staff token."""
        response = self.client.post(
            f"/v1/staff/conversations/{conversation_id}/messages",
            json={"role": role, "content": content},
            headers=self.staff,
        )
        assert response.status_code == 201, response.text

    def guest_session(self, persona_id: str | None = None) -> dict[str, Any]:
        persona_id = persona_id or self.persona()["id"]
        response = self.client.post("/v1/guest-sessions", json={"persona_id": persona_id})
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result
