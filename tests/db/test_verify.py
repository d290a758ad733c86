"""`convobase db verify`: a freshly migrated database matches the models, and each kind
of drift made by hand is named."""

from collections.abc import Callable

import pytest
from alembic.operations import BatchOperations, Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, text
from typer.testing import CliRunner

from convobase import table_registry
from convobase.cli import app
from convobase.db.base import NAMING_CONVENTION
from convobase.db.migrations.security import APP_ROLE
from convobase.db.verify import Difference, Kind, verify
from tests.databases import LiveDatabase

postgresql_only = pytest.mark.parametrize("template_database", ["postgresql"], indirect=True)


def differences(database: LiveDatabase, metadata: MetaData | None = None) -> list[Difference]:
    return verify(database.engine, table_registry.metadata if metadata is None else metadata)


def named(database: LiveDatabase) -> list[tuple[Kind, str]]:
    return [(difference.kind, difference.name) for difference in differences(database)]


def execute(database: LiveDatabase, *statements: str) -> None:
    with database.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def alter(database: LiveDatabase, table: str, change: Callable[[BatchOperations], None]) -> None:
    """Change `table` as a migration would: on SQLite, which cannot drop a CHECK or
    change a column with ALTER TABLE, by rebuilding it (Alembic's batch mode, as the
    revisions do); on PostgreSQL with plain ALTER TABLE."""
    with (
        database.engine.begin() as connection,
        Operations.context(MigrationContext.configure(connection)) as operations,
        operations.batch_alter_table(table) as batch,
    ):
        change(batch)


def test_a_freshly_migrated_database_matches_the_models(
    committing_database: LiveDatabase,
) -> None:
    assert differences(committing_database) == []
    # Nothing of the models' copy is left behind to trouble the next run.
    assert differences(committing_database) == []


def test_a_dropped_index_is_named(committing_database: LiveDatabase) -> None:
    execute(committing_database, "DROP INDEX ix_review_logs_card_id_reviewed_at")

    (difference,) = differences(committing_database)

    assert (difference.kind, difference.name) == (Kind.INDEX, "ix_review_logs_card_id_reviewed_at")
    assert "(card_id, reviewed_at, id)" in difference.message
    assert "the database does not have it" in difference.message


def test_a_dropped_partial_index_recreated_with_another_predicate_is_named(
    committing_database: LiveDatabase,
) -> None:
    execute(
        committing_database,
        "DROP INDEX ix_job_queue_claim",
        "CREATE INDEX ix_job_queue_claim ON job_queue (priority, start_after)"
        " WHERE state = 'active'",
    )

    (difference,) = differences(committing_database)

    assert (difference.kind, difference.name) == (Kind.INDEX, "ix_job_queue_claim")
    expected, live = difference.message.split("; the database has ")
    assert "'queued'" in expected
    assert "'active'" in live


def test_a_partial_index_recreated_with_its_predicate_spelled_otherwise_is_no_difference(
    committing_database: LiveDatabase,
) -> None:
    execute(
        committing_database,
        "DROP INDEX ix_job_queue_claim",
        'CREATE INDEX ix_job_queue_claim ON job_queue ("priority", start_after)'
        """ WHERE (("state"   =\n 'queued'))""",
    )

    assert differences(committing_database) == []


def test_a_partial_index_that_lost_its_predicate_is_named(
    committing_database: LiveDatabase,
) -> None:
    execute(
        committing_database,
        "DROP INDEX ix_library_texts_available",
        "CREATE INDEX ix_library_texts_available ON library_texts (language, level, title, id)",
    )

    assert named(committing_database) == [(Kind.INDEX, "ix_library_texts_available")]


def test_a_dropped_check_is_named(committing_database: LiveDatabase) -> None:
    # SQLite cannot drop a CHECK with ALTER TABLE: `alter` rebuilds the table there.
    alter(
        committing_database,
        "crisis_event_actions",
        lambda batch: batch.drop_constraint("ck_crisis_event_actions_action", type_="check"),
    )

    (difference,) = differences(committing_database)

    assert (difference.kind, difference.name) == (Kind.CHECK, "ck_crisis_event_actions_action")
    assert "'reopened'" in difference.message


def test_a_check_with_another_expression_is_named(committing_database: LiveDatabase) -> None:
    def loosen(batch: BatchOperations) -> None:
        batch.drop_constraint("ck_crisis_event_actions_note_length", type_="check")
        batch.create_check_constraint("ck_crisis_event_actions_note_length", "length(note) <= 8000")

    alter(committing_database, "crisis_event_actions", loosen)

    (difference,) = differences(committing_database)

    assert (difference.kind, difference.name) == (Kind.CHECK, "ck_crisis_event_actions_note_length")
    expected, live = difference.message.split("; the database has ")
    assert "4000" in expected
    assert "8000" in live


def test_a_column_that_lost_its_default_and_not_null_is_named(
    committing_database: LiveDatabase,
) -> None:
    alter(
        committing_database,
        "message_tallies",
        lambda batch: batch.alter_column(
            "user_messages", existing_type=Integer(), server_default=None, nullable=True
        ),
    )

    (difference,) = differences(committing_database)

    assert (difference.kind, difference.name) == (Kind.COLUMN, "message_tallies.user_messages")
    expected, live = difference.message.split("; the database has ")
    assert "NOT NULL DEFAULT 0" in expected
    assert live == "INTEGER NULL"


def test_a_dropped_trigger_is_named(committing_database: LiveDatabase, backend: str) -> None:
    on_table = " ON users" if backend == "postgresql" else ""
    execute(committing_database, f"DROP TRIGGER users_touch_updated_at{on_table}")

    assert named(committing_database) == [(Kind.TRIGGER, "users_touch_updated_at")]


def test_a_table_the_models_do_not_have_is_named(committing_database: LiveDatabase) -> None:
    execute(committing_database, "CREATE TABLE scratch_notes (id integer PRIMARY KEY)")

    assert named(committing_database) == [(Kind.TABLE, "scratch_notes")]


# PostgreSQL's row level security, policies and grants; SQLite has none of them.


@postgresql_only
def test_a_dropped_policy_is_named(committing_database: LiveDatabase) -> None:
    execute(committing_database, "DROP POLICY messages_staff ON messages")

    assert named(committing_database) == [(Kind.POLICY, "messages_staff")]


@postgresql_only
def test_row_level_security_that_is_no_longer_forced_is_named(
    committing_database: LiveDatabase,
) -> None:
    execute(committing_database, "ALTER TABLE conversations NO FORCE ROW LEVEL SECURITY")

    (difference,) = differences(committing_database)

    assert (difference.kind, difference.name) == (Kind.ROW_LEVEL_SECURITY, "conversations")
    assert difference.message.endswith("the database has it enabled, not forced")


@postgresql_only
def test_a_grant_the_migrations_did_not_give_is_named(committing_database: LiveDatabase) -> None:
    execute(committing_database, f"GRANT DELETE ON courses TO {APP_ROLE}")

    assert differences(committing_database) == [
        Difference(
            Kind.GRANT,
            f"courses to {APP_ROLE}",
            "expected SELECT; the database has DELETE, SELECT",
        )
    ]


@pytest.fixture
def metadata_with_a_new_table() -> MetaData:
    """The models, and one table more that nobody declared row level security for."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    for table in table_registry.metadata.tables.values():
        table.to_metadata(metadata)
    Table("scratch_notes", metadata, Column("id", Integer, primary_key=True))
    return metadata


def test_a_table_whose_protection_nobody_declared_is_named_on_postgresql(
    committing_database: LiveDatabase, backend: str, metadata_with_a_new_table: MetaData
) -> None:
    metadata_with_a_new_table.tables["scratch_notes"].create(committing_database.engine)

    found = differences(committing_database, metadata_with_a_new_table)

    if backend == "sqlite":
        assert found == []
    else:
        assert [(difference.kind, difference.name) for difference in found] == [
            (Kind.ROW_LEVEL_SECURITY, "scratch_notes")
        ]
        assert "PROTECTIONS" in found[0].message


# The command


runner = CliRunner()


@pytest.fixture
def cli_database(
    committing_database: LiveDatabase, monkeypatch: pytest.MonkeyPatch
) -> LiveDatabase:
    monkeypatch.setenv("CONVOBASE_DATABASE_URL", committing_database.settings.database_url)
    return committing_database


def test_db_verify_exits_0_on_a_fresh_database_and_1_after_drift(
    cli_database: LiveDatabase,
) -> None:
    clean = runner.invoke(app, ["db", "verify"])
    execute(cli_database, "DROP INDEX ix_review_logs_card_id_reviewed_at")
    drifted = runner.invoke(app, ["db", "verify"])

    assert clean.exit_code == 0, clean.output
    tables = len(table_registry.metadata.tables)
    assert clean.stdout == f"schema matches the models ({tables} tables)\n"
    assert drifted.exit_code == 1, drifted.output
    assert drifted.stdout.splitlines() == [
        "index ix_review_logs_card_id_reviewed_at: expected on review_logs:"
        " (card_id, reviewed_at, id); the database does not have it"
    ]
