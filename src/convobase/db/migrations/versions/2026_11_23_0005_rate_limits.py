"""rate limits: fixed-window counters every worker process shares

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

Not a user's data: the service's roles may count in it and read their counts back, and
nobody else. On PostgreSQL the table is UNLOGGED: every request with a token counts in
it, and a counter need not survive a crash, so it writes no WAL and a count waits for
no disk flush.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from convobase.db.migrations import security

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = f"{security.APP_ROLE}, {security.STAFF_ROLE}"


def upgrade() -> None:
    is_postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
        prefixes=["UNLOGGED"] if is_postgresql else [],
    )
    if not is_postgresql:
        return
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limits TO {ROLES}")
    op.execute("ALTER TABLE rate_limits ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE rate_limits FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY rate_limits_service ON rate_limits FOR ALL TO {ROLES} USING (true)")
    op.execute(
        "CREATE POLICY rate_limits_owner_maintenance ON rate_limits FOR ALL"
        " TO CURRENT_USER USING (true)"
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
