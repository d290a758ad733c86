"""Staff are notified of each high or critical event once: a signed POST to the crisis
webhook by a worker, retried with backoff while the receiver fails (both databases)."""

import json
import uuid
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from convobase import bootstrap
from convobase.config import ConfigurationError, Settings
from convobase.conversations import service as conversation_service
from convobase.conversations.models import MessageRole
from convobase.conversations.schemas import MessageCreate
from convobase.conversations.service import AppendedMessage
from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.jobs import service as job_service
from convobase.jobs.models import JobState
from convobase.jobs.worker import Worker
from convobase.safety import service
from convobase.safety.tasks import notification_task
from convobase.safety.webhook import CrisisWebhook
from tests import factories
from tests.databases import LiveDatabase
from tests.webhooks import SECRET, webhook_server

STAFF = Principal.staff()


@pytest.fixture
def notifying_database(committing_database: LiveDatabase) -> Iterator[Database]:
    """The service's database, with staff notified by webhook (the URL is the test's)."""
    settings = committing_database.settings.model_copy(
        update={
            "crisis_webhook_url": "http://127.0.0.1:9/unused",
            "crisis_webhook_secret": SecretStr(SECRET),
        }
    )
    database = Database.from_settings(settings, bootstrap.event_bus(settings))
    yield database
    database.dispose()


def crisis(database: Database, content: str) -> uuid.UUID:
    """A new user's crisis message; its event's id."""
    with database.transaction(STAFF) as session:
        user = factories.user(session)
    with database.transaction(user) as session:
        conversation = factories.conversation(session, user)
        appended = conversation_service.append_message(
            session,
            user,
            conversation.id,
            data=MessageCreate(role=MessageRole.USER, content=content),
        )
    assert isinstance(appended, AppendedMessage)
    assert appended.safety is not None
    return appended.safety.event_id


def worker(database: Database, url: str) -> Worker:
    return Worker(database, [notification_task(CrisisWebhook(url, SECRET.encode(), timeout=5))])


def notified_at(database: Database, event_id: uuid.UUID) -> object:
    with database.transaction(STAFF) as session:
        return service.read_event(session, STAFF, event_id).event.staff_notified_at


def test_the_webhook_fires_once_per_event_at_a_local_receiver(
    notifying_database: Database,
) -> None:
    event_id = crisis(notifying_database, "I'm going to kill myself tonight")

    with webhook_server() as (url, accepted):
        assert worker(notifying_database, url).run_until_idle() == 1
        # As if the job had been delivered again: the event is notified already.
        payload = {"event_id": str(event_id), "user_id": str(_owner(notifying_database, event_id))}
        with notifying_database.transaction(STAFF) as session:
            job_service.enqueue(session, service.NOTIFY_TASK, payload)
        worker(notifying_database, url).run_until_idle()

    (notice,) = [json.loads(body) for body in accepted]
    assert (notice["event_id"], notice["severity_level"]) == (str(event_id), "critical")
    assert "kill myself" not in json.dumps(notice)
    assert notified_at(notifying_database, event_id) is not None


def test_a_moderate_event_notifies_nobody(notifying_database: Database) -> None:
    crisis(notifying_database, "I want to die")

    with notifying_database.transaction(STAFF) as session:
        assert job_service.list_jobs(session, STAFF, name=service.NOTIFY_TASK).items == []


def test_a_failing_receiver_is_tried_again_later(notifying_database: Database) -> None:
    event_id = crisis(notifying_database, "I'm going to kill myself")

    with webhook_server(status=503) as (url, accepted):
        worker(notifying_database, url).run_until_idle()

    assert len(accepted) == 1
    assert notified_at(notifying_database, event_id) is None
    with notifying_database.transaction(STAFF) as session:
        (job,) = job_service.list_jobs(session, STAFF, name=service.NOTIFY_TASK).items
    assert job.state == JobState.QUEUED
    assert job.last_error == "NotificationFailed: the crisis webhook answered HTTP 503"
    assert job.start_after > job.created_at


def _owner(database: Database, event_id: uuid.UUID) -> uuid.UUID:
    with database.transaction(STAFF) as session:
        return service.read_event(session, STAFF, event_id).event.user_id


@pytest.mark.parametrize(
    ("secret", "complaint"),
    [(None, "CONVOBASE_CRISIS_WEBHOOK_SECRET"), ("too-short", "at least 32 characters")],
)
def test_a_webhook_without_a_proper_secret_is_refused_at_start_up(
    secret: str | None, complaint: str
) -> None:
    settings = Settings(
        crisis_webhook_url="https://staff.example/crisis",
        crisis_webhook_secret=None if secret is None else SecretStr(secret),
    )

    with pytest.raises(ConfigurationError, match=complaint):
        CrisisWebhook.from_settings(settings)


def test_without_a_webhook_url_nobody_is_notified() -> None:
    assert CrisisWebhook.from_settings(Settings()) is None
