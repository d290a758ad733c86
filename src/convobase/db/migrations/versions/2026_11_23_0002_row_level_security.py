"""row level security: the service role, per-transaction identity, owner policies

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

PostgreSQL only; SQLite has no row level security and relies on the service layer.
The service connects and then acts as `convobase_app` (SET ROLE), which owns no table,
so every policy below applies to it. Tables are forced to apply RLS to their owner too.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "convobase_app"
USER_TABLES = ("users", "conversations", "messages")
ALL_TABLES = (*USER_TABLES, "personas")

# The identity the service sets per transaction with set_config(..., is_local => true).
# An unset-then-reset setting reads '' rather than NULL, hence nullif.
IDENTITY_FUNCTIONS = {
    "convobase_claims": """
        RETURNS jsonb LANGUAGE sql STABLE AS $$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claims', true), '')::jsonb, '{}'::jsonb
            )
        $$""",
    "convobase_uid": """
        RETURNS uuid LANGUAGE sql STABLE AS $$
            SELECT nullif(convobase_claims() ->> 'sub', '')::uuid
        $$""",
    "convobase_role": """
        RETURNS text LANGUAGE sql STABLE AS $$
            SELECT coalesce(convobase_claims() ->> 'role', 'anon')
        $$""",
    "convobase_guest_session": """
        RETURNS text LANGUAGE sql STABLE AS $$
            SELECT nullif(convobase_claims() ->> 'guest_session_id', '')
        $$""",
}

IS_STAFF = "(SELECT convobase_role()) = 'service_role'"
IS_OWN_GUEST_CONVERSATION = "(is_guest_session AND session_id = (SELECT convobase_guest_session()))"

# (table, policy, command, USING, WITH CHECK); `(SELECT f())` is evaluated once per
# statement instead of once per row.
POLICIES = (
    ("users", "users_self", "ALL", "id = (SELECT convobase_uid())", None),
    ("users", "users_staff", "ALL", IS_STAFF, None),
    (
        "conversations",
        "conversations_owner",
        "ALL",
        f"user_id = (SELECT convobase_uid()) OR {IS_OWN_GUEST_CONVERSATION}",
        None,
    ),
    ("conversations", "conversations_staff", "ALL", IS_STAFF, None),
    (
        "messages",
        "messages_owner",
        "ALL",
        "user_id = (SELECT convobase_uid()) OR (user_id IS NULL AND conversation_id IN ("
        "SELECT id FROM conversations WHERE is_guest_session"
        " AND session_id = (SELECT convobase_guest_session())))",
        None,
    ),
    ("messages", "messages_staff", "ALL", IS_STAFF, None),
    ("personas", "personas_read", "SELECT", "true", None),
    ("personas", "personas_staff", "ALL", IS_STAFF, IS_STAFF),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN NOINHERIT;
            END IF;
        END $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}")
    for table in ALL_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
    for name, body in IDENTITY_FUNCTIONS.items():
        op.execute(f"CREATE FUNCTION {name}() {body}")
    for table in ALL_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    for table, name, command, using, check in POLICIES:
        with_check = f" WITH CHECK ({check})" if check else ""
        op.execute(
            f"CREATE POLICY {name} ON {table} FOR {command} TO {APP_ROLE}"
            f" USING ({using}){with_check}"
        )
    # The table owner (migrations, operators) keeps full access under FORCE.
    for table in ALL_TABLES:
        op.execute(
            f"CREATE POLICY {table}_owner_maintenance ON {table} FOR ALL"
            " TO CURRENT_USER USING (true)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ALL_TABLES:
        op.execute(f"DROP POLICY {table}_owner_maintenance ON {table}")
    for table, name, *_ in POLICIES:
        op.execute(f"DROP POLICY {name} ON {table}")
    for table in ALL_TABLES:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for name in reversed(IDENTITY_FUNCTIONS):
        op.execute(f"DROP FUNCTION {name}()")
    for table in ALL_TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
    op.execute(f"REVOKE SELECT ON alembic_version FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
    # The role itself is cluster-wide and may serve other databases: it is kept.
