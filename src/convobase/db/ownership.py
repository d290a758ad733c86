"""One owner-scoping rule for every user-owned table.

A user-owned table mixes in `UserOwned`: each row carries the `user_id` of the user it
belongs to (a guest's rows belong to its session's anonymous user), deleted with them.
Every query a repository runs on a caller's behalf is limited with `visible` or
`scoped`, so the rule is written once; PostgreSQL's row level security policies test
the same column a second time (`convobase.db.migrations.security`).

Staff see other users' rows only where a domain grants it, explicitly, with
`staff=True`; otherwise staff see their own rows, like anybody else.
"""

import uuid
from enum import Enum
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Delete,
    ForeignKey,
    Select,
    Table,
    Update,
    Uuid,
    bindparam,
    text,
    true,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from convobase.core.principal import Principal

OWNER_ID = "owner_id"


class UserOwned:
    """Mixin for a table whose rows each belong to one user."""

    # False where the table declares its own index led by user_id instead.
    user_id_indexed: ClassVar[bool] = True
    # True where a user has at most one row: user_id is then the primary key.
    user_id_is_key: ClassVar[bool] = False
    # The column's description (docs/schema.md, and its comment on PostgreSQL), where a
    # table says more of its owner.
    user_id_comment: ClassVar[str] = (
        "The user who owns the row (a guest's rows belong to its session's anonymous "
        "user); the row is deleted with them."
    )

    @declared_attr
    def user_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            ForeignKey("users.id", ondelete="CASCADE"),
            index=cls.user_id_indexed and not cls.user_id_is_key,
            primary_key=cls.user_id_is_key,
            comment=cls.user_id_comment,
        )


class Scope(Enum):
    """Which rows of a user-owned table a caller may reach."""

    OWN_ROWS = "own rows"
    EVERY_ROW = "every row"


def scope_of(principal: Principal, *, staff: bool = False) -> Scope:
    """The scope of `principal`; `staff=True` where the domain grants staff every row."""
    return Scope.EVERY_ROW if staff and principal.is_staff else Scope.OWN_ROWS


def visible(entity: type[UserOwned] | Table, scope: Scope) -> ColumnElement[bool]:
    """The rows of `entity` in `scope`, as a WHERE clause for Core and ORM statements.

    The owner is a bind parameter, filled from `owner_parameters(principal)`, so a
    statement can be built once per scope and run for every caller.
    """
    if scope is Scope.EVERY_ROW:
        return true()
    column = entity.c.user_id if isinstance(entity, Table) else entity.user_id
    return column == bindparam(OWNER_ID, type_=Uuid())


def owner_parameters(principal: Principal) -> dict[str, Any]:
    """The bind parameters `visible` clauses read."""
    return {OWNER_ID: principal.owner_id}


Statement = TypeVar("Statement", Select[Any], Update, Delete)


def scoped(
    statement: Statement,
    entity: type[UserOwned] | Table,
    principal: Principal,
    *,
    staff: bool = False,
) -> Statement:
    """`statement` limited to the rows of `entity` that `principal` may reach."""
    clause = visible(entity, scope_of(principal, staff=staff))
    return statement.where(clause).params(owner_parameters(principal))


def hand_over(connection: Connection, giver: uuid.UUID, receiver: uuid.UUID) -> None:
    """Give every row `giver` owns, in every user-owned table, to `receiver`.

    The transaction must act as `giver` with `handover_to=receiver`
    (`convobase.db.identity.act_as`): on PostgreSQL a function that runs as the tables'
    owner moves the rows, which row level security lets no caller do itself, and
    refuses any other transaction. The tables are read from the catalog on both
    databases, so a new user-owned table is handed over without a change here.
    """
    parameters = {"giver": giver, "receiver": receiver}
    if connection.dialect.name == "postgresql":
        connection.execute(_HAND_OVER, parameters)
        return
    tables = connection.scalars(_SQLITE_USER_OWNED_TABLES).all()
    for table in tables:
        quoted = connection.dialect.identifier_preparer.quote(table)
        statement = text(f"UPDATE {quoted} SET user_id = :receiver WHERE user_id = :giver")
        connection.execute(statement.bindparams(*_UUIDS), parameters)


_UUIDS = (bindparam("giver", type_=Uuid()), bindparam("receiver", type_=Uuid()))
_HAND_OVER = text("SELECT convobase_hand_over(:giver, :receiver)").bindparams(*_UUIDS)
_SQLITE_USER_OWNED_TABLES = text(
    "SELECT m.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS c"
    " WHERE m.type = 'table' AND c.name = 'user_id' ORDER BY m.name"
)
