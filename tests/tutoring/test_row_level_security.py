"""PostgreSQL's row level security on tutoring, alone: with the service layer's owner
filter bypassed, another learner reaches none of a learner's sessions, turns or
mistakes, and staff's role reaches them all (staff practise too, and the service keeps
them to their own rows); content is read by every caller and written by staff only."""

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.tutoring import service
from convobase.tutoring.models import LessonDialog, TurnEvaluation, TutorSession, WordMistake
from convobase.tutoring.schemas import TurnCreate, TutorSessionCreate
from convobase.users import service as user_service
from tests import factories
from tests.databases import LiveDatabase
from tests.tutoring import dialogs

pytestmark = pytest.mark.parametrize("template_database", ["postgresql"], indirect=True)
TABLES = (TutorSession, TurnEvaluation, WordMistake)


@pytest.fixture
def app_database(committing_database: LiveDatabase) -> Iterator[Database]:
    """The database as the service sees it: acting as convobase_app."""
    database = Database.from_settings(committing_database.settings)
    yield database
    database.dispose()


@pytest.fixture
def practised(
    committing_database: LiveDatabase, app_database: Database
) -> tuple[Principal, Principal, uuid.UUID]:
    """A learner who took a turn with mistakes in a session of theirs, and a stranger."""
    with Database(committing_database.engine).transaction() as session:  # as table owner
        owner, stranger = factories.user(session), factories.user(session)
    staff = Principal.staff(uuid.uuid4())
    with app_database.transaction(staff) as session:
        dialog = dialogs.dialog(session)
    with app_database.transaction(owner) as session:
        data = TutorSessionCreate(dialog_id=dialog.id, selected_role="Ana")
        started = service.start_session(session, owner, data=data)
        service.take_turn(session, owner, started.id, data=TurnCreate(content="Hola, ¿qué?"))
    return owner, stranger, started.id


def _counts(database: Database, principal: Principal) -> list[int]:
    with database.transaction(principal) as session:
        return [
            int(session.scalar(select(func.count()).select_from(table)) or 0) for table in TABLES
        ]


def test_another_learner_reaches_nothing_even_without_the_owner_filter(
    practised: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    owner, stranger, _ = practised

    with app_database.transaction(stranger) as session:
        for table in ("turn_evaluations", "word_mistakes", "tutor_sessions"):
            deleted = session.execute(text(f"DELETE FROM {table}"))
            assert deleted.rowcount == 0  # type: ignore[attr-defined]

    assert _counts(app_database, stranger) == [0, 0, 0]
    assert _counts(app_database, owner) == [1, 1, 1]


def test_staffs_role_reaches_every_row_and_staff_practise_as_themselves(
    practised: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    owner, _, session_id = practised
    staff = Principal.staff(uuid.uuid4())

    assert _counts(app_database, staff) == [1, 1, 1]
    with app_database.transaction(staff) as session:
        user_service.register_caller(session, staff)
        assert service.list_sessions(session, staff).items == []
        dialog_id = service.get_session(session, owner, session_id).dialog_id
        assert dialog_id is not None
        data = TutorSessionCreate(dialog_id=dialog_id, selected_role="Ana")
        started = service.start_session(session, staff, data=data)
        service.take_turn(session, staff, started.id, data=TurnCreate(content="Hola, ¿qué?"))
    assert _counts(app_database, staff) == [2, 2, 2]


def test_learners_read_content_and_cannot_change_it(
    practised: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    owner, _, _ = practised
    with app_database.transaction(owner) as session:
        assert session.scalar(select(func.count()).select_from(LessonDialog)) == 1

    with (
        pytest.raises(DBAPIError, match="permission denied"),
        app_database.transaction(owner) as session,
    ):
        session.execute(text("UPDATE lesson_dialogs SET title = 'Mine'"))
