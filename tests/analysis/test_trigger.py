"""Every 25th `user` message of a signed-in user queues exactly one analysis job."""

import threading

import pytest
from sqlalchemy.orm import Session

from convobase import bootstrap
from convobase.conversations import service as conversation_service
from convobase.conversations.models import MessageRole
from convobase.conversations.schemas import MessageCreate
from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.jobs import service as job_service
from tests import factories
from tests.databases import LiveDatabase

STAFF = Principal.staff()


def analysis_jobs(session: Session) -> list[tuple[str | None, dict[str, object]]]:
    page = job_service.list_jobs(session, STAFF, name="analysis", limit=200)
    return sorted((job.dedup_key, job.data) for job in page.items)


def test_the_25th_user_message_queues_the_first_batch(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    factories.messages(session, user, conversation, 24)
    assert analysis_jobs(session) == []

    factories.message(session, user, conversation)

    assert analysis_jobs(session) == [
        (f"analysis:{user.user_id}:1", {"user_id": str(user.user_id), "batch": 1})
    ]


def test_messages_count_across_all_the_users_conversations(
    session: Session, user: Principal
) -> None:
    for _ in range(5):
        factories.messages(session, user, factories.conversation(session, user), 10)
    assert [key for key, _ in analysis_jobs(session)] == [
        f"analysis:{user.user_id}:1",
        f"analysis:{user.user_id}:2",
    ]


def test_replies_do_not_count(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    factories.messages(session, user, conversation, 24)
    reply = MessageCreate(role=MessageRole.ASSISTANT, content="¡Muy bien!")
    for _ in range(5):
        conversation_service.append_message(
            session, STAFF, conversation.id, data=reply, as_staff=True
        )
    assert analysis_jobs(session) == []


def test_a_retried_message_counts_once(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    factories.messages(session, user, conversation, 24)
    for _ in range(3):
        factories.message(session, user, conversation, "again", client_message_id="retry-1")
    assert len(analysis_jobs(session)) == 1


def test_guest_messages_count_once_the_session_is_claimed(
    session: Session, user: Principal
) -> None:
    persona = factories.persona(session)
    started = conversation_service.start_guest_session(session, persona_id=persona.id)
    guest = Principal.guest(started.session_id)
    for n in range(10):
        data = MessageCreate(role=MessageRole.USER, content=f"guest {n}")
        conversation_service.append_message(session, guest, started.conversation_id, data=data)
    factories.messages(session, user, factories.conversation(session, user), 20)
    assert analysis_jobs(session) == [], "a guest's messages count for nobody"

    conversation_service.claim_guest_session(session, user, guest=guest)

    assert [key for key, _ in analysis_jobs(session)] == [f"analysis:{user.user_id}:1"]


@pytest.mark.concurrency
def test_thirty_concurrent_appends_queue_exactly_one_job_per_batch(
    committing_database: LiveDatabase,
) -> None:
    settings = committing_database.settings
    database = Database.from_settings(settings, bootstrap.event_bus(settings))
    with database.transaction(STAFF) as session:
        user = factories.user(session)
    with database.transaction(user) as session:
        conversations = [factories.conversation(session, user) for _ in range(3)]
        factories.messages(session, user, conversations[0], 20)

    start = threading.Barrier(30)
    failures: list[BaseException] = []

    def append(n: int) -> None:
        start.wait()
        try:
            with database.transaction(user) as session:
                data = MessageCreate(role=MessageRole.USER, content=f"concurrent {n}")
                conversation_service.append_message(
                    session, user, conversations[n % 3].id, data=data
                )
        except BaseException as error:  # reported below, with the others
            failures.append(error)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

    with database.transaction(STAFF) as session:
        keys = [key for key, _ in analysis_jobs(session)]
    database.dispose()
    assert keys == [f"analysis:{user.user_id}:1", f"analysis:{user.user_id}:2"]
