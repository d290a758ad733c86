"""Notifying staff of a crisis event: a signed POST to the operator's own service."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from convobase.config import Settings
from convobase.core.webhooks import SIGNATURE_HEADER, signature, signing_secret
from convobase.safety.models import CrisisEvent

EVENT_HEADER = "Convobase-Event-Id"


class NotificationFailed(Exception):
    """The crisis webhook did not take the notification; the job tries again later."""


@dataclass(frozen=True, slots=True)
class CrisisWebhook:
    """POSTs a notice of each high or critical event, signed as every convobase webhook
    is (`Convobase-Signature`), to `url`.

    The notice names the event and says how severe it is and of what kind; it never
    carries the message: staff read that through the API, where reading it is audited.
    Delivery is at least once: a receiver that must act once keys on `Convobase-Event-Id`.
    """

    url: str
    secret: bytes
    timeout: float
    client: httpx.Client | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "CrisisWebhook | None":
        """The webhook the settings configure; None if they configure none."""
        if not settings.crisis_webhook_url:
            return None
        return cls(
            settings.crisis_webhook_url,
            signing_secret(settings.crisis_webhook_secret, "CONVOBASE_CRISIS_WEBHOOK_SECRET"),
            timeout=settings.crisis_webhook_timeout_seconds,
        )

    def post(self, event_id: uuid.UUID, notice: dict[str, Any]) -> None:
        """POST an event's notice; raises NotificationFailed unless it is taken (2xx)."""
        body = json.dumps(notice, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(self.secret, body),
            EVENT_HEADER: str(event_id),
        }
        try:
            if self.client is not None:
                response = self.client.post(
                    self.url, content=body, headers=headers, timeout=self.timeout
                )
            else:
                with httpx.Client() as client:
                    response = client.post(
                        self.url, content=body, headers=headers, timeout=self.timeout
                    )
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            # The error's type, not its text: that may repeat the URL and a token in it.
            raise NotificationFailed(
                f"the crisis webhook request failed: {type(error).__name__}"
            ) from error
        if not response.is_success:
            raise NotificationFailed(f"the crisis webhook answered HTTP {response.status_code}")


def notice(event: CrisisEvent) -> dict[str, Any]:
    """The JSON body the crisis webhook POSTs for `event`."""
    return {
        "type": "crisis_event.created",
        "event_id": str(event.id),
        "user_id": str(event.user_id),
        "conversation_id": str(event.conversation_id),
        "message_id": None if event.message_id is None else str(event.message_id),
        "severity_level": event.severity_level,
        "category": event.category,
        "trigger_type": event.trigger_type,
        "keywords_detected": list(event.keywords_detected),
        "followup_required": event.followup_required,
        "created_at": _rfc3339(event.created_at),
        "staff_path": f"/v1/staff/crisis-events/{event.id}",
    }


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
