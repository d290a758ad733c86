"""The migration history: one line, applies and reverts on both databases, matches the
models, and keeps stored conversations through a downgrade and upgrade."""

import re
import uuid
from pathlib import Path
from typing import Any

from pytest_alembic import MigrationContext
from pytest_alembic.tests import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import Engine, MetaData, inspect, select, text

import convobase.db
from convobase import table_registry
from convobase.core.time import utc_now

__all__ = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]

VERSIONS = Path(convobase.db.__file__).parent / "migrations" / "versions"


def test_revision_files_are_named_by_date_and_slug() -> None:
    names = sorted(path.name for path in VERSIONS.glob("*.py") if path.name != "__init__.py")

    assert names
    for name in names:
        assert re.fullmatch(r"\d{4}_\d{2}_\d{2}_\d{4}_[a-z0-9_]+\.py", name), name


def test_stored_conversations_survive_downgrade_and_upgrade(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("heads")
    _store_a_conversation(alembic_engine)
    before = _dump(alembic_engine)

    first_revision = alembic_runner.history.revisions[1]  # [0] is "base"
    alembic_runner.migrate_down_to(first_revision)
    alembic_runner.migrate_up_to("heads")

    assert _dump(alembic_engine) == before
    assert len(before["messages"]) == 3


def _store_a_conversation(engine: Engine, *, user_messages: int = 0) -> uuid.UUID:
    """A user's conversation of three messages, or of `user_messages` user messages;
    written through the models' tables, which describe the schema at head (as at every
    revision since 0003)."""
    tables = table_registry.metadata.tables
    user_id, conversation_id = uuid.uuid4(), uuid.uuid4()
    now = utc_now()
    with engine.begin() as connection:
        connection.execute(
            tables["users"].insert(),
            {
                "id": user_id,
                "email": "maria@example.com",
                "goals": ["fluency"],
                "profile": {"name": "María"},
                "preferences": {},
                "last_active": now,
                "created_at": now,
                "updated_at": now,
            },
        )
        connection.execute(
            tables["conversations"].insert(),
            {
                "id": conversation_id,
                "user_id": user_id,
                "title": "Café con Carlos",
                "context_data": {"level": "A2"},
                "last_seq": user_messages or 3,
                "started_at": now,
                "last_message_at": now,
                "created_at": now,
                "updated_at": now,
            },
        )
        connection.execute(
            tables["messages"].insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "conversation_id": conversation_id,
                    "user_id": user_id,
                    "seq": seq,
                    "role": role,
                    "content": content,
                    "metadata": {"seq": seq},
                    "created_at": now,
                }
                for seq, role, content in (
                    [(n, "user", f"Mensaje {n}") for n in range(1, user_messages + 1)]
                    or [
                        (1, "user", "¿Dónde está la estación? 🚉"),
                        (2, "assistant", "Está a la izquierda, María."),
                        (3, "user", "谢谢"),
                    ]
                )
            ],
        )
    return user_id


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    metadata = MetaData()
    metadata.reflect(engine, only=["users", "conversations", "messages"])
    with engine.connect() as connection:
        return {
            name: [
                tuple(row)
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for name, table in metadata.tables.items()
        }


def test_tallies_start_from_the_stored_messages_and_their_full_batches_are_queued(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("0006")
    user_id = _store_a_conversation(alembic_engine, user_messages=52)

    alembic_runner.migrate_up_to("0007")
    with alembic_engine.connect() as connection:
        tally = connection.execute(text("SELECT user_id, user_messages FROM message_tallies"))
        jobs = connection.execute(text("SELECT name, dedup_key FROM job_queue ORDER BY 2"))
        assert [(uuid.UUID(str(row[0])), row[1]) for row in tally] == [(user_id, 52)]
        assert [tuple(row) for row in jobs] == [
            ("analysis", f"analysis:{user_id}:1"),
            ("analysis", f"analysis:{user_id}:2"),
        ]

    alembic_runner.migrate_down_to("0006")
    with alembic_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM job_queue")).scalar_one() == 0
        assert connection.execute(text("SELECT count(*) FROM messages")).scalar_one() == 52


def test_crisis_events_go_with_their_revision_and_leave_the_conversations(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("heads")
    user_id = _store_a_conversation(alembic_engine)
    tables = table_registry.metadata.tables
    now = utc_now()
    with alembic_engine.begin() as connection:
        conversation_id, message_id = connection.execute(
            select(tables["messages"].c.conversation_id, tables["messages"].c.id).where(
                tables["messages"].c.seq == 1
            )
        ).one()
        event = {
            "id": uuid.uuid4(),
            "user_id": user_id,
            "conversation_id": conversation_id,
            "message_id": message_id,
            "trigger_type": "keyword",
            "category": "suicide",
            "severity_level": "high",
            "keywords_detected": ["kill myself"],
            "resources_shown": [{"id": "us-988"}],
            "detector_version": "rules 2026.11.1",
            "followup_required": True,
            "created_at": now,
        }
        connection.execute(tables["crisis_events"].insert(), event)
        connection.execute(
            tables["crisis_event_actions"].insert(),
            {
                "id": uuid.uuid4(),
                "event_id": event["id"],
                "action": "note",
                "note": "Called.",
                "created_at": now,
            },
        )
    before = _dump(alembic_engine)

    alembic_runner.migrate_down_to("0007")
    assert _dump(alembic_engine) == before
    alembic_runner.migrate_up_to("heads")

    assert _dump(alembic_engine) == before
    with alembic_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM crisis_events")).scalar_one() == 0


def test_onboarding_goes_with_its_revision_and_leaves_the_conversations(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("heads")
    user_id = _store_a_conversation(alembic_engine)
    tables = table_registry.metadata.tables
    now = utc_now()
    with alembic_engine.begin() as connection:
        conversation_id = connection.execute(select(tables["conversations"].c.id)).scalar_one()
        session = {
            "id": uuid.uuid4(),
            "user_id": user_id,
            "flow_key": "running-coach",
            "flow_version": 2,
            "current_phase": "schedule",
            "status": "active",
            "answers": {"goal": {"distance": "half marathon", "has_race": True}},
            "goals": ["half marathon"],
            "context": {"coaching_style": "supportive"},
            "conversation_id": conversation_id,
            "client_session_id": "phone-1",
            "last_activity_at": now,
            "created_at": now,
            "updated_at": now,
        }
        connection.execute(tables["onboarding_sessions"].insert(), session)
        connection.execute(
            tables["onboarding_events"].insert(),
            {
                "id": uuid.uuid4(),
                "user_id": user_id,
                "session_id": session["id"],
                "session_version": 1,
                "kind": "started",
                "flow_key": "running-coach",
                "flow_version": 2,
                "data": {"answers": {}},
                "created_at": now,
            },
        )
    before = _dump(alembic_engine)

    alembic_runner.migrate_down_to("0008")
    assert _dump(alembic_engine) == before
    with alembic_engine.connect() as connection:
        left = set(inspect(connection).get_table_names())
    assert not left & {"onboarding_sessions", "onboarding_events"}
    alembic_runner.migrate_up_to("heads")

    assert _dump(alembic_engine) == before
    with alembic_engine.connect() as connection:
        count = "SELECT count(*) FROM onboarding_sessions"
        assert connection.execute(text(count)).scalar_one() == 0
