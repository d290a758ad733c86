"""An analysis's batch is read from the partial index of messages waiting for it, on
both databases, so the read does not grow with a user's analysed history."""

import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

from convobase.conversations import repository


def test_a_batch_is_read_from_the_unanalysed_messages_index(session: Session, backend: str) -> None:
    statement = repository.unanalysed_statement().params(owner_id=uuid.uuid4(), limit=25)
    sql = statement.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
    )
    if backend == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))  # the table is tiny here
    explain = "EXPLAIN" if backend == "postgresql" else "EXPLAIN QUERY PLAN"
    plan = session.execute(text(f"{explain} {sql}")).all()
    assert "ix_messages_unanalysed" in " ".join(str(row) for row in plan)
