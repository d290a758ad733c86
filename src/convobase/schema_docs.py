"""docs/schema.md, generated from the models: `convobase db docs [PATH]`.

Each table's description is its model's table comment (`__table_args__`'s
`{"comment": ...}`), with the stories it serves in `info={"stories": (...)}` (an empty
tuple marks infrastructure, which the comment explains); each column's is its
`comment=`. On PostgreSQL the migrations write the same text with COMMENT ON, and
Alembic's comparison of models and database keeps the two in step. Everything else
(types, defaults, keys, CHECKs, indexes) is read from the same MetaData, and row level
security from `convobase.db.verify.PROTECTIONS`, so the document cannot drift from the
schema: tests/test_schema_docs.py fails when the committed file is not what `render`
makes. The output depends on nothing but the models: the same schema always renders
the same text.
"""

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    MetaData,
    Table,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.schema import CallableColumnDefault, DefaultClause, ScalarElementColumnDefault

from convobase.db.base import Base
from convobase.db.verify import POSTGRESQL_TRIGGERS, SERVICE_ROLES, protection_of, touch_triggers

DEFAULT_PATH = Path("docs/schema.md")
REGENERATE = "python3 dev.py run convobase db docs"

# The requirement stories (shared/seeds/<number>_*.txt) a table may serve.
STORIES: dict[str, str] = {
    "000": "Dialog Roleplay Tutor (story 10.7): roleplay of lesson dialogs, tracked in "
    "`tutor_sessions` with `dialog_id` and `selected_role`",
    "001": "Learning platform (task 001): courses, assessments, user progress, virtual "
    "characters and chat sessions",
    "002": "Persona platform (task 2): conversations with personas, and guest sessions "
    "with a message limit",
    "003": "Chat persistence and onboarding sessions (story 2.1.2): messages, resumable "
    "onboarding with phases, progress, goals and context",
    "004": "Coaching app schema: users, messages, analysis every 25 messages, crisis "
    "events and a job queue",
}

# Domain packages in the order the document shows them: a user's data first, then
# what they talk and learn with, then the machinery. Others follow by name.
DOMAIN_ORDER = (
    "users",
    "personas",
    "conversations",
    "analysis",
    "safety",
    "onboarding",
    "learning",
    "reviews",
    "tutoring",
    "jobs",
    "db",
)

# What each policy (by the suffix after `<table>_`) lets through.
POLICIES: dict[str, str] = {
    "owner": "`convobase_app`: the caller's own rows, `user_id = (SELECT convobase_uid())`",
    "self": "`convobase_app`: the caller's own row of `users`, `id = (SELECT convobase_uid())`",
    "staff": "`convobase_staff`: every row, for what its privileges allow",
    "read": "`convobase_app`: reads every row (content nobody owns)",
    "service": "`convobase_app` and `convobase_staff`: every row",
    "keeper": "`convobase_jobs`: every row",
    "owner_maintenance": "the tables' owner (migrations, operators): every row, under FORCE",
}

PRIVILEGE_ORDER = ("SELECT", "INSERT", "UPDATE", "DELETE")

# Types and defaults are read as PostgreSQL spells them; types are then named as this
# document names them on both databases.
_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]
_TYPE_NAMES = {
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "JSONB": "json",
    "JSON": "json (not jsonb)",
}

INTRODUCTION = """\
One schema serves the five requirement stories convobase came from
([stories.md](stories.md)). Table and column names follow the stories wherever they
name a concept; where two stories name the same concept twice, there is one table.
Each description below is the model's own (`comment=` beside each column, `comment` in
each table's `__table_args__`), which PostgreSQL keeps in its catalog too (`COMMENT
ON`, shown by psql's `\\d+`).

- Every timestamp (`timestamptz`) is timezone-aware UTC: `timestamp with time zone` on
  PostgreSQL, UTC text given its zone back on SQLite.
- Every `updated_at` is kept current by the database on every UPDATE, hand-written SQL
  included: the table's `<table>_touch_updated_at` trigger.
- `json` is `jsonb` on PostgreSQL and JSON text on SQLite; `text[]` (a list of
  strings) is `text[]` on PostgreSQL and JSON on SQLite; `uuid` is native on PostgreSQL
  and 32-character text on SQLite.
- Constraints and indexes are named by one convention, the same on both databases:
  `pk_<table>`, `fk_<table>_<column>_<referred table>`, `uq_<table>_<columns>`,
  `ck_<table>_<name>`, `ix_<table>_<columns>` (some indexes keep a story's name).
- A table holding a user's data is *user-owned*: its `user_id` is NOT NULL, cascades
  from `users` and leads an index, and row level security on PostgreSQL lets each
  caller reach their own rows
  ([architecture.md](architecture.md#user-owned-tables-and-row-level-security)).
- A default marked *(app)* is set by the application, not the database."""


def render(metadata: MetaData) -> str:
    """docs/schema.md for `metadata`'s tables."""
    tables = _in_order(metadata)
    parts = [
        "# The schema",
        f"<!-- Generated from the models by `{REGENERATE}` (src/convobase/schema_docs.py):"
        " change the models' descriptions, not this file. -->",
        INTRODUCTION,
        "## Contents",
        _contents(tables),
        "## Diagram",
        _diagram(tables),
        "## Tables by story",
        _by_story(tables),
        "## Row level security (PostgreSQL)",
        _security_legend(),
    ]
    for domain, members in _by_domain(tables):
        parts.append(f"## The `{domain}` package")
        summary = _package_summary(domain)
        if summary:
            parts.append(summary)
        parts.extend(_table_section(table) for table in members)
    return "\n\n".join(parts) + "\n"


def write(path: Path, metadata: MetaData) -> bool:
    """Write `render(metadata)` to `path`; whether that changed the file."""
    text = render(metadata)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


# Order


def _model_of(table: Table) -> type | None:
    for mapper in Base.registry.mappers:
        if mapper.local_table is table:
            return mapper.class_
    return None


def _domain_of(table: Table) -> str:
    model = _model_of(table)
    if model is None:
        return "other"
    parts = model.__module__.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "convobase" else model.__module__


def _domain_rank(domain: str) -> tuple[int, str]:
    order = DOMAIN_ORDER.index(domain) if domain in DOMAIN_ORDER else len(DOMAIN_ORDER)
    return order, domain


def _in_order(metadata: MetaData) -> list[Table]:
    return sorted(
        metadata.tables.values(),
        key=lambda table: (_domain_rank(_domain_of(table)), table.name),
    )


def _by_domain(tables: Sequence[Table]) -> list[tuple[str, list[Table]]]:
    groups: dict[str, list[Table]] = {}
    for table in tables:
        groups.setdefault(_domain_of(table), []).append(table)
    return list(groups.items())


def _package_summary(domain: str) -> str:
    """The first paragraph of the package's docstring (imported with its models), on
    one line."""
    module = sys.modules.get(f"convobase.{domain}")
    doc = (module.__doc__ or "") if module is not None else ""
    first = doc.strip().split("\n\n")[0]
    return " ".join(line.strip() for line in first.splitlines())


# The overview


def _contents(tables: Sequence[Table]) -> str:
    lines = []
    for domain, members in _by_domain(tables):
        links = ", ".join(_link(table.name) for table in members)
        lines.append(f"- `{domain}`: {links}")
    return "\n".join(lines)


def _diagram(tables: Sequence[Table]) -> str:
    lines = ["```mermaid", "erDiagram"]
    for table in tables:
        lines.append(f"    {table.name} {{")
        for column in _ordered_columns(table):
            if not (column.primary_key or column.foreign_keys):
                continue
            keys = ", ".join(
                key
                for key, present in (("PK", column.primary_key), ("FK", bool(column.foreign_keys)))
                if present
            )
            type_name = "".join(c if c.isalnum() else "_" for c in _type_name(column))
            lines.append(f"        {type_name} {column.name} {keys}")
        lines.append("    }")
    for table in tables:
        for key in _foreign_keys(table):
            lines.append(f"    {_relationship(table, key)}")
    lines.append("```")
    return "\n".join(lines)


def _relationship(table: Table, key: ForeignKeyConstraint) -> str:
    columns = list(key.columns)
    required = all(not column.nullable for column in columns)
    names = {column.name for column in columns}
    single = (
        any(
            {column.name for column in constraint.columns} == names
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint)
        )
        or {column.name for column in table.primary_key.columns} == names
    )
    parent = "||" if required else "|o"
    child = "o|" if single else "o{"
    label = ", ".join(column.name for column in columns)
    return f'{key.referred_table.name} {parent}--{child} {table.name} : "{label}"'


def _by_story(tables: Sequence[Table]) -> str:
    serving: dict[str, list[str]] = {story: [] for story in STORIES}
    infrastructure: list[str] = []
    for table in tables:
        stories = _stories_of(table)
        for story in stories:
            serving[story].append(table.name)
        if not stories:
            infrastructure.append(table.name)
    lines = [
        'Which tables serve each story (the models\' `info={"stories": ...}`); the stories '
        "are `shared/seeds/<number>_*.txt`.",
        "",
        "| story | what it asks for | tables |",
        "| --- | --- | --- |",
    ]
    for story, summary in STORIES.items():
        names = ", ".join(_link(name) for name in serving[story]) or "(none)"
        lines.append(f"| {story} | {_cell(summary)} | {names} |")
    names = ", ".join(_link(name) for name in infrastructure) or "(none)"
    lines.append(f"| (none) | infrastructure: each table's description says why | {names} |")
    return "\n".join(lines)


def _stories_of(table: Table) -> tuple[str, ...]:
    stories = tuple(table.info.get("stories", ()))
    unknown = [story for story in stories if story not in STORIES]
    if unknown:
        raise ValueError(f"{table.name} names unknown stories {unknown}: see STORIES")
    return stories


def _security_legend() -> str:
    lines = [
        "On PostgreSQL every table has row level security enabled and forced; each "
        "table's section names its policies and what each service role may do "
        "(`convobase db verify` checks both against the live database). The policies, "
        "by the name after `<table>_`:",
        "",
    ]
    lines += [f"- `{suffix}`: {meaning}" for suffix, meaning in POLICIES.items()]
    return "\n".join(lines)


# One table


def _table_section(table: Table) -> str:
    stories = _stories_of(table)
    plural = "stories" if len(stories) > 1 else "story"
    facts = [f"Serves {plural} {', '.join(stories)}" if stories else "Infrastructure (no story)"]
    model = _model_of(table)
    if model is not None:
        facts.append(f"model `{model.__module__}.{model.__qualname__}`")
    if _user_owned(table):
        facts.append("user-owned")
    parts = [
        f"### {table.name}",
        _text(table.comment or "(no description)"),
        " · ".join(facts),
        _columns_table(table),
        _constraints(table),
    ]
    return "\n\n".join(parts)


def _user_owned(table: Table) -> bool:
    return "user_id" in table.c


def _ordered_columns(table: Table) -> list[Column[Any]]:
    """The primary key, the owner, then the rest as the model declares them."""
    first = [column.name for column in table.primary_key.columns]
    if _user_owned(table) and "user_id" not in first:
        first.append("user_id")
    rest = [column for column in table.c if column.name not in first]
    return [table.c[name] for name in first] + rest


def _columns_table(table: Table) -> str:
    lines = [
        "| column | type | null | default | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for column in _ordered_columns(table):
        null = "yes" if column.nullable else "no"
        description = _cell(column.comment or "(no description)")
        lines.append(
            f"| `{column.name}` | {_type_name(column)} | {null} | {_default(column)} "
            f"| {description} |"
        )
    return "\n".join(lines)


def _type_name(column: Column[Any]) -> str:
    spelled = column.type.compile(dialect=_POSTGRESQL)
    return _TYPE_NAMES.get(spelled, spelled.lower().replace(", ", ","))


def _default(column: Column[Any]) -> str:
    server = column.server_default
    if isinstance(server, DefaultClause):
        arg = server.arg
        sql = arg if isinstance(arg, str) else str(arg.compile(dialect=_POSTGRESQL))
        return _pipes(f"`{sql}`")
    default = column.default
    if isinstance(default, CallableColumnDefault):
        name = getattr(default.arg, "__name__", "a function")
        return f"`{name}()` *(app)*"
    if isinstance(default, ScalarElementColumnDefault):
        return _pipes(f"`{default.arg!r}` *(app)*")
    return ""


def _constraints(table: Table) -> str:
    items = [f"- **Primary key** `{table.primary_key.name}`: {_columns(table.primary_key.columns)}"]
    keys = [
        f"`{key.name}`: {_columns(key.columns)} → {_link(key.referred_table.name)} "
        f"{_columns(element.column for element in key.elements)}, "
        f"ON DELETE {(key.ondelete or 'NO ACTION').upper()}"
        + (f", ON UPDATE {key.onupdate.upper()}" if key.onupdate else "")
        for key in _foreign_keys(table)
    ]
    uniques = [
        f"`{constraint.name}`: {_columns(constraint.columns)}"
        for constraint in _sorted(table.constraints, UniqueConstraint)
    ]
    checks = [
        f"`{constraint.name}`: `{_code(str(constraint.sqltext))}`"
        for constraint in _sorted(table.constraints, CheckConstraint)
    ]
    indexes = [_index(index) for index in sorted(table.indexes, key=lambda index: str(index.name))]
    triggers = sorted(touch_triggers(table) | POSTGRESQL_TRIGGERS.get(table.name, frozenset()))
    for title, entries in (
        ("Foreign keys", keys),
        ("Unique constraints", uniques),
        ("Checks", checks),
        ("Indexes", indexes),
    ):
        if entries:
            items.append(f"- **{title}**:")
            items += [f"  - {entry}" for entry in entries]
    if triggers:
        shown = [
            f"`{name}`" + (" (on PostgreSQL only)" if name not in touch_triggers(table) else "")
            for name in triggers
        ]
        items.append(f"- **Triggers**: {', '.join(shown)}")
    items.append(_security(table))
    return "\n".join(items)


def _foreign_keys(table: Table) -> list[ForeignKeyConstraint]:
    return _sorted(table.constraints, ForeignKeyConstraint)


_Constraint = TypeVar("_Constraint")


def _sorted(constraints: Iterable[object], kind: type[_Constraint]) -> list[_Constraint]:
    chosen = [constraint for constraint in constraints if isinstance(constraint, kind)]
    return sorted(chosen, key=lambda constraint: str(getattr(constraint, "name", "")))


def _index(index: Index) -> str:
    unique = "UNIQUE " if index.unique else ""
    elements = _columns(
        element.name if isinstance(element, Column) else str(element)
        for element in index.expressions
    )
    on_postgresql = index.dialect_options["postgresql"]["where"]
    on_sqlite = index.dialect_options["sqlite"]["where"]
    where = ""
    if on_postgresql is not None:
        where = f" WHERE `{_code(str(on_postgresql))}`"
        if on_sqlite is not None and str(on_sqlite) != str(on_postgresql):
            where += f" (on SQLite `{_code(str(on_sqlite))}`)"
    elif on_sqlite is not None:
        where = f" WHERE `{_code(str(on_sqlite))}` (on SQLite only)"
    return f"`{index.name}`: {unique}{elements}{where}"


def _security(table: Table) -> str:
    protection = protection_of(table)
    if protection is None:
        return (
            "- **Row level security**: nothing declared "
            "(`convobase.db.verify.PROTECTIONS` should name this table)"
        )
    policies = ", ".join(f"`{suffix}`" for suffix in sorted(protection.policies))
    grants = []
    for role in SERVICE_ROLES:
        privileges = protection.grants.get(role, frozenset())
        if privileges:
            shown = ", ".join(p for p in PRIVILEGE_ORDER if p in privileges)
            grants.append(f"`{role}` {shown}")
    granted = "; ".join(grants) if grants else "no service role"
    return f"- **Row level security**: policies {policies}; privileges: {granted}"


# Markdown


def _columns(columns: Iterable[object]) -> str:
    names = [getattr(column, "name", column) for column in columns]
    return "(" + ", ".join(f"`{name}`" for name in names) + ")"


def _link(table: str) -> str:
    return f"[{table}](#{table})"


def _code(sql: str) -> str:
    """SQL on one line, for inline code."""
    return " ".join(sql.split())


def _text(text: str) -> str:
    """Plain text as Markdown: what would read as an HTML tag is escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _cell(text: str) -> str:
    """Plain text for a table cell: on one line, its pipes escaped."""
    return _pipes(_text(" ".join(text.split())))


def _pipes(markdown: str) -> str:
    """Markdown for a table cell (code spans too): its pipes escaped."""
    return markdown.replace("|", "\\|")
