"""The crisis notification job: tell staff of a high or critical event, once."""

import uuid

from convobase.core.principal import Principal
from convobase.jobs.worker import JobRun, Task
from convobase.safety import service
from convobase.safety.service import NOTIFY_TASK
from convobase.safety.webhook import CrisisWebhook, notice


def notification_task(webhook: CrisisWebhook) -> Task:
    """The task that POSTs each crisis event's notice to `webhook`.

    A failed POST raises, and the worker retries the job with backoff. The event records
    when staff were notified, so a job that runs again after that sends nothing.
    """

    def notify(run: JobRun) -> None:
        # The job reaches only this user's rows (row level security on PostgreSQL).
        user = Principal.user(uuid.UUID(run.payload["user_id"]))
        event_id = uuid.UUID(run.payload["event_id"])
        with run.transaction(user, readonly=True) as session:
            event = service.notification_of(session, user, event_id)
            body = None if event is None else notice(event)
        if body is None:
            return  # deleted with its user or conversation, or notified already
        # Outside any transaction: the receiver may be slow, or down.
        webhook.post(event_id, body)
        with run.finish(user) as session:
            service.mark_notified(session, user, event_id)

    return Task(NOTIFY_TASK, notify)
