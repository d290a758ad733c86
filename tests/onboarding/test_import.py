"""Importing a device's onboarding (story 003's IndexedDB records): once per client id,
by the stated conflict rules, with corrupt records quarantined and reported one by one,
and messages stored in the onboarding conversation like any other (both databases)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from convobase.conversations import service as conversation_service
from convobase.conversations.models import Message
from convobase.core.limits import Limits
from convobase.core.principal import Principal
from convobase.onboarding import service
from convobase.onboarding.models import OnboardingEvent, OnboardingSession
from convobase.onboarding.service import ImportResult
from convobase.safety import service as safety_service
from convobase.users import service as user_service
from tests import factories
from tests.factories import RUNNING_ANSWERS, answer

EARLIER = "2026-01-02T09:00:00+00:00"


def device_session(client_session_id: str = "phone-1", **fields: Any) -> dict[str, Any]:
    """A device's session record, at the running coach's schedule phase."""
    return {
        "client_session_id": client_session_id,
        "flow": "running-coach@2",
        "phase": "schedule",
        "status": "active",
        "answers": {
            key: RUNNING_ANSWERS[key]
            for key in ("goal", "experience", "target_race", "recent_races")
        },
        "goals": ["Run without stopping"],
        "context": {"coaching_style": "encouraging"},
        "progress": 57,
        "created_at": "2026-01-01T08:00:00Z",
        "updated_at": EARLIER,
        **fields,
    }


def device_message(
    client_message_id: str, content: str, created_at: str, **fields: Any
) -> dict[str, Any]:
    return {
        "client_message_id": client_message_id,
        "client_session_id": "phone-1",
        "role": "user",
        "content": content,
        "created_at": created_at,
        **fields,
    }


def run_import(
    session: Session,
    user: Principal,
    sessions: list[Any],
    messages: list[Any] | None = None,
    **options: Any,
) -> ImportResult:
    return service.import_device_export(
        session, user, sessions=sessions, messages=messages or [], **options
    )


def outcomes(result: ImportResult) -> tuple[list[str], list[str]]:
    return (
        [report.outcome.value for report in result.sessions],
        [report.outcome.value for report in result.messages],
    )


def stored(session: Session, user: Principal) -> dict[str, Any]:
    """Everything an import could have changed, to compare before and after."""
    assert user.user_id is not None
    rows = session.scalars(
        select(OnboardingSession).where(OnboardingSession.user_id == user.user_id)
    ).all()
    count = select(func.count()).select_from(OnboardingEvent)
    return {
        "sessions": sorted(
            (row.id, row.version, row.current_phase, str(row.answers)) for row in rows
        ),
        "events": session.scalar(count.where(OnboardingEvent.user_id == user.user_id)),
        "messages": session.scalar(
            select(func.count()).select_from(Message).where(Message.user_id == user.user_id)
        ),
    }


def conversation_of(session: Session, user: Principal) -> list[str]:
    view = service.current(session, user)
    assert view.conversation_id is not None
    page = conversation_service.list_messages(session, user, view.conversation_id, after=0)
    return [message.content for message in page.items]


def test_an_export_with_a_duplicate_and_a_corrupt_record_imports_once_record_by_record(
    session: Session, user: Principal
) -> None:
    sessions = [
        device_session(),
        device_session(phase="goal"),  # the same id again
        device_session("phone-2", status="paused", answers='{"goal": {"dist'),  # corrupt
    ]
    messages = [
        device_message("m2", "Four runs a week, please.", "2026-01-02T08:31:00Z"),
        device_message("m1", "I want to run a half marathon.", "2026-01-02T08:30:00Z"),
        device_message("m2", "Four runs a week, please.", "2026-01-02T08:31:00Z"),
        device_message("m3", "", "2026-01-02T08:32:00Z"),
        device_message("m4", "Hello?", "2026-01-02T08:33:00Z", client_session_id="tablet-9"),
    ]

    first = run_import(session, user, sessions, messages)
    after_first = stored(session, user)
    second = run_import(session, user, sessions, messages)

    assert outcomes(first) == (
        ["created", "duplicate", "quarantined"],
        ["appended", "appended", "duplicate", "quarantined", "quarantined"],
    )
    assert first.sessions[2].reason == (
        'does not match OnboardingSession: answers: \'{"goal": {"dist\' is not of type '
        "'object'; status: 'paused' is not one of ['active', 'completed']"
    )
    assert str(first.messages[3].reason).startswith("does not match ConversationMessage: content")
    assert first.messages[4].reason == "no session 'tablet-9' was imported, now or before"
    assert outcomes(second) == (
        ["unchanged", "duplicate", "quarantined"],
        ["unchanged", "unchanged", "duplicate", "quarantined", "quarantined"],
    )
    assert stored(session, user) == after_first
    view = first.onboarding
    assert view is not None
    assert (view.client_session_id, view.phase.key) == ("phone-1", "schedule")
    assert view.context["device_goals"] == ["Run without stopping"]
    # In the order they were written on the device, whatever the export's order.
    assert conversation_of(session, user) == [
        "I want to run a half marathon.",
        "Four runs a week, please.",
    ]
    quarantined = session.scalars(
        select(OnboardingEvent).where(
            OnboardingEvent.user_id == user.user_id, OnboardingEvent.kind == "quarantined"
        )
    ).all()
    assert len(quarantined) == 3


def test_a_completed_server_session_wins_over_the_device(session: Session, user: Principal) -> None:
    view = factories.onboarding(session, user, up_to="preferences")
    view = answer(session, user, view, RUNNING_ANSWERS["preferences"])
    done = service.complete(session, user, if_match=view.etag)
    device = device_session(answers={"goal": {"distance": "marathon", "has_race": False}})

    result = run_import(
        session, user, [device], [device_message("m1", "Hi coach", "2026-01-02T08:30:00Z")]
    )

    assert outcomes(result) == (["kept_server"], ["appended"])
    assert result.sessions[0].reason == "the onboarding is completed on the server"
    assert result.onboarding is not None
    assert result.onboarding.answers == done.answers
    assert user_service.get_user(session, user).profile["goal_distance"] == "half marathon"
    assert conversation_of(session, user) == ["Hi coach"]


def test_the_furthest_phase_wins_and_answers_merge_phase_by_phase(
    session: Session, user: Principal
) -> None:
    server = service.current(session, user)
    server = answer(session, user, server, {"distance": "10K", "has_race": True})
    server = service.advance(session, user, if_match=server.etag)
    # The device got further, but changed the goal earlier than the server did.
    device = device_session(updated_at=EARLIER)

    result = run_import(session, user, [device])

    assert outcomes(result) == (["merged"], [])
    merged = result.onboarding
    assert merged is not None
    assert (merged.id, merged.phase.key) == (server.id, "schedule")
    assert merged.answers["goal"] == {"distance": "10K", "has_race": True}
    assert merged.answers["target_race"] == RUNNING_ANSWERS["target_race"]
    assert merged.answers["experience"] == RUNNING_ANSWERS["experience"]
    assert merged.client_session_id == "phone-1"


def test_a_device_clock_ahead_counts_as_the_time_the_export_arrived(
    session: Session, user: Principal
) -> None:
    server = answer(session, user, service.current(session, user), {"distance": "10K"})
    ahead = "2099-01-01T00:00:00Z"
    device = device_session(created_at=ahead, updated_at=ahead)

    result = run_import(session, user, [device], [device_message("m1", "Hi", ahead)])

    merged = result.onboarding
    assert merged is not None
    # Clamped to the arrival, the device's change is still the later one: it wins.
    assert merged.answers["goal"] == RUNNING_ANSWERS["goal"]
    assert merged.id == server.id
    messages = conversation_service.list_messages(
        session, user, merged.conversation_id or uuid.uuid4()
    )
    imported = messages.items[0].message_metadata["imported"]
    assert datetime.fromisoformat(imported["client_created_at"]) == result.received_at


def test_an_export_imported_again_later_does_not_undo_what_changed_since(
    session: Session, user: Principal
) -> None:
    ahead = "2099-01-01T00:00:00Z"  # clamped to each import's arrival: always "newest"
    export = [device_session(phase="goal", answers={}, updated_at=ahead)]
    run_import(session, user, export)
    view = service.current(session, user)
    view = answer(session, user, view, {"distance": "marathon", "has_race": False})

    again = run_import(session, user, export)

    assert outcomes(again) == (["unchanged"], [])
    assert service.current(session, user).answers["goal"]["distance"] == "marathon"


def test_a_new_session_from_the_device_keeps_when_it_started_unless_that_is_ahead(
    session: Session, user: Principal
) -> None:
    result = run_import(session, user, [device_session(created_at="2099-01-01T00:00:00Z")])

    assert result.onboarding is not None
    assert result.onboarding.created_at == result.received_at


def test_a_dry_run_reports_the_outcome_and_writes_nothing(
    session: Session, user: Principal
) -> None:
    before = stored(session, user)

    result = run_import(
        session,
        user,
        [device_session(), "not a record"],
        [device_message("m1", "Hi", "2026-01-02T08:30:00Z")],
        dry_run=True,
    )

    assert result.dry_run
    assert outcomes(result) == (["created", "quarantined"], ["appended"])
    assert result.onboarding is not None
    assert result.onboarding.phase.key == "schedule"
    assert stored(session, user) == before


def test_an_older_flow_version_on_the_device_is_upgraded_as_it_is_imported(
    session: Session, user: Principal
) -> None:
    device = device_session(
        flow="running-coach@1",
        phase="units",
        answers={"goal": RUNNING_ANSWERS["goal"], "race": RUNNING_ANSWERS["race"]},
    )

    result = run_import(session, user, [device])

    assert result.sessions[0].reason == "upgraded from running-coach@1 to running-coach@2"
    view = result.onboarding
    assert view is not None
    assert (view.flow_version, view.phase.key) == (2, "experience")
    assert view.answers["target_race"] == RUNNING_ANSWERS["target_race"]


def test_a_session_the_device_completed_completes_here_once(
    session: Session, user: Principal
) -> None:
    answers = {
        key: RUNNING_ANSWERS[key]
        for key in ("goal", "experience", "target_race", "schedule", "preferences")
    }
    device = device_session(status="completed", phase="preferences", answers=answers)

    first = run_import(session, user, [device])
    second = run_import(session, user, [device])

    assert outcomes(first)[0] == ["created"]
    assert first.onboarding is not None
    assert first.onboarding.status == "completed"
    assert outcomes(second)[0] == ["unchanged"]
    me = user_service.get_user(session, user)
    assert me.goals == ["half marathon", "Run without stopping"]
    assert me.preferences["coaching_style"] == "supportive"


def test_an_unknown_flow_is_quarantined(session: Session, user: Principal) -> None:
    result = run_import(session, user, [device_session(flow="yoga-coach@1")])

    assert outcomes(result) == (["quarantined"], [])
    assert result.sessions[0].reason == "unknown flow"
    assert result.onboarding is None


def test_imported_messages_are_screened_like_any_message(session: Session, user: Principal) -> None:
    crisis = device_message("m1", "I want to kill myself", "2026-01-02T08:30:00Z")

    result = run_import(session, user, [device_session()], [crisis])

    assert outcomes(result) == (["created"], ["appended"])
    (event,) = safety_service.list_own_events(session, user).items
    assert event.category == "suicide"


def test_the_devices_assistant_messages_need_client_written_replies(
    session: Session, user: Principal
) -> None:
    reply = device_message("m1", "Great goal!", "2026-01-02T08:30:00Z", role="assistant")

    refused = run_import(session, user, [device_session()], [reply])
    allowed = run_import(
        session, user, [device_session()], [reply], limits=Limits(client_written_replies=True)
    )

    assert outcomes(refused)[1] == ["quarantined"]
    assert outcomes(allowed)[1] == ["appended"]
