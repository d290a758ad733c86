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
from sqlalchemy import Engine, MetaData, select

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


def _store_a_conversation(engine: Engine) -> None:
    # Written through the models' tables, which describe the schema at head.
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
                "last_seq": 3,
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
                for seq, role, content in [
                    (1, "user", "¿Dónde está la estación? 🚉"),
                    (2, "assistant", "Está a la izquierda, María."),
                    (3, "user", "谢谢"),
                ]
            ],
        )


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
