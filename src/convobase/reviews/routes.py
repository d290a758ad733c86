import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from convobase.core.deps import PageSize, SettingsDep, UnitOfWorkDep, UserDep
from convobase.core.pagination import DEFAULT_PAGE_SIZE, PageRead, page_read
from convobase.core.problems import problem_responses
from convobase.reviews import service
from convobase.reviews.schemas import (
    MAX_DUE_CARDS,
    DueCounts,
    DueReviews,
    ReviewCardCreate,
    ReviewCardRead,
    ReviewCardUpdate,
    ReviewCreate,
    ReviewRead,
    ReviewResult,
)

router = APIRouter(prefix="/v1/reviews", tags=["reviews"], responses=problem_responses(401, 403))

DueLimit = Annotated[
    int, Query(ge=1, le=MAX_DUE_CARDS, description="Cards to answer with, at most.")
]
review_responses: dict[int | str, dict[str, Any]] = {
    200: {"model": ReviewResult, "description": "A retry: the review made first."},
    **problem_responses(404, 409, 422),
}


@router.get("/due", responses=problem_responses(422))
async def list_due_reviews(
    uow: UnitOfWorkDep,
    principal: UserDep,
    settings: SettingsDep,
    limit: DueLimit = service.DEFAULT_DUE_LIMIT,
) -> DueReviews:
    """Your cards due today, your own day (in your preferences' `time_zone`), most
    overdue first, with how many are due."""
    due = await uow.read(
        service.due_cards,
        principal,
        limit=limit,
        rollover_hour=settings.review_day_rollover_hour,
    )
    return DueReviews(
        local_date=due.day.local_date,
        time_zone=due.day.time_zone,
        day_starts_at=due.day.starts_at,
        day_ends_at=due.day.ends_at,
        counts=DueCounts.model_validate(due.counts._asdict()),
        cards=[ReviewCardRead.model_validate(card) for card in due.cards],
        next_due_at=due.next_due_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=review_responses)
async def review_card(
    uow: UnitOfWorkDep, principal: UserDep, body: ReviewCreate, response: Response
) -> ReviewResult:
    """Review one of your cards: FSRS schedules it by your rating. Retrying with the same
    client_review_id answers 200 with the review made first, and schedules nothing."""
    reviewed = await uow.run(
        service.review,
        principal,
        card_id=body.card_id,
        rating=body.rating,
        client_review_id=body.client_review_id,
        duration_ms=body.duration_ms,
    )
    if reviewed.replayed:
        response.status_code = status.HTTP_200_OK
    return ReviewResult(
        review=ReviewRead.model_validate(reviewed.review),
        card=ReviewCardRead.model_validate(reviewed.card),
    )


@router.post("/cards", status_code=status.HTTP_201_CREATED, responses=problem_responses(422))
async def create_review_card(
    uow: UnitOfWorkDep, principal: UserDep, body: ReviewCardCreate
) -> ReviewCardRead:
    """Make a card of your own; it is due now."""
    card = await uow.run(service.create_own_card, principal, data=body)
    return ReviewCardRead.model_validate(card)


@router.get("/cards", responses=problem_responses(422))
async def list_review_cards(
    uow: UnitOfWorkDep,
    principal: UserDep,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[ReviewCardRead]:
    """Your cards, newest first, suspended ones too."""
    page = await uow.read(service.list_cards, principal, cursor=cursor, limit=limit)
    return page_read(page, ReviewCardRead)


@router.get("/cards/{card_id}", responses=problem_responses(404))
async def read_review_card(
    uow: UnitOfWorkDep, principal: UserDep, card_id: uuid.UUID
) -> ReviewCardRead:
    """One of your cards, with its schedule."""
    card = await uow.read(service.get_card, principal, card_id)
    return ReviewCardRead.model_validate(card)


@router.patch("/cards/{card_id}", responses=problem_responses(404, 409, 422))
async def update_review_card(
    uow: UnitOfWorkDep, principal: UserDep, card_id: uuid.UUID, body: ReviewCardUpdate
) -> ReviewCardRead:
    """Suspend or unsuspend one of your cards, or change the prompt or answer of one you
    made."""
    card = await uow.run(service.update_card, principal, card_id, data=body)
    return ReviewCardRead.model_validate(card)


@router.delete(
    "/cards/{card_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def delete_review_card(uow: UnitOfWorkDep, principal: UserDep, card_id: uuid.UUID) -> None:
    """Delete one of your cards and its history."""
    await uow.run(service.delete_card, principal, card_id)


@router.get("/cards/{card_id}/history", responses=problem_responses(404, 422))
async def list_review_card_history(
    uow: UnitOfWorkDep,
    principal: UserDep,
    card_id: uuid.UUID,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[ReviewRead]:
    """The reviews of one of your cards, newest first, each with the schedule it gave."""
    page = await uow.read(service.card_history, principal, card_id, cursor=cursor, limit=limit)
    return page_read(page, ReviewRead)
