"""Tutor sessions and their turns, at the service, on both databases: starting one on
a dialog (and what is refused, saying why), the practice loop (evaluate, keep, go on,
complete), idempotent retries, a changed dialog, mistakes remembered as review cards,
reading practice, and the story's queries."""

import uuid

import pytest
from sqlalchemy.orm import Session

from convobase.conversations import service as conversation_service
from convobase.core.errors import Forbidden
from convobase.core.principal import Principal
from convobase.reviews import service as review_service
from convobase.tutoring import service
from convobase.tutoring.errors import (
    ClientTurnIdReused,
    DialogArchived,
    DialogChanged,
    DialogNotFound,
    RoleNotInDialog,
    RoleNotPlayable,
    SessionCompleted,
    TextArchived,
    TutorSessionNotFound,
)
from convobase.tutoring.models import CefrLevel, TurnVerdict
from convobase.tutoring.schemas import (
    LessonDialogUpdate,
    LibraryTextUpdate,
    TurnCreate,
    TutorSessionCreate,
    TutorSessionKind,
    TutorSessionStarted,
)
from tests import factories
from tests.tutoring import dialogs
from tests.tutoring.dialogs import MARIA_SAYS, STAFF


def start(
    session: Session,
    learner: Principal,
    dialog_id: uuid.UUID,
    role: str = "María",
    *,
    hint_wanted: bool = False,
) -> TutorSessionStarted:
    data = TutorSessionCreate(dialog_id=dialog_id, selected_role=role)
    return service.start_session(session, learner, data=data, hint_wanted=hint_wanted)


def say(
    session: Session,
    learner: Principal,
    session_id: uuid.UUID,
    content: str,
    *,
    client_turn_id: str | None = None,
    practice: service.Practice = service.DEFAULT_PRACTICE,
) -> service.TurnOutcome:
    data = TurnCreate(content=content, client_turn_id=client_turn_id)
    return service.take_turn(session, learner, session_id, data=data, practice=practice)


def transcript(session: Session, learner: Principal, conversation_id: uuid.UUID) -> list[str]:
    page = conversation_service.list_messages(session, learner, conversation_id, limit=200)
    return [f"{m.role}: {m.content}" for m in page.items]


# Starting


def test_a_session_as_maria_begins_with_carlos_greeting(session: Session, user: Principal) -> None:
    cafe = dialogs.cafe(session)

    started = start(session, user, cafe.id, hint_wanted=True)

    assert (started.kind, started.selected_role, started.level) == (
        TutorSessionKind.ROLEPLAY,
        "María",
        CefrLevel.A1,
    )
    assert [(r.seq, r.role, r.text) for r in started.replies] == [
        (1, "Carlos", "¡Buenos días! ¿Qué desea tomar?")
    ]
    assert started.expected is not None
    assert (started.expected.seq, started.expected.role) == (2, "María")
    assert started.expected.translation == "Good morning. A coffee with milk, please."
    assert started.expected.hint == "B_____ d___. U_ c___ c__ l____, p__ f____."
    assert started.expected.text is None  # the line is what the learner must find
    assert (started.lines_total, started.lines_done) == (4, 0)
    assert started.conversation_id is not None
    conversation = conversation_service.get_conversation(session, user, started.conversation_id)
    assert (conversation.kind, conversation.title) == ("roleplay", "En el café")
    assert transcript(session, user, started.conversation_id) == [
        "assistant: ¡Buenos días! ¿Qué desea tomar?"
    ]


def test_a_session_as_carlos_expects_his_first_line_at_once(
    session: Session, user: Principal
) -> None:
    cafe = dialogs.cafe(session)

    started = start(session, user, cafe.id, role="Carlos")

    assert started.replies == []
    assert started.expected is not None
    assert started.expected.seq == 1
    assert started.expected.hint is None


def test_a_role_is_matched_without_case_or_accents(session: Session, user: Principal) -> None:
    cafe = dialogs.cafe(session)

    assert start(session, user, cafe.id, role="maria").selected_role == "María"


def test_a_role_the_dialog_lacks_is_refused_naming_its_roles(
    session: Session, user: Principal
) -> None:
    cafe = dialogs.cafe(session)

    with pytest.raises(RoleNotInDialog) as refused:
        start(session, user, cafe.id, role="Pedro")

    assert refused.value.status == 422
    assert refused.value.detail == (
        "The dialog 'En el café' has no role 'Pedro': its roles are 'María', 'Carlos'."
    )


def test_a_role_learners_may_not_play_is_refused_naming_those_they_may(
    session: Session, user: Principal
) -> None:
    short = dialogs.dialog(session)

    with pytest.raises(RoleNotPlayable) as refused:
        start(session, user, short.id, role="Luis")

    assert refused.value.status == 422
    assert refused.value.detail == "Learners may not play 'Luis' in 'Saludos': play 'Ana'."


def test_an_archived_dialog_is_refused(session: Session, user: Principal) -> None:
    short = dialogs.dialog(session, dialogs.short_body(status="archived"))

    with pytest.raises(DialogArchived, match="'Saludos' is archived"):
        start(session, user, short.id, role="Ana")


@pytest.mark.parametrize("status", ["draft", None])
def test_a_draft_or_unknown_dialog_is_not_found(
    session: Session, user: Principal, status: str | None
) -> None:
    dialog_id = (
        dialogs.dialog(session, dialogs.short_body(status=status)).id if status else uuid.uuid4()
    )

    with pytest.raises(DialogNotFound):
        start(session, user, dialog_id, role="Ana")


def test_a_guest_or_staff_without_an_account_cannot_practise(session: Session) -> None:
    cafe = dialogs.cafe(session)

    with pytest.raises(Forbidden):
        start(session, Principal.guest(str(uuid.uuid4())), cafe.id)
    with pytest.raises(Forbidden):
        start(session, STAFF, cafe.id)


# The practice loop


def test_a_full_roleplay_completes_with_an_evaluation_per_turn(
    session: Session, user: Principal
) -> None:
    cafe = dialogs.cafe(session)
    started = start(session, user, cafe.id)

    outcomes = [say(session, user, started.id, line).result for line in MARIA_SAYS]

    assert [o.turn.verdict for o in outcomes] == [TurnVerdict.PASS] * 4
    assert [[r.role for r in o.replies] for o in outcomes] == [["Carlos"]] * 4
    last = outcomes[-1].session
    assert last.completed_at is not None
    assert (last.score, last.turns, last.lines_done, last.expected) == (100, 4, 4, None)
    assert started.conversation_id is not None
    assert transcript(session, user, started.conversation_id) == [
        "assistant: ¡Buenos días! ¿Qué desea tomar?",
        f"user: {MARIA_SAYS[0]}",
        "assistant: ¿Algo más? Tenemos tostadas y churros.",
        f"user: {MARIA_SAYS[1]}",
        "assistant: Muy bien. ¿Para tomar aquí o para llevar?",
        f"user: {MARIA_SAYS[2]}",
        "assistant: Son tres euros con cincuenta.",
        f"user: {MARIA_SAYS[3]}",
        "assistant: ¡De nada! Que aproveche.",
    ]
    ended = conversation_service.get_conversation(session, user, started.conversation_id)
    assert not ended.is_active
    turns = service.list_turns(session, user, started.id).items
    assert [(t.turn, t.line_seq, t.attempt, t.score) for t in turns] == [
        (1, 2, 1, 100),
        (2, 4, 1, 100),
        (3, 6, 1, 100),
        (4, 8, 1, 100),
    ]
    page = conversation_service.list_messages(session, user, started.conversation_id)
    assert page.items[0].message_metadata == {
        "tutor_session_id": str(started.id),
        "line_seq": 1,
        "role": "Carlos",
        "translation": "Good morning! What would you like to have?",
    }
    assert turns[0].message_id == page.items[1].id


def test_a_poor_turn_is_kept_and_the_line_tried_again(session: Session, user: Principal) -> None:
    cafe = dialogs.cafe(session)
    started = start(session, user, cafe.id)

    first = say(session, user, started.id, "Un café con leche.").result
    second = say(session, user, started.id, "Un café con leche, por favor.").result

    assert (first.turn.verdict, first.turn.missing) == (TurnVerdict.RETRY, ["por", "favor"])
    assert first.turn.target_words_missed == ["por favor"]
    assert first.replies == []
    assert first.session.expected is not None
    assert (first.session.expected.seq, first.session.expected.attempt) == (2, 2)
    assert (second.turn.verdict, second.turn.attempt, second.turn.score) == (
        TurnVerdict.PASS,
        2,
        100,
    )
    assert second.turn.matched == "Un café con leche, por favor."  # a variant
    assert second.session.expected is not None
    assert second.session.expected.seq == 4


def test_a_turn_missing_a_target_word_is_retried_whatever_its_score(
    session: Session, user: Principal
) -> None:
    cafe = dialogs.cafe(session)
    started = start(session, user, cafe.id)

    result = say(session, user, started.id, "Buenos días. Un té con leche, por favor.").result

    assert result.turn.score >= 80
    assert result.turn.target_words_missed == ["café"]
    assert result.turn.verdict is TurnVerdict.RETRY


def test_after_the_last_try_the_session_moves_on(session: Session, user: Principal) -> None:
    cafe = dialogs.cafe(session)
    started = start(session, user, cafe.id)
    practice = service.Practice(max_attempts=2)

    tries = [say(session, user, started.id, "No sé.", practice=practice).result for _ in range(2)]

    assert [(t.turn.verdict, t.turn.moved_on) for t in tries] == [
        (TurnVerdict.RETRY, False),
        (TurnVerdict.RETRY, True),
    ]
    assert [r.seq for r in tries[1].replies] == [3]
    assert tries[1].session.expected is not None
    assert tries[1].session.expected.seq == 4


def test_the_summary_score_is_the_mean_of_each_lines_best(
    session: Session, user: Principal
) -> None:
    short = dialogs.dialog(session)
    started = start(session, user, short.id, role="Ana")

    say(session, user, started.id, "Hola, ¿qué tal?")
    poor = say(session, user, started.id, "Un té por favor gracias amigo").result
    best = say(session, user, started.id, "Un té, por favor.").result

    assert poor.turn.verdict is TurnVerdict.RETRY
    assert best.session.score == 100
    assert best.session.completed_at is not None


def test_a_retried_turn_answers_the_first_and_stores_nothing_twice(
    session: Session, user: Principal
) -> None:
    cafe = dialogs.cafe(session)
    started = start(session, user, cafe.id)

    first = say(session, user, started.id, MARIA_SAYS[0], client_turn_id="t-1")
    again = say(session, user, started.id, MARIA_SAYS[0], client_turn_id="t-1")

    assert (first.replayed, again.replayed) == (False, True)
    assert again.result.turn == first.result.turn
    assert [r.text for r in again.result.replies] == [r.text for r in first.result.replies]
    assert again.result.session.turns == 1
    assert started.conversation_id is not None
    assert len(transcript(session, user, started.conversation_id)) == 3
    with pytest.raises(ClientTurnIdReused):
        say(session, user, started.id, "Otra cosa.", client_turn_id="t-1")


def test_the_last_turn_retried_after_completion_still_answers_the_first(
    session: Session, user: Principal
) -> None:
    short = dialogs.dialog(session)
    started = start(session, user, short.id, role="Ana")
    say(session, user, started.id, "Hola, ¿qué tal?")
    last = say(session, user, started.id, "Un té, por favor.", client_turn_id="last")

    again = say(session, user, started.id, "Un té, por favor.", client_turn_id="last")

    assert again.replayed
    assert again.result.turn.id == last.result.turn.id
    with pytest.raises(SessionCompleted):
        say(session, user, started.id, "Un té, por favor.")


def test_a_changed_dialog_refuses_the_turns_of_sessions_begun_before(
    session: Session, user: Principal
) -> None:
    short = dialogs.dialog(session)
    started = start(session, user, short.id, role="Ana")
    body = dialogs.short_body()
    body["lines"][0]["text"] = "Hola, ¿cómo estás?"
    body["lines"][0]["target_words"] = []
    update = LessonDialogUpdate.model_validate(
        {"roles": body["roles"], "lines": body["lines"]}, strict=False
    )
    service.update_dialog(session, STAFF, short.id, data=update)

    with pytest.raises(DialogChanged, match="version 1, now 2"):
        say(session, user, started.id, "Hola, ¿qué tal?")
    assert start(session, user, short.id, role="Ana").content_version == 2


def test_an_archived_dialog_lets_a_session_begun_before_finish(
    session: Session, user: Principal
) -> None:
    short = dialogs.dialog(session)
    started = start(session, user, short.id, role="Ana")
    service.delete_dialog(session, STAFF, short.id)

    say(session, user, started.id, "Hola, ¿qué tal?")
    done = say(session, user, started.id, "Un té, por favor.").result

    assert done.session.completed_at is not None


def test_a_deleted_transcript_is_started_again(session: Session, user: Principal) -> None:
    cafe = dialogs.cafe(session)
    started = start(session, user, cafe.id)
    assert started.conversation_id is not None
    conversation_service.delete_conversation(session, user, started.conversation_id)

    result = say(session, user, started.id, MARIA_SAYS[0]).result

    assert result.session.conversation_id not in (None, started.conversation_id)
    assert result.turn.message_id is not None


def test_a_crisis_in_a_turn_is_screened_like_any_message(session: Session, user: Principal) -> None:
    cafe = dialogs.cafe(session)
    started = start(session, user, cafe.id)

    result = say(session, user, started.id, "I want to kill myself").result

    assert result.safety.flagged
    assert result.safety.event_id is not None
    assert result.turn.verdict is TurnVerdict.RETRY


def test_another_learners_session_is_not_found(
    session: Session, user: Principal, other_user: Principal
) -> None:
    cafe = dialogs.cafe(session)
    started = start(session, user, cafe.id)

    with pytest.raises(TutorSessionNotFound):
        service.get_session(session, other_user, started.id)
    with pytest.raises(TutorSessionNotFound):
        say(session, other_user, started.id, MARIA_SAYS[0])
    with pytest.raises(TutorSessionNotFound):
        service.list_turns(session, other_user, started.id)


# Mistakes remembered


def test_words_missed_or_misspelled_are_counted_once_per_word_and_become_cards(
    session: Session, user: Principal
) -> None:
    cafe = dialogs.cafe(session)
    started = start(session, user, cafe.id)

    misspelled = say(session, user, started.id, "Buenos días. Un cafe con lece, por favor.")
    say(session, user, started.id, "Sí, una tostada con tomate.")
    say(session, user, started.id, "Sí, una tostada con tomate, por favor.")

    assert misspelled.result.turn.verdict is TurnVerdict.PASS  # a target word, if misspelled
    mistakes = {m.word: m for m in service.list_mistakes(session, user).items}
    assert set(mistakes) == {"leche", "por", "favor"}
    assert (mistakes["leche"].misspelled, mistakes["leche"].missed) == (1, 0)
    assert mistakes["leche"].last_said == "lece"
    assert mistakes["leche"].example == "Buenos días. Un café con leche, por favor."
    assert (mistakes["por"].missed, mistakes["por"].example) == (
        1,
        "Sí, una tostada con tomate, por favor.",
    )
    cards = {c.source_key: c for c in review_service.list_cards(session, user).items}
    assert set(cards) == {"es:leche", "es:por", "es:favor"}
    leche = cards["es:leche"]
    assert leche.source_kind == "tutoring_word"
    assert leche.prompt == (
        "Buenos días. Un café con ____, por favor.\n(Good morning. A coffee with milk, please.)"
    )
    assert leche.answer == "leche"


def test_a_word_missed_again_is_counted_again(session: Session, user: Principal) -> None:
    cafe = dialogs.cafe(session)
    for _ in range(2):
        started = start(session, user, cafe.id)
        say(session, user, started.id, "Buenos días. Un café con leche, favor.")

    (por,) = [m for m in service.list_mistakes(session, user).items if m.word == "por"]
    assert por.missed == 2
    cards = [c for c in review_service.list_cards(session, user).items if c.source_key == "es:por"]
    assert len(cards) == 1


def test_a_turn_that_is_no_attempt_at_the_line_records_no_mistake(
    session: Session, user: Principal
) -> None:
    cafe = dialogs.cafe(session)
    started = start(session, user, cafe.id)

    say(session, user, started.id, "Quiero una cerveza")

    assert service.list_mistakes(session, user).items == []


def test_without_cards_mistakes_are_still_counted(session: Session, user: Principal) -> None:
    cafe = dialogs.cafe(session)
    started = start(session, user, cafe.id)

    say(
        session,
        user,
        started.id,
        "Buenos días. Un café con leche.",
        practice=service.Practice(review_cards=False),
    )

    assert len(service.list_mistakes(session, user).items) == 2
    assert review_service.list_cards(session, user).items == []


# Reading practice


def test_reading_a_text_goes_through_its_sentences(session: Session, user: Principal) -> None:
    text = dialogs.text(session)

    started = service.start_session(session, user, data=TutorSessionCreate(text_id=text.id))
    sentences = ["En mi barrio hay un café pequeño.", "Se llama El Rincón.", "¡Es muy bueno!"]
    results = [say(session, user, started.id, sentence).result for sentence in sentences]

    assert (started.kind, started.replies, started.lines_total) == (
        TutorSessionKind.READING,
        [],
        3,
    )
    assert started.expected is not None
    assert (started.expected.text, started.expected.role) == (sentences[0], None)
    assert results[-1].session.completed_at is not None
    assert text.sentence_count == 3


def test_an_archived_text_is_refused(session: Session, user: Principal) -> None:
    text = dialogs.text(session)
    service.start_session(session, user, data=TutorSessionCreate(text_id=text.id))
    service.delete_text(session, STAFF, text.id)

    with pytest.raises(TextArchived):
        service.start_session(session, user, data=TutorSessionCreate(text_id=text.id))


def test_sentences_are_split_after_their_end_and_long_ones_cut() -> None:
    long = " ".join(["palabra"] * 300) + "."

    assert service.sentences("Hola. ¿Qué tal?  Bien…  ¡Vale!") == [
        "Hola.",
        "¿Qué tal?",
        "Bien…",
        "¡Vale!",
    ]
    assert all(len(piece) <= 1000 for piece in service.sentences(long))
    assert " ".join(service.sentences(long)) == long


# The story's queries


def test_a_users_sessions_newest_first_by_kind(session: Session, user: Principal) -> None:
    cafe = dialogs.cafe(session)
    text = dialogs.text(session)
    first = start(session, user, cafe.id).id
    reading = service.start_session(session, user, data=TutorSessionCreate(text_id=text.id)).id
    last = start(session, user, cafe.id, role="Carlos").id

    roleplay = service.list_sessions(session, user, kind=TutorSessionKind.ROLEPLAY, limit=1)
    rest = service.list_sessions(
        session, user, kind=TutorSessionKind.ROLEPLAY, cursor=roleplay.next_cursor
    )

    assert [s.id for s in [*roleplay.items, *rest.items]] == [last, first]
    assert [s.id for s in service.list_sessions(session, user).items] == [last, reading, first]
    assert [
        s.id for s in service.list_sessions(session, user, kind=TutorSessionKind.READING).items
    ] == [reading]


def test_practised_before_counts_completed_sessions_with_the_best_score(
    session: Session, user: Principal, other_user: Principal
) -> None:
    short = dialogs.dialog(session)

    never = service.dialog_practice(session, user, short.id)
    first = start(session, user, short.id, role="Ana")
    say(session, user, first.id, "Hola, ¿qué tal?")
    say(session, user, first.id, "Un té, por favor, gracias.")
    say(session, user, first.id, "Un té, por favor.")
    start(session, user, short.id, role="Ana")  # begun, not completed
    record = service.dialog_practice(session, user, short.id)

    assert (never.practised_before, never.sessions, never.best_score) == (False, 0, None)
    assert (record.practised_before, record.sessions, record.completed_sessions) == (True, 2, 1)
    assert record.best_score == 100
    assert not service.dialog_practice(session, other_user, short.id).practised_before


def test_suggestions_are_the_dialogs_practised_least_at_the_learners_level(
    session: Session, user: Principal
) -> None:
    practised = dialogs.dialog(session, dialogs.short_body(key="a", title="A"))
    untouched = dialogs.dialog(session, dialogs.short_body(key="b", title="B"))
    dialogs.dialog(session, dialogs.short_body(key="c", title="C", level="B1"))
    dialogs.dialog(session, dialogs.short_body(key="d", title="D", status="draft"))
    start(session, user, practised.id, role="Ana")

    suggested = service.suggest_dialogs(session, user)

    assert suggested.level is CefrLevel.A1  # the level of the latest session
    assert [(s.dialog.id, s.sessions) for s in suggested.items] == [
        (untouched.id, 0),
        (practised.id, 1),
    ]
    at_b1 = service.suggest_dialogs(session, user, level=CefrLevel.B1)
    assert [s.dialog.key for s in at_b1.items] == ["c"]
    assert service.suggest_dialogs(session, user, language="fr").items == []


def test_staff_read_a_dialogs_sessions_with_each_learners_email(session: Session) -> None:
    cafe = dialogs.cafe(session)
    maria = factories.user(session, email="maria@example.com")
    carlos = factories.user(session, email="carlos@example.com")
    start(session, maria, cafe.id)
    start(session, carlos, cafe.id, role="Carlos")

    page = service.dialog_sessions_for_staff(session, STAFF, cafe.id)

    assert [(s.user_email, s.selected_role) for s in page.items] == [
        ("carlos@example.com", "Carlos"),
        ("maria@example.com", "María"),
    ]
    with pytest.raises(Forbidden):
        service.dialog_sessions_for_staff(session, maria, cafe.id)


def test_the_export_holds_sessions_turns_and_mistakes(session: Session, user: Principal) -> None:
    cafe = dialogs.cafe(session)
    started = start(session, user, cafe.id)
    say(session, user, started.id, "Buenos días. Un café con leche.")

    exported = service.export_tutoring(session, user)

    assert [s.id for s in exported.sessions] == [started.id]
    assert [t.said for t in exported.turns] == ["Buenos días. Un café con leche."]
    assert {m.word for m in exported.word_mistakes} == {"por", "favor"}


def test_a_changed_text_refuses_the_turns_of_sessions_begun_before(
    session: Session, user: Principal
) -> None:
    text = dialogs.text(session)
    started = service.start_session(session, user, data=TutorSessionCreate(text_id=text.id))
    service.update_text(session, STAFF, text.id, data=LibraryTextUpdate(body="Otra frase."))

    with pytest.raises(DialogChanged, match="El café de la esquina"):
        say(session, user, started.id, "En mi barrio hay un café pequeño.")
