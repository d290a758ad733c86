import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from convobase.conversations import service
from convobase.conversations.errors import InvalidGuestToken
from convobase.conversations.schemas import (
    MAX_PAGE_SIZE,
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
from convobase.conversations.service import MessageLimits
from convobase.core.deps import (
    GuestPrincipal,
    Principal,
    SessionDep,
    UserPrincipal,
)
from convobase.core.errors import Unauthorized
from convobase.core.pagination import PageRead, page_read
from convobase.core.problems import problem_responses
from convobase.core.tokens import TokenAuthority


async def _limits(request: Request) -> MessageLimits:
    limits: MessageLimits = request.app.state.message_limits
    return limits


async def _tokens(request: Request) -> TokenAuthority:
    tokens: TokenAuthority = request.app.state.tokens
    return tokens


Limits = Annotated[MessageLimits, Depends(_limits)]
Tokens = Annotated[TokenAuthority, Depends(_tokens)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Seq = Annotated[int | None, Query(ge=0)]

conversations = APIRouter(
    prefix="/v1/conversations",
    tags=["conversations"],
    responses=problem_responses(401, 403, 404),
)
guest_sessions = APIRouter(prefix="/v1/guest-sessions", tags=["guest sessions"])


@conversations.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(422))
def create_conversation(
    session: SessionDep, principal: UserPrincipal, body: ConversationCreate
) -> ConversationRead:
    """Start a conversation, optionally with a persona."""
    conversation = service.create_conversation(session, principal, data=body)
    return ConversationRead.model_validate(conversation)


@conversations.get("", responses=problem_responses(422))
def list_conversations(
    session: SessionDep,
    principal: UserPrincipal,
    cursor: str | None = None,
    limit: PageSize = 50,
) -> PageRead[ConversationRead]:
    """Your conversations, most recent activity first."""
    page = service.list_conversations(session, principal, cursor=cursor, limit=limit)
    return page_read(page, ConversationRead)


@conversations.get("/{conversation_id}")
def read_conversation(
    session: SessionDep, principal: UserPrincipal, conversation_id: uuid.UUID
) -> ConversationRead:
    """One of your conversations."""
    conversation = service.get_conversation(session, principal, conversation_id)
    return ConversationRead.model_validate(conversation)


@conversations.patch("/{conversation_id}", responses=problem_responses(422))
def update_conversation(
    session: SessionDep,
    principal: UserPrincipal,
    conversation_id: uuid.UUID,
    body: ConversationUpdate,
) -> ConversationRead:
    """Rename a conversation, replace its context, or end it with `is_active: false`."""
    conversation = service.update_conversation(session, principal, conversation_id, data=body)
    return ConversationRead.model_validate(conversation)


@conversations.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_conversation(
    session: SessionDep, principal: UserPrincipal, conversation_id: uuid.UUID
) -> None:
    """Delete a conversation and all its messages."""
    service.delete_conversation(session, principal, conversation_id)


@conversations.post(
    "/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": MessageAppended, "description": "A retry: the message stored first."},
        **problem_responses(409, 422),
    },
)
def append_message(
    session: SessionDep,
    principal: Principal,
    limits: Limits,
    conversation_id: uuid.UUID,
    body: MessageCreate,
    response: Response,
) -> MessageAppended:
    """Append a message; it gets the next seq. Retrying with the same client_message_id
    answers 200 with the original message instead of storing it twice."""
    appended = service.append_message(session, principal, conversation_id, data=body, limits=limits)
    if appended.replayed:
        response.status_code = status.HTTP_200_OK
    return MessageAppended(message=MessageRead.model_validate(appended.message), safety=Safety())


@conversations.get("/{conversation_id}/messages", responses=problem_responses(422))
def list_messages(
    session: SessionDep,
    principal: Principal,
    conversation_id: uuid.UUID,
    after: Seq = None,
    before: Seq = None,
    cursor: str | None = None,
    limit: PageSize = 50,
) -> PageRead[MessageRead]:
    """Messages in ascending seq: `?after=SEQ` for newer, `?before=SEQ` for older, or
    the latest page. `next_cursor` continues in the same direction."""
    page = service.list_messages(
        session,
        principal,
        conversation_id,
        after=after,
        before=before,
        cursor=cursor,
        limit=limit,
    )
    return page_read(page, MessageRead)


@guest_sessions.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(404, 422))
def start_guest_session(
    session: SessionDep, limits: Limits, tokens: Tokens, body: GuestSessionCreate
) -> GuestSessionCreated:
    """Start a guest chat with a persona; no account needed. Returns the guest token."""
    started = service.start_guest_session(session, persona_id=body.persona_id, limits=limits)
    return GuestSessionCreated(
        session_id=started.session_id,
        token=tokens.mint_guest(started.session_id),
        conversation_id=started.conversation_id,
        message_limit=started.message_limit,
        messages_remaining=started.messages_remaining,
    )


@guest_sessions.get("/current", responses=problem_responses(401, 403))
def read_guest_session(
    session: SessionDep, guest: GuestPrincipal, limits: Limits
) -> GuestSessionRead:
    """Your guest session: messages sent and remaining."""
    status_ = service.guest_session_status(session, guest, limits=limits)
    return GuestSessionRead.model_validate(status_)


@guest_sessions.post("/claim", responses=problem_responses(401, 403, 409, 422))
def claim_guest_session(
    session: SessionDep, principal: UserPrincipal, tokens: Tokens, body: GuestSessionClaim
) -> ConversationRead:
    """Move a guest conversation, with all its messages, into your account."""
    try:
        guest = tokens.verify(body.guest_token)
    except Unauthorized as error:
        raise InvalidGuestToken from error
    if not guest.is_guest:
        raise InvalidGuestToken
    conversation = service.claim_guest_session(session, principal, guest=guest)
    return ConversationRead.model_validate(conversation)
