"""All SQL of review cards and their history.

Both tables are user-owned, and every statement reaches the caller's own rows only:
no route shows anyone another learner's cards, staff included.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Select, Table, and_, case, func, not_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from convobase.core.principal import Principal
from convobase.db.keyset import seek
from convobase.db.ownership import scoped
from convobase.reviews.models import ReviewCard, ReviewCardState, ReviewLog

cards = cast(Table, ReviewCard.__table__)
SOURCE = ("user_id", "source_kind", "source_key")

# Rendered `NOT suspended` on PostgreSQL and `suspended = 0` on SQLite: the WHERE of
# the partial index ix_review_cards_due, which each planner then uses.
_ACTIVE: ColumnElement[bool] = not_(ReviewCard.suspended)
_IN_REVIEW = ReviewCardState.REVIEW.value


def insert_new(session: Session, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert each card (a dict of `review_cards` columns) unless its user already has
    one of its source; the ids of those inserted. A card of the same source that
    another transaction is inserting is waited for, and then not inserted."""
    if not rows:
        return set()
    build = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        build(cards)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=list(SOURCE))
        .returning(cards.c.id)
    )
    return set(session.scalars(statement))


def by_sources(
    session: Session,
    principal: Principal,
    sources: Sequence[tuple[str, str]],
    *,
    for_update: bool = False,
) -> Sequence[ReviewCard]:
    """The caller's cards of these (source_kind, source_key) pairs, by id: callers
    locking them lock in one order."""
    if not sources:
        return []
    statement = (
        scoped(select(ReviewCard), ReviewCard, principal)
        .where(tuple_(ReviewCard.source_kind, ReviewCard.source_key).in_(sources))
        .order_by(ReviewCard.id)
    )
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement.execution_options(populate_existing=True)).all()


def get(
    session: Session, principal: Principal, card_id: uuid.UUID, *, for_update: bool = False
) -> ReviewCard | None:
    """The caller's card, if it is theirs."""
    statement = scoped(select(ReviewCard), ReviewCard, principal).where(ReviewCard.id == card_id)
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


def add(session: Session, card: ReviewCard) -> ReviewCard:
    session.add(card)
    session.flush()
    return card


def save(session: Session) -> None:
    """Write the changes made to loaded cards."""
    session.flush()


def delete(session: Session, card: ReviewCard) -> None:
    """Delete a card; its history goes with it (ON DELETE CASCADE)."""
    session.delete(card)
    session.flush()


def add_log(session: Session, log: ReviewLog) -> ReviewLog:
    session.add(log)
    session.flush()
    return log


def log_of(session: Session, principal: Principal, client_review_id: str) -> ReviewLog | None:
    """The caller's review with this client_review_id, if any."""
    statement = scoped(select(ReviewLog), ReviewLog, principal)
    statement = statement.where(ReviewLog.client_review_id == client_review_id)
    return session.scalars(statement).one_or_none()


def due(
    session: Session, principal: Principal, *, before: datetime, limit: int
) -> Sequence[ReviewCard]:
    """The caller's cards that are not suspended and are due before `before`, the
    longest overdue first."""
    statement = (
        scoped(select(ReviewCard), ReviewCard, principal)
        .where(_ACTIVE, ReviewCard.due_at < before)
        .order_by(ReviewCard.due_at, ReviewCard.id)
        .limit(limit)
    )
    return session.scalars(statement).all()


class DueTally(NamedTuple):
    """How many of the caller's cards are due, and of which kind."""

    due: int
    new: int
    learning: int
    review: int


def due_tally(session: Session, principal: Principal, *, before: datetime) -> DueTally:
    """Count the caller's cards that `due` would list without a limit."""
    never = ReviewCard.last_reviewed_at.is_(None)
    in_review = ReviewCard.state == _IN_REVIEW
    columns: list[Any] = [
        func.count(),
        func.count(case((never, 1))),
        func.count(case((and_(not_(never), not_(in_review)), 1))),
        func.count(case((in_review, 1))),
    ]
    counts: Select[Any] = select(*columns).select_from(ReviewCard)
    statement = scoped(counts, ReviewCard, principal).where(_ACTIVE, ReviewCard.due_at < before)
    due, new, learning, review = session.execute(statement).one()
    return DueTally(int(due), int(new), int(learning), int(review))


def next_due(session: Session, principal: Principal, *, at_or_after: datetime) -> datetime | None:
    """When the caller's first card that is not suspended falls due at or after
    `at_or_after`."""
    statement = (
        scoped(select(ReviewCard.due_at), ReviewCard, principal)
        .where(_ACTIVE, ReviewCard.due_at >= at_or_after)
        .order_by(ReviewCard.due_at)
        .limit(1)
    )
    return session.scalars(statement).first()


def list_cards(
    session: Session,
    principal: Principal,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[ReviewCard]:
    """The caller's cards, newest first, strictly after the cursor."""
    statement = scoped(select(ReviewCard), ReviewCard, principal)
    key = (ReviewCard.created_at, ReviewCard.id)
    return session.scalars(seek(statement, key, before, descending=True).limit(limit)).all()


def history(
    session: Session,
    principal: Principal,
    card_id: uuid.UUID,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[ReviewLog]:
    """The reviews of one of the caller's cards, newest first, strictly after the cursor."""
    statement = scoped(select(ReviewLog), ReviewLog, principal)
    statement = statement.where(ReviewLog.card_id == card_id)
    key = (ReviewLog.reviewed_at, ReviewLog.id)
    return session.scalars(seek(statement, key, before, descending=True).limit(limit)).all()


def all_cards(session: Session, principal: Principal) -> Sequence[ReviewCard]:
    """Every card of the caller, oldest first."""
    statement = scoped(select(ReviewCard), ReviewCard, principal)
    return session.scalars(statement.order_by(ReviewCard.created_at, ReviewCard.id)).all()


def all_logs(session: Session, principal: Principal) -> Sequence[ReviewLog]:
    """Every review of the caller's, oldest first."""
    statement = scoped(select(ReviewLog), ReviewLog, principal)
    return session.scalars(statement.order_by(ReviewLog.reviewed_at, ReviewLog.id)).all()
