import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from convobase.conversations import service
from convobase.conversations.errors import (
    ClientMessageIdReused,
    ContentTooLarge,
    ConversationEnded,
    ConversationNotFound,
    MessageRoleForbidden,
)
from convobase.conversations.models import Message, MessageRole
from convobase.conversations.schemas import ConversationRead, ConversationUpdate, MessageCreate
from convobase.conversations.service import AppendedMessage
from convobase.core.errors import ValidationFailed
from convobase.core.limits import Limits
from convobase.core.pagination import InvalidCursor
from convobase.core.principal import Principal
from convobase.personas.errors import PersonaNotFound
from tests import factories


def test_new_conversation_starts_empty_and_active(session: Session, user: Principal) -> None:
    persona = factories.persona(session)

    conversation = factories.conversation(
        session, user, persona_id=persona.id, title="Ordering coffee", context={"level": "A2"}
    )

    stored = service.get_conversation(session, user, conversation.id)
    assert stored.user_id == user.user_id
    assert stored.persona_id == persona.id
    assert stored.title == "Ordering coffee"
    assert stored.context_data == {"level": "A2"}
    assert stored.is_active
    assert stored.last_seq == 0
    assert stored.started_at.tzinfo is not None


def test_conversation_with_unknown_persona_is_refused(session: Session, user: Principal) -> None:
    with pytest.raises(PersonaNotFound):
        factories.conversation(session, user, persona_id=uuid.uuid4())


def test_messages_are_numbered_one_two_three(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)

    stored = factories.messages(session, user, conversation, 3)

    assert [message.seq for message in stored] == [1, 2, 3]
    assert service.get_conversation(session, user, conversation.id).last_seq == 3


def test_append_moves_last_message_at_forward(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    started = conversation.last_message_at

    message = factories.message(session, user, conversation)

    refreshed = service.get_conversation(session, user, conversation.id)
    assert refreshed.last_message_at == message.created_at
    assert refreshed.last_message_at >= started


def test_append_changes_only_the_conversations_counter_and_activity(
    session: Session, user: Principal
) -> None:
    conversation = factories.conversation(session, user, title="Café", context={"level": "A2"})
    before = ConversationRead.model_validate(conversation).model_dump()

    factories.message(session, user, conversation)

    after = ConversationRead.model_validate(
        service.get_conversation(session, user, conversation.id)
    ).model_dump()
    changed = {field for field in before if before[field] != after[field]}
    assert changed == {"message_count", "last_message_at", "updated_at"}


def test_message_reads_back_as_it_was_stored(
    session: Session, user: Principal, staff: Principal
) -> None:
    conversation = factories.conversation(session, user)
    data = MessageCreate(
        role=MessageRole.ASSISTANT, content="¿Qué tal?", metadata={"model": "tutor-1", "n": [1]}
    )

    appended = service.append_message(session, staff, conversation.id, data=data, as_staff=True)

    assert isinstance(appended, AppendedMessage)
    assert not appended.replayed
    page = service.list_messages(session, user, conversation.id)
    (message,) = page.items
    assert (message.role, message.content) == ("assistant", "¿Qué tal?")
    assert message.message_metadata == {"model": "tutor-1", "n": [1]}
    assert message == appended.message


@pytest.mark.parametrize(
    "text",
    [
        "María y Carlos practican en el café",
        "Ça va? Grüße, naïve façade",
        "学习中文很有意思 / 日本語の練習 / 한국어 연습",
        "Great job! 🎉🔥👩🏽‍🏫 keep going 💪",
        'mixed: María 🙂 学习 \t tabs\nnewlines \\ "quotes"',
    ],
)
def test_utf8_text_and_json_round_trip_exactly(
    session: Session, user: Principal, text: str
) -> None:
    conversation = factories.conversation(
        session, user, title=text[:200], context={"persona": text, "names": ["María", "Carlos"]}
    )
    data = MessageCreate(role=MessageRole.USER, content=text, metadata={"echo": text, text: 1})
    service.append_message(session, user, conversation.id, data=data)
    session.expire_all()

    stored = service.get_conversation(session, user, conversation.id)
    (message,) = service.list_messages(session, user, conversation.id).items
    assert stored.title == text[:200]
    assert stored.context_data == {"persona": text, "names": ["María", "Carlos"]}
    assert message.content == text
    assert message.message_metadata == {"echo": text, text: 1}


def test_retry_with_same_client_message_id_returns_the_original(
    session: Session, user: Principal
) -> None:
    conversation = factories.conversation(session, user)
    data = MessageCreate(role=MessageRole.USER, content="Hola", client_message_id="c-1")

    first = service.append_message(session, user, conversation.id, data=data)
    retry = service.append_message(session, user, conversation.id, data=data)

    assert isinstance(first, AppendedMessage)
    assert isinstance(retry, AppendedMessage)
    assert retry.replayed
    assert retry.message.id == first.message.id
    assert retry.message.seq == 1
    assert service.get_conversation(session, user, conversation.id).last_seq == 1


def test_client_message_id_reused_for_other_content_is_a_conflict(
    session: Session, user: Principal
) -> None:
    conversation = factories.conversation(session, user)
    factories.message(session, user, conversation, "Hola", client_message_id="c-1")

    with pytest.raises(ClientMessageIdReused):
        factories.message(session, user, conversation, "Adiós", client_message_id="c-1")


def test_same_client_message_id_in_two_conversations_is_two_messages(
    session: Session, user: Principal
) -> None:
    first = factories.conversation(session, user)
    second = factories.conversation(session, user)

    a = factories.message(session, user, first, client_message_id="c-1")
    b = factories.message(session, user, second, client_message_id="c-1")

    assert a.id != b.id


def test_ended_conversation_refuses_new_messages(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    factories.message(session, user, conversation, client_message_id="before-end")

    ended = service.end_conversation(session, user, conversation.id)

    assert not ended.is_active
    assert ended.ended_at is not None
    with pytest.raises(ConversationEnded):
        factories.message(session, user, conversation, "more")
    replay = factories.message(session, user, conversation, client_message_id="before-end")
    assert replay.seq == 1


def test_ending_twice_keeps_the_first_end_time(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    first_end = service.end_conversation(session, user, conversation.id).ended_at

    assert service.end_conversation(session, user, conversation.id).ended_at == first_end


def test_update_renames_and_replaces_context(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user, title="old", context={"a": 1})

    updated = service.update_conversation(
        session, user, conversation.id, data=ConversationUpdate(title="new", context={"b": 2})
    )

    assert (updated.title, updated.context_data, updated.is_active) == ("new", {"b": 2}, True)


def test_oversized_content_is_refused(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    data = MessageCreate(role=MessageRole.USER, content="é" * 600)

    with pytest.raises(ContentTooLarge):
        service.append_message(
            session, user, conversation.id, data=data, limits=Limits(max_content_bytes=1000)
        )
    assert service.get_conversation(session, user, conversation.id).last_seq == 0


def test_someone_elses_conversation_is_not_found(
    session: Session, user: Principal, other_user: Principal
) -> None:
    conversation = factories.conversation(session, user)
    data = MessageCreate(role=MessageRole.USER, content="hi")

    with pytest.raises(ConversationNotFound):
        service.get_conversation(session, other_user, conversation.id)
    with pytest.raises(ConversationNotFound):
        service.append_message(session, other_user, conversation.id, data=data)
    with pytest.raises(ConversationNotFound):
        service.list_messages(session, other_user, conversation.id)
    with pytest.raises(ConversationNotFound):
        service.end_conversation(session, other_user, conversation.id)
    assert service.list_conversations(session, other_user).items == []


def test_latest_page_is_the_newest_messages_in_ascending_order(
    session: Session, user: Principal
) -> None:
    conversation = factories.conversation(session, user)
    factories.messages(session, user, conversation, 12)

    page = service.list_messages(session, user, conversation.id, limit=5)

    assert [message.seq for message in page.items] == [8, 9, 10, 11, 12]
    assert page.next_cursor is not None


def test_after_and_before_pages(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    factories.messages(session, user, conversation, 12)

    after = service.list_messages(session, user, conversation.id, after=3, limit=4)
    before = service.list_messages(session, user, conversation.id, before=3, limit=4)
    tail = service.list_messages(session, user, conversation.id, after=10, limit=4)

    assert [message.seq for message in after.items] == [4, 5, 6, 7]
    assert [message.seq for message in before.items] == [1, 2]
    assert before.next_cursor is None
    assert [message.seq for message in tail.items] == [11, 12]
    assert tail.next_cursor is None


def test_cursors_walk_the_whole_conversation_both_ways(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    factories.messages(session, user, conversation, 23)

    backwards: list[int] = []
    page = service.list_messages(session, user, conversation.id, limit=5)
    while True:
        backwards = [message.seq for message in page.items] + backwards
        if page.next_cursor is None:
            break
        page = service.list_messages(
            session, user, conversation.id, cursor=page.next_cursor, limit=5
        )
    forwards: list[int] = []
    page = service.list_messages(session, user, conversation.id, after=0, limit=5)
    while True:
        forwards += [message.seq for message in page.items]
        if page.next_cursor is None:
            break
        page = service.list_messages(
            session, user, conversation.id, cursor=page.next_cursor, limit=5
        )

    assert backwards == forwards == list(range(1, 24))


def test_empty_conversation_has_an_empty_page(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)

    page = service.list_messages(session, user, conversation.id)

    assert (list(page.items), page.next_cursor) == ([], None)


def test_conflicting_page_options_are_refused(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)

    with pytest.raises(ValidationFailed):
        service.list_messages(session, user, conversation.id, after=1, before=5)
    with pytest.raises(InvalidCursor):
        service.list_messages(session, user, conversation.id, cursor="not-a-cursor")


def test_conversations_are_listed_by_latest_activity(session: Session, user: Principal) -> None:
    first, second, third = (factories.conversation(session, user) for _ in range(3))
    factories.message(session, user, first)

    page = service.list_conversations(session, user)

    assert [conversation.id for conversation in page.items] == [first.id, third.id, second.id]


def test_conversation_pages_cover_every_conversation_once(
    session: Session, user: Principal
) -> None:
    created = {factories.conversation(session, user).id for _ in range(7)}
    # Two conversations with the same activity time: the id breaks the tie.
    same_time = service.get_conversation(session, user, next(iter(created))).last_message_at
    for conversation in service.list_conversations(session, user, limit=2).items:
        conversation.last_message_at = same_time - timedelta(seconds=1)
    session.flush()

    seen: list[uuid.UUID] = []
    cursor = None
    while True:
        page = service.list_conversations(session, user, cursor=cursor, limit=3)
        seen += [conversation.id for conversation in page.items]
        if (cursor := page.next_cursor) is None:
            break

    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


def test_deleting_a_conversation_removes_its_messages(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    factories.messages(session, user, conversation, 3)

    service.delete_conversation(session, user, conversation.id)

    with pytest.raises(ConversationNotFound):
        service.list_messages(session, user, conversation.id)


def test_staff_can_read_any_conversation_through_the_staff_grant(
    session: Session, user: Principal, staff: Principal
) -> None:
    conversation = factories.conversation(session, user)
    factories.message(session, user, conversation)

    found = service.get_conversation(session, staff, conversation.id, as_staff=True)
    page = service.list_messages(session, staff, conversation.id, as_staff=True)
    assert found.id == conversation.id
    assert len(page.items) == 1


def test_messages_belong_to_the_conversations_owner(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    message = factories.message(session, user, conversation)

    owner = session.scalar(select(Message.user_id).where(Message.id == message.id))

    assert owner == user.user_id


def test_users_write_only_user_messages(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)

    for role in (MessageRole.ASSISTANT, MessageRole.SYSTEM):
        with pytest.raises(MessageRoleForbidden):
            factories.message(session, user, conversation, role=role)
    assert service.list_messages(session, user, conversation.id).items == []


def test_a_staff_grant_gives_nothing_to_a_caller_who_is_not_staff(
    session: Session, user: Principal, other_user: Principal
) -> None:
    conversation = factories.conversation(session, other_user)
    mine = factories.conversation(session, user)
    reply = MessageCreate(role=MessageRole.ASSISTANT, content="hola")

    with pytest.raises(ConversationNotFound):
        service.get_conversation(session, user, conversation.id, as_staff=True)
    with pytest.raises(MessageRoleForbidden):
        service.append_message(session, user, mine.id, data=reply, as_staff=True)


def test_staff_reach_a_users_conversation_only_with_the_staff_grant(
    session: Session, user: Principal, staff: Principal
) -> None:
    conversation = factories.conversation(session, user)

    with pytest.raises(ConversationNotFound):
        service.get_conversation(session, staff, conversation.id)
    assert service.get_conversation(session, staff, conversation.id, as_staff=True).id == (
        conversation.id
    )


def test_client_written_replies_can_be_allowed(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    reply = MessageCreate(role=MessageRole.ASSISTANT, content="¡Hola!")

    appended = service.append_message(
        session, user, conversation.id, data=reply, limits=Limits(client_written_replies=True)
    )

    assert isinstance(appended, AppendedMessage)
    assert appended.message.role == "assistant"
