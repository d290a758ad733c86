"""The due query reads the partial index of cards that are not suspended on both
databases: each spells `NOT suspended` its own way, and the index's WHERE is spelled
as the query's, which SQLite's planner needs to use it."""

from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from convobase.core.principal import Principal
from convobase.core.time import utc_now
from convobase.reviews import repository

DUE_INDEX = "ix_review_cards_due"


def test_the_due_query_reads_the_index_of_cards_not_suspended(
    session: Session, user: Principal
) -> None:
    connection = session.connection()
    statements: list[tuple[str, Any]] = []

    def keep(_: Connection, __: Any, statement: str, parameters: Any, *rest: Any) -> None:
        statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", keep)
    try:
        repository.due(session, user, before=utc_now(), limit=50)
    finally:
        event.remove(connection, "before_cursor_execute", keep)
    ((statement, parameters),) = statements

    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # an empty table
        plan = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars().all()
    else:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        plan = [row[-1] for row in rows]

    assert any(DUE_INDEX in line for line in plan), plan
    assert not any("sort" in line.lower() or "B-TREE" in line for line in plan), plan
