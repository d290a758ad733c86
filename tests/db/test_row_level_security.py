"""PostgreSQL's row level security, alone: with the service layer's owner filter
bypassed, the database itself refuses cross-user reads and writes."""

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from convobase.conversations.models import Conversation, Message
from convobase.core.ids import new_id
from convobase.core.principal import Principal
from convobase.core.time import utc_now
from convobase.db.session import Database
from tests import factories
from tests.databases import LiveDatabase

# Row level security is PostgreSQL's; on SQLite the service layer is the only wall.
pytestmark = pytest.mark.parametrize("template_database", ["postgresql"], indirect=True)


@pytest.fixture
def owner_and_stranger(committing_database: LiveDatabase) -> tuple[Principal, Principal, uuid.UUID]:
    with Database(committing_database.engine).transaction() as session:  # as table owner
        owner, stranger = factories.user(session), factories.user(session)
        conversation = factories.conversation(session, owner)
        factories.messages(session, owner, conversation, 3)
        return owner, stranger, conversation.id


@pytest.fixture
def app_database(committing_database: LiveDatabase) -> Iterator[Database]:
    """The database as the service sees it: acting as convobase_app."""
    database = Database.from_settings(committing_database.settings)
    yield database
    database.dispose()


def test_the_service_role_is_not_the_owner_and_not_a_superuser(
    owner_and_stranger: object, app_database: Database
) -> None:
    with app_database.transaction() as session:
        role, superuser, bypass = session.execute(
            text(
                "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles"
                " WHERE rolname = current_user"
            )
        ).one()
        owner = session.scalar(
            text("SELECT tableowner FROM pg_tables WHERE tablename = 'messages'")
        )

    assert role == "convobase_app"
    assert (superuser, bypass) == (False, False)
    assert owner != role


def test_another_user_reads_nothing_even_without_the_owner_filter(
    owner_and_stranger: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    owner, stranger, conversation_id = owner_and_stranger

    with app_database.transaction(stranger) as session:
        conversations = session.scalars(
            select(Conversation).where(Conversation.id == conversation_id)
        ).all()
        messages = session.scalar(
            select(func.count()).where(Message.conversation_id == conversation_id)
        )
    with app_database.transaction(owner) as session:
        own_messages = session.scalar(
            select(func.count()).where(Message.conversation_id == conversation_id)
        )

    assert (list(conversations), messages) == ([], 0)
    assert own_messages == 3


def test_another_user_changes_nothing_even_without_the_owner_filter(
    owner_and_stranger: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    owner, stranger, conversation_id = owner_and_stranger

    with app_database.transaction(stranger) as session:
        renamed = session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(title="hijacked")
            .execution_options(synchronize_session=False)
        )
        deleted = session.execute(text("DELETE FROM messages"))
        assert (renamed.rowcount, deleted.rowcount) == (0, 0)  # type: ignore[attr-defined]
    forged = Message(
        id=new_id(),
        conversation_id=conversation_id,
        user_id=owner.user_id,
        seq=99,
        role="user",
        content="forged",
        created_at=utc_now(),
    )
    with pytest.raises(DBAPIError, match="row-level security"):
        _store(app_database, stranger, forged)
    with app_database.transaction(owner) as session:
        conversation = session.get(Conversation, conversation_id)
        count = session.scalar(select(func.count()).select_from(Message))
    assert conversation is not None
    assert conversation.title is None
    assert count == 3


def test_without_an_identity_nothing_is_visible(
    owner_and_stranger: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    with app_database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_identity_does_not_outlive_its_transaction_on_a_pooled_connection(
    owner_and_stranger: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    owner, _, _ = owner_and_stranger
    with app_database.transaction(owner) as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 3
        used = session.connection().connection.dbapi_connection

    # The pool hands the same connection back; no identity was set for this one.
    with app_database.engine.connect() as connection:
        assert connection.connection.dbapi_connection is used
        claims = connection.scalar(text("SELECT current_setting('request.jwt.claims', true)"))
        visible = connection.scalar(text("SELECT count(*) FROM messages"))
    assert claims in (None, "")
    assert visible == 0


def test_staff_policy_sees_every_conversation(
    owner_and_stranger: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    _, _, conversation_id = owner_and_stranger

    with app_database.transaction(Principal.staff()) as session:
        assert session.get(Conversation, conversation_id) is not None


def _store(database: Database, principal: Principal, message: Message) -> None:
    with database.transaction(principal) as session:
        session.add(message)


def test_the_crisis_audit_trail_is_staffs_to_add_to_and_nobodys_to_change(
    owner_and_stranger: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    owner, _, conversation_id = owner_and_stranger
    staff = Principal.staff(uuid.uuid4())
    event_id, action_id = new_id(), new_id()
    with app_database.transaction(owner) as session:
        session.execute(
            text(
                "INSERT INTO crisis_events (id, user_id, conversation_id, refused_content,"
                " trigger_type, category, severity_level, keywords_detected, resources_shown,"
                " detector_version, created_at) VALUES (:id, :user_id, :conversation_id, 'x',"
                " 'keyword', 'suicide', 'high', '{}', '[]', 'rules', now())"
            ),
            {"id": event_id, "user_id": owner.user_id, "conversation_id": conversation_id},
        )
    with app_database.transaction(staff) as session:
        session.execute(
            text(
                "INSERT INTO crisis_event_actions (id, event_id, action, note, created_at)"
                " VALUES (:id, :event_id, 'note', 'Called.', now())"
            ),
            {"id": action_id, "event_id": event_id},
        )

    with pytest.raises(DBAPIError), app_database.transaction(owner) as session:
        session.execute(text("SELECT count(*) FROM crisis_event_actions"))
    for change in (
        "UPDATE crisis_event_actions SET note = 'rewritten'",
        "DELETE FROM crisis_event_actions",
    ):
        with pytest.raises(DBAPIError), app_database.transaction(staff) as session:
            session.execute(text(change))
    with app_database.transaction(staff) as session:
        notes = session.scalars(text("SELECT note FROM crisis_event_actions")).all()

    assert notes == ["Called."]
