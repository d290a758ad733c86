"""Review cards in the store: scheduled with FSRS, reviewed once per client key, kept
with their history, added once per source, and due by the learner's own day in their
time zone (both databases)."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from convobase.account import service as account_service
from convobase.core.errors import Forbidden, ValidationFailed
from convobase.core.principal import Principal
from convobase.reviews import service
from convobase.reviews.errors import CardNotFound, CardNotOwn, CardSuspended, ClientReviewIdReused
from convobase.reviews.models import ReviewCard, ReviewLog
from convobase.reviews.schemas import (
    NewCard,
    ReviewCardCreate,
    ReviewCardUpdate,
    ReviewRating,
)
from convobase.reviews.service import AddOutcome
from convobase.users import service as user_service
from convobase.users.schemas import UserUpdate
from tests import factories
from tests.clocks import FakeClock

MINUTES = timedelta(minutes=1)
DAYS = timedelta(days=1)


def own_card(session: Session, owner: Principal, prompt: str = "ser or estar: ___ cansado") -> Any:
    return service.create_own_card(
        session, owner, data=ReviewCardCreate(prompt=prompt, answer="estoy")
    )


def question(number: int, **fields: Any) -> NewCard:
    """A card an assessment adds for a question answered wrong."""
    assessment = "3f0c6a7e-0000-4000-8000-000000000001"
    values: dict[str, Any] = {
        "source_kind": "assessment_question",
        "source_key": f"{assessment}:q{number}",
        "prompt": f"Question {number}: which is right?",
        "context": {"assessment_id": assessment, "choices": ["fui", "iba"]},
        **fields,
    }
    return NewCard.model_validate(values)


def rate(
    session: Session,
    owner: Principal,
    card_id: uuid.UUID,
    rating: str,
    client_review_id: str | None = None,
    **options: Any,
) -> service.Reviewed:
    return service.review(
        session,
        owner,
        card_id=card_id,
        rating=ReviewRating(rating),
        client_review_id=client_review_id or str(uuid.uuid4()),
        **options,
    )


def history(session: Session, owner: Principal, card_id: uuid.UUID) -> list[ReviewLog]:
    return list(service.card_history(session, owner, card_id).items)


def live_in(session: Session, owner: Principal, zone: str) -> None:
    data = UserUpdate.model_validate({"preferences": {"time_zone": zone}})
    user_service.update_user(session, owner, data=data)


# --- cards and their schedule ------------------------------------------------------------


def test_a_card_of_your_own_is_new_and_due_now(
    session: Session, user: Principal, now: FakeClock
) -> None:
    card = own_card(session, user)

    assert (card.source_kind, card.source_key) == ("own", str(card.id))
    assert (card.state, card.step, card.stability, card.difficulty) == ("learning", 0, None, None)
    assert (card.due_at, card.last_reviewed_at, card.suspended) == (now.now, None, False)
    assert (card.prompt, card.answer, card.context) == ("ser or estar: ___ cansado", "estoy", {})


@pytest.mark.parametrize(
    ("rating", "state", "step", "due_in", "stability", "difficulty"),
    [
        ("again", "learning", 0, 1 * MINUTES, 0.212, 6.4133),
        ("hard", "learning", 0, 5.5 * MINUTES, 1.2931, 5.112170705601056),
        ("good", "learning", 1, 10 * MINUTES, 2.3065, 2.118103970459016),
        ("easy", "review", None, 8 * DAYS, 8.2956, 1.0),
    ],
)
def test_the_first_rating_schedules_a_new_card_as_fsrs_does(
    session: Session,
    user: Principal,
    now: FakeClock,
    rating: str,
    state: str,
    step: int | None,
    due_in: timedelta,
    stability: float,
    difficulty: float,
) -> None:
    card = own_card(session, user)

    reviewed = rate(session, user, card.id, rating, duration_ms=4200)

    assert not reviewed.replayed
    assert reviewed.card.id == card.id
    assert (card.state, card.step, card.due_at) == (state, step, now.now + due_in)
    assert (card.stability, card.difficulty) == pytest.approx((stability, difficulty))
    assert card.last_reviewed_at == now.now
    log = reviewed.review
    assert (log.card_id, log.rating, log.reviewed_at, log.review_duration_ms) == (
        card.id,
        ReviewRating(rating).number,
        now.now,
        4200,
    )
    assert (log.state, log.step, log.due_at) == (state, step, card.due_at)
    assert (log.stability, log.difficulty) == (card.stability, card.difficulty)


def test_a_card_learned_then_forgotten_goes_through_every_state_and_keeps_its_history(
    session: Session, user: Principal, now: FakeClock
) -> None:
    card = own_card(session, user)

    rate(session, user, card.id, "good")
    now.advance(10 * MINUTES)
    rate(session, user, card.id, "good")
    graduated = (card.state, card.due_at - now.now)
    now.advance(2 * DAYS)
    rate(session, user, card.id, "again")

    assert graduated == ("review", 2 * DAYS)
    assert (card.state, card.step, card.due_at) == ("relearning", 0, now.now + 10 * MINUTES)
    reviews = history(session, user, card.id)
    assert [(log.rating, log.state) for log in reviews] == [
        (1, "relearning"),
        (3, "review"),
        (3, "learning"),
    ]
    stored = session.scalar(select(ReviewCard).where(ReviewCard.id == card.id))
    assert stored is not None
    assert (stored.stability, stored.difficulty) == (reviews[0].stability, reviews[0].difficulty)


def test_the_schedule_is_the_same_for_the_same_reviews(
    session: Session, user: Principal, now: FakeClock
) -> None:
    first, second = own_card(session, user), own_card(session, user)

    for card in (first, second):
        rate(session, user, card.id, "easy")
    now.advance(8 * DAYS)
    for card in (first, second):
        rate(session, user, card.id, "good")

    assert first.due_at == second.due_at > now.now + 30 * DAYS
    assert (first.stability, first.difficulty) == (second.stability, second.difficulty)


# --- reviews are idempotent --------------------------------------------------------------


def test_a_retried_review_answers_the_first_and_schedules_nothing_again(
    session: Session, user: Principal, now: FakeClock
) -> None:
    card = own_card(session, user)
    first = rate(session, user, card.id, "good", "review-1")
    due = card.due_at

    now.advance(10 * MINUTES)
    again = rate(session, user, card.id, "good", "review-1", duration_ms=999)

    assert again.replayed
    assert again.review.id == first.review.id
    assert (card.due_at, card.step) == (due, 1)
    assert len(history(session, user, card.id)) == 1


@pytest.mark.parametrize("change", ["card", "rating"])
def test_a_client_review_id_used_for_another_review_is_a_conflict(
    session: Session, user: Principal, now: FakeClock, change: str
) -> None:
    card, other = own_card(session, user), own_card(session, user)
    rate(session, user, card.id, "good", "review-1")

    card_id, rating = (other.id, "good") if change == "card" else (card.id, "hard")

    with pytest.raises(ClientReviewIdReused):
        rate(session, user, card_id, rating, "review-1")

    assert len(history(session, user, card.id)) == 1
    assert history(session, user, other.id) == []


def test_client_review_ids_are_each_learners_own(
    session: Session, user: Principal, other_user: Principal, now: FakeClock
) -> None:
    mine, theirs = own_card(session, user), own_card(session, other_user)

    rate(session, user, mine.id, "good", "review-1")
    reviewed = rate(session, other_user, theirs.id, "good", "review-1")

    assert not reviewed.replayed


def test_a_suspended_card_is_not_reviewed_but_a_retry_of_an_earlier_review_still_answers(
    session: Session, user: Principal, now: FakeClock
) -> None:
    card = own_card(session, user)
    rate(session, user, card.id, "good", "review-1")
    service.update_card(session, user, card.id, data=ReviewCardUpdate(suspended=True))

    assert rate(session, user, card.id, "good", "review-1").replayed
    with pytest.raises(CardSuspended):
        rate(session, user, card.id, "good", "review-2")

    service.update_card(session, user, card.id, data=ReviewCardUpdate(suspended=False))
    assert not rate(session, user, card.id, "good", "review-2").replayed


# --- cards other domains add -------------------------------------------------------------


def test_adding_a_source_again_makes_no_second_card(
    session: Session, user: Principal, now: FakeClock
) -> None:
    added = service.add_cards(session, user, [question(1), question(2)])
    again = service.add_cards(session, user, [question(2), question(1), question(3)])

    assert [item.outcome for item in added] == [AddOutcome.CREATED] * 2
    assert [item.outcome for item in again] == [
        AddOutcome.UNCHANGED,
        AddOutcome.UNCHANGED,
        AddOutcome.CREATED,
    ]
    assert [item.card.id for item in again[:2]] == [added[1].card.id, added[0].card.id]
    count = select(func.count()).where(ReviewCard.user_id == user.user_id)
    assert session.scalar(count) == 3
    card = added[0].card
    assert (card.source_kind, card.source_key, card.answer) == (
        "assessment_question",
        "3f0c6a7e-0000-4000-8000-000000000001:q1",
        None,
    )
    assert card.context == {
        "assessment_id": "3f0c6a7e-0000-4000-8000-000000000001",
        "choices": ["fui", "iba"],
    }


def test_a_card_answered_wrong_again_before_it_is_due_is_due_now_with_the_latest_text(
    session: Session, user: Principal, now: FakeClock
) -> None:
    (added,) = service.add_cards(session, user, [question(1)])
    card = added.card
    rate(session, user, card.id, "easy")
    reviewed_state = (card.state, card.stability, card.difficulty, card.last_reviewed_at)
    now.advance(1 * DAYS)

    (again,) = service.add_cards(session, user, [question(1, prompt="Question 1, reworded")])

    assert again.outcome is AddOutcome.MADE_DUE
    assert again.card.id == card.id
    assert (card.due_at, card.prompt) == (now.now, "Question 1, reworded")
    # Only when it is due changes: FSRS reads the next rating as an early review.
    assert (card.state, card.stability, card.difficulty, card.last_reviewed_at) == reviewed_state
    assert len(history(session, user, card.id)) == 1


def test_a_suspended_card_stays_suspended_when_its_source_adds_it_again(
    session: Session, user: Principal, now: FakeClock
) -> None:
    (added,) = service.add_cards(session, user, [question(1)])
    rate(session, user, added.card.id, "easy")
    service.update_card(session, user, added.card.id, data=ReviewCardUpdate(suspended=True))

    (again,) = service.add_cards(session, user, [question(1)])

    assert again.outcome is AddOutcome.UNCHANGED
    assert again.card.suspended
    assert again.card.due_at == now.now + 8 * DAYS


def test_a_source_given_twice_in_one_call_is_one_card_as_given_last(
    session: Session, user: Principal, now: FakeClock
) -> None:
    added = service.add_cards(session, user, [question(1), question(1, prompt="Reworded")])

    assert len(added) == 1
    assert added[0].card.prompt == "Reworded"


def test_each_learner_gets_a_card_of_the_same_source(
    session: Session, user: Principal, other_user: Principal, now: FakeClock
) -> None:
    (mine,) = service.add_cards(session, user, [question(1)])
    (theirs,) = service.add_cards(session, other_user, [question(1)])

    assert (mine.outcome, theirs.outcome) == (AddOutcome.CREATED, AddOutcome.CREATED)
    assert mine.card.id != theirs.card.id


def test_what_add_cards_refuses(session: Session, user: Principal) -> None:
    own = NewCard(source_kind="own", source_key="x", prompt="Mine")

    with pytest.raises(ValidationFailed, match="own"):
        service.add_cards(session, user, [own])
    with pytest.raises(ValidationFailed, match="200"):
        service.add_cards(session, user, [question(number) for number in range(201)])
    assert service.add_cards(session, user, []) == []


def test_a_new_card_is_bounded_as_the_table_is() -> None:
    bad: dict[str, Any]
    for bad in (
        {"source_kind": "Assessment"},
        {"source_kind": "x" * 41},
        {"source_key": ""},
        {"source_key": "k" * 201},
        {"prompt": "   "},
        {"prompt": "p" * 4001},
        {"answer": ""},
        {"context": {"deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {}}}}}}}}}},
        {"context": {"big": "x" * 20_000}},
        {"extra": 1},
    ):
        with pytest.raises(ValueError, match="validation error"):
            question(1, **bad)


# --- due today, by the learner's own day -------------------------------------------------


def due_at(
    session: Session, owner: Principal, *moments: datetime, now: FakeClock
) -> list[ReviewCard]:
    """Cards of `owner` due at each of `moments`: made, then moved by hand."""
    cards = []
    for number, moment in enumerate(moments):
        card = own_card(session, owner, f"card {number}")
        card.due_at = moment
        cards.append(card)
    session.flush()
    return cards


def test_due_today_in_kiritimati_ends_at_its_rollover_hour_fourteen_hours_ahead(
    session: Session, user: Principal, now: FakeClock
) -> None:
    live_in(session, user, "Pacific/Kiritimati")
    now.now = datetime(2026, 3, 1, 13, 30, tzinfo=UTC)  # 03:30 on 2 March there
    before_end, at_end = due_at(
        session,
        user,
        datetime(2026, 3, 1, 13, 59, tzinfo=UTC),
        datetime(2026, 3, 1, 14, tzinfo=UTC),  # 04:00 on 2 March: its day starts
        now=now,
    )

    due = service.due_cards(session, user, rollover_hour=4)

    assert (due.day.local_date, due.day.time_zone) == (date(2026, 3, 1), "Pacific/Kiritimati")
    assert due.day.ends_at == datetime(2026, 3, 1, 14, tzinfo=UTC)
    assert [card.id for card in due.cards] == [before_end.id]
    assert due.next_due_at == at_end.due_at

    now.advance(30 * MINUTES)  # 04:00 there: 2 March's day
    due = service.due_cards(session, user, rollover_hour=4)

    assert due.day.local_date == date(2026, 3, 2)
    assert [card.id for card in due.cards] == [before_end.id, at_end.id]
    assert due.next_due_at is None


def test_due_today_in_pago_pago_across_its_midnight_eleven_hours_behind(
    session: Session, user: Principal, now: FakeClock
) -> None:
    live_in(session, user, "Pacific/Pago_Pago")
    now.now = datetime(2026, 3, 1, 10, 59, tzinfo=UTC)  # 23:59 on 28 February there
    tonight, tomorrow = due_at(
        session,
        user,
        datetime(2026, 3, 1, 10, 59, 30, tzinfo=UTC),
        datetime(2026, 3, 1, 11, tzinfo=UTC),  # midnight there
        now=now,
    )

    due = service.due_cards(session, user, rollover_hour=0)
    now.advance(1 * MINUTES)
    after_midnight = service.due_cards(session, user, rollover_hour=0)

    assert due.day.local_date == date(2026, 2, 28)
    assert [card.id for card in due.cards] == [tonight.id]
    assert after_midnight.day.local_date == date(2026, 3, 1)
    assert [card.id for card in after_midnight.cards] == [tonight.id, tomorrow.id]


def test_one_moment_is_a_different_day_for_learners_in_kiritimati_and_pago_pago(
    session: Session, user: Principal, other_user: Principal, now: FakeClock
) -> None:
    live_in(session, user, "Pacific/Kiritimati")
    live_in(session, other_user, "Pacific/Pago_Pago")
    now.now = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    moment = datetime(2026, 3, 1, 20, tzinfo=UTC)  # 10:00 on 2 March and 09:00 on 1 March
    due_at(session, user, moment, now=now)
    due_at(session, other_user, moment, now=now)

    east = service.due_cards(session, user, rollover_hour=4)
    west = service.due_cards(session, other_user, rollover_hour=4)

    # 00:30 on 2 March is still 1 March's day in Kiritimati; 23:30 on 28 February in Pago Pago.
    assert (east.day.local_date, west.day.local_date) == (date(2026, 3, 1), date(2026, 2, 28))
    assert (east.counts.due, west.counts.due) == (0, 0)
    assert east.next_due_at == west.next_due_at == moment


def test_without_a_time_zone_or_with_one_that_is_none_the_day_is_utcs(
    session: Session, user: Principal, now: FakeClock
) -> None:
    now.now = datetime(2026, 3, 1, 3, tzinfo=UTC)

    assert service.due_cards(session, user).day.local_date == date(2026, 2, 28)
    # Set before zones were checked, or by the onboarding: a zone that is none is UTC.
    user_service.add_to_profile(
        session, user, goals=[], profile={}, preferences={"time_zone": "Mars/Olympus_Mons"}
    )
    due = service.due_cards(session, user)
    assert (due.day.time_zone, due.day.ends_at) == ("UTC", datetime(2026, 3, 1, 4, tzinfo=UTC))


def test_due_counts_split_new_learning_and_review_and_leave_out_suspended_cards(
    session: Session, user: Principal, now: FakeClock
) -> None:
    new, learning, reviewing, suspended = (own_card(session, user) for _ in range(4))
    own_card(session, user).due_at = now.now + 5 * DAYS
    rate(session, user, learning.id, "again")
    rate(session, user, reviewing.id, "easy")
    reviewing.due_at = now.now - 1 * DAYS
    service.update_card(session, user, suspended.id, data=ReviewCardUpdate(suspended=True))
    session.flush()

    due = service.due_cards(session, user, limit=2)

    assert due.counts._asdict() == {"due": 3, "new": 1, "learning": 1, "review": 1}
    # The longest overdue first, at most `limit`.
    assert [card.id for card in due.cards] == [reviewing.id, new.id]
    assert due.next_due_at == now.now + 5 * DAYS


# --- a learner's cards -------------------------------------------------------------------


def test_history_is_paginated_newest_first(
    session: Session, user: Principal, now: FakeClock
) -> None:
    card = own_card(session, user)
    for _ in range(5):
        rate(session, user, card.id, "again")
        now.advance(1 * MINUTES)

    first = service.card_history(session, user, card.id, limit=2)
    rest = service.card_history(session, user, card.id, cursor=first.next_cursor, limit=3)

    times = [log.reviewed_at for log in [*first.items, *rest.items]]
    assert times == sorted(times, reverse=True)
    assert len(set(times)) == 5
    assert rest.next_cursor is None


def test_cards_are_listed_newest_first(session: Session, user: Principal, now: FakeClock) -> None:
    made = []
    for number in range(3):
        made.append(own_card(session, user, f"card {number}").id)
        now.advance(1 * MINUTES)

    first = service.list_cards(session, user, limit=2)
    rest = service.list_cards(session, user, cursor=first.next_cursor, limit=2)

    assert [card.id for card in [*first.items, *rest.items]] == made[::-1]
    assert rest.next_cursor is None


def test_only_your_own_cards_prompt_and_answer_change(
    session: Session, user: Principal, now: FakeClock
) -> None:
    mine = own_card(session, user)
    (added,) = service.add_cards(session, user, [question(1)])

    changed = service.update_card(
        session, user, mine.id, data=ReviewCardUpdate(prompt="New prompt", answer="New answer")
    )
    assert (changed.prompt, changed.answer) == ("New prompt", "New answer")
    with pytest.raises(CardNotOwn):
        service.update_card(session, user, added.card.id, data=ReviewCardUpdate(prompt="Mine"))


def test_an_explicit_null_answer_clears_your_own_cards_answer_and_an_omitted_one_stays(
    session: Session, user: Principal, now: FakeClock
) -> None:
    mine = own_card(session, user)

    kept = service.update_card(
        session, user, mine.id, data=ReviewCardUpdate.model_validate({"suspended": True})
    )
    assert kept.answer == "estoy"
    cleared = service.update_card(
        session, user, mine.id, data=ReviewCardUpdate.model_validate({"answer": None})
    )
    assert (cleared.answer, cleared.prompt, cleared.suspended) == (
        None,
        "ser or estar: ___ cansado",
        True,
    )
    assert service.get_card(session, user, mine.id).answer is None
    (added,) = service.add_cards(session, user, [question(1, answer="fui")])
    with pytest.raises(CardNotOwn):
        service.update_card(
            session, user, added.card.id, data=ReviewCardUpdate.model_validate({"answer": None})
        )


@pytest.mark.parametrize("field", ["prompt", "suspended"])
def test_a_prompt_or_suspended_cannot_be_null(field: str) -> None:
    with pytest.raises(ValueError, match="cannot be null"):
        ReviewCardUpdate.model_validate({field: None})


def test_a_prompt_a_database_cannot_store_is_one_error_naming_the_field() -> None:
    with pytest.raises(ValidationError) as refused:
        ReviewCardUpdate.model_validate({"prompt": "fui\x00"})

    (error,) = refused.value.errors()
    assert error["loc"] == ("prompt",)
    assert "NUL character" in error["msg"]


def test_a_deleted_card_goes_with_its_history_and_its_source_may_add_it_anew(
    session: Session, user: Principal, now: FakeClock
) -> None:
    (added,) = service.add_cards(session, user, [question(1)])
    rate(session, user, added.card.id, "good")

    service.delete_card(session, user, added.card.id)

    with pytest.raises(CardNotFound):
        service.get_card(session, user, added.card.id)
    logs = select(func.count()).where(ReviewLog.card_id == added.card.id)
    assert session.scalar(logs) == 0
    (again,) = service.add_cards(session, user, [question(1)])
    assert again.outcome is AddOutcome.CREATED
    assert again.card.id != added.card.id


def test_someone_elses_card_is_missing(
    session: Session, user: Principal, other_user: Principal, now: FakeClock
) -> None:
    card = own_card(session, user)
    update = ReviewCardUpdate(suspended=True)

    for attempt in (
        lambda: service.get_card(session, other_user, card.id),
        lambda: service.card_history(session, other_user, card.id),
        lambda: rate(session, other_user, card.id, "good"),
        lambda: service.update_card(session, other_user, card.id, data=update),
        lambda: service.delete_card(session, other_user, card.id),
    ):
        with pytest.raises(CardNotFound):
            attempt()
    assert service.list_cards(session, other_user).items == []
    assert not card.suspended


def test_staff_act_on_their_own_cards_only_through_the_service(
    session: Session, user: Principal, now: FakeClock
) -> None:
    # The service passes staff=True on neither table (the database would let staff
    # reach every row on PostgreSQL: test_row_level_security.py).
    staff = Principal.staff(uuid.uuid4())
    user_service.register_caller(session, staff)
    learners = own_card(session, user)
    theirs = own_card(session, staff, prompt="A card of staff's own")

    for attempt in (
        lambda: service.get_card(session, staff, learners.id),
        lambda: service.card_history(session, staff, learners.id),
        lambda: rate(session, staff, learners.id, "good"),
        lambda: service.update_card(
            session, staff, learners.id, data=ReviewCardUpdate(suspended=True)
        ),
        lambda: service.delete_card(session, staff, learners.id),
    ):
        with pytest.raises(CardNotFound):
            attempt()
    assert [card.id for card in service.list_cards(session, staff).items] == [theirs.id]
    assert [card.id for card in service.due_cards(session, staff).cards] == [theirs.id]
    assert [item.card.id for item in service.all_cards_with_history(session, staff)] == [theirs.id]


def test_guests_have_no_review_cards(session: Session) -> None:
    guest = Principal.guest(str(uuid.uuid4()))

    with pytest.raises(Forbidden):
        service.add_cards(session, guest, [question(1)])
    with pytest.raises(Forbidden):
        service.due_cards(session, guest)


def test_the_account_export_holds_every_card_with_its_history(
    session: Session, user: Principal, now: FakeClock
) -> None:
    card = own_card(session, user)
    service.add_cards(session, user, [question(1)])
    rate(session, user, card.id, "good", "review-1", duration_ms=1500)

    export = account_service.export_account(session, user)

    assert len(export.review_cards) == 2
    exported = next(item for item in export.review_cards if item.id == card.id)
    assert [
        (review.client_review_id, review.rating, review.duration_ms) for review in exported.reviews
    ] == [("review-1", ReviewRating.GOOD, 1500)]


def test_a_user_deleted_takes_their_cards_and_history(session: Session, now: FakeClock) -> None:
    learner = factories.user(session)
    card = own_card(session, learner)
    rate(session, learner, card.id, "good")

    account_service.delete_account(session, learner)

    assert session.scalar(select(func.count()).where(ReviewCard.id == card.id)) == 0
    assert session.scalar(select(func.count()).where(ReviewLog.card_id == card.id)) == 0
