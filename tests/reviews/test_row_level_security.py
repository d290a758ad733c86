"""PostgreSQL's row level security on review cards and their history, alone: with the
service layer's owner filter bypassed, another learner reaches nothing, staff's role
reaches every row (the service keeps staff to their own), and no service role changes
or deletes a line of the history, which goes only with its card."""

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.reviews import service
from convobase.reviews.errors import CardNotFound
from convobase.reviews.models import ReviewCard, ReviewLog
from convobase.reviews.schemas import ReviewCardCreate, ReviewRating
from tests import factories
from tests.databases import LiveDatabase

pytestmark = pytest.mark.parametrize("template_database", ["postgresql"], indirect=True)


@pytest.fixture
def app_database(committing_database: LiveDatabase) -> Iterator[Database]:
    """The database as the service sees it: acting as convobase_app."""
    database = Database.from_settings(committing_database.settings)
    yield database
    database.dispose()


@pytest.fixture
def reviewed_card(
    committing_database: LiveDatabase, app_database: Database
) -> tuple[Principal, Principal, uuid.UUID]:
    with Database(committing_database.engine).transaction() as session:  # as table owner
        owner, stranger = factories.user(session), factories.user(session)
    with app_database.transaction(owner) as session:
        card = service.create_own_card(session, owner, data=ReviewCardCreate(prompt="¿Y tú?"))
        service.review(
            session, owner, card_id=card.id, rating=ReviewRating.GOOD, client_review_id="tap-1"
        )
        return owner, stranger, card.id


def test_another_learner_reaches_no_card_and_no_review_even_without_the_owner_filter(
    reviewed_card: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    owner, stranger, card_id = reviewed_card

    with app_database.transaction(stranger) as session:
        cards = session.scalar(select(func.count()).select_from(ReviewCard))
        logs = session.scalar(select(func.count()).select_from(ReviewLog))
        suspended = session.execute(
            update(ReviewCard)
            .where(ReviewCard.id == card_id)
            .values(suspended=True)
            .execution_options(synchronize_session=False)
        )
        deleted = session.execute(text("DELETE FROM review_cards"))
        assert (suspended.rowcount, deleted.rowcount) == (0, 0)  # type: ignore[attr-defined]
    with app_database.transaction(owner) as session:
        own = session.scalar(select(func.count()).select_from(ReviewLog))

    assert (cards, logs, own) == (0, 0, 1)


@pytest.mark.parametrize("who", ["owner", "staff"])
@pytest.mark.parametrize("change", ["UPDATE review_logs SET rating = 4", "DELETE FROM review_logs"])
def test_no_service_role_changes_or_deletes_a_line_of_the_history(
    reviewed_card: tuple[Principal, Principal, uuid.UUID],
    app_database: Database,
    who: str,
    change: str,
) -> None:
    owner, _, _ = reviewed_card
    principal = owner if who == "owner" else Principal.staff(uuid.uuid4())

    with (
        pytest.raises(DBAPIError, match="permission denied"),
        app_database.transaction(principal) as session,
    ):
        session.execute(text(change))


def test_the_history_goes_with_its_card(
    reviewed_card: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    owner, _, card_id = reviewed_card

    with app_database.transaction(owner) as session:
        service.delete_card(session, owner, card_id)
    with app_database.transaction(owner) as session:
        logs = session.scalar(select(func.count()).select_from(ReviewLog))

    assert logs == 0


def test_staffs_role_reaches_every_learners_cards_and_history_at_the_database_level(
    reviewed_card: tuple[Principal, Principal, uuid.UUID], app_database: Database
) -> None:
    # As the migration says: staff_access gives convobase_staff USING (true) on both
    # tables; only the service's owner filter keeps staff to their own cards.
    _, _, card_id = reviewed_card

    with app_database.transaction(Principal.staff(uuid.uuid4())) as session:
        cards = session.scalars(select(ReviewCard.id)).all()
        logs = session.scalar(select(func.count()).select_from(ReviewLog))
        with pytest.raises(CardNotFound):
            service.get_card(session, Principal.staff(uuid.uuid4()), card_id)

    assert (cards, logs) == ([card_id], 1)
