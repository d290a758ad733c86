"""The conversation store: conversations, and their messages in `seq` order."""

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from convobase.conversations import repository
from convobase.conversations.errors import (
    ClientMessageIdReused,
    ContentTooLarge,
    ConversationEnded,
    ConversationNotFound,
    GuestLimitReached,
    GuestReplyLimitReached,
    GuestSessionAlreadyClaimed,
    MessageRoleForbidden,
)
from convobase.conversations.events import SafetyNotice, ScreenUserMessage, UserMessagesCounted
from convobase.conversations.models import Conversation, ConversationKind, MessageRole
from convobase.conversations.repository import NewMessage
from convobase.conversations.repository import StoredMessage as StoredMessage  # what reads return
from convobase.conversations.schemas import (
    ConversationCreate,
    ConversationUpdate,
    MessageCreate,
)
from convobase.core import events
from convobase.core.errors import Forbidden, TooManyRequests, ValidationFailed
from convobase.core.ids import new_id
from convobase.core.limits import DEFAULT_LIMITS, Limits
from convobase.core.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    InvalidCursor,
    Page,
    decode_cursor,
    every,
    paginate,
    paginate_by_time,
    time_position,
)
from convobase.core.principal import Principal
from convobase.core.time import utc_now
from convobase.db.ownership import Scope, scope_of
from convobase.personas import service as persona_service
from convobase.users import service as user_service


@dataclass(frozen=True, slots=True)
class AppendedMessage:
    """The stored message, whether it was stored by an earlier try of this request, and
    what screening it found (None: nothing, or not a `user` message)."""

    message: StoredMessage
    replayed: bool
    safety: SafetyNotice | None = None


@dataclass(frozen=True, slots=True)
class GuestMessageRefused:
    """A guest's message past the cap: not stored, but screened, and what screening
    found is recorded all the same. The caller answers 403 once this has committed."""

    safety: SafetyNotice | None


def create_conversation(
    session: Session, principal: Principal, *, data: ConversationCreate
) -> Conversation:
    """Start a conversation owned by the signed-in user."""
    if not principal.is_signed_in or principal.user_id is None:
        raise Forbidden("Only a signed-in user can start a conversation.")
    if data.persona_id is not None:
        persona_service.get_active_persona(session, principal, data.persona_id)
    now = utc_now()
    conversation = Conversation(
        id=new_id(),
        user_id=principal.user_id,
        persona_id=data.persona_id,
        kind=data.kind.value,
        title=data.title,
        context_data=data.context,
        started_at=now,
        last_message_at=now,
        created_at=now,
        updated_at=now,
    )
    return repository.add(session, conversation)


def get_conversation(
    session: Session, principal: Principal, conversation_id: uuid.UUID, *, as_staff: bool = False
) -> Conversation:
    """Return a conversation the caller may see, or raise ConversationNotFound.

    The caller's own conversations only, staff's too; `as_staff` (the staff routes)
    grants a staff caller every conversation.
    """
    scope = scope_of(principal, staff=as_staff)
    conversation = repository.get(session, principal, conversation_id, scope=scope)
    if conversation is None:
        raise ConversationNotFound
    return conversation


def list_conversations(
    session: Session,
    principal: Principal,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[Conversation]:
    """The caller's conversations, most recent activity first."""
    before = time_position(cursor)
    rows = repository.list_page(session, principal, before=before, limit=limit + 1)
    return paginate_by_time(rows, limit, lambda last: (last.last_message_at, last.id))


def update_conversation(
    session: Session,
    principal: Principal,
    conversation_id: uuid.UUID,
    *,
    data: ConversationUpdate,
) -> Conversation:
    """Rename a conversation, replace its context, or end it."""
    conversation = get_conversation(session, principal, conversation_id)
    if data.title is not None:
        conversation.title = data.title
    if data.context is not None:
        conversation.context_data = data.context
    if data.is_active is False and conversation.is_active:
        conversation.is_active = False
        conversation.ended_at = utc_now()
    session.flush()
    return conversation


def end_conversation(
    session: Session, principal: Principal, conversation_id: uuid.UUID
) -> Conversation:
    """End a conversation; no message can be appended after. Ending twice is harmless."""
    return update_conversation(
        session, principal, conversation_id, data=ConversationUpdate(is_active=False)
    )


def lock_for_account_deletion(session: Session, principal: Principal) -> None:
    """Lock every conversation the caller owns, before their account is deleted.

    An append locks its conversation and then, storing the message, checks the user's
    row; deleting the user locks the row and then every conversation. Taken in that
    order the two deadlock; locking the conversations first makes the deletion wait for
    the appends in flight instead, and later appends find nothing.
    """
    repository.lock_all(session, principal)


def delete_conversation(session: Session, principal: Principal, conversation_id: uuid.UUID) -> None:
    """Delete a conversation and all its messages."""
    repository.delete(session, get_conversation(session, principal, conversation_id))


def append_message(
    session: Session,
    principal: Principal,
    conversation_id: uuid.UUID,
    *,
    data: MessageCreate,
    limits: Limits = DEFAULT_LIMITS,
    as_staff: bool = False,
    accept_language: str | None = None,
) -> AppendedMessage | GuestMessageRefused:
    """Append a message with the next seq; a retry with a known client_message_id
    returns the original instead of storing it twice.

    Users and guests write `user` messages; `assistant` and `system` messages come from
    the app's server through the staff routes (`as_staff`), unless the operator lets
    clients write them (`Limits.client_written_replies`). A guest conversation holds
    at most one such reply per user message, plus a greeting.

    Every `user` message is screened for signs of crisis in this transaction, so what
    is found commits with the message, or not at all. A guest's message past the cap is
    refused, yet screened and recorded: `GuestMessageRefused`.
    """
    scope = scope_of(principal, staff=as_staff)
    trusted = scope is Scope.EVERY_ROW  # staff, on a staff route
    is_user_message = data.role is MessageRole.USER
    if not (trusted or is_user_message or limits.client_written_replies):
        raise MessageRoleForbidden
    size = len(data.content.encode())
    if size > limits.max_content_bytes:
        raise ContentTooLarge(
            f"The content is {size} bytes; the limit is {limits.max_content_bytes}."
        )
    if data.client_message_id is not None:
        # A retry must see the try that committed first: lock the row, then look.
        if not repository.lock_for_append(session, principal, conversation_id, scope=scope):
            raise ConversationNotFound
        original = repository.get_message_by_client_id(
            session, conversation_id, data.client_message_id
        )
        if original is not None:
            if (original.role, original.content) != (data.role.value, data.content):
                raise ClientMessageIdReused
            # The first answer may have been lost: the retry carries its safety block.
            safety = None
            if is_user_message:
                conversation = get_conversation(
                    session, principal, conversation_id, as_staff=as_staff
                )
                safety = _screen(
                    session,
                    principal,
                    conversation.user_id,
                    conversation_id,
                    original.content,
                    message=(original.id, original.seq),
                    scope=scope,
                    accept_language=accept_language,
                    replayed=True,
                )
            return AppendedMessage(original, replayed=True, safety=safety)
    # A guest's own message is counted before it is stored: past the cap, nothing is
    # stored, and the refusal can still be screened and recorded in this transaction.
    if principal.is_guest and is_user_message:
        counted = repository.count_guest_message(
            session, principal, conversation_id, limits.guest_message_limit, scope=scope
        )
        if counted is None:
            return _refuse_guest_message(
                session, principal, conversation_id, data.content, accept_language
            )
    new = NewMessage(
        id=new_id(),
        conversation_id=conversation_id,
        role=data.role.value,
        content=data.content,
        message_metadata=data.metadata,
        client_message_id=data.client_message_id,
        created_at=utc_now(),
    )
    taken = repository.store_message(
        session, principal, new, scope=scope, count_user_message=limits.counts_user_messages
    )
    if taken is None:
        raise _unreachable(session, principal, conversation_id, scope)
    # Refused here, the unit of work rolls back: the message, and the seq it took.
    if taken.is_guest_session and is_user_message and not principal.is_guest:
        counted = repository.count_guest_message(
            session, principal, conversation_id, limits.guest_message_limit, scope=scope
        )
        if counted is None:
            raise GuestLimitReached
    if taken.user_messages is not None:
        counted_event = UserMessagesCounted(
            taken.user_id, before=taken.user_messages - 1, after=taken.user_messages
        )
        events.publish(session, counted_event)
    message = StoredMessage(
        id=new.id,
        conversation_id=conversation_id,
        seq=taken.seq,
        role=new.role,
        content=new.content,
        message_metadata=new.message_metadata,
        client_message_id=new.client_message_id,
        created_at=new.created_at,
    )
    safety = None
    if is_user_message:
        safety = _screen(
            session,
            principal,
            taken.user_id,
            conversation_id,
            new.content,
            message=(new.id, taken.seq),
            scope=scope,
            accept_language=accept_language,
        )
    return AppendedMessage(message, replayed=False, safety=safety)


def _screen(
    session: Session,
    principal: Principal,
    owner: uuid.UUID,
    conversation_id: uuid.UUID,
    content: str,
    *,
    message: tuple[uuid.UUID, int] | None,
    scope: Scope,
    accept_language: str | None,
    replayed: bool = False,
) -> SafetyNotice | None:
    """Ask whoever screens messages about a `user` message: the stored one whose id and
    seq are `message`, or, with None, one refused unstored."""
    message_id, seq = message if message is not None else (None, None)

    def recent() -> list[str]:
        return repository.recent_user_messages(
            session, principal, conversation_id, before=seq, scope=scope
        )

    query = ScreenUserMessage(
        user_id=owner,
        conversation_id=conversation_id,
        message_id=message_id,
        content=content,
        accept_language=accept_language,
        recent=recent,
        replayed=replayed,
    )
    return events.ask(session, query)


def _refuse_guest_message(
    session: Session,
    guest: Principal,
    conversation_id: uuid.UUID,
    content: str,
    accept_language: str | None,
) -> GuestMessageRefused:
    conversation = repository.get(session, guest, conversation_id)
    if conversation is None or not conversation.is_guest_session:
        raise ConversationNotFound
    if not conversation.is_active:
        raise ConversationEnded
    safety = _screen(
        session,
        guest,
        conversation.user_id,
        conversation_id,
        content,
        message=None,
        scope=Scope.OWN_ROWS,
        accept_language=accept_language,
    )
    return GuestMessageRefused(safety)


def _unreachable(
    session: Session, principal: Principal, conversation_id: uuid.UUID, scope: Scope
) -> Exception:
    """Why a message could not take a seq in the conversation."""
    conversation = repository.get(session, principal, conversation_id, scope=scope)
    if conversation is None:
        return ConversationNotFound()
    if not conversation.is_active:
        return ConversationEnded()
    return GuestReplyLimitReached()


def list_messages(
    session: Session,
    principal: Principal,
    conversation_id: uuid.UUID,
    *,
    after: int | None = None,
    before: int | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    as_staff: bool = False,
) -> Page[StoredMessage]:
    """A page of messages in ascending seq: after a seq, before a seq, or the latest.

    `next_cursor` continues in the same direction: newer pages after `after`, older
    pages otherwise.
    """
    scope = scope_of(principal, staff=as_staff)
    if sum(option is not None for option in (after, before, cursor)) > 1:
        raise ValidationFailed("Give at most one of after, before and cursor.")
    if cursor is not None:
        direction, seq = decode_cursor(cursor, str, int)
        if direction not in ("after", "before"):
            raise InvalidCursor("The cursor is not a message cursor.")
        after, before = (seq, None) if direction == "after" else (None, seq)
    if after is not None:
        newer = repository.messages_after(
            session, principal, conversation_id, after=after, limit=limit + 1, scope=scope
        )
        page = paginate(newer, limit, lambda last: ("after", last.seq))
    else:
        older = repository.latest_messages(
            session, principal, conversation_id, before=before, limit=limit + 1, scope=scope
        )
        newest_first = paginate(older, limit, lambda oldest: ("before", oldest.seq))
        page = Page(newest_first.items[::-1], newest_first.next_cursor)
    if not page.items and not repository.is_visible(
        session, principal, conversation_id, scope=scope
    ):
        raise ConversationNotFound
    return page


def message_context(
    session: Session,
    principal: Principal,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID | None,
    *,
    earlier: int,
    later: int,
    as_staff: bool = False,
) -> list[StoredMessage]:
    """A message with up to `earlier` messages before it and `later` after it, in seq
    order; with no `message_id`, the conversation's latest `earlier` messages."""
    scope = scope_of(principal, staff=as_staff)
    seq = None
    if message_id is not None:
        seq = repository.seq_of(session, principal, conversation_id, message_id, scope=scope)
        if seq is None:
            raise ConversationNotFound
    before = None if seq is None else seq + 1
    size = earlier + (seq is not None)
    older = repository.latest_messages(
        session, principal, conversation_id, before=before, limit=size, scope=scope
    )
    newer: list[StoredMessage] = []
    if seq is not None and later:
        newer = repository.messages_after(
            session, principal, conversation_id, after=seq, limit=later, scope=scope
        )
    return older[::-1] + newer


@dataclass(frozen=True, slots=True)
class GuestSessionStatus:
    session_id: str
    conversation_id: uuid.UUID
    message_count: int
    message_limit: int

    @property
    def messages_remaining(self) -> int:
        return max(self.message_limit - self.message_count, 0)


def start_guest_session(
    session: Session,
    *,
    persona_id: uuid.UUID,
    limits: Limits = DEFAULT_LIMITS,
    client_address: str | None = None,
    session_id: uuid.UUID | None = None,
) -> GuestSessionStatus:
    """Open a guest session: one conversation with a persona, no account needed.

    At most `limits.guest_sessions_per_address` per window from one client address,
    counted in this transaction: a refused or failed start counts nothing. The session's
    id is new unless `session_id` fixes it (the synthetic test data's, so that seeding
    again finds the session it opened).
    """
    if limits.guest_sessions_per_address and client_address is not None:
        wait = repository.count_guest_session_start(session, client_address, limits)
        if wait is not None:
            raise TooManyRequests(
                wait, "Too many guest sessions from this address; sign up, or try again later."
            )
    guest = Principal.guest(str(session_id or new_id()))
    repository.act_as(session, guest)
    persona_service.get_active_persona(session, guest, persona_id)
    user_service.register_guest(session, guest)
    now = utc_now()
    conversation = Conversation(
        id=new_id(),
        user_id=guest.owner_id,
        persona_id=persona_id,
        session_id=guest.guest_session_id,
        is_guest_session=True,
        guest_message_count=0,
        kind=ConversationKind.CHAT.value,
        context_data={},
        started_at=now,
        last_message_at=now,
        created_at=now,
        updated_at=now,
    )
    repository.add(session, conversation)
    return _guest_status(conversation, limits)


def guest_session_status(
    session: Session, principal: Principal, *, limits: Limits = DEFAULT_LIMITS
) -> GuestSessionStatus:
    """How many messages a guest has sent, and how many remain."""
    conversation = repository.get_guest_conversation(session, principal)
    if conversation is None:
        raise ConversationNotFound
    return _guest_status(conversation, limits)


def claim_guest_session(
    session: Session, principal: Principal, *, guest: Principal, limits: Limits = DEFAULT_LIMITS
) -> Conversation:
    """Move a guest's conversation, with all its messages, to the signed-in user.

    The guest's token stops working; a second claim is refused.
    """
    if not principal.is_signed_in or principal.user_id is None:
        raise Forbidden("Sign in to claim a guest session.")
    # The claimer has shown the guest's token: for the hand-over the transaction acts
    # as the guest, allowed to give its rows to the claimer and to nobody else.
    repository.act_as(session, guest, handover_to=principal.user_id)
    conversation = repository.lock_guest_conversation(session, guest)
    if conversation is not None:
        repository.hand_over(session, guest, principal.user_id)
        user_service.close_guest_session(session, guest)
    repository.act_as(session, principal)
    if conversation is None:
        raise GuestSessionAlreadyClaimed
    # The guest's messages count as the user's from now on.
    if limits.counts_user_messages and (written := conversation.guest_message_count):
        tally = repository.tally_user_messages(session, principal.user_id, written)
        events.publish(session, UserMessagesCounted(principal.user_id, tally - written, tally))
    return repository.close_guest_conversation(session, principal, conversation.id)


def unanalysed_user_messages(
    session: Session, principal: Principal, *, limit: int
) -> list[StoredMessage]:
    """The caller's oldest `user` messages, in all their conversations, that no
    analysis has included yet; oldest first."""
    return repository.unanalysed_user_messages(session, principal, limit=limit)


def mark_analysed(session: Session, principal: Principal, message_ids: list[uuid.UUID]) -> int:
    """Mark the caller's messages `message_ids` as included in an analysis; returns how
    many were not marked already."""
    return repository.mark_analysed(session, principal, message_ids)


def _guest_status(conversation: Conversation, limits: Limits) -> GuestSessionStatus:
    assert conversation.session_id is not None
    return GuestSessionStatus(
        session_id=conversation.session_id,
        conversation_id=conversation.id,
        message_count=conversation.guest_message_count,
        message_limit=limits.guest_message_limit,
    )


def all_conversations(session: Session, principal: Principal) -> list[Conversation]:
    """Every conversation the caller owns, most recent activity first."""
    return every(
        lambda cursor: list_conversations(session, principal, cursor=cursor, limit=MAX_PAGE_SIZE)
    )


def all_messages(
    session: Session, principal: Principal, conversation_id: uuid.UUID
) -> list[StoredMessage]:
    """Every message of a conversation, in seq order."""
    messages: list[StoredMessage] = []
    after = 0
    while True:
        page = list_messages(session, principal, conversation_id, after=after, limit=MAX_PAGE_SIZE)
        messages += page.items
        if page.next_cursor is None:
            return messages
        after = messages[-1].seq
