"""The migration history builds exactly the schema the models describe, and builds it
again after being undone to the last table: `convobase db verify` finds nothing."""

from pytest_alembic import MigrationContext
from sqlalchemy import Engine

from convobase import table_registry
from convobase.db.verify import Kind, verify


def test_the_schema_matches_the_models_after_upgrade_downgrade_and_upgrade_again(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("heads")
    first = verify(alembic_engine, table_registry.metadata)

    alembic_runner.migrate_down_to("base")
    emptied = verify(alembic_engine, table_registry.metadata)
    alembic_runner.migrate_up_to("heads")
    second = verify(alembic_engine, table_registry.metadata)

    assert first == []
    assert {(difference.kind, difference.name) for difference in emptied} == {
        (Kind.TABLE, name) for name in table_registry.metadata.tables
    }
    assert second == []
