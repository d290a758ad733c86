"""The declarative base, its naming convention, and column types that mean the same on
SQLite and PostgreSQL."""

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Dialect, MetaData, Numeric, Text, TypeDecorator, Uuid
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, Relationship, mapped_column
from sqlalchemy.orm import relationship as orm_relationship
from sqlalchemy.orm.relationships import _LazyLoadArgumentType

from convobase.core.ids import new_id
from convobase.core.time import utc_now

# Constraint names are part of the schema: migrations refer to them, so they must be
# the same on every database and in every revision.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so values are stored as
    UTC and given their zone back on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use convobase.core.time.utc_now()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # SQLite hands back the text SQLAlchemy stored ('YYYY-MM-DD HH:MM:SS.ffffff', UTC).
        # The C parser reads it several times faster than SQLAlchemy's regular
        # expression, which shows on every page of messages.
        def process(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)

        return process


class Tenths(TypeDecorator[Decimal]):
    """A number with one decimal, such as a score of 12.5: NUMERIC(3, 1) on both
    databases, a Decimal in Python. SQLite keeps it as a float, which holds one decimal
    exactly enough to read back the same Decimal."""

    impl = Numeric(3, 1, asdecimal=False)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> float | None:
        return None if value is None else float(value)

    def process_result_value(self, value: float | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(Decimal("0.1"))


class Percent(TypeDecorator[Decimal]):
    """A percentage with two decimals, such as a completion of 33.33: NUMERIC(5, 2) on
    both databases, a Decimal in Python. Values are rounded to two decimals (half up)
    before they are stored; SQLite keeps them as floats, which hold two decimals of
    0..100 exactly enough to read back the same Decimal."""

    impl = Numeric(5, 2, asdecimal=False)
    cache_ok = True

    STEP = Decimal("0.01")

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> float | None:
        return None if value is None else float(Decimal(value).quantize(self.STEP, ROUND_HALF_UP))

    def process_result_value(self, value: float | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(self.STEP)


# JSON documents are JSONB on PostgreSQL (indexable, compact) and JSON text on SQLite.
JSONDocument = JSON().with_variant(postgresql.JSONB(), "postgresql")

# Lists of strings are text[] on PostgreSQL, as the stories have them, and JSON on SQLite.
TextList = JSON().with_variant(postgresql.ARRAY(Text()), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        str: Text(),
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JSONDocument,
        list[str]: TextList,
    }


def one_of(column: str, values: Iterable[str]) -> str:
    """A CHECK expression limiting `column` to `values`."""
    return f"{column} IN ({', '.join(repr(str(value)) for value in values)})"


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True,
        default=new_id,
        comment="The row's id: a random UUID (version 4) made by the service.",
    )


class CreatedAtMixin:
    created_at: Mapped[datetime] = mapped_column(
        default=utc_now, comment="When the row was created."
    )


class TimestampsMixin(CreatedAtMixin):
    # The database also keeps `updated_at` current for writes that bypass the ORM
    # (see the touch triggers in the first migration).
    updated_at: Mapped[datetime] = mapped_column(
        default=utc_now,
        onupdate=utc_now,
        comment="When the row last changed: kept current by a trigger on every UPDATE.",
    )


def relationship(
    argument: Any = None, *, lazy: _LazyLoadArgumentType = "raise", **options: Any
) -> Relationship[Any]:
    """SQLAlchemy's `relationship`, which never loads on attribute access by default.

    A lazy load would run a query wherever the attribute is first touched: in a
    route after the transaction has closed, or once per row in a loop. A service
    that needs related rows says how to load them (`selectinload`, `joinedload`).
    """
    return orm_relationship(argument, lazy=lazy, **options)
