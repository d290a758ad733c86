"""The clean-up: sessions idle for the configured days are marked abandoned (and resumed
when their user comes back), abandoned answers are purged after the retention, and a
worker runs it hourly as staff, logging what it did (both databases)."""

import logging
import uuid
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from convobase import bootstrap
from convobase.core.errors import Forbidden
from convobase.core.principal import Principal
from convobase.core.time import utc_now
from convobase.db.session import Database
from convobase.onboarding import service
from convobase.onboarding.models import OnboardingEvent, OnboardingSession
from tests import factories
from tests.api import JWT_SECRET
from tests.databases import LiveDatabase

STAFF = Principal.staff()
DAYS = timedelta(days=1)


def idle_since(session: Session, session_id: uuid.UUID, days: int) -> None:
    statement = update(OnboardingSession).where(OnboardingSession.id == session_id)
    session.execute(statement.values(last_activity_at=utc_now() - days * DAYS))
    session.expire_all()


def row(session: Session, session_id: uuid.UUID) -> OnboardingSession:
    return session.get_one(OnboardingSession, session_id, populate_existing=True)


def event_data(session: Session, session_id: uuid.UUID) -> dict[str, list[object]]:
    statement = select(OnboardingEvent).where(OnboardingEvent.session_id == session_id)
    found: dict[str, list[object]] = {}
    for event in session.scalars(statement.execution_options(populate_existing=True)):
        found.setdefault(event.kind, []).append(event.data)
    return found


def test_a_session_idle_for_the_configured_days_is_marked_abandoned(
    session: Session, user: Principal, other_user: Principal
) -> None:
    idle = factories.onboarding(session, user, up_to="schedule")
    busy = factories.onboarding(session, other_user)
    idle_since(session, idle.id, 31)

    abandoned = service.abandon_idle(session, STAFF, idle_before=utc_now() - 30 * DAYS)

    assert abandoned == 1
    assert (row(session, idle.id).status, row(session, busy.id).status) == ("abandoned", "active")
    assert event_data(session, idle.id)["abandoned"] == [{}]
    ended = session.scalars(
        select(OnboardingEvent.phase).where(
            OnboardingEvent.session_id == idle.id, OnboardingEvent.kind == "abandoned"
        )
    ).one()
    assert ended == "schedule"


def test_a_user_who_comes_back_resumes_their_abandoned_session(
    session: Session, user: Principal
) -> None:
    left = factories.onboarding(session, user, up_to="schedule")
    idle_since(session, left.id, 31)
    service.abandon_idle(session, STAFF, idle_before=utc_now() - 30 * DAYS)

    back = service.current(session, user)

    assert (back.id, back.status, back.phase.key) == (left.id, "active", "schedule")
    assert back.answers == left.answers
    assert "resumed" in event_data(session, left.id)


def test_abandoned_answers_are_purged_after_the_retention(
    session: Session, user: Principal
) -> None:
    left = factories.onboarding(session, user, up_to="schedule")
    idle_since(session, left.id, 200)
    service.abandon_idle(session, STAFF, idle_before=utc_now() - 30 * DAYS)

    kept = service.purge_abandoned(session, STAFF, abandoned_before=utc_now() - 90 * DAYS)
    purged = service.purge_abandoned(session, STAFF, abandoned_before=utc_now() + DAYS)

    assert (kept, purged) == (0, 1)
    stored = row(session, left.id)
    assert (stored.answers, stored.goals, stored.answers_purged_at is not None) == ({}, [], True)
    data = event_data(session, left.id)
    assert data["answers_saved"] == [{}] * len(data["answers_saved"])
    assert data["phase_completed"] == [{}] * 4
    assert data["started"] == [{}]
    assert len(data["phase_entered"]) == 5  # the funnel's counts stay
    # A user who comes back after that starts afresh.
    again = service.current(session, user)
    assert again.id != left.id
    assert (again.phase.key, again.answers) == ("goal", {})


def test_only_staff_clean_up(session: Session, user: Principal) -> None:
    with pytest.raises(Forbidden, match="Only staff"):
        service.abandon_idle(session, user, idle_before=utc_now())


def test_a_worker_cleans_up_hourly_as_staff_and_logs_the_counts(
    committing_database: LiveDatabase, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with database.transaction(STAFF) as session:
        user = factories.user(session)
    with database.transaction(user) as session:
        left = factories.onboarding(session, user, up_to="experience")
        idle_since(session, left.id, 31)
    settings = committing_database.settings.model_copy(
        update={"jwt_secret": SecretStr(JWT_SECRET), "onboarding_abandon_days": 30}
    )
    container = bootstrap.build(settings, database=database)

    with caplog.at_level(logging.INFO, logger="convobase.onboarding"):
        bootstrap.worker(container).run_until_idle()

    assert "onboarding clean-up: 1 sessions marked abandoned, 0 purged" in caplog.messages
    with database.transaction(user) as session:
        back = service.current(session, user)
    assert (back.id, back.phase.key) == (left.id, "experience")
