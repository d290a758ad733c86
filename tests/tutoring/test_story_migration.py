"""Story 000's migration ("dialog roleplay schema", revision 0014) as the story tests
it, on both databases: its seven test cases, plus the comments it documents the
columns with, and its rollback plan keeping every session.

Each test starts from an empty database and migrates it (pytest-alembic's runner, as
tests/migrations has it). Rows are written with plain SQL, as the story's checks would
be run by hand, not through the models, which describe the schema at head.
"""

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from pytest_alembic import MigrationContext
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError

from convobase import table_registry
from convobase.core.time import utc_now
from tests.migrations import conftest as migrations
from tests.migrations.test_history import _store_a_conversation

# pytest-alembic's runner, on an empty database of each backend.
alembic_config = migrations.alembic_config
alembic_engine = migrations.alembic_engine

BEFORE, STORY = "0013", "0014"
STORY_INDEXES = {
    "idx_tutor_sessions_dialog_id": ["dialog_id"],
    "idx_tutor_sessions_user_dialog": ["user_id", "dialog_id"],
}

COLUMNS: dict[str, Any] = {
    "id": sa.Uuid(),
    "user_id": sa.Uuid(),
    "text_id": sa.Uuid(),
    "dialog_id": sa.Uuid(),
    "level": sa.Text(),
    "selected_role": sa.Text(),
    "created_at": sa.DateTime(timezone=True),
    "completed_at": sa.DateTime(timezone=True),
}
NEW = ("dialog_id", "selected_role")


def _table(*leave_out: str) -> sa.TableClause:
    """tutor_sessions as far as these tests write it: as the story leaves it, or
    without the columns `leave_out` (as before it)."""
    return sa.table(
        "tutor_sessions",
        *(sa.column(name, kind) for name, kind in COLUMNS.items() if name not in leave_out),
    )


sessions = _table()


def _content(engine: Engine) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A user, a library text and a published dialog: (user, text, dialog)."""
    # SQLite migrations turn foreign keys off on the connection they run on, and the
    # harness hands it back to the pool with them off: start from new connections, as
    # the service does after `convobase db upgrade`.
    engine.dispose()
    user_id = _store_a_conversation(engine)
    tables = table_registry.metadata.tables  # their shape has not changed since 0013
    now = utc_now()
    text_id, dialog_id = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            tables["library_texts"].insert(),
            {
                "id": text_id,
                "key": "esquina",
                "title": "El café de la esquina",
                "language": "es",
                "level": "A1",
                "body": "En mi barrio hay un café pequeño.",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            },
        )
        connection.execute(
            tables["lesson_dialogs"].insert(),
            {
                "id": dialog_id,
                "key": "en-el-cafe",
                "title": "En el café",
                "language": "es",
                "level": "A1",
                "status": "published",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            },
        )
    return user_id, text_id, dialog_id


def _session(table: sa.TableClause | None = None, **fields: Any) -> dict[str, Any]:
    """A row of `table` (tutor_sessions as the story leaves it): every column it has,
    null unless given."""
    row = {"id": uuid.uuid4(), "level": "A1", "created_at": utc_now(), **fields}
    columns = (sessions if table is None else table).c
    return {column.name: row.get(column.name) for column in columns}


def _schema(engine: Engine) -> dict[str, Any]:
    """What the database says of tutor_sessions: columns (with comments), indexes with
    their predicates, keys and checks."""
    inspector = inspect(engine)
    table = "tutor_sessions"
    return {
        "columns": [
            (c["name"], str(c["type"]), c["nullable"], c.get("comment"))
            for c in inspector.get_columns(table)
        ],
        "indexes": sorted(_index_definitions(engine).items()),
        "foreign_keys": sorted(
            (tuple(fk["constrained_columns"]), fk["referred_table"], fk["name"])
            for fk in inspector.get_foreign_keys(table)
        ),
        "checks": sorted(
            (c["name"], " ".join(c["sqltext"].split()))
            for c in inspector.get_check_constraints(table)
        ),
        "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
    }


def _index_definitions(engine: Engine) -> dict[str, str]:
    """Each index of tutor_sessions, and its definition as the catalog keeps it."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            rows = connection.execute(
                sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t"),
                {"t": "tutor_sessions"},
            )
        else:
            rows = connection.execute(
                sa.text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
                    " AND sql IS NOT NULL"
                ),
                {"t": "tutor_sessions"},
            )
        return {row[0]: " ".join(str(row[1]).split()) for row in rows}


def _rows(engine: Engine) -> list[tuple[Any, ...]]:
    order = (sessions.c.created_at, sessions.c.id)
    query = sa.select(sessions.c.id, sessions.c.user_id, sessions.c.text_id, sessions.c.level)
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query.order_by(*order))]


# 1. Migration runs successfully: no errors during execution


def test_1_the_migration_runs_over_sessions_of_the_earlier_schema(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to(BEFORE)
    user_id, text_id, _ = _content(alembic_engine)
    earlier = _table(*NEW)
    with alembic_engine.begin() as connection:
        connection.execute(
            earlier.insert(),
            [_session(earlier, user_id=user_id, text_id=text_id) for _ in range(3)],
        )
    before = _rows(alembic_engine)

    alembic_runner.migrate_up_one()

    assert alembic_runner.current == STORY
    assert _rows(alembic_engine) == before
    with alembic_engine.connect() as connection:
        query = sa.select(sessions.c.dialog_id, sessions.c.selected_role)
        assert set(connection.execute(query)) == {(None, None)}


# 2. Columns exist: dialog_id and selected_role present


def test_2_dialog_id_and_selected_role_exist_nullable_with_their_comments(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to(STORY)

    columns = {c["name"]: c for c in inspect(alembic_engine).get_columns("tutor_sessions")}

    assert columns["dialog_id"]["nullable"]
    assert columns["selected_role"]["nullable"]
    assert isinstance(columns["selected_role"]["type"], sa.Text)
    if alembic_engine.dialect.name == "postgresql":
        assert str(columns["dialog_id"]["type"]) == "UUID"
        assert columns["dialog_id"]["comment"] == (
            "References the lesson dialog being practiced (NULL for library text sessions)"
        )
        assert columns["selected_role"]["comment"] == (
            'The character name the user chose to play (e.g., "María", "Carlos")'
        )
        assert "Mar√≠a" not in columns["selected_role"]["comment"]


# 3. Foreign key works: can insert with valid dialog_id


def test_3_a_session_of_an_existing_dialog_is_stored(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to(STORY)
    user_id, _, dialog_id = _content(alembic_engine)
    row = _session(user_id=user_id, dialog_id=dialog_id, selected_role="María")

    with alembic_engine.begin() as connection:
        connection.execute(sessions.insert(), row)

    with alembic_engine.connect() as connection:
        stored = connection.execute(sa.select(sessions.c.dialog_id, sessions.c.selected_role)).one()
    assert tuple(stored) == (dialog_id, "María")
    keys = inspect(alembic_engine).get_foreign_keys("tutor_sessions")
    (dialog_key,) = [key for key in keys if key["constrained_columns"] == ["dialog_id"]]
    assert (dialog_key["referred_table"], dialog_key["referred_columns"]) == (
        "lesson_dialogs",
        ["id"],
    )


# 4. Foreign key constraint: cannot insert with invalid dialog_id


def test_4_a_session_of_an_unknown_dialog_is_refused(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to(STORY)
    user_id, _, _ = _content(alembic_engine)
    row = _session(user_id=user_id, dialog_id=uuid.uuid4(), selected_role="María")

    with (
        pytest.raises(IntegrityError, match=r"(?i)foreign key"),
        alembic_engine.begin() as connection,
    ):
        connection.execute(sessions.insert(), row)

    assert _rows(alembic_engine) == []


# 5. Nullable works: can insert tutor_sessions without dialog_id (backward compatible)


def test_5_a_session_without_a_dialog_still_works(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to(STORY)
    user_id, text_id, _ = _content(alembic_engine)

    with alembic_engine.begin() as connection:
        connection.execute(sessions.insert(), _session(user_id=user_id, text_id=text_id))
        connection.execute(sessions.insert(), _session(user_id=user_id))

    assert len(_rows(alembic_engine)) == 2


def test_5_a_level_outside_a1_to_c2_is_still_refused(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to(STORY)
    user_id, _, _ = _content(alembic_engine)

    with pytest.raises(IntegrityError), alembic_engine.begin() as connection:
        connection.execute(sessions.insert(), _session(user_id=user_id, level="D1"))


# 6. Indexes created: as `\d+ tutor_sessions` would show them


def test_6_both_indexes_exist_with_their_predicates(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to(STORY)

    definitions = _index_definitions(alembic_engine)
    indexes = {i["name"]: i for i in inspect(alembic_engine).get_indexes("tutor_sessions")}

    for name, columns in STORY_INDEXES.items():
        assert indexes[name]["column_names"] == columns
        assert not indexes[name]["unique"]
        assert (
            definitions[name]
            .replace("(", "")
            .replace(")", "")
            .endswith("WHERE dialog_id IS NOT NULL")
        ), definitions[name]


def test_6_the_indexes_keep_their_predicates_at_head(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("heads")  # 0015 rebuilds the table on SQLite

    definitions = _index_definitions(alembic_engine)

    for name in STORY_INDEXES:
        assert "WHERE dialog_id IS NOT NULL" in definitions[name].replace("(", "").replace(")", "")


def test_6_the_practised_before_query_reads_the_story_index(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to(STORY)
    user_id, _, dialog_id = _content(alembic_engine)
    query = (
        "SELECT count(*) FROM tutor_sessions WHERE user_id = :u AND dialog_id = :d"
        " AND completed_at IS NOT NULL"
    )
    rows = [
        _session(user_id=user_id, dialog_id=dialog_id, selected_role="María") for _ in range(20)
    ]
    with alembic_engine.begin() as connection:
        connection.execute(sessions.insert(), rows)
        if alembic_engine.dialect.name == "postgresql":
            connection.execute(sa.text("ANALYZE tutor_sessions"))
            connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
            explain = f"EXPLAIN {query}"
        else:
            explain = f"EXPLAIN QUERY PLAN {query}"
        statement = sa.text(explain).bindparams(
            sa.bindparam("u", user_id, type_=sa.Uuid()),
            sa.bindparam("d", dialog_id, type_=sa.Uuid()),
        )
        plan = "\n".join(str(row[-1]) for row in connection.execute(statement))

    assert "idx_tutor_sessions_user_dialog" in plan, plan


# 7. Rollback works: schema returns to original state


def test_7_the_rollback_restores_the_original_schema_and_keeps_the_rows(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to(BEFORE)
    original = _schema(alembic_engine)
    alembic_runner.migrate_up_one()
    user_id, text_id, dialog_id = _content(alembic_engine)
    with alembic_engine.begin() as connection:
        connection.execute(
            sessions.insert(),
            [
                _session(user_id=user_id, dialog_id=dialog_id, selected_role="Carlos"),
                _session(user_id=user_id, text_id=text_id),
            ],
        )
    rows = _rows(alembic_engine)

    alembic_runner.migrate_down_one()

    assert alembic_runner.current == BEFORE
    assert _schema(alembic_engine) == original
    assert not set(STORY_INDEXES) & set(_index_definitions(alembic_engine))
    assert _rows(alembic_engine) == rows


def test_the_story_migrates_down_and_up_again_from_head_keeping_every_session(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to(STORY)
    user_id, text_id, dialog_id = _content(alembic_engine)
    with alembic_engine.begin() as connection:
        connection.execute(
            sessions.insert(),
            [
                _session(user_id=user_id, dialog_id=dialog_id, selected_role="María"),
                _session(user_id=user_id, text_id=text_id),
            ],
        )
    alembic_runner.migrate_up_to("heads")
    rows = _rows(alembic_engine)
    at_head = _schema(alembic_engine)

    alembic_runner.migrate_down_to(BEFORE)
    alembic_runner.migrate_up_to("heads")

    assert _rows(alembic_engine) == rows
    assert _schema(alembic_engine) == at_head
