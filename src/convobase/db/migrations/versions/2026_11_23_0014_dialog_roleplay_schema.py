"""dialog roleplay schema: story 000, tutor_sessions.dialog_id and selected_role

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23

Story 000 ("Story 10.7: Database Schema Extensions", Dialog Roleplay Tutor), as its
migration SQL has it, so that dialog roleplay sessions are tracked:

- `tutor_sessions.dialog_id` (UUID, nullable for backward compatibility: NULL for
  library text sessions), a foreign key to `lesson_dialogs`;
- `tutor_sessions.selected_role` (TEXT, nullable): the character the user plays;
- `idx_tutor_sessions_dialog_id ON tutor_sessions(dialog_id) WHERE dialog_id IS NOT
  NULL` (the sessions of a dialog) and `idx_tutor_sessions_user_dialog ON
  tutor_sessions(user_id, dialog_id) WHERE dialog_id IS NOT NULL` (a user's);
- the comments documenting both columns (PostgreSQL; SQLite keeps no comments).

One departure, from the design: the story's `ON DELETE CASCADE` would delete learners'
practice history with the dialog. The key is `ON DELETE RESTRICT`: a dialog with
sessions is archived, and a staff purge deletes its sessions first, deliberately.

The story's check that both columns exist is the test suite's (tests/tutoring/
test_story_migration.py, on both databases). The downgrade is the story's rollback
plan: the indexes and both columns go, every session stays. On PostgreSQL the key is
added NOT VALID and then validated; both run in the revision's one transaction, under
the lock that its ADD COLUMNs hold until it commits, which blocks reads and writes
(the scan finds every dialog_id NULL, so it cannot fail); on SQLite, adding a column
with a foreign key and dropping columns rebuild the table (batch mode).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "tutor_sessions"
FOREIGN_KEY = "fk_tutor_sessions_dialog_id_lesson_dialogs"
HAS_DIALOG = "dialog_id IS NOT NULL"
DIALOG_ID_COMMENT = "References the lesson dialog being practiced (NULL for library text sessions)"
SELECTED_ROLE_COMMENT = 'The character name the user chose to play (e.g., "María", "Carlos")'


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Add dialog_id column (nullable for backward compatibility)
        op.execute(f"ALTER TABLE {TABLE} ADD COLUMN dialog_id UUID")
        # Add selected_role column (stores which character the user is playing)
        op.execute(f"ALTER TABLE {TABLE} ADD COLUMN selected_role TEXT")
        # The key, then its scan: in this one transaction, under the ADD COLUMNs' lock.
        op.execute(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT {FOREIGN_KEY} FOREIGN KEY (dialog_id) "
            "REFERENCES lesson_dialogs (id) ON DELETE RESTRICT NOT VALID"
        )
        op.execute(f"ALTER TABLE {TABLE} VALIDATE CONSTRAINT {FOREIGN_KEY}")
        # Add comment for documentation
        op.execute(f"COMMENT ON COLUMN {TABLE}.dialog_id IS '{DIALOG_ID_COMMENT}'")
        op.execute(f"COMMENT ON COLUMN {TABLE}.selected_role IS '{SELECTED_ROLE_COMMENT}'")
    else:
        with op.batch_alter_table(TABLE) as batch:
            batch.add_column(sa.Column("dialog_id", sa.Uuid(), nullable=True))
            batch.add_column(sa.Column("selected_role", sa.Text(), nullable=True))
            batch.create_foreign_key(
                FOREIGN_KEY, "lesson_dialogs", ["dialog_id"], ["id"], ondelete="RESTRICT"
            )
    # Create index for performance (querying roleplay sessions by dialog)
    op.create_index(
        "idx_tutor_sessions_dialog_id",
        TABLE,
        ["dialog_id"],
        sqlite_where=sa.text(HAS_DIALOG),
        postgresql_where=sa.text(HAS_DIALOG),
    )
    # Create index for querying user's roleplay sessions
    op.create_index(
        "idx_tutor_sessions_user_dialog",
        TABLE,
        ["user_id", "dialog_id"],
        sqlite_where=sa.text(HAS_DIALOG),
        postgresql_where=sa.text(HAS_DIALOG),
    )


def downgrade() -> None:
    # The story's rollback plan; the rows stay.
    op.drop_index("idx_tutor_sessions_user_dialog", table_name=TABLE)
    op.drop_index("idx_tutor_sessions_dialog_id", table_name=TABLE)
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(FOREIGN_KEY, type_="foreignkey")
        batch.drop_column("selected_role")
        batch.drop_column("dialog_id")
