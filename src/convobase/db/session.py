"""Units of work: one transaction per operation, committed or rolled back whole."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from convobase.config import Settings
from convobase.core.principal import Principal
from convobase.db import identity
from convobase.db.engine import SQLITE_BEGIN, create_database_engine


class Database:
    """The database an entry point (HTTP request, CLI command, job run) works in."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._readers = sessionmaker(engine, expire_on_commit=False, autoflush=False)
        writer_engine = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._writers = sessionmaker(writer_engine, expire_on_commit=False, autoflush=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Database":
        return cls(create_database_engine(settings))

    @contextmanager
    def transaction(
        self, principal: Principal | None = None, *, readonly: bool = False
    ) -> Iterator[Session]:
        """Run one unit of work as `principal`: commit when the block ends, roll back
        if it raises."""
        factory = self._readers if readonly else self._writers
        with factory() as session:
            identity.act_as(session, principal)
            with session.begin():
                yield session

    def dispose(self) -> None:
        self.engine.dispose()
