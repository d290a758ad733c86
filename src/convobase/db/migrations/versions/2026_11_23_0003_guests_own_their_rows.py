"""guests own their rows: every conversation and message has a user_id

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

A guest session gets an anonymous user (`users.is_anonymous`, id = the session's id)
that owns its conversation and messages until a signed-in user claims them. Every
user-owned row then has an owner, so one rule scopes them all: `user_id` is the
caller's. Row level security tests that by equality, with no sub-select for guests.

Claiming a guest session moves the guest's rows to the claimer. A row cannot change
owner under an owner-equality policy (PostgreSQL checks the new row against the read
policy too), so `convobase_hand_over` does it: it runs as the tables' owner, and only
for the transaction whose identity is the guest and names the claimer.
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from convobase.db.migrations import security

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNED_TABLES = ("conversations", "messages")

# The shapes this revision reads and writes, frozen as they are here.
users = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("goals", sa.JSON().with_variant(sa.ARRAY(sa.Text()), "postgresql")),
    sa.column("stage", sa.Integer()),
    sa.column("profile", sa.JSON()),
    sa.column("preferences", sa.JSON()),
    sa.column("last_active", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("is_anonymous", sa.Boolean()),
)
conversations = sa.table(
    "conversations",
    sa.column("id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
    sa.column("session_id", sa.Text()),
    sa.column("is_guest_session", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("last_message_at", sa.DateTime(timezone=True)),
)
messages = sa.table(
    "messages",
    sa.column("conversation_id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
)

OLD_OWNER_CHECK = (
    "(is_guest_session AND session_id IS NOT NULL)"
    " OR (NOT is_guest_session AND user_id IS NOT NULL)"
)
NEW_OWNER_CHECK = "NOT is_guest_session OR session_id IS NOT NULL"

# The policies of revision 0002 that this one replaces, for the downgrade.
OLD_OWNER_POLICIES = {
    "conversations": "user_id = (SELECT convobase_uid()) OR (is_guest_session"
    " AND session_id = (SELECT convobase_guest_session()))",
    "messages": "user_id = (SELECT convobase_uid()) OR (user_id IS NULL AND conversation_id IN ("
    "SELECT id FROM conversations WHERE is_guest_session"
    " AND session_id = (SELECT convobase_guest_session())))",
}
GUEST_SESSION_FUNCTION = """
    RETURNS text LANGUAGE sql STABLE AS $$
        SELECT nullif(convobase_claims() ->> 'guest_session_id', '')
    $$"""
HANDOVER_FUNCTION = """
    RETURNS uuid LANGUAGE sql STABLE AS $$
        SELECT nullif(convobase_claims() ->> 'handover_to', '')::uuid
    $$"""
# Every table with a user_id column, found in the catalog, so tables added later are
# handed over too.
HAND_OVER_FUNCTION = """(giver uuid, receiver uuid)
    RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
        owned regclass;
    BEGIN
        IF giver IS DISTINCT FROM convobase_uid()
           OR receiver IS DISTINCT FROM convobase_handover_uid() THEN
            RAISE EXCEPTION 'this transaction may not hand rows over'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        FOR owned IN
            SELECT c.oid::regclass FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'user_id'
                AND NOT a.attisdropped
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        LOOP
            EXECUTE format('UPDATE %s SET user_id = $2 WHERE user_id = $1', owned)
                USING giver, receiver;
        END LOOP;
    END
    $$"""


def upgrade() -> None:
    is_postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column(
        "users",
        sa.Column("is_anonymous", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    _give_guest_rows_an_owner()
    _require_an_owner(OLD_OWNER_CHECK, NEW_OWNER_CHECK, nullable=False)
    if is_postgresql:
        op.execute(f"CREATE FUNCTION convobase_handover_uid() {HANDOVER_FUNCTION}")
        op.execute(f"CREATE FUNCTION convobase_hand_over{HAND_OVER_FUNCTION}")
        op.execute("REVOKE ALL ON FUNCTION convobase_hand_over(uuid, uuid) FROM PUBLIC")
        op.execute(
            f"GRANT EXECUTE ON FUNCTION convobase_hand_over(uuid, uuid) TO {security.APP_ROLE}"
        )
        for table in OWNED_TABLES:
            security.drop_owner_policy(table)
            security.create_owner_policy(table)
        op.execute("DROP FUNCTION convobase_guest_session()")


def downgrade() -> None:
    is_postgresql = op.get_bind().dialect.name == "postgresql"
    if is_postgresql:
        op.execute(f"CREATE FUNCTION convobase_guest_session() {GUEST_SESSION_FUNCTION}")
        for table in OWNED_TABLES:
            security.drop_owner_policy(table)
            op.execute(
                f"CREATE POLICY {table}_owner ON {table} FOR ALL TO {security.APP_ROLE}"
                f" USING ({OLD_OWNER_POLICIES[table]})"
            )
        op.execute("DROP FUNCTION convobase_hand_over(uuid, uuid)")
        op.execute("DROP FUNCTION convobase_handover_uid()")
    _require_an_owner(NEW_OWNER_CHECK, OLD_OWNER_CHECK, nullable=True)
    anonymous = sa.select(users.c.id).where(users.c.is_anonymous).scalar_subquery()
    op.execute(messages.update().where(messages.c.user_id.in_(anonymous)).values(user_id=None))
    op.execute(
        conversations.update().where(conversations.c.user_id.in_(anonymous)).values(user_id=None)
    )
    op.execute(users.delete().where(users.c.is_anonymous))
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_anonymous")
    _restore_touch_trigger("users")


# The same as `_give_guest_rows_an_owner` in set-based statements, for SQL written
# without a database to read (`alembic upgrade --sql`, PostgreSQL only).
GIVE_GUEST_ROWS_AN_OWNER_OFFLINE = (
    """
    INSERT INTO users (id, goals, stage, profile, preferences, last_active, created_at,
                       updated_at, is_anonymous)
    SELECT CAST(session_id AS uuid), '{}'::text[], 1, '{}'::jsonb, '{}'::jsonb,
           last_message_at, created_at, last_message_at, true
    FROM conversations WHERE is_guest_session AND user_id IS NULL
    """,
    """
    UPDATE messages SET user_id = CAST(conversations.session_id AS uuid)
    FROM conversations
    WHERE messages.conversation_id = conversations.id
      AND conversations.is_guest_session AND conversations.user_id IS NULL
    """,
    """
    UPDATE conversations SET user_id = CAST(session_id AS uuid)
    WHERE is_guest_session AND user_id IS NULL
    """,
)


def _give_guest_rows_an_owner() -> None:
    if context.is_offline_mode():
        for statement in GIVE_GUEST_ROWS_AN_OWNER_OFFLINE:
            op.execute(statement)
        return
    connection = op.get_bind()
    guests = connection.execute(
        sa.select(
            conversations.c.id,
            conversations.c.session_id,
            conversations.c.created_at,
            conversations.c.last_message_at,
        ).where(conversations.c.is_guest_session, conversations.c.user_id.is_(None))
    ).all()
    for conversation_id, session_id, created_at, last_message_at in guests:
        owner = uuid.UUID(session_id)
        connection.execute(
            users.insert().values(
                id=owner,
                goals=[],
                stage=1,
                profile={},
                preferences={},
                last_active=last_message_at,
                created_at=created_at,
                updated_at=last_message_at,
                is_anonymous=True,
            )
        )
        connection.execute(
            conversations.update()
            .where(conversations.c.id == conversation_id)
            .values(user_id=owner)
        )
        connection.execute(
            messages.update()
            .where(messages.c.conversation_id == conversation_id)
            .values(user_id=owner)
        )


def _require_an_owner(old_check: str, new_check: str, *, nullable: bool) -> None:
    """Make `user_id` of the owned tables NOT NULL (or nullable again) and swap the
    conversations' owner CHECK."""
    old_name, new_name = (
        ("guest_has_session", "has_owner") if nullable else ("has_owner", "guest_has_session")
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in OWNED_TABLES:
            null = "DROP NOT NULL" if nullable else "SET NOT NULL"
            op.execute(f"ALTER TABLE {table} ALTER COLUMN user_id {null}")
        op.drop_constraint(op.f(f"ck_conversations_{old_name}"), "conversations", type_="check")
        op.create_check_constraint(op.f(f"ck_conversations_{new_name}"), "conversations", new_check)
        return
    # SQLite rebuilds each table (the migration environment switches foreign keys off
    # meanwhile, so dropping the old copy cascades nothing); the rebuild loses the
    # table's triggers, which are made again.
    for table in OWNED_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("user_id", existing_type=sa.Uuid(), nullable=nullable)
            if table == "conversations":
                batch.drop_constraint(op.f(f"ck_conversations_{old_name}"), type_="check")
                batch.create_check_constraint(op.f(f"ck_conversations_{new_name}"), new_check)
    _restore_touch_trigger("conversations")


def _restore_touch_trigger(table: str) -> None:
    """Make the `updated_at` trigger of revision 0001 again after a SQLite rebuild."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"DROP TRIGGER IF EXISTS {table}_touch_updated_at")
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
