"""Revision 0012 on both databases, with data: learners' progress, completions,
attempts and answers go with the revision and come back empty, and the catalog and
the conversations stay; the schema refuses what no learner's row may hold."""

import uuid
from typing import Any

import pytest
from pytest_alembic import MigrationContext
from sqlalchemy import Connection, Engine, MetaData, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from convobase import table_registry
from convobase.core.time import utc_now
from convobase.db.migrations import security
from tests import factories as common
from tests.migrations import conftest as migrations
from tests.migrations.test_history import _dump, _store_a_conversation

# pytest-alembic's runner, on an empty database of each backend, as tests/migrations has it.
alembic_config = migrations.alembic_config
alembic_engine = migrations.alembic_engine

LEARNER_TABLES = ("user_progress", "section_completions", "assessment_attempts", "attempt_answers")
CATALOG_TABLES = ("courses", "course_sections", "assessments", "assessment_versions")


def _catalog(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    metadata = MetaData()
    metadata.reflect(engine, only=list(CATALOG_TABLES))
    with engine.connect() as connection:
        return {
            name: [tuple(row) for row in connection.execute(select(table))]
            for name, table in metadata.tables.items()
        }


def _studied(connection: Connection, user_id: uuid.UUID) -> dict[str, Any]:
    """A course with a section and an assessment, and a learner's rows in each table."""
    tables = table_registry.metadata.tables
    now = utc_now()
    ids = {name: uuid.uuid4() for name in ("course", "section", "assessment", "attempt")}
    connection.execute(
        tables["courses"].insert(),
        {
            "id": ids["course"],
            "key": "poker",
            "title": "Poker",
            "level": "beginner",
            "created_at": now,
            "updated_at": now,
        },
    )
    connection.execute(
        tables["course_sections"].insert(),
        {
            "id": ids["section"],
            "course_id": ids["course"],
            "key": "rules",
            "position": 1,
            "title": "Rules",
            "created_at": now,
            "updated_at": now,
        },
    )
    questions = [{"id": "q", "kind": "true_false", "prompt": "Aces high?", "correct": True}]
    common = {"questions": questions, "scoring_config": {}, "pass_threshold": 70}
    connection.execute(
        tables["assessments"].insert(),
        {
            "id": ids["assessment"],
            "course_id": ids["course"],
            "key": "quiz",
            "title": "Quiz",
            "difficulty": "easy",
            "created_at": now,
            "updated_at": now,
            **common,
        },
    )
    connection.execute(
        tables["assessment_versions"].insert(),
        {"assessment_id": ids["assessment"], "version": 1, "created_at": now, **common},
    )
    connection.execute(
        tables["user_progress"].insert(),
        {
            "id": uuid.uuid4(),
            "user_id": user_id,
            "course_id": ids["course"],
            "completion_rate": 50,
            "next_assessment_id": ids["assessment"],
            "test_scores": {},
            "last_accessed": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    connection.execute(
        tables["section_completions"].insert(),
        {
            "id": uuid.uuid4(),
            "user_id": user_id,
            "course_id": ids["course"],
            "section_id": ids["section"],
            "completed_at": now,
        },
    )
    connection.execute(tables["assessment_attempts"].insert(), _attempt(ids, user_id))
    connection.execute(
        tables["attempt_answers"].insert(),
        {
            "attempt_id": ids["attempt"],
            "question_id": "q",
            "user_id": user_id,
            "answer": True,
            "saved_at": now,
        },
    )
    return ids


def _attempt(ids: dict[str, uuid.UUID], user_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
    return {
        "id": ids["attempt"],
        "user_id": user_id,
        "assessment_id": ids["assessment"],
        "assessment_version": 1,
        "course_id": ids["course"],
        "attempt_number": 1,
        "status": "in_progress",
        "started_at": utc_now(),
        **fields,
    }


def test_learners_rows_go_with_their_revision_and_leave_the_catalog(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("heads")
    user_id = _store_a_conversation(alembic_engine)
    with alembic_engine.begin() as connection:
        _studied(connection, user_id)
    before, catalog = _dump(alembic_engine), _catalog(alembic_engine)

    alembic_runner.migrate_down_to("0011")
    with alembic_engine.connect() as connection:
        left = set(inspect(connection).get_table_names())
    assert not left & set(LEARNER_TABLES)
    assert (_dump(alembic_engine), _catalog(alembic_engine)) == (before, catalog)
    alembic_runner.migrate_up_to("heads")

    assert (_dump(alembic_engine), _catalog(alembic_engine)) == (before, catalog)
    with alembic_engine.connect() as connection:
        for table in LEARNER_TABLES:
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"attempt_number": 0},
        {"status": "graded"},
        {"status": "submitted", "closed_by": "learner"},  # submitted without a grade
        {"closed_by": "learner"},  # closed by someone while still in progress
        {"assessment_version": 2},  # a version the assessment does not have
        {"score": 101, "status": "submitted"},
        {"client_attempt_id": ""},
    ],
    ids=lambda fields: ",".join(fields),
)
def test_the_schema_refuses_an_attempt_no_learner_may_have(
    session: Session, fields: dict[str, Any]
) -> None:
    user_id = common.user(session).user_id
    assert user_id is not None
    ids = _studied(session.connection(), user_id)
    ids["attempt"] = uuid.uuid4()
    attempts = table_registry.metadata.tables["assessment_attempts"]

    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            attempts.insert(), _attempt(ids, user_id, **{"attempt_number": 2, **fields})
        )


def test_the_downgrade_takes_row_level_security_off_each_table_as_0010s_does(
    alembic_runner: MigrationContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    alembic_runner.migrate_up_to("0012")
    unprotected: list[tuple[str, bool]] = []
    unprotect = security.unprotect_user_table

    def recorded(table: str, *, staff_access: bool) -> None:
        unprotected.append((table, staff_access))
        unprotect(table, staff_access=staff_access)

    monkeypatch.setattr(security, "unprotect_user_table", recorded)

    alembic_runner.migrate_down_to("0011")

    assert sorted(unprotected) == sorted((table, True) for table in LEARNER_TABLES)
