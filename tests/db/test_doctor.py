"""`convobase db doctor`: what the schema cannot enforce is checked against the rows.

A database the services wrote reports nothing. Each kind of damage made by hand is
reported by its check, with how many rows and which; `--repair` recomputes the counters
and releases expired job leases in one transaction, after which the checks find only
what is never repaired: seq gaps (clients hold seqs as cursors) and rows of the wrong
owner. Without `--repair` nothing changes.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import TextClause, Uuid, bindparam, text
from sqlalchemy.types import TypeEngine
from typer.testing import CliRunner

from convobase import bootstrap
from convobase.analysis.service import ANALYSIS_TASK
from convobase.cli import app
from convobase.conversations import service as conversation_service
from convobase.conversations.models import MessageRole
from convobase.conversations.schemas import MessageCreate
from convobase.core.principal import Principal
from convobase.core.time import utc_now
from convobase.db.base import UTCDateTime
from convobase.db.session import Database
from convobase.doctor import LEASE_RELEASED, Report, examine
from convobase.jobs import service as job_service
from tests import factories
from tests.databases import LiveDatabase

runner = CliRunner()


@dataclass(frozen=True)
class World:
    """What the services wrote: a user with two conversations (3 and 2 messages, 4 of
    them the user's), a guest session with 2 user messages, and another user."""

    user_id: uuid.UUID
    other_user_id: uuid.UUID
    chat: uuid.UUID  # user, assistant (written by staff), user
    second_chat: uuid.UUID  # user, user
    guest_chat: uuid.UUID  # user, user, by the guest
    guest_owner: uuid.UUID


def owner_database(database: LiveDatabase) -> Database:
    """The services' unit of work on the tables' owner, with every domain's handlers."""
    return Database(database.engine, bootstrap.event_bus(database.settings))


@pytest.fixture
def world(committing_database: LiveDatabase) -> World:
    staff = Principal.staff()
    with owner_database(committing_database).transaction() as session:
        persona = factories.persona(session)
        user = factories.user(session)
        other = factories.user(session)
        chat = factories.conversation(session, user)
        factories.message(session, user, chat, "Hola")
        reply = MessageCreate(role=MessageRole.ASSISTANT, content="¡Hola! ¿Qué tal?")
        conversation_service.append_message(session, staff, chat.id, data=reply, as_staff=True)
        factories.message(session, user, chat, "Bien, gracias")
        second = factories.conversation(session, user)
        factories.messages(session, user, second, 2)
        started = conversation_service.start_guest_session(session, persona_id=persona.id)
        guest = Principal.guest(started.session_id)
        guest_chat = conversation_service.get_conversation(session, guest, started.conversation_id)
        factories.messages(session, guest, guest_chat, 2)
        assert user.user_id is not None
        assert other.user_id is not None
        assert guest.owner_id is not None
        return World(user.user_id, other.user_id, chat.id, second.id, guest_chat.id, guest.owner_id)


def statement(sql: str, parameters: dict[str, Any]) -> TextClause:
    """`sql` with its ids and times bound as the tables store them."""
    types: dict[type, TypeEngine[Any]] = {uuid.UUID: Uuid(), datetime: UTCDateTime()}
    typed = [
        bindparam(name, type_=types[type(value)])
        for name, value in parameters.items()
        if type(value) in types
    ]
    return text(sql).bindparams(*typed)


def execute(database: LiveDatabase, sql: str, **parameters: Any) -> None:
    """Damage the database by hand, as the tables' owner."""
    with database.engine.begin() as connection:
        connection.execute(statement(sql, parameters), parameters)


def scalar(database: LiveDatabase, sql: str, **parameters: Any) -> Any:
    with database.engine.connect() as connection:
        return connection.execute(statement(sql, parameters), parameters).scalar_one()


def problems(report: Report, *, after_repair: bool = False) -> dict[str, int]:
    """What the checks found (or found after the repair), by check, leaving out the
    checks that found nothing."""
    findings = report.remaining if after_repair else report.found
    assert findings is not None
    return {finding.check.name: finding.count for finding in findings if finding.count}


def sample(report: Report, check: str) -> tuple[str, ...]:
    (finding,) = [finding for finding in report.found if finding.check.name == check]
    return finding.sample


def stuck_job(database: LiveDatabase, *, lease_expires_at: datetime) -> uuid.UUID:
    """A job a worker claimed, whose lease runs out at `lease_expires_at`."""
    with owner_database(database).transaction() as session:
        job = job_service.enqueue(session, "some.task", {"n": 1})
    execute(
        database,
        "UPDATE job_queue SET state = 'active', attempts = 1, lease_owner = 'worker-gone',"
        " started_at = :started, lease_expires_at = :expires WHERE id = :id",
        started=lease_expires_at - timedelta(minutes=1),
        expires=lease_expires_at,
        id=job.id,
    )
    return job.id


# --- what the checks find --------------------------------------------------------------


def test_a_database_the_services_wrote_reports_nothing(
    committing_database: LiveDatabase, world: World
) -> None:
    report = examine(committing_database.engine)

    assert problems(report) == {}
    assert report.healthy
    assert report.lines()[-1] == "No problems found."


def test_a_last_seq_above_or_below_the_newest_message_is_reported(
    committing_database: LiveDatabase, world: World
) -> None:
    execute(
        committing_database, "UPDATE conversations SET last_seq = 7 WHERE id = :id", id=world.chat
    )
    execute(
        committing_database,
        "UPDATE conversations SET last_seq = 1 WHERE id = :id",
        id=world.second_chat,
    )

    report = examine(committing_database.engine)

    assert problems(report) == {"last_seq": 2}
    assert set(sample(report, "last_seq")) == {str(world.chat), str(world.second_chat)}
    assert not report.healthy


def test_a_gap_in_the_seqs_is_reported(committing_database: LiveDatabase, world: World) -> None:
    execute(
        committing_database,
        "DELETE FROM messages WHERE conversation_id = :id AND seq = 2",
        id=world.chat,
    )

    report = examine(committing_database.engine)

    assert problems(report) == {"seq_gaps": 1}
    assert sample(report, "seq_gaps") == (str(world.chat),)


def test_a_wrong_guest_message_count_is_reported(
    committing_database: LiveDatabase, world: World
) -> None:
    execute(
        committing_database,
        "UPDATE conversations SET guest_message_count = 9 WHERE id = :id",
        id=world.guest_chat,
    )

    report = examine(committing_database.engine)

    assert problems(report) == {"guest_message_count": 1}
    assert sample(report, "guest_message_count") == (str(world.guest_chat),)


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE message_tallies SET user_messages = 1 WHERE user_id = :id",
        "DELETE FROM message_tallies WHERE user_id = :id",
    ],
    ids=["lowered", "lost"],
)
def test_a_tally_behind_the_messages_waiting_for_analysis_is_reported(
    committing_database: LiveDatabase, world: World, damage: str
) -> None:
    execute(committing_database, damage, id=world.user_id)

    report = examine(committing_database.engine)

    assert problems(report) == {"analysis_tally": 1}
    assert sample(report, "analysis_tally") == (str(world.user_id),)


def test_a_tally_below_the_batches_already_numbered_is_reported_and_raised_past_them(
    committing_database: LiveDatabase, world: World
) -> None:
    # Batch 3 was queued, so the tally once passed 75: counting from 4 again, the next
    # batches would take numbers whose analyses may be written already.
    with owner_database(committing_database).transaction() as session:
        job_service.enqueue(
            session,
            ANALYSIS_TASK,
            {"user_id": str(world.user_id), "batch": 3},
            dedup_key=f"analysis:{world.user_id}:3",
            for_user_id=world.user_id,
        )

    report = examine(committing_database.engine, repair=True)

    assert problems(report) == {"analysis_tally": 1}
    assert report.healthy
    tally = "SELECT user_messages FROM message_tallies WHERE user_id = :id"
    assert scalar(committing_database, tally, id=world.user_id) == 75
    assert "0 analysis jobs queued" in "\n".join(report.lines())


def test_a_tally_counting_more_than_waits_is_not_a_problem(
    committing_database: LiveDatabase, world: World
) -> None:
    # Messages deleted after they were counted leave the tally ahead: nothing waits
    # for a batch that will not come.
    execute(committing_database, "DELETE FROM conversations WHERE id = :id", id=world.second_chat)

    assert problems(examine(committing_database.engine)) == {}


def test_with_analysis_off_the_tally_check_is_skipped(
    committing_database: LiveDatabase, world: World
) -> None:
    execute(
        committing_database, "DELETE FROM message_tallies WHERE user_id = :id", id=world.user_id
    )

    report = examine(committing_database.engine, analysis_enabled=False)

    assert problems(report) == {}
    (tally,) = [finding for finding in report.found if finding.check.name == "analysis_tally"]
    assert tally.skipped == "analysis is off: no tallies are kept"


def test_an_active_job_past_its_lease_is_reported_and_a_running_one_is_not(
    committing_database: LiveDatabase, world: World
) -> None:
    now = utc_now()
    expired = stuck_job(committing_database, lease_expires_at=now - timedelta(minutes=5))
    stuck_job(committing_database, lease_expires_at=now + timedelta(minutes=5))

    report = examine(committing_database.engine, now=now)

    assert problems(report) == {"expired_leases": 1}
    assert sample(report, "expired_leases") == (str(expired),)


def test_a_guest_user_left_without_its_conversation_is_reported(
    committing_database: LiveDatabase, world: World
) -> None:
    execute(committing_database, "DELETE FROM conversations WHERE id = :id", id=world.guest_chat)

    report = examine(committing_database.engine)

    assert problems(report) == {"guest_users_without_session": 1}
    assert sample(report, "guest_users_without_session") == (str(world.guest_owner),)


def test_a_guest_conversation_given_to_a_user_alone_is_reported(
    committing_database: LiveDatabase, world: World
) -> None:
    # The conversation changed owner, its messages did not, and it is still a guest's.
    execute(
        committing_database,
        "UPDATE conversations SET user_id = :user WHERE id = :id",
        user=world.user_id,
        id=world.guest_chat,
    )

    report = examine(committing_database.engine)

    assert problems(report) == {
        "guest_conversations_of_users": 1,
        "guest_users_without_session": 1,
        "message_owners": 2,
    }


def test_rows_owned_by_someone_other_than_their_conversations_owner_are_reported(
    committing_database: LiveDatabase, world: World
) -> None:
    user = Principal.user(world.user_id)
    with owner_database(committing_database).transaction() as session:
        data = MessageCreate(role=MessageRole.USER, content="I'm going to kill myself tonight")
        appended = conversation_service.append_message(session, user, world.chat, data=data)
        assert isinstance(appended, conversation_service.AppendedMessage)
        assert appended.safety is not None, "screening records a crisis event"
    execute(
        committing_database,
        "UPDATE messages SET user_id = :other WHERE conversation_id = :id AND seq = 2",
        other=world.other_user_id,
        id=world.chat,
    )
    execute(
        committing_database,
        "UPDATE crisis_events SET user_id = :other WHERE id = :id",
        other=world.other_user_id,
        id=appended.safety.event_id,
    )

    report = examine(committing_database.engine)

    assert problems(report) == {"message_owners": 1, "crisis_event_owners": 1}
    assert sample(report, "crisis_event_owners") == (str(appended.safety.event_id),)


def test_without_repair_nothing_changes(committing_database: LiveDatabase, world: World) -> None:
    execute(
        committing_database, "UPDATE conversations SET last_seq = 7 WHERE id = :id", id=world.chat
    )

    first = examine(committing_database.engine)
    second = examine(committing_database.engine)

    assert problems(first) == problems(second) == {"last_seq": 1}
    assert first.repaired is None
    assert (
        scalar(
            committing_database, "SELECT last_seq FROM conversations WHERE id = :id", id=world.chat
        )
        == 7
    )


# --- what --repair does ---------------------------------------------------------------


def test_repair_fixes_counters_and_leases_and_leaves_seq_gaps(
    committing_database: LiveDatabase, world: World
) -> None:
    now = utc_now()
    database = committing_database
    execute(database, "UPDATE conversations SET last_seq = 1 WHERE id = :id", id=world.second_chat)
    execute(database, "DELETE FROM messages WHERE conversation_id = :id AND seq = 2", id=world.chat)
    execute(
        database,
        "UPDATE conversations SET guest_message_count = 0 WHERE id = :id",
        id=world.guest_chat,
    )
    execute(database, "DELETE FROM message_tallies WHERE user_id = :id", id=world.user_id)
    job = stuck_job(database, lease_expires_at=now - timedelta(minutes=5))

    report = examine(database.engine, repair=True, now=now)

    assert problems(report) == {
        "last_seq": 1,
        "seq_gaps": 1,
        "guest_message_count": 1,
        "analysis_tally": 1,
        "expired_leases": 1,
    }
    assert report.repaired is not None
    assert {repaired.check.name: repaired.count for repaired in report.repaired} == {
        "last_seq": 1,
        "guest_message_count": 1,
        "analysis_tally": 1,
        "expired_leases": 1,
    }
    # A gap is left as it is: renumbering would move messages under clients' cursors.
    assert problems(report, after_repair=True) == {"seq_gaps": 1}
    assert not report.healthy
    assert problems(examine(database.engine)) == {"seq_gaps": 1}

    assert (
        scalar(database, "SELECT last_seq FROM conversations WHERE id = :id", id=world.second_chat)
        == 2
    )
    assert (
        scalar(
            database,
            "SELECT guest_message_count FROM conversations WHERE id = :id",
            id=world.guest_chat,
        )
        == 2
    )
    # The user's 4 user messages (the gap took the assistant's), none analysed yet.
    assert (
        scalar(
            database,
            "SELECT user_messages FROM message_tallies WHERE user_id = :id",
            id=world.user_id,
        )
        == 4
    )
    assert scalar(database, "SELECT state FROM job_queue WHERE id = :id", id=job) == "queued"
    assert scalar(database, "SELECT lease_owner FROM job_queue WHERE id = :id", id=job) is None
    assert (
        scalar(database, "SELECT last_error FROM job_queue WHERE id = :id", id=job)
        == LEASE_RELEASED
    )


def test_after_repair_the_next_message_takes_the_next_seq(
    committing_database: LiveDatabase, world: World
) -> None:
    # Below the newest message, last_seq would hand out a seq that is taken.
    execute(
        committing_database, "UPDATE conversations SET last_seq = 1 WHERE id = :id", id=world.chat
    )

    repaired = examine(committing_database.engine, repair=True)

    assert repaired.healthy
    user = Principal.user(world.user_id)
    with owner_database(committing_database).transaction() as session:
        chat = conversation_service.get_conversation(session, user, world.chat)
        assert factories.message(session, user, chat, "¿Y tú?").seq == 4


def test_repair_queues_again_the_batch_a_lost_analysis_job_was_to_analyse(
    committing_database: LiveDatabase, world: World
) -> None:
    user = Principal.user(world.user_id)
    with owner_database(committing_database).transaction() as session:
        chat = conversation_service.get_conversation(session, user, world.second_chat)
        factories.messages(session, user, chat, 23)  # 27 in all: batch 1 is queued
    execute(committing_database, "DELETE FROM job_queue WHERE name = :name", name=ANALYSIS_TASK)

    report = examine(committing_database.engine, repair=True)

    assert problems(report) == {"analysis_tally": 1}
    assert report.healthy
    # The tally moves on by the 25 messages nobody will analyse, and their batch is
    # queued under a new number: number 1 may already name a result.
    assert (
        scalar(
            committing_database,
            "SELECT user_messages FROM message_tallies WHERE user_id = :id",
            id=world.user_id,
        )
        == 52
    )
    assert (
        scalar(committing_database, "SELECT dedup_key FROM job_queue WHERE name = 'analysis'")
        == f"analysis:{world.user_id}:2"
    )
    assert "1 analysis job queued" in "\n".join(report.lines())


def test_a_healthy_database_is_not_written_by_repair(
    committing_database: LiveDatabase, world: World
) -> None:
    report = examine(committing_database.engine, repair=True)

    assert report.healthy
    assert report.repaired == []
    assert report.lines()[-1] == "No problems found."


# --- the command ------------------------------------------------------------------------


def test_db_doctor_exits_1_on_damage_and_0_once_repaired(
    committing_database: LiveDatabase, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVOBASE_DATABASE_URL", committing_database.settings.database_url)

    healthy = runner.invoke(app, ["db", "doctor"])
    execute(
        committing_database, "UPDATE conversations SET last_seq = 9 WHERE id = :id", id=world.chat
    )
    damaged = runner.invoke(app, ["db", "doctor"])
    repaired = runner.invoke(app, ["db", "doctor", "--repair"])
    after = runner.invoke(app, ["db", "doctor"])

    assert healthy.exit_code == 0, healthy.output
    assert healthy.stdout.splitlines()[-1] == "No problems found."
    assert damaged.exit_code == 1, damaged.output
    assert damaged.stdout.splitlines()[:2] == [
        "last_seq                             1  conversations whose last_seq is not their"
        " newest message's seq",
        f"    e.g. {world.chat}",
    ]
    assert damaged.stdout.splitlines()[-1] == (
        "1 check found problems. `convobase db doctor --repair` repairs last_seq."
    )
    assert repaired.exit_code == 0, repaired.output
    assert repaired.stdout.splitlines()[-2:] == [
        "Repaired last_seq: 1 conversation; last_seq set to the newest message's seq,"
        " 0 without messages",
        "Nothing remains to repair.",
    ]
    assert after.exit_code == 0, after.output
