"""The catalog, checked: every table with a `user_id` column is protected as a
user-owned table must be, and the service's roles can get around none of it.

The tables come from PostgreSQL's catalog, not from a list, so a new table is checked
without editing this file.
"""

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from convobase.db.migrations import security
from convobase.db.migrations.security import APP_ROLE, STAFF_ROLE

pytestmark = pytest.mark.parametrize("template_database", ["postgresql"], indirect=True)

COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")

USER_TABLES = text(
    """
    SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
    ORDER BY c.relname
    """
)
POLICY_COMMANDS = text(
    """
    SELECT cmd FROM pg_policies
    WHERE schemaname = current_schema() AND tablename = :table
      AND (:role = ANY(roles) OR 'public' = ANY(roles))
    """
)
CASCADING_USER_FK = text(
    """
    SELECT count(*) FROM pg_constraint k
    JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
    WHERE k.conrelid = CAST(:table AS regclass) AND k.contype = 'f'
      AND cardinality(k.conkey) = 1 AND a.attname = 'user_id'
      AND k.confrelid = CAST('users' AS regclass) AND k.confdeltype = 'c'
    """
)
INDEX_LED_BY_USER_ID = text(
    """
    SELECT count(*) FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = CAST(:table AS regclass) AND a.attname = 'user_id'
    """
)
PRIVILEGE = text("SELECT has_table_privilege(:role, CAST(:table AS regclass), :command)")


def user_table_problems(connection: Connection) -> list[str]:
    """What is missing from the protection of each table with a `user_id` column."""
    problems = []
    for table, enabled, forced in connection.execute(USER_TABLES):
        if not (enabled and forced):
            problems.append(f"{table}: row level security is not enabled and forced")
        for role in (APP_ROLE, STAFF_ROLE):
            policed = set(connection.scalars(POLICY_COMMANDS, {"table": table, "role": role}))
            for command in COMMANDS:
                allowed = connection.scalar(
                    PRIVILEGE, {"role": role, "table": table, "command": command}
                )
                if allowed and not policed & {command, "ALL"}:
                    problems.append(f"{table}: {role} may {command} but no policy covers it")
        if not connection.scalar(CASCADING_USER_FK, {"table": table}):
            problems.append(f"{table}: user_id has no foreign key to users ON DELETE CASCADE")
        if not connection.scalar(INDEX_LED_BY_USER_ID, {"table": table}):
            problems.append(f"{table}: no index is led by user_id")
    return problems


def role_problems(connection: Connection) -> list[str]:
    """How the service's roles could get around row level security."""
    problems = []
    for role in (APP_ROLE, STAFF_ROLE):
        superuser, bypass = connection.execute(
            text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :role"),
            {"role": role},
        ).one()
        owned = connection.scalars(
            text(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = current_schema() AND tableowner = :role"
            ),
            {"role": role},
        ).all()
        problems += [
            *([f"{role} is a superuser"] if superuser else []),
            *([f"{role} bypasses row level security"] if bypass else []),
            *(f"{role} owns {table}" for table in owned),
        ]
    return problems


def test_every_user_owned_table_is_protected(session: Session) -> None:
    connection = session.connection()

    assert connection.scalars(USER_TABLES).all()  # the check has something to check
    assert user_table_problems(connection) == []


def test_the_service_roles_cannot_get_around_row_level_security(session: Session) -> None:
    assert role_problems(session.connection()) == []


def test_a_new_user_owned_table_without_row_level_security_is_caught(session: Session) -> None:
    connection = session.connection()
    connection.execute(
        text(
            "CREATE TABLE throwaway_notes (id uuid PRIMARY KEY, user_id uuid, body text);"
            f"GRANT SELECT, INSERT ON throwaway_notes TO {APP_ROLE}"
        )
    )

    assert user_table_problems(connection) == [
        "throwaway_notes: row level security is not enabled and forced",
        f"throwaway_notes: {APP_ROLE} may SELECT but no policy covers it",
        f"throwaway_notes: {APP_ROLE} may INSERT but no policy covers it",
        "throwaway_notes: user_id has no foreign key to users ON DELETE CASCADE",
        "throwaway_notes: no index is led by user_id",
    ]


def test_a_table_protected_by_the_migration_helper_passes(session: Session) -> None:
    connection = session.connection()
    connection.execute(
        text(
            "CREATE TABLE throwaway_notes (id uuid PRIMARY KEY,"
            " user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE, body text)"
        )
    )
    connection.execute(text("CREATE INDEX ix_throwaway_notes_user_id ON throwaway_notes (user_id)"))

    with Operations.context(MigrationContext.configure(connection)):
        security.protect_user_table("throwaway_notes", staff_access=True)

    assert user_table_problems(connection) == []
    with Operations.context(MigrationContext.configure(connection)):
        security.unprotect_user_table("throwaway_notes", staff_access=True)
    assert "throwaway_notes: row level security is not enabled and forced" in (
        user_table_problems(connection)
    )


def test_a_table_the_service_role_owns_is_caught(session: Session) -> None:
    connection = session.connection()
    connection.execute(text("CREATE TABLE throwaway_owned (id int)"))
    connection.execute(text(f"ALTER TABLE throwaway_owned OWNER TO {APP_ROLE}"))

    assert role_problems(connection) == [f"{APP_ROLE} owns throwaway_owned"]
