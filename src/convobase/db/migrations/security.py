"""Row level security for migrations: one call protects a user-owned table.

PostgreSQL only; on SQLite these do nothing (the service layer is the only wall).
Revisions call these helpers, so what they create must never change meaning: a
different policy shape is a new helper, used by a new revision.
"""

from alembic import op

APP_ROLE = "convobase_app"

# `(SELECT f())` is evaluated once per statement instead of once per row.
OWNER = "user_id = (SELECT convobase_uid())"
STAFF = "(SELECT convobase_role()) = 'service_role'"


def protect_user_table(table: str, *, staff_access: bool) -> None:
    """Let the service's role use `table` under row level security: each caller
    reaches the rows whose `user_id` is theirs, staff every row if `staff_access`;
    the table's owner (migrations, operators) keeps full access under FORCE."""
    if not _is_postgresql():
        return
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    create_owner_policy(table)
    if staff_access:
        op.execute(f"CREATE POLICY {table}_staff ON {table} FOR ALL TO {APP_ROLE} USING ({STAFF})")
    op.execute(
        f"CREATE POLICY {table}_owner_maintenance ON {table} FOR ALL TO CURRENT_USER USING (true)"
    )


def unprotect_user_table(table: str, *, staff_access: bool) -> None:
    """Undo `protect_user_table`."""
    if not _is_postgresql():
        return
    op.execute(f"DROP POLICY {table}_owner_maintenance ON {table}")
    if staff_access:
        op.execute(f"DROP POLICY {table}_staff ON {table}")
    drop_owner_policy(table)
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")


def create_owner_policy(table: str) -> None:
    """The policy every user-owned table has: a caller's own rows."""
    if _is_postgresql():
        op.execute(f"CREATE POLICY {table}_owner ON {table} FOR ALL TO {APP_ROLE} USING ({OWNER})")


def drop_owner_policy(table: str) -> None:
    if _is_postgresql():
        op.execute(f"DROP POLICY {table}_owner ON {table}")


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"
