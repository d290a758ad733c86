"""policies per role: staff act as convobase_staff; the planner knows who owns a conversation

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

PostgreSQL only. Until now each user-owned table had one role's policies: the owner's
test OR the staff's. Planned together, the OR made PostgreSQL misjudge how many rows a
page of messages keeps, and it read and sorted whole conversations to return 50. Now
the service's role `convobase_app` has only the owner's policy, and staff transactions
switch to `convobase_staff`, whose policy lets them reach every row. The statistics
object tells the planner that a conversation determines its messages' owner, so an
owner test on a conversation's messages is not taken for a filter that drops rows.
"""

from collections.abc import Sequence

from alembic import op

from convobase.db.migrations import security

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = security.APP_ROLE
STAFF_ROLE = security.STAFF_ROLE
STAFF_TABLES = ("users", "conversations", "messages", "personas")
OLD_STAFF = "(SELECT convobase_role()) = 'service_role'"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{STAFF_ROLE}') THEN
                CREATE ROLE {STAFF_ROLE} NOLOGIN NOINHERIT;
            END IF;
        END $$
        """
    )
    # Whoever may act as the service's role may switch to the staff role: the service
    # does, for a staff caller's transaction, and only then.
    op.execute(f"GRANT {STAFF_ROLE} TO {APP_ROLE}")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {STAFF_ROLE}")
    op.execute(f"GRANT SELECT ON alembic_version TO {STAFF_ROLE}")
    for table in STAFF_TABLES:
        op.execute(f"DROP POLICY {table}_staff ON {table}")
        security.create_staff_policy(table)
    op.execute(
        "CREATE STATISTICS messages_owner_by_conversation (dependencies)"
        " ON conversation_id, user_id FROM messages"
    )
    op.execute("ANALYZE messages")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP STATISTICS messages_owner_by_conversation")
    for table in STAFF_TABLES:
        security.drop_staff_policy(table)
        check = f" WITH CHECK ({OLD_STAFF})" if table == "personas" else ""
        op.execute(
            f"CREATE POLICY {table}_staff ON {table} FOR ALL TO {APP_ROLE}"
            f" USING ({OLD_STAFF}){check}"
        )
    op.execute(f"REVOKE SELECT ON alembic_version FROM {STAFF_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {STAFF_ROLE}")
    op.execute(f"REVOKE {STAFF_ROLE} FROM {APP_ROLE}")
    # The role itself is cluster-wide and may serve other databases: it is kept.
