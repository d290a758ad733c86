"""Onboarding sessions in the store: started once, resumed where they were left,
answered and moved only by legal transitions, completed once, upgraded to a new flow
version mid-session, and repaired when what is stored no longer fits (both databases)."""

import uuid
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from convobase.conversations import service as conversation_service
from convobase.core.errors import PreconditionRequired
from convobase.core.principal import Principal
from convobase.onboarding import service
from convobase.onboarding.errors import (
    AnswersInvalid,
    OnboardingCompleted,
    OnboardingIncomplete,
    SessionChanged,
    TransitionNotAllowed,
)
from convobase.onboarding.flow import FlowCatalog, default_catalog
from convobase.onboarding.models import OnboardingEvent, OnboardingSession
from convobase.users import service as user_service
from tests import factories
from tests.factories import RUNNING_ANSWERS, answer

VERSION_1 = FlowCatalog([flow for flow in default_catalog() if flow.version == 1])


def events(session: Session, session_id: uuid.UUID) -> list[OnboardingEvent]:
    statement = (
        select(OnboardingEvent)
        .where(OnboardingEvent.session_id == session_id)
        .order_by(OnboardingEvent.session_version, OnboardingEvent.created_at)
    )
    return list(session.scalars(statement))


def latest(session: Session, session_id: uuid.UUID, kind: str) -> OnboardingEvent:
    return [event for event in events(session, session_id) if event.kind == kind][-1]


def kinds(session: Session, session_id: uuid.UUID) -> list[str]:
    return [event.kind for event in events(session, session_id)]


def store(session: Session, session_id: uuid.UUID, **values: Any) -> None:
    """Change a stored session behind the service's back, as damage or an old release would."""
    statement = update(OnboardingSession).where(OnboardingSession.id == session_id)
    session.execute(statement.values(**values).execution_options(synchronize_session=False))
    session.expire_all()


# --- starting and resuming -----------------------------------------------------------


def test_a_new_user_starts_the_default_flow_at_its_first_phase(
    session: Session, user: Principal
) -> None:
    view = service.current(session, user)

    assert (view.flow, view.flow_version, view.status) == ("running-coach", 2, "active")
    assert (view.phase.key, view.progress, view.version) == ("goal", 0, 1)
    assert view.phase.answers_schema["required"] == ["distance", "has_race"]
    assert (view.next_phase, view.previous_phase) == ("experience", None)
    assert view.etag == f'"{view.id}.1"'
    assert view.conversation_id is not None
    conversation = conversation_service.get_conversation(session, user, view.conversation_id)
    assert conversation.kind == "onboarding"
    assert kinds(session, view.id) == ["started", "phase_entered"]


def test_reading_again_resumes_where_the_user_left_off(session: Session, user: Principal) -> None:
    left = factories.onboarding(session, user, up_to="schedule")

    again = service.current(session, user)
    peeked = service.peek(session, user)

    assert (again.id, again.phase.key, again.version) == (left.id, "schedule", left.version)
    assert again.answers == left.answers
    assert peeked == again


def test_a_signed_in_user_has_one_active_session_at_a_time(
    session: Session, user: Principal
) -> None:
    first = service.current(session, user)
    assert service.current(session, user).id == first.id

    duplicate = OnboardingSession(
        id=uuid.uuid4(),
        user_id=user.user_id,
        flow_key="running-coach",
        flow_version=2,
        current_phase="goal",
        status="active",
        version=1,
        last_activity_at=first.last_activity_at,
    )
    session.add(duplicate)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.flush()


def test_a_deleted_onboarding_conversation_is_replaced(session: Session, user: Principal) -> None:
    view = factories.onboarding(session, user, up_to="experience")
    assert view.conversation_id is not None
    conversation_service.delete_conversation(session, user, view.conversation_id)

    assert service.peek(session, user) is None
    again = service.current(session, user)

    assert again.conversation_id not in (None, view.conversation_id)
    assert (again.id, again.phase.key, again.answers) == (view.id, "experience", view.answers)


# --- answers and transitions ----------------------------------------------------------


def test_saved_answers_merge_as_a_json_merge_patch(session: Session, user: Principal) -> None:
    view = service.current(session, user)
    view = answer(session, user, view, {"distance": "10K", "has_race": True, "statement": "PB"})

    view = answer(session, user, view, {"distance": "marathon", "statement": None})

    assert view.answers["goal"] == {"distance": "marathon", "has_race": True}
    assert view.version == 3
    assert kinds(session, view.id)[-2:] == ["answers_saved", "answers_saved"]


def test_answers_that_do_not_fit_name_each_bad_field(session: Session, user: Principal) -> None:
    view = service.current(session, user)

    with pytest.raises(AnswersInvalid) as refused:
        answer(session, user, view, {"distance": "6K", "has_race": "yes", "shoe": "x"})

    problem = refused.value.extensions["errors"]
    assert [(error["loc"], error["type"]) for error in problem] == [
        (["body", "distance"], "enum"),
        (["body", "has_race"], "type"),
        (["body", "shoe"], "extra_forbidden"),
    ]
    assert service.current(session, user).version == view.version  # nothing written


def test_saving_the_same_answers_again_changes_nothing(session: Session, user: Principal) -> None:
    view = answer(session, user, service.current(session, user), {"distance": "5K"})

    again = answer(session, user, view, {"distance": "5K"})

    assert (again.version, again.etag) == (view.version, view.etag)


def test_a_required_phase_cannot_be_passed_without_its_answers(
    session: Session, user: Principal
) -> None:
    view = answer(session, user, service.current(session, user), {"distance": "5K"})

    with pytest.raises(AnswersInvalid) as refused:
        service.advance(session, user, if_match=view.etag)

    assert [error["loc"] for error in refused.value.extensions["errors"]] == [
        ["answers", "goal", "has_race"]
    ]
    assert service.current(session, user).phase.key == "goal"


def test_an_optional_phase_can_be_passed_empty(session: Session, user: Principal) -> None:
    view = factories.onboarding(session, user, up_to="recent_races")

    view = service.advance(session, user, if_match=view.etag)

    assert view.phase.key == "schedule"
    assert view.answers["recent_races"] == {}


def test_a_phase_the_answers_skip_is_passed_over_both_ways(
    session: Session, user: Principal
) -> None:
    view = service.current(session, user)
    view = answer(session, user, view, {"distance": "general fitness", "has_race": False})
    view = service.advance(session, user, if_match=view.etag)
    view = answer(session, user, view, RUNNING_ANSWERS["experience"])

    forward = service.advance(session, user, if_match=view.etag)
    backward = service.back(session, user, if_match=forward.etag)

    assert forward.phase.key == "recent_races"
    assert backward.phase.key == "experience"
    states = {phase.key: phase.state for phase in backward.phases}
    assert states["target_race"] == "skipped"


def test_going_back_keeps_answers_and_advancing_returns_to_the_first_phase_not_done(
    session: Session, user: Principal
) -> None:
    view = factories.onboarding(session, user, up_to="schedule")
    view = answer(session, user, view, {"runs_per_week": 5})
    while view.previous_phase is not None:
        view = service.back(session, user, if_match=view.etag)
    assert view.phase.key == "goal"

    view = service.advance(session, user, if_match=view.etag)

    assert view.phase.key == "schedule"
    assert view.answers["schedule"] == {"runs_per_week": 5}


def test_there_is_no_going_back_from_the_first_phase_nor_advancing_from_the_last(
    session: Session, user: Principal
) -> None:
    first = service.current(session, user)
    with pytest.raises(TransitionNotAllowed, match="first phase"):
        service.back(session, user, if_match=first.etag)

    last = factories.onboarding(session, user, up_to="preferences")
    last = answer(session, user, last, RUNNING_ANSWERS["preferences"])
    with pytest.raises(TransitionNotAllowed, match="last phase"):
        service.advance(session, user, if_match=last.etag)


def test_progress_counts_the_phases_done_of_those_that_apply(
    session: Session, user: Principal
) -> None:
    assert service.current(session, user).progress == 0

    at_schedule = factories.onboarding(session, user, up_to="schedule")

    assert at_schedule.progress == 4 * 100 // 7  # goal, experience, race, recent races


# --- completing ------------------------------------------------------------------------


def test_completing_sets_goals_profile_and_preferences_once(
    session: Session, user: Principal
) -> None:
    view = factories.onboarding(session, user, up_to="preferences")
    view = answer(session, user, view, RUNNING_ANSWERS["preferences"])

    done = service.complete(session, user, if_match=view.etag)
    again = service.complete(session, user, if_match=view.etag)  # a retry, stale If-Match

    assert (done.status, done.progress, done.can_complete) == ("completed", 100, False)
    assert again == done
    me = user_service.get_user(session, user)
    assert me.goals == ["half marathon"]
    assert me.profile["goal_distance"] == "half marathon"
    assert me.profile["target_time"] == "1:55:00"
    assert me.profile["recent_races"] == [{"distance": "10K", "time": "0:52:30"}]
    assert me.preferences["units"] == "metric"
    assert me.preferences["available_days"] == ["tuesday", "thursday", "sunday"]
    assert kinds(session, done.id).count("completed") == 1


def test_completing_keeps_what_the_user_already_had(session: Session, user: Principal) -> None:
    factories_user = user_service.get_user(session, user)
    factories_user.goals = ["sleep better", "half marathon"]
    factories_user.profile = {"name": "María"}
    view = factories.onboarding(session, user, up_to="preferences")
    view = answer(session, user, view, RUNNING_ANSWERS["preferences"])

    service.complete(session, user, if_match=view.etag)

    me = user_service.get_user(session, user)
    assert me.goals == ["sleep better", "half marathon"]
    assert me.profile["name"] == "María"


def test_completing_needs_every_required_answer(session: Session, user: Principal) -> None:
    view = factories.onboarding(session, user, up_to="schedule")

    with pytest.raises(OnboardingIncomplete) as refused:
        service.complete(session, user, if_match=view.etag)

    assert [error["loc"] for error in refused.value.extensions["errors"]] == [
        ["answers", "schedule", "available_days"],
        ["answers", "schedule", "runs_per_week"],
        ["answers", "preferences", "units"],
    ]


def test_a_completed_onboarding_can_no_longer_change(session: Session, user: Principal) -> None:
    view = factories.onboarding(session, user, up_to="preferences")
    view = answer(session, user, view, RUNNING_ANSWERS["preferences"])
    done = service.complete(session, user, if_match=view.etag)

    for write in (service.advance, service.back):
        with pytest.raises(OnboardingCompleted):
            write(session, user, if_match=done.etag)
    with pytest.raises(OnboardingCompleted):
        service.save_answers(session, user, patch={"units": "imperial"}, if_match=done.etag)
    assert service.current(session, user) == done


# --- If-Match --------------------------------------------------------------------------


def test_two_devices_with_one_version_get_one_412(session: Session, user: Principal) -> None:
    read_by_both = service.current(session, user)

    phone = answer(session, user, read_by_both, {"distance": "10K"})
    with pytest.raises(SessionChanged):
        answer(session, user, read_by_both, {"distance": "marathon"})

    assert service.current(session, user).answers["goal"] == {"distance": "10K"}
    assert service.current(session, user).version == phone.version


def test_a_write_must_name_the_version_it_changes(session: Session, user: Principal) -> None:
    view = service.current(session, user)

    for if_match in (None, "*"):
        with pytest.raises(PreconditionRequired):
            service.advance(session, user, if_match=if_match)
    with pytest.raises(SessionChanged):
        service.advance(session, user, if_match=f"W/{view.etag}")  # weak tags never match
    listed = service.save_answers(
        session, user, patch={"distance": "5K"}, if_match=f'"other", {view.etag}'
    )
    assert listed.answers["goal"] == {"distance": "5K"}


# --- a new flow version ----------------------------------------------------------------


def test_a_flow_upgrade_mid_session_resumes_at_the_right_phase_with_the_answers_kept(
    session: Session, user: Principal
) -> None:
    old = factories.onboarding(session, user, up_to="schedule", catalog=VERSION_1)
    old = answer(session, user, old, {"runs_per_week": 4}, catalog=VERSION_1)
    assert (old.flow_version, old.phase.key) == (1, "schedule")

    upgraded = service.current(session, user)

    # Version 2 asks something new before: that comes first, and nothing is lost.
    assert (upgraded.id, upgraded.flow_version, upgraded.phase.key) == (old.id, 2, "experience")
    assert upgraded.answers == {
        "goal": RUNNING_ANSWERS["goal"],
        "target_race": RUNNING_ANSWERS["target_race"],
        "recent_races": RUNNING_ANSWERS["recent_races"],
        "schedule": {"runs_per_week": 4},
    }
    upgrade = latest(session, old.id, "upgraded")
    assert upgrade.flow_version == 2
    assert upgrade.data["original"]["flow"] == "running-coach@1"
    assert upgrade.data["original"]["answers"]["race"]["target_time"] == "1:55:00"
    # Answering it leads straight back to where the user was.
    view = answer(session, user, upgraded, RUNNING_ANSWERS["experience"])
    assert service.advance(session, user, if_match=view.etag).phase.key == "schedule"


def test_a_write_holding_the_version_before_an_upgrade_is_told_to_read_again(
    session: Session, user: Principal
) -> None:
    old = factories.onboarding(session, user, up_to="schedule", catalog=VERSION_1)

    with pytest.raises(SessionChanged, match="read again"):
        answer(session, user, old, {"runs_per_week": 4})


def test_a_completed_onboarding_keeps_the_flow_version_it_was_completed_in(
    session: Session, user: Principal
) -> None:
    view = factories.onboarding(session, user, up_to="units", catalog=VERSION_1)
    view = answer(session, user, view, RUNNING_ANSWERS["units"], catalog=VERSION_1)
    service.complete(session, user, if_match=view.etag, catalog=VERSION_1)

    later = service.current(session, user)

    assert (later.flow_version, later.status, later.phase.key) == (1, "completed", "units")


# --- recovery --------------------------------------------------------------------------


def small_flow(version: int, phases: list[str]) -> dict[str, Any]:
    """A flow whose phases each ask one required question, `value`."""
    schema = {
        "type": "object",
        "required": ["value"],
        "properties": {"value": {"type": "string", "maxLength": 20}},
    }
    return {
        "key": "small",
        "version": version,
        "title": "Small",
        "phases": [{"key": k, "title": k, "required": True, "schema": schema} for k in phases],
    }


def test_a_phase_a_flow_update_removed_without_a_mapping_is_repaired(
    session: Session, user: Principal
) -> None:
    before = FlowCatalog.from_documents([small_flow(1, ["a", "b", "c"])], default="small")
    after = FlowCatalog.from_documents(
        [small_flow(1, ["a", "b", "c"]), small_flow(2, ["a", "c"])], default="small"
    )
    view = service.current(session, user, catalog=before)
    view = answer(session, user, view, {"value": "x"}, catalog=before)
    view = service.advance(session, user, if_match=view.etag, catalog=before)
    view = answer(session, user, view, {"value": "half"}, catalog=before)
    assert view.phase.key == "b"

    repaired = service.current(session, user, catalog=after)

    assert (repaired.id, repaired.flow_version, repaired.phase.key) == (view.id, 2, "c")
    assert repaired.answers == {"a": {"value": "x"}}
    event = latest(session, view.id, "repaired")
    assert event.data["reasons"] == ["phases_unknown", "phase_unknown"]
    assert event.data["original"]["answers"]["b"] == {"value": "half"}


def test_a_stored_phase_the_flow_does_not_have_resumes_at_the_earliest_phase_not_done(
    session: Session, user: Principal
) -> None:
    view = factories.onboarding(session, user, up_to="recent_races")
    store(session, view.id, current_phase="cadence")  # a phase no version has

    repaired = service.current(session, user)

    assert (repaired.id, repaired.phase.key) == (view.id, "recent_races")
    assert repaired.answers == view.answers
    event = latest(session, view.id, "repaired")
    assert event.data["reasons"] == ["phase_unknown"]
    assert event.data["original"]["phase"] == "cadence"


def test_answers_that_fail_the_current_schema_resume_at_the_earliest_invalid_phase(
    session: Session, user: Principal
) -> None:
    view = factories.onboarding(session, user, up_to="schedule")
    broken = {**view.answers, "experience": {"years_running": "three"}}
    store(session, view.id, answers=broken)

    repaired = service.current(session, user)

    assert repaired.phase.key == "experience"
    assert repaired.answers["experience"] == {}
    assert repaired.answers["goal"] == view.answers["goal"]
    event = latest(session, view.id, "repaired")
    assert event.data["reasons"] == ["answers_invalid", "earlier_phase_undone"]
    assert event.data["original"]["answers"]["experience"] == {"years_running": "three"}


@pytest.mark.parametrize("damage", ["[1, 2]", '"garbage"', '{"goal": 7}'])
def test_answers_of_the_wrong_shape_are_rebuilt_from_the_event_log(
    session: Session, user: Principal, damage: str
) -> None:
    view = factories.onboarding(session, user, up_to="schedule")
    view = answer(session, user, view, {"runs_per_week": 3})
    store_json(session, view.id, damage)

    repaired = service.current(session, user)

    assert (repaired.id, repaired.phase.key) == (view.id, "schedule")
    assert repaired.answers == view.answers
    reasons = latest(session, view.id, "repaired").data["reasons"]
    assert reasons[:2] == ["answers_unreadable", "answers_rebuilt"]


# jsonb holds only JSON: PostgreSQL refuses such damage when it is written.
@pytest.mark.parametrize("template_database", ["sqlite"], indirect=True)
def test_answers_that_are_not_json_at_all_resume_instead_of_failing(
    session: Session, user: Principal
) -> None:
    view = factories.onboarding(session, user, up_to="experience")
    session.execute(
        text('UPDATE onboarding_sessions SET answers = \'{"goal": {"dist\' WHERE id = :id'),
        {"id": view.id.hex},
    )
    session.expire_all()

    assert service.peek(session, user) is None  # reading alone cannot mend it
    repaired = service.current(session, user)

    assert (repaired.phase.key, repaired.answers) == ("experience", view.answers)
    event = latest(session, view.id, "repaired")
    assert event.data["original"]["answers"] == '{"goal": {"dist'


def test_a_session_whose_log_was_purged_too_resumes_at_the_earliest_phase_not_done(
    session: Session, user: Principal
) -> None:
    view = factories.onboarding(session, user, up_to="schedule")
    session.execute(
        update(OnboardingEvent).where(OnboardingEvent.session_id == view.id).values(data={})
    )
    store_json(session, view.id, "[]")

    repaired = service.current(session, user)

    assert (repaired.id, repaired.phase.key, repaired.answers) == (view.id, "goal", {})


def test_a_flow_version_no_longer_shipped_gives_way_to_the_latest(
    session: Session, user: Principal
) -> None:
    view = factories.onboarding(session, user, up_to="schedule")
    store(session, view.id, flow_version=9)

    repaired = service.current(session, user)

    assert (repaired.flow_version, repaired.phase.key) == (2, "schedule")
    assert latest(session, view.id, "repaired").data["reasons"] == ["flow_version_unknown"]


def store_json(session: Session, session_id: uuid.UUID, document: str) -> None:
    """Store the JSON text `document` as the session's answers, whatever its shape."""
    cast = (
        "CAST(:document AS jsonb)"
        if session.get_bind().dialect.name == "postgresql"
        else ":document"
    )
    identifier: object = session_id if cast.startswith("CAST") else session_id.hex
    session.execute(
        text(f"UPDATE onboarding_sessions SET answers = {cast} WHERE id = :id"),
        {"document": document, "id": identifier},
    )
    session.expire_all()
