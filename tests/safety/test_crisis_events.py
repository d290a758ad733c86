"""Crisis events in the store: written with the message that raised them, in the same
transaction, shown to their user, followed up by staff (on both databases, under row
level security on PostgreSQL)."""

import uuid
from datetime import timedelta

import pytest
from pydantic import SecretStr

from convobase import bootstrap
from convobase.conversations import service as conversation_service
from convobase.conversations.errors import ConversationNotFound
from convobase.conversations.models import MessageRole
from convobase.conversations.schemas import CrisisCategory, CrisisSeverity, MessageCreate
from convobase.conversations.service import AppendedMessage, GuestMessageRefused
from convobase.core.errors import Forbidden
from convobase.core.limits import Limits
from convobase.core.principal import Principal
from convobase.core.time import utc_now
from convobase.db.session import Database
from convobase.jobs import service as job_service
from convobase.safety import service
from convobase.safety.detector import Category, Severity
from convobase.safety.errors import CrisisEventNotFound, EventAlreadyResolved, EventNotResolved
from convobase.safety.models import CrisisActionKind, CrisisEvent, CrisisOutcome, StatsPeriod
from convobase.users import service as user_service
from convobase.users.schemas import UserUpdate
from tests import factories
from tests.databases import LiveDatabase
from tests.webhooks import SECRET

STAFF = Principal.staff(uuid.uuid4())
CRISIS = "I want to kill myself"


def signed_up(database: Database) -> tuple[Principal, uuid.UUID]:
    """A user with a conversation."""
    with database.transaction(STAFF) as session:
        user = factories.user(session)
    with database.transaction(user) as session:
        conversation = factories.conversation(session, user)
    return user, conversation.id


def say(
    database: Database,
    who: Principal,
    conversation_id: uuid.UUID,
    content: str,
    *,
    accept_language: str | None = None,
    client_message_id: str | None = None,
) -> AppendedMessage:
    data = MessageCreate(
        role=MessageRole.USER, content=content, client_message_id=client_message_id
    )
    with database.transaction(who) as session:
        appended = conversation_service.append_message(
            session, who, conversation_id, data=data, accept_language=accept_language
        )
    assert isinstance(appended, AppendedMessage)
    return appended


def own_events(database: Database, who: Principal) -> list[CrisisEvent]:
    with database.transaction(who) as session:
        return list(service.list_own_events(session, who, limit=200).items)


def test_a_crisis_message_records_its_event_with_the_message(database: Database) -> None:
    user, conversation_id = signed_up(database)

    appended = say(database, user, conversation_id, CRISIS, accept_language="en-US")

    notice = appended.safety
    assert notice is not None
    (event,) = own_events(database, user)
    assert (event.id, event.message_id) == (notice.event_id, appended.message.id)
    assert (event.category, event.severity_level) == ("suicide", "moderate")
    assert (notice.category, notice.severity) == ("suicide", "moderate")
    assert event.trigger_type == "keyword"
    assert event.keywords_detected
    assert event.detector_version.startswith("rules ")
    assert not event.followup_required
    assert event.resources_shown == list(notice.resources)
    assert event.resources_shown[0]["id"] == "us-988"
    assert notice.message


def test_an_ordinary_message_is_not_flagged_and_records_nothing(database: Database) -> None:
    user, conversation_id = signed_up(database)

    appended = say(database, user, conversation_id, "I'm killing it at Spanish today!")

    assert appended.safety is None
    assert own_events(database, user) == []


def test_the_apps_replies_are_not_screened(database: Database) -> None:
    user, conversation_id = signed_up(database)
    reply = MessageCreate(role=MessageRole.ASSISTANT, content="Do you want to kill yourself?")

    with database.transaction(STAFF) as session:
        appended = conversation_service.append_message(
            session, STAFF, conversation_id, data=reply, as_staff=True
        )

    assert isinstance(appended, AppendedMessage)
    assert appended.safety is None
    assert own_events(database, user) == []


def test_a_failed_append_leaves_neither_message_nor_event(database: Database) -> None:
    user, conversation_id = signed_up(database)

    def append_then_fail() -> None:
        with database.transaction(user) as session:
            data = MessageCreate(role=MessageRole.USER, content=CRISIS)
            conversation_service.append_message(session, user, conversation_id, data=data)
            raise RuntimeError("the request failed after screening")

    with pytest.raises(RuntimeError):
        append_then_fail()

    assert own_events(database, user) == []
    with database.transaction(user) as session:
        assert conversation_service.list_messages(session, user, conversation_id).items == []


def test_a_message_to_someone_elses_conversation_is_not_screened(database: Database) -> None:
    _, conversation_id = signed_up(database)
    stranger, _ = signed_up(database)

    with pytest.raises(ConversationNotFound):
        say(database, stranger, conversation_id, CRISIS)

    assert own_events(database, stranger) == []


def test_a_plan_needs_follow_up_and_an_earlier_turn_escalates(database: Database) -> None:
    user, conversation_id = signed_up(database)
    say(database, user, conversation_id, "I want to die")

    tonight = say(database, user, conversation_id, "tonight")

    assert tonight.safety is not None
    assert tonight.safety.severity == "critical"
    latest = own_events(database, user)[0]
    assert (latest.severity_level, latest.followup_required) == ("critical", True)


def test_a_retry_answers_the_first_safety_block_and_records_one_event(
    database: Database,
) -> None:
    user, conversation_id = signed_up(database)
    first = say(database, user, conversation_id, CRISIS, client_message_id="c-1")

    retry = say(database, user, conversation_id, CRISIS, client_message_id="c-1")

    assert retry.replayed
    assert retry.safety is not None
    assert first.safety is not None
    assert retry.safety.event_id == first.safety.event_id
    assert retry.safety.resources == first.safety.resources
    assert len(own_events(database, user)) == 1


def test_a_report_about_someone_else_is_an_event_of_its_own_kind(database: Database) -> None:
    user, conversation_id = signed_up(database)

    appended = say(database, user, conversation_id, "my friend wants to kill herself")

    assert appended.safety is not None
    assert appended.safety.category == "third_party"


def test_resources_follow_the_users_country_and_language(database: Database) -> None:
    user, conversation_id = signed_up(database)
    with database.transaction(user) as session:
        preferences = {"country": "ES", "language": "es"}
        user_service.update_user(session, user, data=UserUpdate(preferences=preferences))

    appended = say(database, user, conversation_id, "me quiero morir", accept_language="en-US")

    assert appended.safety is not None
    assert appended.safety.resources[0]["country"] == "ES"
    assert any(
        contact.get("number") == "024"
        for resource in appended.safety.resources
        for contact in resource["contacts"]
    )


def test_a_guest_past_the_cap_is_refused_but_its_event_is_recorded(
    database: Database,
) -> None:
    with database.transaction(STAFF) as session:
        persona = factories.persona(session)
    with database.transaction() as session:
        started = conversation_service.start_guest_session(session, persona_id=persona.id)
    guest = Principal.guest(started.session_id)
    limits = Limits(guest_message_limit=1)
    data = MessageCreate(role=MessageRole.USER, content="hola")
    with database.transaction(guest) as session:
        conversation_service.append_message(
            session, guest, started.conversation_id, data=data, limits=limits
        )

    with database.transaction(guest) as session:
        refused = conversation_service.append_message(
            session,
            guest,
            started.conversation_id,
            data=MessageCreate(role=MessageRole.USER, content=CRISIS),
            limits=limits,
        )

    assert isinstance(refused, GuestMessageRefused)
    assert refused.safety is not None
    (event,) = own_events(database, guest)
    assert (event.message_id, event.refused_content) == (None, CRISIS)
    with database.transaction(guest) as session:
        stored = conversation_service.list_messages(session, guest, started.conversation_id)
    assert [message.content for message in stored.items] == ["hola"]


def test_a_guests_events_move_to_the_user_who_claims_the_session(database: Database) -> None:
    with database.transaction(STAFF) as session:
        persona = factories.persona(session)
    with database.transaction() as session:
        started = conversation_service.start_guest_session(session, persona_id=persona.id)
    guest = Principal.guest(started.session_id)
    say(database, guest, started.conversation_id, CRISIS)
    user, _ = signed_up(database)

    with database.transaction(user) as session:
        conversation_service.claim_guest_session(session, user, guest=guest)

    (event,) = own_events(database, user)
    assert event.user_id == user.user_id


def test_someone_elses_event_is_not_found(database: Database) -> None:
    user, conversation_id = signed_up(database)
    event_id = say(database, user, conversation_id, CRISIS).safety.event_id  # type: ignore[union-attr]
    stranger, _ = signed_up(database)

    with pytest.raises(CrisisEventNotFound), database.transaction(stranger) as session:
        service.acknowledge(session, stranger, event_id)
    with pytest.raises(CrisisEventNotFound), database.transaction(stranger) as session:
        service.get_own_event(session, stranger, event_id)


def test_the_user_acknowledges_once(database: Database) -> None:
    user, conversation_id = signed_up(database)
    event_id = say(database, user, conversation_id, CRISIS).safety.event_id  # type: ignore[union-attr]

    with database.transaction(user) as session:
        first = service.acknowledge(session, user, event_id).acknowledged_at
    with database.transaction(user) as session:
        again = service.acknowledge(session, user, event_id)

    assert again.user_acknowledged
    assert again.acknowledged_at == first


def test_staff_work_from_the_most_severe_then_the_oldest(database: Database) -> None:
    user, conversation_id = signed_up(database)
    moderate = say(database, user, conversation_id, "I want to die").safety
    critical = say(database, user, conversation_id, "I'm going to kill myself tonight").safety
    low = say(database, user, conversation_id, "I wish I could sleep and never wake up").safety
    another_moderate = say(database, user, conversation_id, "kms").safety
    shown = [moderate, critical, low, another_moderate]
    assert all(notice is not None for notice in shown)

    ids = []
    cursor = None
    while True:
        with database.transaction(STAFF) as session:
            page = service.list_events(session, STAFF, user_id=user.user_id, cursor=cursor, limit=1)
        ids += [event.id for event in page.items]
        if (cursor := page.next_cursor) is None:
            break

    expected = [critical, moderate, another_moderate, low]
    assert ids == [notice.event_id for notice in expected if notice is not None]


def test_staff_read_an_event_in_context_and_every_action_is_audited(
    database: Database,
) -> None:
    user, conversation_id = signed_up(database)
    say(database, user, conversation_id, "hi")
    event_id = say(database, user, conversation_id, CRISIS).safety.event_id  # type: ignore[union-attr]
    say(database, user, conversation_id, "sorry, forget it")

    with database.transaction(STAFF) as session:
        service.add_note(session, STAFF, event_id, note="Emailed the user.")
    with database.transaction(STAFF) as session:
        resolved = service.resolve(
            session, STAFF, event_id, outcome=CrisisOutcome.SUPPORTED, note="Talked."
        )
        assert (resolved.resolution_outcome, resolved.resolved_by) == ("supported", STAFF.user_id)
        assert resolved.resolution_timestamp is not None
    with pytest.raises(EventAlreadyResolved), database.transaction(STAFF) as session:
        service.resolve(session, STAFF, event_id, outcome=CrisisOutcome.REFERRED)
    with database.transaction(STAFF) as session:
        detail = service.read_event(session, STAFF, event_id)

    assert [message.content for message in detail.context] == ["hi", CRISIS, "sorry, forget it"]
    assert [(a.action, a.note) for a in detail.actions] == [
        (CrisisActionKind.NOTE, "Emailed the user."),
        (CrisisActionKind.RESOLVED, "Talked."),
        (CrisisActionKind.VIEWED, None),
    ]
    assert {a.actor_id for a in detail.actions} == {STAFF.user_id}


def test_a_resolved_event_can_be_reopened_and_only_then(database: Database) -> None:
    user, conversation_id = signed_up(database)
    event_id = say(database, user, conversation_id, CRISIS).safety.event_id  # type: ignore[union-attr]

    with pytest.raises(EventNotResolved), database.transaction(STAFF) as session:
        service.reopen(session, STAFF, event_id)
    with database.transaction(STAFF) as session:
        service.resolve(session, STAFF, event_id, outcome=CrisisOutcome.FALSE_POSITIVE)
    with database.transaction(STAFF) as session:
        reopened = service.reopen(session, STAFF, event_id, note="The user wrote again.")

    assert (reopened.resolution_timestamp, reopened.resolution_outcome) == (None, None)


def test_stats_count_events_referrals_and_time_to_resolution(database: Database) -> None:
    user, conversation_id = signed_up(database)
    first = say(database, user, conversation_id, CRISIS).safety
    say(database, user, conversation_id, "I'm going to kill myself tonight")
    assert first is not None
    with database.transaction(STAFF) as session:
        service.resolve(session, STAFF, first.event_id, outcome=CrisisOutcome.SUPPORTED)
    with database.transaction(user) as session:
        service.acknowledge(session, user, first.event_id)

    with database.transaction(STAFF) as session:
        stats = service.event_stats(
            session,
            STAFF,
            since=utc_now() - timedelta(days=1),
            until=utc_now() + timedelta(seconds=1),
            period=StatsPeriod.DAY,
        )

    (today,) = stats.periods
    assert today.period_start == utc_now().date()
    assert (today.events, today.resolved, today.acknowledged) == (2, 1, 1)
    assert today.by_severity == {"moderate": 1, "critical": 1}
    assert today.followups_required == 1
    assert today.referrals_shown >= 3
    assert today.mean_seconds_to_resolution is not None
    assert today.mean_seconds_to_resolution >= 0


def test_only_staff_reach_every_users_events(database: Database) -> None:
    user, conversation_id = signed_up(database)
    event_id = say(database, user, conversation_id, CRISIS).safety.event_id  # type: ignore[union-attr]

    for call in (
        lambda session: service.list_events(session, user),
        lambda session: service.read_event(session, user, event_id),
        lambda session: service.event_stats(session, user),
    ):
        with pytest.raises(Forbidden), database.transaction(user) as session:
            call(session)


def test_high_events_queue_one_notification_when_staff_are_notified(
    committing_database: LiveDatabase,
) -> None:
    settings = committing_database.settings.model_copy(
        update={
            "crisis_webhook_url": "https://staff.example/crisis",
            "crisis_webhook_secret": SecretStr(SECRET),
        }
    )
    database = Database.from_settings(settings, bootstrap.event_bus(settings))
    try:
        user, conversation_id = signed_up(database)
        say(database, user, conversation_id, "I want to die")
        high = say(database, user, conversation_id, "I'm going to kill myself")

        with database.transaction(STAFF) as session:
            jobs = job_service.list_jobs(session, STAFF, name=service.NOTIFY_TASK).items
    finally:
        database.dispose()

    assert high.safety is not None
    assert [job.data["event_id"] for job in jobs] == [str(high.safety.event_id)]


def test_the_safety_block_speaks_the_detectors_vocabulary() -> None:
    assert [severity.value for severity in CrisisSeverity] == [s.label for s in Severity]
    assert {category.value for category in CrisisCategory} == {c.value for c in Category}
