"""The message pages' plans on PostgreSQL, as the service runs them under row level
security: whoever the caller, a page of a long conversation is read from the
`(conversation_id, seq)` index in order, with no sort, touching only the rows it
returns. A plan that read the whole conversation would make every page's cost grow
with the conversation's length."""

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from sqlalchemy import text

from convobase.conversations import repository
from convobase.core.principal import Principal
from convobase.db.ownership import owner_parameters, scope_of
from convobase.db.session import Database
from tests.databases import LiveDatabase, TemplateDatabase

pytestmark = pytest.mark.parametrize("template_database", ["postgresql"], indirect=True)

LONG = 20_000
PAGE = 51  # a page of 50 and one more, as the service asks
SEQ_INDEX = "uq_messages_conversation_id_seq"


@dataclass(frozen=True)
class Long:
    """Two conversations of LONG messages, a user's and a guest's, among many short
    ones of other users."""

    database: Database
    user: Principal
    user_conversation: uuid.UUID
    guest: Principal
    guest_conversation: uuid.UUID


@pytest.fixture(scope="module")
def long_conversations(template_database: TemplateDatabase) -> Iterator[Long]:
    with template_database.clone() as live:
        user, guest = Principal.user(uuid.uuid4()), Principal.guest(str(uuid.uuid4()))
        user_conversation, guest_conversation = uuid.uuid4(), uuid.uuid4()
        _load(live, user, user_conversation, guest, guest_conversation)
        database = Database.from_settings(live.settings)  # as the service: convobase_app
        yield Long(database, user, user_conversation, guest, guest_conversation)
        database.dispose()


def _load(
    live: LiveDatabase,
    user: Principal,
    user_conversation: uuid.UUID,
    guest: Principal,
    guest_conversation: uuid.UUID,
) -> None:
    with live.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, goals, last_active, created_at, updated_at)"
                " SELECT gen_random_uuid(), '{}', now(), now(), now()"
                " FROM generate_series(1, 2000);"
                "INSERT INTO conversations"
                " (id, user_id, started_at, last_message_at, created_at, updated_at, last_seq)"
                " SELECT gen_random_uuid(), id, now(), now(), now(), now(), 10 FROM users;"
                "INSERT INTO messages (id, conversation_id, user_id, seq, role, content,"
                " created_at) SELECT gen_random_uuid(), c.id, c.user_id, n, 'user', 'hola', now()"
                " FROM conversations AS c, generate_series(1, 10) AS n"
            )
        )
        for owner, conversation, anonymous, session_id in (
            (user.owner_id, user_conversation, False, None),
            (guest.owner_id, guest_conversation, True, guest.guest_session_id),
        ):
            parameters = {"owner": owner, "conversation": conversation, "count": LONG}
            connection.execute(
                text(
                    "INSERT INTO users (id, goals, last_active, created_at, updated_at,"
                    " is_anonymous) VALUES (:owner, '{}', now(), now(), now(), :anonymous)"
                ),
                {**parameters, "anonymous": anonymous},
            )
            connection.execute(
                text(
                    "INSERT INTO conversations (id, user_id, session_id, is_guest_session,"
                    " started_at, last_message_at, created_at, updated_at, last_seq)"
                    " VALUES (:conversation, :owner, :session_id, :anonymous,"
                    " now(), now(), now(), now(), :count)"
                ),
                {**parameters, "anonymous": anonymous, "session_id": session_id},
            )
            connection.execute(
                text(
                    "INSERT INTO messages (id, conversation_id, user_id, seq, role, content,"
                    " created_at) SELECT gen_random_uuid(), :conversation, :owner, n, 'user',"
                    " 'hola', now() FROM generate_series(1, :count) AS n"
                ),
                parameters,
            )
        connection.execute(text("ANALYZE"))


Direction = Literal["after", "before"] | None


def _plan(long: Long, caller: str, direction: Direction) -> dict[str, Any]:
    principal, conversation = {
        "user": (long.user, long.user_conversation),
        "guest": (long.guest, long.guest_conversation),
        "staff": (Principal.staff(uuid.uuid4()), long.user_conversation),
    }[caller]
    # Staff read other users' pages through the staff routes, which grant every row.
    statement = repository.page_statement(scope_of(principal, staff=True), direction)
    parameters = {
        "conversation_id": conversation,
        "limit": PAGE,
        "before": LONG // 2,
        "after": LONG // 2,
        **owner_parameters(principal),
    }
    with long.database.transaction(principal, readonly=True) as session:
        connection = session.connection()
        compiled = statement.compile(dialect=connection.dialect)
        explain = "EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF) " + str(compiled)
        output = connection.exec_driver_sql(explain, compiled.construct_params(parameters))
        raw = output.scalar_one()
    document = raw if isinstance(raw, list) else json.loads(raw)
    plan: dict[str, Any] = document[0]["Plan"]
    return plan


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("direction", [None, "before", "after"], ids=["latest", "before", "after"])
@pytest.mark.parametrize("caller", ["user", "guest", "staff"])
def test_a_page_of_a_long_conversation_reads_only_its_rows_in_index_order(
    long_conversations: Long, caller: str, direction: Direction
) -> None:
    nodes = list(_nodes(_plan(long_conversations, caller, direction)))
    scans = [node for node in nodes if node.get("Relation Name") == "messages"]

    assert [node["Node Type"] for node in nodes if node["Node Type"] == "Sort"] == []
    assert [(scan["Node Type"], scan.get("Index Name")) for scan in scans] == [
        ("Index Scan", SEQ_INDEX)
    ]
    assert scans[0]["Actual Rows"] == PAGE
    assert scans[0].get("Rows Removed by Filter", 0) == 0
