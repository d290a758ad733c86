"""Revision 0010 on both databases, with data: review cards and their history go with
the revision and come back empty, and the conversations stay."""

import uuid

from pytest_alembic import MigrationContext
from sqlalchemy import Engine, inspect, text

from convobase import table_registry
from convobase.core.time import utc_now
from tests.migrations import conftest as migrations
from tests.migrations.test_history import _dump, _store_a_conversation

# pytest-alembic's runner, on an empty database of each backend, as tests/migrations has it.
alembic_config = migrations.alembic_config
alembic_engine = migrations.alembic_engine


def test_review_cards_go_with_their_revision_and_leave_the_conversations(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("heads")
    user_id = _store_a_conversation(alembic_engine)
    tables = table_registry.metadata.tables
    now = utc_now()
    card_id = uuid.uuid4()
    with alembic_engine.begin() as connection:
        connection.execute(
            tables["review_cards"].insert(),
            {
                "id": card_id,
                "user_id": user_id,
                "source_kind": "assessment_question",
                "source_key": f"{uuid.uuid4()}:q1",
                "prompt": "¿Fui o iba?",
                "context": {"choices": ["fui", "iba"]},
                "state": "review",
                "step": None,
                "stability": 8.2956,
                "difficulty": 1.0,
                "due_at": now,
                "last_reviewed_at": now,
                "created_at": now,
                "updated_at": now,
            },
        )
        connection.execute(
            tables["review_logs"].insert(),
            {
                "id": uuid.uuid4(),
                "user_id": user_id,
                "card_id": card_id,
                "client_review_id": "tap-1",
                "rating": 4,
                "reviewed_at": now,
                "review_duration_ms": 2500,
                "state": "review",
                "step": None,
                "stability": 8.2956,
                "difficulty": 1.0,
                "due_at": now,
            },
        )
    before = _dump(alembic_engine)

    alembic_runner.migrate_down_to("0009")
    assert _dump(alembic_engine) == before
    with alembic_engine.connect() as connection:
        left = set(inspect(connection).get_table_names())
    assert not left & {"review_cards", "review_logs"}
    alembic_runner.migrate_up_to("heads")

    assert _dump(alembic_engine) == before
    with alembic_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM review_cards")).scalar_one() == 0
        assert connection.execute(text("SELECT count(*) FROM review_logs")).scalar_one() == 0
