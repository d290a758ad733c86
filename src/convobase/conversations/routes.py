import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from convobase.conversations import service
from convobase.conversations.errors import GuestLimitReached, InvalidGuestToken
from convobase.conversations.events import SafetyNotice
from convobase.conversations.schemas import (
    ConversationCreate,
    ConversationRead,
    ConversationUpdate,
    GuestSessionClaim,
    GuestSessionCreate,
    GuestSessionCreated,
    GuestSessionRead,
    MessageAppended,
    MessageCreate,
    MessageRead,
    Safety,
)
from convobase.core.deps import (
    CallerDep,
    GuestDep,
    LimitsDep,
    PageSize,
    StaffDep,
    TokensDep,
    UnitOfWorkDep,
    UserDep,
)
from convobase.core.errors import Unauthorized
from convobase.core.pagination import DEFAULT_PAGE_SIZE, PageRead, page_read
from convobase.core.problems import problem_response_object, problem_responses
from convobase.core.validation import INT32_MAX

Seq = Annotated[int | None, Query(ge=0, le=INT32_MAX)]
AcceptLanguage = Annotated[
    str | None,
    Header(
        description="The languages the writer reads, for the safety block's message and "
        "crisis lines (a user's `preferences.language` and `preferences.country` come first)."
    ),
]


@dataclass(frozen=True)
class MessagePage:
    """The page of messages a request asks for: after a seq, before one, from a cursor,
    or the latest."""

    after: Seq = None
    before: Seq = None
    cursor: str | None = None
    limit: PageSize = DEFAULT_PAGE_SIZE


MessagePageQuery = Annotated[MessagePage, Depends()]

conversations = APIRouter(
    prefix="/v1/conversations",
    tags=["conversations"],
    responses=problem_responses(401, 403, 404),
)
guest_sessions = APIRouter(prefix="/v1/guest-sessions", tags=["guest sessions"])
staff_conversations = APIRouter(
    prefix="/v1/staff/conversations",
    tags=["staff"],
    responses=problem_responses(401, 403, 404),
)
append_responses: dict[int | str, dict[str, Any]] = {
    200: {"model": MessageAppended, "description": "A retry: the message stored first."},
    **problem_responses(409, 422),
    403: problem_response_object(
        403,
        "Forbidden. `guest_limit_reached`: the guest's message is refused, but screened; "
        "when it was flagged the problem carries a `safety` member, as a stored message's "
        "answer does.",
    ),
}


@conversations.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(422))
async def create_conversation(
    uow: UnitOfWorkDep, principal: UserDep, body: ConversationCreate
) -> ConversationRead:
    """Start a conversation, optionally with a persona."""
    conversation = await uow.run(service.create_conversation, principal, data=body)
    return ConversationRead.model_validate(conversation)


@conversations.get("", responses=problem_responses(422))
async def list_conversations(
    uow: UnitOfWorkDep,
    principal: UserDep,
    cursor: str | None = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> PageRead[ConversationRead]:
    """Your conversations, most recent activity first."""
    page = await uow.read(service.list_conversations, principal, cursor=cursor, limit=limit)
    return page_read(page, ConversationRead)


@conversations.get("/{conversation_id}")
async def read_conversation(
    uow: UnitOfWorkDep, principal: UserDep, conversation_id: uuid.UUID
) -> ConversationRead:
    """One of your conversations."""
    conversation = await uow.read(service.get_conversation, principal, conversation_id)
    return ConversationRead.model_validate(conversation)


@conversations.patch("/{conversation_id}", responses=problem_responses(422))
async def update_conversation(
    uow: UnitOfWorkDep,
    principal: UserDep,
    conversation_id: uuid.UUID,
    body: ConversationUpdate,
) -> ConversationRead:
    """Rename a conversation, replace its context, or end it with `is_active: false`."""
    conversation = await uow.run(service.update_conversation, principal, conversation_id, data=body)
    return ConversationRead.model_validate(conversation)


@conversations.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(
    uow: UnitOfWorkDep, principal: UserDep, conversation_id: uuid.UUID
) -> None:
    """Delete a conversation and all its messages."""
    await uow.run(service.delete_conversation, principal, conversation_id)


@conversations.post(
    "/{conversation_id}/messages", status_code=status.HTTP_201_CREATED, responses=append_responses
)
async def append_message(
    uow: UnitOfWorkDep,
    principal: CallerDep,
    limits: LimitsDep,
    conversation_id: uuid.UUID,
    body: MessageCreate,
    response: Response,
    accept_language: AcceptLanguage = None,
) -> MessageAppended:
    """Append a message; it gets the next seq. Retrying with the same client_message_id
    answers 200 with the original message instead of storing it twice.

    User and guest tokens write `user` messages; the app's server posts the assistant's
    replies through `POST /v1/staff/conversations/{conversation_id}/messages`. Every
    `user` message is screened for signs of crisis before this answers: see `safety`."""
    appended = await uow.run(
        service.append_message,
        principal,
        conversation_id,
        data=body,
        limits=limits,
        accept_language=accept_language,
    )
    return _appended(appended, response)


@conversations.get("/{conversation_id}/messages", responses=problem_responses(422))
async def list_messages(
    uow: UnitOfWorkDep,
    principal: CallerDep,
    conversation_id: uuid.UUID,
    page_asked: MessagePageQuery,
) -> PageRead[MessageRead]:
    """Messages in ascending seq: `?after=SEQ` for newer, `?before=SEQ` for older, or
    the latest page. `next_cursor` continues in the same direction."""
    page = await uow.read(
        service.list_messages,
        principal,
        conversation_id,
        after=page_asked.after,
        before=page_asked.before,
        cursor=page_asked.cursor,
        limit=page_asked.limit,
    )
    return page_read(page, MessageRead)


@guest_sessions.post(
    "", status_code=status.HTTP_201_CREATED, responses=problem_responses(404, 422, 429)
)
async def start_guest_session(
    uow: UnitOfWorkDep,
    limits: LimitsDep,
    tokens: TokensDep,
    body: GuestSessionCreate,
    request: Request,
) -> GuestSessionCreated:
    """Start a guest chat with a persona; no account needed. Returns the guest token."""
    started = await uow.run(
        service.start_guest_session,
        persona_id=body.persona_id,
        limits=limits,
        client_address=request.client.host if request.client else None,
    )
    return GuestSessionCreated(
        session_id=started.session_id,
        token=tokens.mint_guest(started.session_id),
        conversation_id=started.conversation_id,
        message_limit=started.message_limit,
        messages_remaining=started.messages_remaining,
    )


@guest_sessions.get("/current", responses=problem_responses(401, 403))
async def read_guest_session(
    uow: UnitOfWorkDep, guest: GuestDep, limits: LimitsDep
) -> GuestSessionRead:
    """Your guest session: messages sent and remaining."""
    status_ = await uow.read(service.guest_session_status, guest, limits=limits)
    return GuestSessionRead.model_validate(status_)


@guest_sessions.post("/claim", responses=problem_responses(401, 403, 409, 422))
async def claim_guest_session(
    uow: UnitOfWorkDep,
    principal: UserDep,
    tokens: TokensDep,
    limits: LimitsDep,
    body: GuestSessionClaim,
) -> ConversationRead:
    """Move a guest conversation, with all its messages, into your account."""
    try:
        guest = tokens.verify(body.guest_token)
    except Unauthorized as error:
        raise InvalidGuestToken from error
    if not guest.is_guest:
        raise InvalidGuestToken
    conversation = await uow.run(service.claim_guest_session, principal, guest=guest, limits=limits)
    return ConversationRead.model_validate(conversation)


@staff_conversations.get("/{conversation_id}")
async def staff_read_conversation(
    uow: UnitOfWorkDep, staff: StaffDep, conversation_id: uuid.UUID
) -> ConversationRead:
    """Any user's conversation (staff)."""
    conversation = await uow.read(service.get_conversation, staff, conversation_id, as_staff=True)
    return ConversationRead.model_validate(conversation)


@staff_conversations.get("/{conversation_id}/messages", responses=problem_responses(422))
async def staff_list_messages(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    conversation_id: uuid.UUID,
    page_asked: MessagePageQuery,
) -> PageRead[MessageRead]:
    """Any user's messages, paged as `GET /v1/conversations/{conversation_id}/messages`
    pages them (staff)."""
    page = await uow.read(
        service.list_messages,
        staff,
        conversation_id,
        after=page_asked.after,
        before=page_asked.before,
        cursor=page_asked.cursor,
        limit=page_asked.limit,
        as_staff=True,
    )
    return page_read(page, MessageRead)


@staff_conversations.post(
    "/{conversation_id}/messages", status_code=status.HTTP_201_CREATED, responses=append_responses
)
async def staff_append_message(
    uow: UnitOfWorkDep,
    staff: StaffDep,
    limits: LimitsDep,
    conversation_id: uuid.UUID,
    body: MessageCreate,
    response: Response,
    accept_language: AcceptLanguage = None,
) -> MessageAppended:
    """Append a message of any role to any user's conversation: how the app's server
    posts the assistant's reply after calling the model (service_role). A `user`
    message is screened as the user's own would be."""
    appended = await uow.run(
        service.append_message,
        staff,
        conversation_id,
        data=body,
        limits=limits,
        as_staff=True,
        accept_language=accept_language,
    )
    return _appended(appended, response)


def _appended(
    appended: service.AppendedMessage | service.GuestMessageRefused, response: Response
) -> MessageAppended:
    if isinstance(appended, service.GuestMessageRefused):
        # Refused once what screening found has committed.
        if appended.safety is None:
            raise GuestLimitReached
        raise GuestLimitReached(safety=safety_read(appended.safety).model_dump(mode="json"))
    if appended.replayed:
        response.status_code = status.HTTP_200_OK
    return MessageAppended(
        message=MessageRead.model_validate(appended.message), safety=safety_read(appended.safety)
    )


def safety_read(notice: SafetyNotice | None) -> Safety:
    """The safety block of an answer: what screening found, and what to show."""
    if notice is None:
        return Safety()
    return Safety.model_validate(
        {
            "flagged": True,
            "severity": notice.severity,
            "category": notice.category,
            "event_id": notice.event_id,
            "message": notice.message,
            "resources": notice.resources,
        }
    )
