"""Reviews and added cards from parallel requests, each in its own committed
transaction, as the service runs them (under row level security on PostgreSQL)."""

import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.reviews import repository, service
from convobase.reviews.models import ReviewCard, ReviewLog
from convobase.reviews.schemas import NewCard, ReviewCardCreate, ReviewRating
from convobase.users import service as user_service
from tests.concurrency.test_appends import run_in_parallel

pytestmark = pytest.mark.concurrency

WORKERS = 8


def learner(database: Database) -> Principal:
    owner = Principal.user(uuid.uuid4())
    with database.transaction(owner) as session:
        user_service.register_caller(session, owner)
    return owner


def test_parallel_retries_of_one_review_schedule_the_card_once(database: Database) -> None:
    owner = learner(database)
    with database.transaction(owner) as session:
        card_id = service.create_own_card(
            session, owner, data=ReviewCardCreate(prompt="¿Qué hora es?")
        ).id

    def review(_: int) -> bool:
        with database.transaction(owner) as session:
            reviewed = service.review(
                session,
                owner,
                card_id=card_id,
                rating=ReviewRating.GOOD,
                client_review_id="tap-1",
            )
            return reviewed.replayed

    replayed = run_in_parallel(WORKERS, review)

    assert sorted(replayed) == [False] + [True] * (WORKERS - 1)
    with database.transaction(owner, readonly=True) as session:
        card = service.get_card(session, owner, card_id)
        reviews = session.scalar(select(func.count()).where(ReviewLog.card_id == card_id))
    assert (reviews, card.step) == (1, 1)


def test_parallel_adds_of_one_source_make_one_card(database: Database) -> None:
    owner = learner(database)
    source = NewCard(source_kind="assessment_question", source_key="a:q1", prompt="Which is right?")

    def add(_: int) -> tuple[uuid.UUID, service.AddOutcome]:
        with database.transaction(owner) as session:
            (added,) = service.add_cards(session, owner, [source])
            return added.card.id, added.outcome

    results = run_in_parallel(WORKERS, add)

    assert len({card_id for card_id, _ in results}) == 1
    assert sorted(outcome for _, outcome in results) == sorted(
        [service.AddOutcome.CREATED] + [service.AddOutcome.UNCHANGED] * (WORKERS - 1)
    )
    with database.transaction(owner, readonly=True) as session:
        count = select(func.count()).where(ReviewCard.user_id == owner.user_id)
        assert session.scalar(count) == 1


def test_a_card_deleted_between_add_cards_insert_and_its_locked_read_is_made_anew(
    database: Database, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A learner deletes a card in one tab while an attempt in another adds its source
    # again: the insert leaves the card alone, the delete commits, and the locked read
    # finds nothing. On PostgreSQL the delete is another transaction that commits in
    # between; SQLite's single writer rules that out, so there the delete runs in the
    # adding transaction at the same point, which leaves its read as empty.
    owner = learner(database)
    source = NewCard(source_kind="assessment_question", source_key="a:q1", prompt="Which is right?")
    with database.transaction(owner) as session:
        (first,) = service.add_cards(session, owner, [source])
    locked_reads = 0
    read = repository.by_sources

    def delete_first_then_read(
        session: Session,
        principal: Principal,
        sources: Sequence[tuple[str, str]],
        *,
        for_update: bool = False,
    ) -> Sequence[ReviewCard]:
        nonlocal locked_reads
        locked_reads += 1
        if locked_reads == 1:
            if backend == "postgresql":
                with database.transaction(owner) as other:
                    service.delete_card(other, owner, first.card.id)
            else:
                service.delete_card(session, owner, first.card.id)
        return read(session, principal, sources, for_update=for_update)

    monkeypatch.setattr(repository, "by_sources", delete_first_then_read)
    with database.transaction(owner) as session:
        (again,) = service.add_cards(session, owner, [source])

    assert again.outcome is service.AddOutcome.CREATED
    assert again.card.id != first.card.id
    with database.transaction(owner, readonly=True) as session:
        assert [card.id for card in service.list_cards(session, owner).items] == [again.card.id]


def test_cards_added_by_several_sources_are_locked_in_the_order_of_their_ids(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two callers adding the same cards lock them in one order, whatever order they
    # give them in and however the database finds them: here each card made later has a
    # smaller id, so neither the order they were stored in nor their sources' is the ids'.
    owner = learner(database)
    sources = [
        NewCard(source_kind="assessment_question", source_key=f"a:q{n}", prompt="Which?")
        for n in (3, 1, 5, 2, 4)
    ]
    ids = iter(uuid.UUID(int=(1 << 127) - n) for n in range(1, 100))
    monkeypatch.setattr(service, "new_id", lambda: next(ids))
    for card in sorted(sources, key=lambda card: card.source_key):
        with database.transaction(owner) as session:
            service.add_cards(session, owner, [card])
    locked: list[list[uuid.UUID]] = []
    read = repository.by_sources

    def recording_read(
        session: Session,
        principal: Principal,
        sources: Sequence[tuple[str, str]],
        *,
        for_update: bool = False,
    ) -> Sequence[ReviewCard]:
        rows = read(session, principal, sources, for_update=for_update)
        locked.append([row.id for row in rows])
        return rows

    monkeypatch.setattr(repository, "by_sources", recording_read)
    with database.transaction(owner) as session:
        added = service.add_cards(session, owner, sources)

    assert [item.card.source_key for item in added] == [card.source_key for card in sources]
    assert locked == [sorted(item.card.id for item in added)]
