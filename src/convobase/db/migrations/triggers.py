"""Triggers for migrations: one call keeps a new table's `updated_at` current.

Revisions call these helpers, so what they create must never change meaning: a
different trigger is a new helper, used by a new revision.
"""

from alembic import op


def touch_updated_at(table: str) -> None:
    """Keep `table.updated_at` current on every UPDATE, hand-written SQL included, as
    revision 0001's tables do (its function `convobase_touch_updated_at` on PostgreSQL;
    on SQLite, a trigger that sets the time unless the UPDATE set it)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_touch_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION convobase_touch_updated_at()"
        )
        return
    op.execute(
        f"""
        CREATE TRIGGER {table}_touch_updated_at AFTER UPDATE ON {table}
        FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
        BEGIN
            UPDATE {table} SET updated_at = strftime('%Y-%m-%d %H:%M:%f000', 'now')
            WHERE id = NEW.id;
        END
        """
    )
