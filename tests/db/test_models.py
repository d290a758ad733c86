"""The models, checked as a whole: every user-owned table keeps the owner rule, and
no relationship loads behind a caller's back."""

import uuid

import pytest
from sqlalchemy import ForeignKey, Table, create_engine, select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, selectinload

from convobase import table_registry
from convobase.db.base import Base, relationship
from convobase.db.ownership import UserOwned

USER_OWNED = [
    table for table in table_registry.metadata.sorted_tables if "user_id" in table.columns
]


def test_the_registry_holds_user_owned_tables() -> None:
    assert {table.name for table in USER_OWNED} >= {"conversations", "messages"}


@pytest.mark.parametrize("table", USER_OWNED, ids=lambda table: table.name)
def test_user_owned_table_is_mapped_with_the_owner_mixin(table: Table) -> None:
    mappers = [mapper for mapper in Base.registry.mappers if mapper.local_table is table]

    assert mappers
    assert all(issubclass(mapper.class_, UserOwned) for mapper in mappers)


@pytest.mark.parametrize("table", USER_OWNED, ids=lambda table: table.name)
def test_user_id_is_required_cascades_and_leads_an_index(table: Table) -> None:
    column = table.c.user_id
    (foreign_key,) = column.foreign_keys

    assert not column.nullable
    assert (foreign_key.target_fullname, foreign_key.ondelete) == ("users.id", "CASCADE")
    leading = [next(iter(index.columns)).name for index in table.indexes]
    leading.append(next(iter(table.primary_key.columns)).name)
    assert "user_id" in leading


def test_no_mapped_relationship_loads_lazily() -> None:
    lazy = {
        f"{mapper.class_.__name__}.{relation.key}": relation.lazy
        for mapper in Base.registry.mappers
        for relation in mapper.relationships
        if relation.lazy in ("select", True)
    }
    assert lazy == {}


class _Scratch(DeclarativeBase):
    pass


class _Parent(_Scratch):
    __tablename__ = "parent"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    children: Mapped[list["_Child"]] = relationship(back_populates="parent")


class _Child(_Scratch):
    __tablename__ = "child"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    parent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parent.id"))
    parent: Mapped[_Parent] = relationship(back_populates="children")


def test_a_relationship_nobody_loaded_raises_instead_of_querying() -> None:
    engine = create_engine("sqlite://")
    _Scratch.metadata.create_all(engine)
    parent_id = uuid.uuid4()
    with Session(engine) as session:
        session.add_all([_Parent(id=parent_id), _Child(id=uuid.uuid4(), parent_id=parent_id)])
        session.commit()
    with Session(engine) as session:
        child = session.scalars(select(_Child)).one()
        with pytest.raises(InvalidRequestError, match="lazy='raise'"):
            _ = child.parent.id
    with Session(engine) as session:
        loaded = session.scalars(select(_Child).options(selectinload(_Child.parent))).one()
        assert loaded.parent.id == parent_id
    engine.dispose()
