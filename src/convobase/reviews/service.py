"""Spaced review: cards scheduled with FSRS, due by the learner's own day
(docs/reviews.md).

A card comes from a source: another domain adds cards for what a learner should go
over again (`add_cards`: a question they got wrong in an assessment), and learners make
their own (`create_own_card`). Each review is rated again, hard, good or easy; FSRS
computes when the card is due next, and the review goes on the card's history. A review
carries the client's key for it, so a retry is answered with the review made first
instead of scheduling the card twice.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from fsrs import Card, Rating, Scheduler, State
from sqlalchemy.orm import Session

from convobase.core.errors import Forbidden, ValidationFailed
from convobase.core.ids import new_id
from convobase.core.pagination import DEFAULT_PAGE_SIZE, Page, paginate_by_time, time_position
from convobase.core.principal import Principal
from convobase.core.time import utc_now
from convobase.reviews import days, repository
from convobase.reviews.errors import (
    CardNotFound,
    CardNotOwn,
    CardsContended,
    CardSuspended,
    ClientReviewIdReused,
)
from convobase.reviews.models import ReviewCard, ReviewCardState, ReviewLog
from convobase.reviews.schemas import (
    MAX_NEW_CARDS,
    SOURCE_OWN,
    NewCard,
    ReviewCardCreate,
    ReviewCardUpdate,
    ReviewRating,
)
from convobase.users import service as user_service
from convobase.users.schemas import TIME_ZONE_PREFERENCE

DEFAULT_DUE_LIMIT: Final = 50
# How often add_cards inserts a source's card whose card another transaction deleted
# under it (once is all but always enough).
_ADD_ATTEMPTS: Final = 5

# FSRS with its defaults (the published parameters, 90% desired retention, learning
# steps of 1 and 10 minutes, a relearning step of 10 minutes), without fuzzing. Fuzzing
# moves each interval of 3 days or more a few days at random, so that cards learned
# together do not all fall due together; without it a card's schedule is a function of
# its reviews alone: the same reviews always give the same due time, which the history
# records and tests can state, and which a learner's cards would still not bunch by
# much, since each card's stability and difficulty grow apart with its own ratings.
SCHEDULER: Final = Scheduler(enable_fuzzing=False)

_TO_FSRS: Final = {
    ReviewCardState.LEARNING.value: State.Learning,
    ReviewCardState.REVIEW.value: State.Review,
    ReviewCardState.RELEARNING.value: State.Relearning,
}
_FROM_FSRS: Final = {state: name for name, state in _TO_FSRS.items()}


# --- what callers are answered with ---------------------------------------------------


class AddOutcome(StrEnum):
    """What adding a source's card did."""

    CREATED = "created"  # a new card, due now
    MADE_DUE = "made_due"  # the source's card, not due yet, is due now
    UNCHANGED = "unchanged"  # the source's card was due already, or is suspended


@dataclass(frozen=True, slots=True)
class AddedCard:
    """A source's card, and what adding it did."""

    card: ReviewCard
    outcome: AddOutcome


@dataclass(frozen=True, slots=True)
class Reviewed:
    """A review, the card as it stands now, and whether the review was a retry of one
    made before (and so changed nothing)."""

    review: ReviewLog
    card: ReviewCard
    replayed: bool


@dataclass(frozen=True, slots=True)
class DueToday:
    """The learner's day, the first of their cards due in it, how many are, and when the
    next card after it falls due."""

    day: days.LearnerDay
    cards: Sequence[ReviewCard]
    counts: repository.DueTally
    next_due_at: datetime | None


@dataclass(frozen=True, slots=True)
class CardHistory:
    """A card and every review of it, oldest first."""

    card: ReviewCard
    reviews: list[ReviewLog]


# --- adding cards -----------------------------------------------------------------------


def add_cards(session: Session, principal: Principal, cards: Sequence[NewCard]) -> list[AddedCard]:
    """Give the caller a card for each source, once: a source they have a card of already
    gets its prompt, answer and context replaced, and its card, if not due yet, is due
    now (they got it wrong again); the outcome of each, in the order given."""
    owner = _require_user(principal)
    if len(cards) > MAX_NEW_CARDS:
        raise ValidationFailed(f"At most {MAX_NEW_CARDS} cards can be added at once.")
    if any(card.source_kind == SOURCE_OWN for card in cards):
        raise ValidationFailed(f"Cards of source kind {SOURCE_OWN!r} are the learner's own.")
    # A source given twice counts once, as given last.
    latest = {(card.source_kind, card.source_key): card for card in cards}
    now = utc_now()
    created: set[uuid.UUID] = set()
    stored: dict[tuple[str, str], ReviewCard] = {}
    # The insert does nothing for a card the learner has; if another transaction
    # deletes that card before the locked read (a learner deleting it in another tab),
    # the read misses it and its source is inserted again.
    missing = sorted(latest)  # every caller inserts and locks in one order
    for _ in range(_ADD_ATTEMPTS):
        created |= repository.insert_new(
            session, [_new_row(owner, latest[source], now) for source in missing]
        )
        for row in repository.by_sources(session, principal, missing, for_update=True):
            stored[(row.source_kind, row.source_key)] = row
        missing = [source for source in missing if source not in stored]
        if not missing:
            break
    else:
        raise CardsContended
    added = []
    for source, card in latest.items():
        row = stored[source]
        outcome = AddOutcome.CREATED if row.id in created else _add_again(row, card, now)
        added.append(AddedCard(row, outcome))
    repository.save(session)
    return added


def _new_row(owner: uuid.UUID, card: NewCard, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "user_id": owner,
        "source_kind": card.source_kind,
        "source_key": card.source_key,
        "prompt": card.prompt,
        "answer": card.answer,
        "context": card.context,
        **_new_schedule(now),
        "created_at": now,
        "updated_at": now,
    }


def _new_schedule(now: datetime) -> dict[str, Any]:
    """A card nobody reviewed yet, as FSRS starts one: learning, at its first step, due now."""
    return {
        "state": ReviewCardState.LEARNING.value,
        "step": 0,
        "stability": None,
        "difficulty": None,
        "due_at": now,
        "last_reviewed_at": None,
        "suspended": False,
    }


def _add_again(row: ReviewCard, card: NewCard, now: datetime) -> AddOutcome:
    """The source's card, given again: the source's current text, and due now unless it
    is due already (a card never reviewed is due from when it was made, which a request
    in parallel may have done a moment after this one began) or the learner suspended it."""
    row.prompt, row.answer, row.context = card.prompt, card.answer, dict(card.context)
    row.updated_at = now
    if row.suspended or row.last_reviewed_at is None or row.due_at <= now:
        return AddOutcome.UNCHANGED
    row.due_at = now
    return AddOutcome.MADE_DUE


def create_own_card(
    session: Session, principal: Principal, *, data: ReviewCardCreate
) -> ReviewCard:
    """Make a card of the caller's own, due now."""
    owner = _require_user(principal)
    now = utc_now()
    card_id = new_id()
    row = ReviewCard(
        id=card_id,
        user_id=owner,
        source_kind=SOURCE_OWN,
        source_key=str(card_id),
        prompt=data.prompt,
        answer=data.answer,
        context={},
        **_new_schedule(now),
        created_at=now,
        updated_at=now,
    )
    return repository.add(session, row)


# --- what is due, and reviewing it ------------------------------------------------------


def due_cards(
    session: Session,
    principal: Principal,
    *,
    limit: int = DEFAULT_DUE_LIMIT,
    rollover_hour: int = days.DEFAULT_ROLLOVER_HOUR,
) -> DueToday:
    """The caller's cards due today, by their own day: in their `time_zone` preference
    (UTC without one), starting at `rollover_hour`; the longest overdue first."""
    owner = _require_user(principal)
    preferences = user_service.preferences_of(session, owner)
    zone = days.zone_named(preferences.get(TIME_ZONE_PREFERENCE))
    day = days.learner_day(utc_now(), zone, rollover_hour)
    return DueToday(
        day=day,
        cards=repository.due(session, principal, before=day.ends_at, limit=limit),
        counts=repository.due_tally(session, principal, before=day.ends_at),
        next_due_at=repository.next_due(session, principal, at_or_after=day.ends_at),
    )


def review(
    session: Session,
    principal: Principal,
    *,
    card_id: uuid.UUID,
    rating: ReviewRating,
    client_review_id: str,
    duration_ms: int | None = None,
) -> Reviewed:
    """Record a review of one of the caller's cards and schedule it with FSRS; a retry
    with the same client_review_id is answered with the review made first."""
    _require_user(principal)
    # The card's row lock makes a retry wait for the try in progress, and then find it.
    card = repository.get(session, principal, card_id, for_update=True)
    if card is None:
        raise CardNotFound
    earlier = repository.log_of(session, principal, client_review_id)
    if earlier is not None:
        if earlier.card_id != card.id or earlier.rating != rating.number:
            raise ClientReviewIdReused
        return Reviewed(earlier, card, replayed=True)
    if card.suspended:
        raise CardSuspended
    now = utc_now().astimezone(UTC)  # FSRS takes UTC, and only UTC
    scheduled, _ = SCHEDULER.review_card(
        _fsrs_card(card), Rating(rating.number), review_datetime=now, review_duration=duration_ms
    )
    card.state = _FROM_FSRS[scheduled.state]
    card.step = scheduled.step
    card.stability = scheduled.stability
    card.difficulty = scheduled.difficulty
    card.due_at = scheduled.due
    card.last_reviewed_at = now
    card.updated_at = now
    repository.save(session)
    log = ReviewLog(
        id=new_id(),
        user_id=card.user_id,
        card_id=card.id,
        client_review_id=client_review_id,
        rating=rating.number,
        reviewed_at=now,
        review_duration_ms=duration_ms,
        state=card.state,
        step=card.step,
        stability=scheduled.stability,
        difficulty=scheduled.difficulty,
        due_at=card.due_at,
    )
    return Reviewed(repository.add_log(session, log), card, replayed=False)


def _fsrs_card(row: ReviewCard) -> Card:
    """`row`'s schedule as FSRS's Card, under an id of the row's own (FSRS would make
    one from the clock)."""
    return Card(
        card_id=row.id.int >> 65,  # a positive 63-bit integer: FSRS's ids are epoch ms
        state=_TO_FSRS[row.state],
        step=row.step,
        stability=row.stability,
        difficulty=row.difficulty,
        due=row.due_at,
        last_review=row.last_reviewed_at,
    )


# --- the learner's cards ----------------------------------------------------------------


def get_card(session: Session, principal: Principal, card_id: uuid.UUID) -> ReviewCard:
    """One of the caller's cards."""
    _require_user(principal)
    card = repository.get(session, principal, card_id)
    if card is None:
        raise CardNotFound
    return card


def list_cards(
    session: Session,
    principal: Principal,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[ReviewCard]:
    """The caller's cards, newest first."""
    _require_user(principal)
    rows = repository.list_cards(session, principal, before=time_position(cursor), limit=limit + 1)
    return paginate_by_time(rows, limit, lambda last: (last.created_at, last.id))


def card_history(
    session: Session,
    principal: Principal,
    card_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[ReviewLog]:
    """The reviews of one of the caller's cards, newest first."""
    get_card(session, principal, card_id)
    before = time_position(cursor)
    rows = repository.history(session, principal, card_id, before=before, limit=limit + 1)
    return paginate_by_time(rows, limit, lambda last: (last.reviewed_at, last.id))


def update_card(
    session: Session, principal: Principal, card_id: uuid.UUID, *, data: ReviewCardUpdate
) -> ReviewCard:
    """Suspend or unsuspend one of the caller's cards, or change the prompt or answer of
    one they made themselves."""
    _require_user(principal)
    card = repository.get(session, principal, card_id, for_update=True)
    if card is None:
        raise CardNotFound
    # A field given is set, an explicit null too (it clears the answer; the schema
    # refuses a null prompt or suspended); an omitted one stays.
    changes = {field: getattr(data, field) for field in data.model_fields_set}
    if changes.keys() & {"prompt", "answer"} and card.source_kind != SOURCE_OWN:
        raise CardNotOwn
    if any(getattr(card, field) != value for field, value in changes.items()):
        for field, value in changes.items():
            setattr(card, field, value)
        card.updated_at = utc_now()
        repository.save(session)
    return card


def delete_card(session: Session, principal: Principal, card_id: uuid.UUID) -> None:
    """Delete one of the caller's cards with its history. A source that adds its card
    again makes a new one."""
    _require_user(principal)
    card = repository.get(session, principal, card_id, for_update=True)
    if card is None:
        raise CardNotFound
    repository.delete(session, card)


# --- the account export -------------------------------------------------------------------


def all_cards_with_history(session: Session, principal: Principal) -> list[CardHistory]:
    """Every card of the caller with every review of it, oldest first, as stored."""
    _require_user(principal)
    reviews: dict[uuid.UUID, list[ReviewLog]] = {}
    for log in repository.all_logs(session, principal):
        reviews.setdefault(log.card_id, []).append(log)
    return [
        CardHistory(card, reviews.get(card.id, []))
        for card in repository.all_cards(session, principal)
    ]


def _require_user(principal: Principal) -> uuid.UUID:
    if not principal.is_signed_in or principal.user_id is None:
        raise Forbidden("Only a signed-in learner has review cards.")
    return principal.user_id
