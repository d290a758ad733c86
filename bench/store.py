"""Store-level workloads: convobase's unit of work and services, against the plain
driver sending the same statements, in the same run."""

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from bench import plain
from bench.databases import BenchDatabase
from bench.measure import WARMUP, Measurement, Row, concurrent, sequential
from convobase import bootstrap
from convobase.analysis import service as analysis_service
from convobase.conversations import service
from convobase.conversations.events import UserMessagesCounted
from convobase.conversations.models import MessageRole
from convobase.conversations.schemas import ConversationCreate, MessageCreate
from convobase.core.events import EventBus
from convobase.core.limits import Limits
from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.users import service as user_service

CONTENT = "¿Podemos practicar cómo pedir un café con leche? ☕"
CRISIS_CONTENT = "I can't do this anymore, I want to kill myself"


@dataclass(frozen=True)
class Sizes:
    appends: int
    clients: int
    appends_per_client: int
    reads: int
    long_conversations: tuple[int, ...]
    growth: tuple[int, ...]
    growth_appends: int
    conversations: int
    messages_each: int
    random_ops: int

    @classmethod
    def full(cls) -> "Sizes":
        return cls(
            2000, 8, 250, 2000, (10_000, 100_000), (10, 1_000, 10_000), 500, 10_000, 100, 1000
        )

    @classmethod
    def quick(cls) -> "Sizes":
        return cls(200, 8, 30, 200, (1_000, 10_000), (10, 100, 1_000), 100, 500, 100, 200)


class Convobase:
    """convobase as an application uses it: one unit of work per operation, with the
    analysis trigger and crisis screening on the append path, unless `analysis` or
    `screening` is off (for measuring what each costs)."""

    def __init__(
        self,
        database: BenchDatabase,
        *,
        analysis: bool = True,
        screening: bool = True,
        content: str = CONTENT,
    ) -> None:
        bus = bootstrap.event_bus(database.settings)
        if not screening:
            # The service's bus, but for the one query crisis screening answers.
            bus = EventBus()
            bus.subscribe(UserMessagesCounted, analysis_service.queue_due_analyses)
        self.database = Database.from_settings(database.settings, bus)
        self.limits = Limits(counts_user_messages=analysis)
        self.content = content

    def new_conversation(self) -> tuple[Principal, uuid.UUID]:
        owner = Principal.user(uuid.uuid4())
        with self.database.transaction(owner) as session:
            user_service.register_caller(session, owner)
            conversation = service.create_conversation(session, owner, data=ConversationCreate())
            return owner, conversation.id

    def append(self, owner: Principal, conversation_id: uuid.UUID) -> int:
        data = MessageCreate(role=MessageRole.USER, content=self.content)
        with self.database.transaction(owner) as session:
            appended = service.append_message(
                session, owner, conversation_id, data=data, limits=self.limits
            )
            assert isinstance(appended, service.AppendedMessage)
            return appended.message.seq

    def latest(self, owner: Principal, conversation_id: uuid.UUID) -> int:
        with self.database.transaction(owner, readonly=True) as session:
            return len(service.list_messages(session, owner, conversation_id, limit=50).items)

    def close(self) -> None:
        self.database.dispose()


def run(database: BenchDatabase, sizes: Sizes) -> list[Row]:
    """Every store workload on `database`; one row per workload."""
    ours = Convobase(database)
    theirs = plain.connect(database)
    backend = database.backend
    try:
        rows = [
            _append_one_client(ours, theirs, backend, sizes),
            _append_concurrent(ours, database, backend, sizes),
            *(
                _latest_from_long_conversation(ours, theirs, database, length, sizes)
                for length in sizes.long_conversations
            ),
            *_append_as_history_grows(ours, theirs, database, sizes),
            *_at_scale(ours, theirs, database, sizes),
        ]
    finally:
        theirs.close()
        ours.close()
    return rows


def trigger_cost(database: BenchDatabase, sizes: Sizes) -> tuple[Measurement, Measurement]:
    """Appends of one client with the analysis trigger on and off, interleaved so that
    both see the same machine: (on, off)."""
    return _paired(Convobase(database), Convobase(database, analysis=False), sizes)


def screening_cost(
    database: BenchDatabase, sizes: Sizes, *, content: str = CONTENT
) -> tuple[Measurement, Measurement]:
    """Appends of `content` by one client with crisis screening on and off, interleaved:
    (on, off). With a crisis message, "on" also records its crisis event."""
    on = Convobase(database, content=content)
    off = Convobase(database, screening=False, content=content)
    return _paired(on, off, sizes)


def _paired(on: Convobase, off: Convobase, sizes: Sizes) -> tuple[Measurement, Measurement]:
    """Appends by `on` and `off`, each into a conversation of its own, alternating which
    goes first: (on, off)."""
    try:
        with_trigger, without = on.new_conversation(), off.new_conversation()
        for _ in range(WARMUP):
            on.append(*with_trigger)
            off.append(*without)
        latencies: tuple[list[int], list[int]] = ([], [])
        started = time.perf_counter()
        for i in range(sizes.appends):
            first, second = ((on, with_trigger, 0), (off, without, 1))[:: 1 if i % 2 else -1]
            for ours, (owner, conversation), slot in (first, second):
                begin = time.perf_counter_ns()
                ours.append(owner, conversation)
                latencies[slot].append(time.perf_counter_ns() - begin)
        wall = (time.perf_counter() - started) / 2
        return Measurement(latencies[0], wall), Measurement(latencies[1], wall)
    finally:
        on.close()
        off.close()


def _append_one_client(
    ours: Convobase, theirs: plain.PlainConnection, backend: str, sizes: Sizes
) -> Row:
    owner, conversation = ours.new_conversation()
    other_owner, other_conversation = ours.new_conversation()
    other_user = other_owner.user_id
    assert other_user is not None
    return Row(
        "append, 1 client",
        backend,
        sequential(lambda _: ours.append(owner, conversation), sizes.appends),
        sequential(lambda _: theirs.append(other_conversation, other_user, CONTENT), sizes.appends),
    )


def _append_concurrent(ours: Convobase, database: BenchDatabase, backend: str, sizes: Sizes) -> Row:
    ours_conversations = [ours.new_conversation() for _ in range(sizes.clients)]
    plain_conversations = [ours.new_conversation() for _ in range(sizes.clients)]

    def ours_client(number: int) -> Callable[[int], object]:
        owner, conversation = ours_conversations[number]
        return lambda _: ours.append(owner, conversation)

    def plain_client(number: int) -> Callable[[int], object]:
        owner, conversation = plain_conversations[number]
        connection = plain.connect(database)
        assert owner.user_id is not None
        user_id = owner.user_id
        return lambda _: connection.append(conversation, user_id, CONTENT)

    return Row(
        f"append, {sizes.clients} clients",
        backend,
        concurrent(ours_client, sizes.clients, sizes.appends_per_client),
        concurrent(plain_client, sizes.clients, sizes.appends_per_client),
    )


def _latest_from_long_conversation(
    ours: Convobase,
    theirs: plain.PlainConnection,
    database: BenchDatabase,
    length: int,
    sizes: Sizes,
) -> Row:
    ((conversation, user_id),) = _prefilled(database, 1, length).items()
    owner = Principal.user(user_id)
    return Row(
        f"latest-50 read, {length:,} messages",
        database.backend,
        sequential(lambda _: ours.latest(owner, conversation), sizes.reads),
        sequential(lambda _: theirs.latest(conversation), sizes.reads),
    )


def _append_as_history_grows(
    ours: Convobase, theirs: plain.PlainConnection, database: BenchDatabase, sizes: Sizes
) -> list[Row]:
    return [_append_at(ours, theirs, database, history, sizes) for history in sizes.growth]


def _append_at(
    ours: Convobase,
    theirs: plain.PlainConnection,
    database: BenchDatabase,
    history: int,
    sizes: Sizes,
) -> Row:
    (ours_conversation, ours_user), (plain_conversation, plain_user) = _prefilled(
        database, 2, history
    ).items()
    owner = Principal.user(ours_user)
    return Row(
        f"append at {history:,} messages",
        database.backend,
        sequential(lambda _: ours.append(owner, ours_conversation), sizes.growth_appends),
        sequential(
            lambda _: theirs.append(plain_conversation, plain_user, CONTENT), sizes.growth_appends
        ),
    )


def _at_scale(
    ours: Convobase, theirs: plain.PlainConnection, database: BenchDatabase, sizes: Sizes
) -> list[Row]:
    owners = _prefilled(database, sizes.conversations, sizes.messages_each)
    total = sizes.conversations * sizes.messages_each
    picks = random.Random(7).choices(list(owners.items()), k=sizes.random_ops + 50)

    def mine(i: int) -> tuple[Principal, uuid.UUID]:
        conversation, user_id = picks[i % len(picks)]
        return Principal.user(user_id), conversation

    def append(i: int) -> int:
        return ours.append(*mine(i))

    def latest(i: int) -> int:
        return ours.latest(*mine(i))

    def plain_append(i: int) -> int:
        conversation, user_id = picks[i % len(picks)]
        return theirs.append(conversation, user_id, CONTENT)

    def plain_latest(i: int) -> object:
        conversation, _ = picks[i % len(picks)]
        return theirs.latest(conversation)

    label = f"{total:,} messages / {sizes.conversations:,} conversations"
    return [
        Row(f"append, {label}", database.backend, _ops(append, sizes), _ops(plain_append, sizes)),
        Row(
            f"latest-50 read, {label}",
            database.backend,
            _ops(latest, sizes),
            _ops(plain_latest, sizes),
        ),
    ]


def _ops(operation: Callable[[int], object], sizes: Sizes) -> Measurement:
    return sequential(operation, sizes.random_ops)


def _prefilled(
    database: BenchDatabase, conversations: int, messages_each: int
) -> dict[uuid.UUID, uuid.UUID]:
    """`conversations` conversations of `messages_each` messages, one user per hundred;
    returns conversation id → owner id."""
    users = [uuid.uuid4() for _ in range(max(1, conversations // 100))]
    owners = {uuid.uuid4(): users[n % len(users)] for n in range(conversations)}
    plain.load(database, owners, messages_each)
    return owners
