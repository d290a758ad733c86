"""Row level security for migrations: one call protects a user-owned table.

PostgreSQL only; on SQLite these do nothing (the service layer is the only wall).
Revisions call these helpers, so what they create must never change meaning: a
different policy shape is a new helper, used by a new revision.
"""

from alembic import op

APP_ROLE = "convobase_app"
# Staff transactions switch to this role (`db/identity.py`). Policies are per role, so
# that no query carries an OR of the owner's test and the staff's: the planner would
# misjudge how many rows pass it and read whole conversations to return a page.
STAFF_ROLE = "convobase_staff"

# `(SELECT f())` is evaluated once per statement instead of once per row.
OWNER = "user_id = (SELECT convobase_uid())"


def create_role(role: str) -> None:
    """Create the NOLOGIN role `role` unless the cluster has it (roles are cluster-wide:
    another database may have made it). Downgrades keep it, for the same reason."""
    if _is_postgresql():
        op.execute(
            f"""
            DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                    CREATE ROLE {role} NOLOGIN NOINHERIT;
                END IF;
            END $$
            """
        )


def protect_user_table(table: str, *, staff_access: bool) -> None:
    """Let the service's roles use `table` under row level security: each caller
    reaches the rows whose `user_id` is theirs, staff every row if `staff_access`;
    the table's owner (migrations, operators) keeps full access under FORCE."""
    if not _is_postgresql():
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
    create_owner_policy(table)
    if staff_access:
        create_staff_policy(table)
    op.execute(
        f"CREATE POLICY {table}_owner_maintenance ON {table} FOR ALL TO CURRENT_USER USING (true)"
    )


def force_row_level_security(table: str) -> None:
    """Enable and force row level security on `table`; its owner (migrations,
    operators) keeps full access. The policies and grants of the service's roles are
    the caller's to add."""
    if not _is_postgresql():
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY {table}_owner_maintenance ON {table} FOR ALL TO CURRENT_USER USING (true)"
    )


def protect_catalog_table(table: str) -> None:
    """Let every caller read `table` and staff change it: content nobody owns, such as
    the course catalog, which the service shows each caller as fits them. The table's
    owner (migrations, operators) keeps full access under FORCE."""
    if not _is_postgresql():
        return
    force_row_level_security(table)
    op.execute(f"GRANT SELECT ON {table} TO {APP_ROLE}")
    op.execute(f"CREATE POLICY {table}_read ON {table} FOR SELECT TO {APP_ROLE} USING (true)")
    create_staff_policy(table)


def unprotect_user_table(table: str, *, staff_access: bool) -> None:
    """Undo `protect_user_table`."""
    if not _is_postgresql():
        return
    op.execute(f"DROP POLICY {table}_owner_maintenance ON {table}")
    if staff_access:
        drop_staff_policy(table)
    drop_owner_policy(table)
    op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def create_owner_policy(table: str) -> None:
    """The policy every user-owned table has: a caller's own rows."""
    if _is_postgresql():
        op.execute(f"CREATE POLICY {table}_owner ON {table} FOR ALL TO {APP_ROLE} USING ({OWNER})")


def drop_owner_policy(table: str) -> None:
    if _is_postgresql():
        op.execute(f"DROP POLICY {table}_owner ON {table}")


def create_staff_policy(table: str, *, commands: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    """Staff reach every row of `table` with `commands`."""
    if _is_postgresql():
        op.execute(f"GRANT {commands} ON {table} TO {STAFF_ROLE}")
        op.execute(f"CREATE POLICY {table}_staff ON {table} FOR ALL TO {STAFF_ROLE} USING (true)")


def drop_staff_policy(table: str) -> None:
    if _is_postgresql():
        op.execute(f"DROP POLICY {table}_staff ON {table}")
        op.execute(f"REVOKE ALL ON {table} FROM {STAFF_ROLE}")


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"
