"""`convobase seed base` and `convobase seed test` on both databases: what they create,
and that seeding again creates only what is missing, so a second run changes nothing."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, column, func, inspect, select, table
from typer.testing import CliRunner

from convobase import seeding
from convobase.account import service as account_service
from convobase.analysis.models import AnalysisResult
from convobase.cli import app
from convobase.conversations.models import Conversation
from convobase.db.session import Database
from convobase.learning.models import AssessmentAttempt
from convobase.onboarding.models import OnboardingSession
from convobase.reviews.models import ReviewCard
from convobase.safety.models import CrisisEvent
from convobase.tutoring.models import TutorSession
from convobase.users.models import User
from tests.databases import LiveDatabase

runner = CliRunner()

NOTHING_CREATED = (
    "Demo personas and courses present: nothing created.\nTest data present: nothing created.\n"
)


@pytest.fixture
def cli_database(committing_database: LiveDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database of the test's own, on each backend, as the command line finds it."""
    monkeypatch.setenv("CONVOBASE_DATABASE_URL", committing_database.settings.database_url)
    monkeypatch.setenv("CONVOBASE_JWT_SECRET", "a development secret of at least 32 characters")
    monkeypatch.setenv("CONVOBASE_BACKUP_BEFORE_MIGRATE", "false")


def snapshot(engine: Engine) -> dict[str, tuple[Any, ...]]:
    """Every table's row count and the latest of each of its times (created, updated,
    completed, last active ...): what any write would change."""
    schema = inspect(engine)
    taken: dict[str, tuple[Any, ...]] = {}
    with engine.connect() as connection:
        for name in schema.get_table_names():
            times = [
                c["name"]
                for c in schema.get_columns(name)
                if c["name"].endswith("_at") or c["name"] == "last_active"
            ]
            counted: list[Any] = [func.count(), *(func.max(column(t)) for t in times)]
            taken[name] = tuple(connection.execute(select(*counted).select_from(table(name))).one())
    return taken


def rows(engine: Engine, *columns: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(*columns)).all()]


def test_the_operations_guide_lists_the_synthetic_ids() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "operations.md").read_text("utf-8")

    for handle in seeding.USERS:
        assert f"| `{handle}` | `{seeding.user_id(handle)}` |" in guide
    assert f"--sub {seeding.GUEST_SESSION_ID} --role guest" in guide
    assert str(seeding.STAFF.user_id) in guide


def test_seed_lists_base_and_test() -> None:
    result = runner.invoke(app, ["seed", "--help"])

    assert result.exit_code == 0
    assert "base" in result.output
    assert "test" in result.output


def test_seed_base_twice_changes_nothing_the_second_time_and_stores_no_user(
    cli_database: None, committing_database: LiveDatabase
) -> None:
    first = runner.invoke(app, ["seed", "base"])
    after_first = snapshot(committing_database.engine)
    second = runner.invoke(app, ["seed", "base"])

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[-1].startswith("Created ")
    assert second.exit_code == 0, second.output
    assert second.stdout == "Demo personas and courses present: nothing created.\n"
    assert snapshot(committing_database.engine) == after_first
    assert after_first["users"][0] == 0  # no personal data, nor anyone's


def test_plain_seed_is_seed_base(cli_database: None) -> None:
    runner.invoke(app, ["seed", "base"])

    again = runner.invoke(app, ["seed"])

    assert again.exit_code == 0, again.output
    assert again.stdout == "Demo personas and courses present: nothing created.\n"


def test_seed_test_twice_changes_nothing_the_second_time(
    cli_database: None, committing_database: LiveDatabase
) -> None:
    first = runner.invoke(app, ["seed", "test"])
    after_first = snapshot(committing_database.engine)
    second = runner.invoke(app, ["seed", "test"])

    assert first.exit_code == 0, first.output
    assert "Created test data: user stage-1-learner (stage 1)," in first.stdout
    assert "Already present" not in first.stdout
    assert "Skipped" not in first.stdout
    assert second.exit_code == 0, second.output
    assert second.stdout == NOTHING_CREATED
    assert snapshot(committing_database.engine) == after_first


def test_seed_test_writes_every_scenario_through_the_services(
    cli_database: None, committing_database: LiveDatabase
) -> None:
    result = runner.invoke(app, ["seed", "test"])

    engine = committing_database.engine
    assert result.exit_code == 0, result.output
    users = dict(rows(engine, User.id, User.stage))
    assert {handle: users[seeding.user_id(handle)] for handle in seeding.USERS} == {
        "stage-1-learner": 1,
        "stage-2-learner": 2,
        "stage-3-learner": 3,
        "analysed-learner": 1,
        "crisis-learner": 1,
        "course-learner": 1,
    }
    assert users[seeding.GUEST_SESSION_ID] == 1  # the guest session's anonymous user
    assert sorted(rows(engine, OnboardingSession.user_id, OnboardingSession.status)) == sorted(
        [
            (seeding.user_id("stage-1-learner"), "active"),
            (seeding.user_id("stage-2-learner"), "completed"),
            (seeding.user_id("stage-3-learner"), "completed"),
        ]
    )
    # The guest's chat: two messages, counted against the guest limit, and two replies.
    guest = rows(
        engine,
        Conversation.is_guest_session,
        Conversation.guest_message_count,
        Conversation.last_seq,
    )
    assert (True, 2, 4) in guest
    # Crisis events, recorded by the append path's screening; staff resolved one.
    events = rows(
        engine,
        CrisisEvent.user_id,
        CrisisEvent.category,
        CrisisEvent.severity_level,
        CrisisEvent.resolution_outcome,
    )
    crisis_learner = seeding.user_id("crisis-learner")
    assert sorted(events, key=lambda event: (event[1], event[2])) == [
        (crisis_learner, "abuse", "high", None),
        (crisis_learner, "suicide", "critical", None),
        (crisis_learner, "suicide", "high", "supported"),
        (crisis_learner, "suicide", "moderate", None),
        (crisis_learner, "third_party", "moderate", None),  # a friend at risk
    ]
    # The analysis the 25 habit messages were due for, and its milestone check.
    assert sorted(rows(engine, AnalysisResult.user_id, AnalysisResult.analysis_type)) == [
        (seeding.user_id("analysed-learner"), "chat_scoring"),
        (seeding.user_id("analysed-learner"), "milestone_check"),
    ]
    # Attempts: one submitted with a wrong answer, which is due for review, one open.
    assert sorted(rows(engine, AssessmentAttempt.status, AssessmentAttempt.passed)) == [
        ("in_progress", None),
        ("submitted", True),
    ]
    assert rows(engine, ReviewCard.prompt) == [("A flush beats a straight.",)]
    assert rows(engine, TutorSession.user_id, TutorSession.turns) == [
        (seeding.user_id("course-learner"), 1)
    ]


def test_seed_test_recreates_only_what_was_deleted(
    cli_database: None, committing_database: LiveDatabase, database: Database
) -> None:
    runner.invoke(app, ["seed", "test"])
    crisis_learner = seeding.synthetic_user("crisis-learner")
    with database.transaction(crisis_learner) as session:
        account_service.delete_account(session, crisis_learner)

    again = runner.invoke(app, ["seed", "test"])
    after = snapshot(committing_database.engine)
    third = runner.invoke(app, ["seed", "test"])

    assert again.exit_code == 0, again.output
    base, created, present = again.stdout.splitlines()
    assert base == "Demo personas and courses present: nothing created."
    assert created == (
        "Created test data: user crisis-learner (stage 1), conversation crisis-check-in of "
        "crisis-learner, conversation crisis-late-night of crisis-learner, resolution of the "
        "crisis event of crisis-check-in message 6."
    )
    assert present.startswith("Already present: user stage-1-learner (stage 1), ")
    assert third.stdout == NOTHING_CREATED
    assert snapshot(committing_database.engine) == after
