"""Compare the live database with the models: `convobase db verify`.

The models' tables are created a second time and read back through the same
reflection as the live ones, so that each side is spelled the way this database
spells types, defaults, CHECK expressions and index predicates: on PostgreSQL as
temporary tables in the same transaction, which is rolled back (the server rewrites
what it is given: `x IN ('a')` comes back as `x = ANY (ARRAY['a'::text])`); on SQLite,
which keeps the text it was given, in a database of their own in memory. Expressions
are then compared with case, whitespace, parentheses and identifier quotes taken out
(`normalise_sql`).

Triggers and, on PostgreSQL, row level security, policies and grants are created by
the migrations, not by the models: what is expected of them is declared here
(`touch_triggers`, `POSTGRESQL_TRIGGERS`, `PROTECTIONS`), after the revisions that
create them.
"""

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import Connection, Engine, MetaData, Table, bindparam, create_engine, inspect, text
from sqlalchemy.engine import Inspector

from convobase.db.migrations.security import APP_ROLE, STAFF_ROLE

# Revision 0006's role, which keeps the job queue (`Settings.db_jobs_role`).
JOBS_ROLE = "convobase_jobs"
SERVICE_ROLES = (APP_ROLE, STAFF_ROLE, JOBS_ROLE)

# Alembic's own bookkeeping: no model describes it.
IGNORED_TABLES = frozenset({"alembic_version"})


class Kind(StrEnum):
    """What a difference is about."""

    TABLE = "table"
    COLUMN = "column"
    PRIMARY_KEY = "primary key"
    CHECK = "check"
    FOREIGN_KEY = "foreign key"
    UNIQUE = "unique"
    INDEX = "index"
    TRIGGER = "trigger"
    ROW_LEVEL_SECURITY = "row level security"
    POLICY = "policy"
    GRANT = "grant"


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the database differs from what the models (and migrations) expect."""

    kind: Kind
    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.message}"


# What the migrations give each table under PostgreSQL's row level security.

ALL = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
READ = frozenset({"SELECT"})


@dataclass(frozen=True, slots=True)
class Protection:
    """A table's policies (by the suffix after `<table>_`) and each service role's
    privileges on it; a role not named holds none. Every protected table has row level
    security enabled and forced."""

    policies: frozenset[str]
    grants: Mapping[str, frozenset[str]] = field(default_factory=dict)


def user_owned(*, app: frozenset[str] = ALL, staff: frozenset[str] = ALL) -> Protection:
    """`security.protect_user_table(table, staff_access=True)`, with the grants given."""
    return Protection(
        frozenset({"owner", "staff", "owner_maintenance"}), {APP_ROLE: app, STAFF_ROLE: staff}
    )


# `security.protect_catalog_table`.
CATALOG = Protection(
    frozenset({"read", "staff", "owner_maintenance"}), {APP_ROLE: READ, STAFF_ROLE: ALL}
)
# Revision 0006: only the queue's role reaches the job tables.
JOB_TABLE = Protection(frozenset({"keeper", "owner_maintenance"}), {JOBS_ROLE: ALL})

# A table with a `user_id` column that is not named here is `user_owned()`; any other
# table must be named, or verify reports that it does not know what to expect.
PROTECTIONS: Mapping[str, Protection] = {
    # Revisions 0002 and 0004.
    "users": Protection(
        frozenset({"self", "staff", "owner_maintenance"}), {APP_ROLE: ALL, STAFF_ROLE: ALL}
    ),
    "personas": Protection(
        frozenset({"read", "staff", "owner_maintenance"}), {APP_ROLE: ALL, STAFF_ROLE: ALL}
    ),
    # Revision 0005.
    "rate_limits": Protection(
        frozenset({"service", "owner_maintenance"}), {APP_ROLE: ALL, STAFF_ROLE: ALL}
    ),
    # Revision 0006.
    "job_queue": JOB_TABLE,
    "job_schedules": JOB_TABLE,
    "job_workers": JOB_TABLE,
    # Revision 0008: staff's audit trail, which nobody changes.
    "crisis_event_actions": Protection(
        frozenset({"staff", "owner_maintenance"}), {STAFF_ROLE: frozenset({"SELECT", "INSERT"})}
    ),
    # Revision 0009: the onboarding event log, appended to.
    "onboarding_events": user_owned(
        app=frozenset({"SELECT", "INSERT"}), staff=frozenset({"SELECT", "INSERT", "UPDATE"})
    ),
    # Revision 0010: review history, append-only.
    "review_logs": user_owned(
        app=frozenset({"SELECT", "INSERT"}), staff=frozenset({"SELECT", "INSERT"})
    ),
    # Revisions 0011 and 0013.
    **dict.fromkeys(
        (
            "courses",
            "course_sections",
            "course_prerequisites",
            "course_tags",
            "assessments",
            "assessment_versions",
            "library_texts",
            "lesson_dialogs",
            "lesson_dialog_roles",
            "lesson_dialog_lines",
        ),
        CATALOG,
    ),
}

# Triggers the migrations create besides the touch triggers, on PostgreSQL only.
POSTGRESQL_TRIGGERS: Mapping[str, frozenset[str]] = {
    "job_queue": frozenset({"job_queue_notify"}),  # revision 0006: wakes idle workers
}


def touch_triggers(table: Table) -> frozenset[str]:
    """The trigger that keeps `updated_at` current (revision 0001's), if `table` has one."""
    return frozenset({f"{table.name}_touch_updated_at"}) if "updated_at" in table.c else frozenset()


def protection_of(table: Table) -> Protection | None:
    """What row level security `table` has on PostgreSQL, or None if nobody declared it."""
    if table.name in PROTECTIONS:
        return PROTECTIONS[table.name]
    return user_owned() if "user_id" in table.c else None


def verify(engine: Engine, metadata: MetaData) -> list[Difference]:
    """Every difference between the database behind `engine` and `metadata`."""
    postgresql = engine.dialect.name == "postgresql"
    with engine.connect() as connection:
        try:
            # All that is live is read first: on PostgreSQL the models' temporary tables
            # would hide the live ones from unqualified names.
            live = _read_schema(connection, schema=None)
            triggers = _read_triggers(connection)
            security = _read_security(connection) if postgresql else None
            expected = _materialise(connection, metadata)
        finally:
            connection.rollback()
    differences = _compare_schemas(expected, live)
    differences += _compare_triggers(metadata, triggers, live, postgresql=postgresql)
    if security is not None:
        differences += _compare_security(metadata, security, live)
    return differences


# Reading a schema


@dataclass(frozen=True, slots=True)
class _Expression:
    """SQL text as the database gave it back, and the form it is compared in."""

    text: str

    @property
    def key(self) -> str:
        return normalise_sql(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Expression) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class _Column:
    type: str
    nullable: bool
    default: _Expression | None

    def __str__(self) -> str:
        default = f" DEFAULT {self.default}" if self.default is not None else ""
        return f"{self.type} {'NULL' if self.nullable else 'NOT NULL'}{default}"


@dataclass(frozen=True, slots=True)
class _ForeignKey:
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    ondelete: str

    def __str__(self) -> str:
        return (
            f"({', '.join(self.columns)}) REFERENCES {self.referred_table}"
            f" ({', '.join(self.referred_columns)}) ON DELETE {self.ondelete}"
        )


@dataclass(frozen=True, slots=True)
class _Index:
    elements: tuple[str, ...]
    unique: bool
    where: _Expression | None
    using: str | None

    def __str__(self) -> str:
        unique = "UNIQUE " if self.unique else ""
        using = f" USING {self.using}" if self.using else ""
        where = f" WHERE {self.where}" if self.where is not None else ""
        return f"{unique}({', '.join(self.elements)}){using}{where}"


@dataclass(frozen=True, slots=True)
class _Table:
    columns: dict[str, _Column]
    primary_key: tuple[str, ...]
    checks: dict[str, _Expression]
    foreign_keys: dict[str, _ForeignKey]
    uniques: dict[str, tuple[str, ...]]
    indexes: dict[str, _Index]


def _materialise(connection: Connection, metadata: MetaData) -> dict[str, _Table]:
    """The models' tables as the database behind `connection` spells them: created and
    read back, then thrown away."""
    if connection.dialect.name != "postgresql":
        # SQLite keeps the text it was given, so the same library spells the models the
        # same way in a database of their own, in memory.
        scratch = create_engine("sqlite://")
        try:
            with scratch.connect() as scratch_connection:
                metadata.create_all(scratch_connection)
                return _read_schema(scratch_connection, schema=None)
        finally:
            scratch.dispose()
    # Temporary tables in this transaction, which the caller rolls back.
    metadata.create_all(
        connection.execution_options(schema_translate_map={None: "pg_temp"}), checkfirst=False
    )
    # Reflection wants the session's temporary schema by its real name.
    temporary = connection.scalar(
        text("SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()")
    )
    return _read_schema(connection, schema=temporary, tables=metadata.tables)


def _read_schema(
    connection: Connection, *, schema: str | None, tables: Iterable[str] | None = None
) -> dict[str, _Table]:
    inspector = inspect(connection)
    names = inspector.get_table_names() if tables is None else tables
    return {
        name: _read_table(inspector, connection, name, schema)
        for name in sorted(names)
        if name not in IGNORED_TABLES
    }


def _read_table(
    inspector: Inspector, connection: Connection, table: str, schema: str | None
) -> _Table:
    def expression(sql: str) -> _Expression:
        # The temporary schema's name, which PostgreSQL writes into a serial column's
        # default (`nextval('pg_temp_3.t_id_seq'::regclass)`), is not the models'.
        if schema is not None:
            sql = re.sub(rf'"?{re.escape(schema)}"?\.', "", sql)
        return _Expression(sql)

    columns = {
        column["name"]: _Column(
            column["type"].compile(dialect=connection.dialect),
            column["nullable"],
            expression(column["default"]) if column["default"] is not None else None,
        )
        for column in inspector.get_columns(table, schema=schema)
    }
    checks = {
        check["name"] or f"(unnamed on {table}: {check['sqltext']})": expression(check["sqltext"])
        for check in inspector.get_check_constraints(table, schema=schema)
    }
    foreign_keys = {
        key["name"] or f"(unnamed on {table} ({', '.join(key['constrained_columns'])}))": (
            _ForeignKey(
                tuple(key["constrained_columns"]),
                key["referred_table"],
                tuple(key["referred_columns"]),
                str(key.get("options", {}).get("ondelete") or "NO ACTION").upper(),
            )
        )
        for key in inspector.get_foreign_keys(table, schema=schema)
    }
    uniques = {
        unique["name"] or f"(unnamed on {table} ({', '.join(unique['column_names'])}))": tuple(
            unique["column_names"]
        )
        for unique in inspector.get_unique_constraints(table, schema=schema)
    }
    # PostgreSQL's predicates are reflected as `pg_get_expr(indpred, indrelid)` gives
    # them; SQLAlchemy's reading of SQLite's stops at the first line break.
    sqlite_predicates = (
        _sqlite_index_predicates(connection, table) if connection.dialect.name == "sqlite" else {}
    )
    indexes = {}
    for index in inspector.get_indexes(table, schema=schema):
        options = index.get("dialect_options", {})
        where = options.get("postgresql_where", sqlite_predicates.get(index["name"] or ""))
        expressions = index.get("expressions") or index["column_names"]
        indexes[index["name"] or f"(unnamed on {table})"] = _Index(
            tuple(str(element) for element in expressions),
            bool(index["unique"]),
            expression(str(where)) if where is not None else None,
            options.get("postgresql_using"),
        )
    primary_key = inspector.get_pk_constraint(table, schema=schema)
    return _Table(
        columns,
        tuple(primary_key["constrained_columns"]),
        checks,
        foreign_keys,
        uniques,
        indexes,
    )


def _sqlite_index_predicates(connection: Connection, table: str) -> dict[str, str]:
    """The WHERE of each partial index of `table`, from the CREATE INDEX SQLite kept."""
    rows = connection.execute(
        text(
            "SELECT name, sql FROM main.sqlite_master"
            " WHERE type = 'index' AND tbl_name = :table AND sql IS NOT NULL"
        ),
        {"table": table},
    )
    return {name: predicate for name, sql in rows if (predicate := _predicate_of(sql)) is not None}


def _predicate_of(create_index: str) -> str | None:
    """What follows WHERE after the column list of a CREATE INDEX statement."""
    depth, quote = 0, ""
    for position, character in enumerate(create_index):
        if quote:
            if character == quote:
                quote = ""
        elif character in "'\"`[":
            quote = "]" if character == "[" else character
        elif character == "(":
            depth += 1
        elif character == ")":
            depth -= 1
            if depth == 0:
                rest = create_index[position + 1 :]
                where = re.match(r"\s*WHERE\s+(.*\S)", rest, re.IGNORECASE | re.DOTALL)
                return where.group(1) if where else None
    return None


def normalise_sql(sql: str) -> str:
    """`sql` without case, whitespace, parentheses and quotes outside string literals."""
    # Taking out every parenthesis also makes `(a OR b) AND c` equal `a OR (b AND c)`;
    # both sides come from the same reflection, so only a hand-made change could
    # differ that way alone.
    out: list[str] = []
    in_literal = False
    for character in sql:
        if character == "'":
            in_literal = not in_literal  # a doubled '' leaves and re-enters: no harm
            out.append(character)
        elif in_literal:
            out.append(character)
        elif not (character.isspace() or character in '()"`'):
            out.append(character.lower())
    return "".join(out)


# Comparing


def _compare_schemas(expected: dict[str, _Table], live: dict[str, _Table]) -> list[Difference]:
    differences = [
        Difference(Kind.TABLE, name, "expected by the models; the database does not have it")
        for name in sorted(expected.keys() - live.keys())
    ]
    differences += [
        Difference(Kind.TABLE, name, "not in the models; the database has it")
        for name in sorted(live.keys() - expected.keys())
    ]
    for name in sorted(expected.keys() & live.keys()):
        differences += _compare_table(name, expected[name], live[name])
    return differences


def _compare_table(table: str, expected: _Table, live: _Table) -> list[Difference]:
    differences = list(
        _compare_named(
            Kind.COLUMN,
            {f"{table}.{name}": column for name, column in expected.columns.items()},
            {f"{table}.{name}": column for name, column in live.columns.items()},
        )
    )
    if expected.primary_key != live.primary_key:
        differences.append(
            Difference(
                Kind.PRIMARY_KEY,
                table,
                f"expected ({', '.join(expected.primary_key)});"
                f" the database has ({', '.join(live.primary_key)})",
            )
        )
    differences += _compare_named(Kind.CHECK, expected.checks, live.checks, table)
    differences += _compare_named(Kind.FOREIGN_KEY, expected.foreign_keys, live.foreign_keys, table)
    differences += _compare_named(Kind.UNIQUE, expected.uniques, live.uniques, table)
    differences += _compare_named(Kind.INDEX, expected.indexes, live.indexes, table)
    return differences


def _compare_named(
    kind: Kind,
    expected: Mapping[str, object],
    live: Mapping[str, object],
    table: str | None = None,
) -> Iterator[Difference]:
    on = f" on {table}" if table else ""
    for name in sorted(expected.keys() | live.keys()):
        if name not in live:
            yield Difference(
                kind, name, f"expected{on}: {_show(expected[name])}; the database does not have it"
            )
        elif name not in expected:
            yield Difference(
                kind, name, f"not in the models; the database has{on}: {_show(live[name])}"
            )
        elif expected[name] != live[name]:
            yield Difference(
                kind,
                name,
                f"expected {_show(expected[name])}; the database has {_show(live[name])}",
            )


def _show(value: object) -> str:
    return f"({', '.join(value)})" if isinstance(value, tuple) else str(value)


def _read_triggers(connection: Connection) -> set[tuple[str, str]]:
    """(table, trigger) for every trigger of the live schema."""
    if connection.dialect.name == "postgresql":
        statement = (
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE c.relnamespace = CAST(current_schema() AS regnamespace)"
            " AND NOT t.tgisinternal"
        )
    else:
        statement = "SELECT tbl_name, name FROM main.sqlite_master WHERE type = 'trigger'"
    return {
        (table, name)
        for table, name in connection.execute(text(statement))
        if table not in IGNORED_TABLES
    }


def _compare_triggers(
    metadata: MetaData,
    live: set[tuple[str, str]],
    live_tables: Mapping[str, _Table],
    *,
    postgresql: bool,
) -> list[Difference]:
    expected = {
        (table.name, name)
        for table in metadata.tables.values()
        for name in touch_triggers(table)
        | (POSTGRESQL_TRIGGERS.get(table.name, frozenset()) if postgresql else frozenset())
    }
    differences = [
        Difference(Kind.TRIGGER, name, f"expected on {table}; the database does not have it")
        for table, name in sorted(expected - live)
        if table in live_tables  # else reported as a missing table
    ]
    differences += [
        Difference(Kind.TRIGGER, name, f"not expected; the database has it on {table}")
        for table, name in sorted(live - expected)
    ]
    return differences


@dataclass(frozen=True, slots=True)
class _Security:
    """PostgreSQL's row level security of the live schema: (enabled, forced), the
    policies' names by table, and the service roles' privileges by (table, role)."""

    states: dict[str, tuple[bool, bool]]
    policies: dict[str, set[str]]
    grants: dict[tuple[str, str], set[str]]


_IN_SCHEMA = "relnamespace = CAST(current_schema() AS regnamespace)"
_ROW_SECURITY = text(
    "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
    f" WHERE {_IN_SCHEMA} AND relkind IN ('r', 'p')"
)
_POLICIES = text(
    "SELECT tablename, policyname FROM pg_policies WHERE schemaname = current_schema()"
)
# The privileges granted to each role itself, not those it inherits.
_GRANTS = text(
    "SELECT c.relname, r.rolname, a.privilege_type"
    " FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a"
    " JOIN pg_roles r ON r.oid = a.grantee"
    f" WHERE c.{_IN_SCHEMA} AND r.rolname IN :roles"
).bindparams(bindparam("roles", expanding=True))


def _read_security(connection: Connection) -> _Security:
    security = _Security(
        {table: (enabled, forced) for table, enabled, forced in connection.execute(_ROW_SECURITY)},
        {},
        {},
    )
    for table, policy in connection.execute(_POLICIES):
        security.policies.setdefault(table, set()).add(policy)
    for table, role, privilege in connection.execute(_GRANTS, {"roles": list(SERVICE_ROLES)}):
        security.grants.setdefault((table, role), set()).add(privilege)
    return security


def _compare_security(
    metadata: MetaData, live: _Security, live_tables: Mapping[str, _Table]
) -> list[Difference]:
    differences = []
    for table in sorted(metadata.tables.values(), key=lambda table: table.name):
        if table.name not in live_tables:
            continue  # reported as a missing table
        protection = protection_of(table)
        if protection is None:
            differences.append(
                Difference(
                    Kind.ROW_LEVEL_SECURITY,
                    table.name,
                    "nothing is declared of this table's protection:"
                    " add it to convobase.db.verify.PROTECTIONS",
                )
            )
            continue
        enabled, forced = live.states.get(table.name, (False, False))
        if not (enabled and forced):
            state = (
                "forced, not enabled"
                if forced
                else "enabled, not forced"
                if enabled
                else "disabled"
            )
            differences.append(
                Difference(
                    Kind.ROW_LEVEL_SECURITY,
                    table.name,
                    f"expected enabled and forced; the database has it {state}",
                )
            )
        expected_policies = {f"{table.name}_{suffix}" for suffix in protection.policies}
        live_policies = live.policies.get(table.name, set())
        differences += [
            Difference(
                Kind.POLICY, name, f"expected on {table.name}; the database does not have it"
            )
            for name in sorted(expected_policies - live_policies)
        ]
        differences += [
            Difference(Kind.POLICY, name, f"not expected; the database has it on {table.name}")
            for name in sorted(live_policies - expected_policies)
        ]
        for role in SERVICE_ROLES:
            want = protection.grants.get(role, frozenset())
            have = live.grants.get((table.name, role), set())
            if want != have:
                differences.append(
                    Difference(
                        Kind.GRANT,
                        f"{table.name} to {role}",
                        f"expected {_privileges(want)}; the database has {_privileges(have)}",
                    )
                )
    return differences


def _privileges(privileges: Iterable[str]) -> str:
    return ", ".join(sorted(privileges)) or "no privilege"
