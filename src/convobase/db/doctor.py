"""What the schema cannot state, checked against the rows: `convobase db doctor`.

The schema keeps seqs unique and counters non-negative, but it cannot say that a
conversation's `last_seq` is its newest message's seq, that its messages are numbered
1..n, that a guest conversation's `guest_message_count` counts its `user` messages,
that a user's message tally keeps up with the messages waiting for analysis, that a
row is owned by its conversation's owner, or that an active job's lease has not run
out. Each check here is one statement, which answers how many rows break the rule and
the ids of a few of them.

The repairs recompute a counter from the rows it counts. Each first locks the rows it
will change (on PostgreSQL, `SELECT … FOR UPDATE`; SQLite's writer already holds the
database), then recomputes in a statement of its own, which therefore sees every
append that committed before the lock: an append in flight either committed before, or
waits until the repair's transaction ends and then continues from the repaired counter.
Seq gaps and rows of the wrong owner are reported and never changed (see `CHECKS`).

Storage-level tooling, like `migrate.py`: it runs as the tables' owner, and it names
the tables and columns it reads itself, as the migrations do, because `convobase.db`
sits below the domains whose models declare them. What it needs to know of the
analysis trigger (the task's name and the batch size) is handed in
(`AnalysisTrigger`).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Integer,
    Select,
    Text,
    Uuid,
    and_,
    case,
    column,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from convobase.db.base import JSONDocument, UTCDateTime

# How many ids of offending rows a finding names.
SAMPLE_SIZE = 5

conversations = table(
    "conversations",
    column("id", Uuid()),
    column("user_id", Uuid()),
    column("is_guest_session", Boolean()),
    column("guest_message_count", Integer()),
    column("last_seq", Integer()),
)
messages = table(
    "messages",
    column("id", Uuid()),
    column("conversation_id", Uuid()),
    column("user_id", Uuid()),
    column("seq", Integer()),
    column("role", Text()),
    column("analysis_included", Boolean()),
)
users = table("users", column("id", Uuid()), column("is_anonymous", Boolean()))
tallies = table("message_tallies", column("user_id", Uuid()), column("user_messages", Integer()))
results = table("analysis_results", column("user_id", Uuid()), column("batch", Integer()))
crisis_events = table(
    "crisis_events",
    column("id", Uuid()),
    column("user_id", Uuid()),
    column("conversation_id", Uuid()),
)
jobs = table(
    "job_queue",
    column("id", Uuid()),
    column("name", Text()),
    column("data", JSONDocument),
    column("state", Text()),
    column("for_user_id", Uuid()),
    column("lease_expires_at", UTCDateTime()),
)

# An analysis job still to run (queued, or running), or failed with its retries spent:
# staff may retry it, and it then analyses a batch like any other.
_BATCH_JOB_STATES = ("queued", "active", "failed")


@dataclass(frozen=True, slots=True)
class Check:
    """One rule the rows must keep: what breaks it (`noun`, `description`), and what
    `--repair` does about it (`repair`), or why it leaves it alone (`reported_only`)."""

    name: str
    noun: str
    description: str
    repair: str | None = None
    reported_only: str | None = None


LAST_SEQ = Check(
    "last_seq",
    "conversations",
    "whose last_seq is not their newest message's seq",
    repair="last_seq set to the newest message's seq, 0 without messages",
)
SEQ_GAPS = Check(
    "seq_gaps",
    "conversations",
    "whose messages are not numbered 1, 2, 3... without gaps",
    reported_only=(
        "never renumbered: clients hold seqs as cursors (?after=SEQ), and renumbering "
        "would make them skip or repeat messages"
    ),
)
GUEST_MESSAGE_COUNT = Check(
    "guest_message_count",
    "guest conversations",
    "whose guest_message_count is not the number of their user messages",
    repair="guest_message_count recounted from the conversation's user messages",
)
ANALYSIS_TALLY = Check(
    "analysis_tally",
    "users",
    "whose message tally is behind: user messages wait for analysis that no batch "
    "queued will take, or the tally is below the batches already numbered",
    repair=(
        "tally raised by the messages it missed and past the batches numbered, queueing "
        "the batches it passes as the trigger does"
    ),
)
EXPIRED_LEASES = Check(
    "expired_leases",
    "jobs",
    "active past their lease: their worker stopped (a running worker re-queues them)",
    repair="queued again, or failed with no attempts left, as a worker's sweep does",
)
GUEST_USERS_WITHOUT_SESSION = Check(
    "guest_users_without_session",
    "anonymous users",
    "with no guest conversation: rows of a guest session nobody can reach",
    reported_only="deleting them deletes what they own, crisis events among it: look first",
)
GUEST_CONVERSATIONS_OF_USERS = Check(
    "guest_conversations_of_users",
    "guest conversations",
    "owned by a signed-in user: a claim left half done",
    reported_only="which owner is right is for a person to decide",
)
MESSAGE_OWNERS = Check(
    "message_owners",
    "messages",
    "owned by someone other than their conversation's owner",
    reported_only="which owner is right is for a person to decide",
)
CRISIS_EVENT_OWNERS = Check(
    "crisis_event_owners",
    "crisis events",
    "owned by someone other than their conversation's owner",
    reported_only="which owner is right is for a person to decide",
)

CHECKS = (
    LAST_SEQ,
    SEQ_GAPS,
    GUEST_MESSAGE_COUNT,
    ANALYSIS_TALLY,
    EXPIRED_LEASES,
    GUEST_USERS_WITHOUT_SESSION,
    GUEST_CONVERSATIONS_OF_USERS,
    MESSAGE_OWNERS,
    CRISIS_EVENT_OWNERS,
)


@dataclass(frozen=True, slots=True)
class Finding:
    """What a check found: how many rows break its rule, and the ids of a few (in id
    order); `skipped` says why it did not run."""

    check: Check
    count: int
    sample: tuple[str, ...] = ()
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class AnalysisTrigger:
    """How the analysis domain counts: every `batch_size` user messages on a user's
    tally queue one job of task `task`, whose payload names the batch's number."""

    task: str
    batch_size: int


def examine(
    connection: Connection, *, now: datetime, trigger: AnalysisTrigger | None
) -> list[Finding]:
    """Run every check, in `CHECKS` order; changes nothing. With `trigger` None
    (analysis is off, so no tally is kept) the tally check is skipped."""
    findings = []
    for check in CHECKS:
        if check is ANALYSIS_TALLY and trigger is None:
            findings.append(Finding(check, 0, skipped="analysis is off: no tallies are kept"))
            continue
        statement = _offenders(check, now=now, trigger=trigger)
        rows = connection.execute(statement).all()
        count = rows[0].total if rows else 0
        findings.append(Finding(check, count, tuple(str(row.id) for row in rows)))
    return findings


# --- repairs -----------------------------------------------------------------------


def repair_last_seq(connection: Connection) -> int:
    """Set each conversation's `last_seq` to its newest message's seq; how many changed."""
    return _lock_and_update(connection, _WRONG_LAST_SEQ, last_seq=_NEWEST_SEQ)


def repair_guest_message_counts(connection: Connection) -> int:
    """Recount each guest conversation's `guest_message_count`; how many changed."""
    return _lock_and_update(connection, _WRONG_GUEST_COUNT, guest_message_count=_USER_MESSAGES)


class TallyRepair(NamedTuple):
    """A user's tally as it was (`before`), past the batches already numbered
    (`passed`), and as repaired (`after`): the batches between `passed` and `after`
    are due."""

    user_id: uuid.UUID
    before: int
    passed: int
    after: int


def repair_tallies(connection: Connection, trigger: AnalysisTrigger) -> list[TallyRepair]:
    """Raise each tally that is behind (`ANALYSIS_TALLY`); the caller queues the
    batches each raise passes. A tally is never lowered: its batches' numbers are
    taken for good (each is a result's key)."""
    behind = select(users.c.id).where(_tally_behind(trigger)).order_by(users.c.id)
    repairs = []
    for user_id in connection.scalars(behind).all():
        repair = _repair_tally(connection, user_id, trigger)
        if repair is not None:
            repairs.append(repair)
    return repairs


def _repair_tally(
    connection: Connection, user_id: uuid.UUID, trigger: AnalysisTrigger
) -> TallyRepair | None:
    # The row first, locked: the user's appends now wait to count on it, so the
    # messages and jobs read next are all it can have counted.
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(
        insert(tallies)
        .values(user_id=user_id, user_messages=0)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    locked = select(tallies.c.user_messages).where(tallies.c.user_id == user_id).with_for_update()
    before: int = connection.execute(locked).scalar_one()
    state = _tally_state(trigger)
    of_user = select(state.unanalysed, state.pending, state.top_batch).where(users.c.id == user_id)
    unanalysed, pending, top_batch = connection.execute(of_user).one()
    size = trigger.batch_size
    passed = max(before, top_batch * size)
    missed = unanalysed - pending * size - passed % size
    after = passed + max(missed, 0)
    if after == before:
        return None
    connection.execute(
        update(tallies).where(tallies.c.user_id == user_id).values(user_messages=after)
    )
    return TallyRepair(user_id, before, passed, after)


def _lock_and_update(connection: Connection, wrong: ColumnElement[bool], **values: Any) -> int:
    # Locked in a statement of their own: the UPDATE after it then reads every message
    # committed up to the lock (PostgreSQL re-reads only the locked row itself, not the
    # subqueries, when an UPDATE waits on a lock).
    locking = select(conversations.c.id).where(wrong).order_by(conversations.c.id)
    connection.execute(locking.with_for_update()).all()
    changed: int = connection.execute(update(conversations).where(wrong).values(values)).rowcount
    return changed


# --- the rules, as predicates --------------------------------------------------------

_OF_CONVERSATION = messages.c.conversation_id == conversations.c.id
_IS_USER_MESSAGE = messages.c.role == "user"

_NEWEST_SEQ = (
    select(func.coalesce(func.max(messages.c.seq), 0)).where(_OF_CONVERSATION).scalar_subquery()
)
_MESSAGE_COUNT = select(func.count()).where(_OF_CONVERSATION).scalar_subquery()
_USER_MESSAGES = select(func.count()).where(_OF_CONVERSATION, _IS_USER_MESSAGE).scalar_subquery()

_WRONG_LAST_SEQ = conversations.c.last_seq != _NEWEST_SEQ
# Seqs are unique and at least 1 (the schema says so): they are 1..n exactly when the
# newest is the count.
_SEQ_GAP = _MESSAGE_COUNT != _NEWEST_SEQ
_WRONG_GUEST_COUNT = and_(
    conversations.c.is_guest_session, conversations.c.guest_message_count != _USER_MESSAGES
)


class _TallyState(NamedTuple):
    """A signed-in user's tally and what it should keep up with, as expressions
    correlated to `users`."""

    tally: ColumnElement[int]
    unanalysed: ColumnElement[int]
    pending: ColumnElement[int]
    top_batch: ColumnElement[int]


def _tally_state(trigger: AnalysisTrigger) -> _TallyState:
    """The user's tally (0 without a row); their un-analysed `user` messages; their
    analysis jobs still to run, or failed; and the highest batch number a result or a
    job of theirs has taken."""
    analysis_jobs = and_(jobs.c.for_user_id == users.c.id, jobs.c.name == trigger.task)
    tally = select(tallies.c.user_messages).where(tallies.c.user_id == users.c.id)
    unanalysed = select(func.count()).where(
        messages.c.user_id == users.c.id, _IS_USER_MESSAGE, not_(messages.c.analysis_included)
    )
    pending = select(func.count()).where(analysis_jobs, jobs.c.state.in_(_BATCH_JOB_STATES))
    result_batch = select(func.coalesce(func.max(results.c.batch), 0)).where(
        results.c.user_id == users.c.id
    )
    batch_number = jobs.c.data["batch"].as_integer()
    job_batch = select(func.coalesce(func.max(batch_number), 0)).where(analysis_jobs)
    result_top, job_top = result_batch.scalar_subquery(), job_batch.scalar_subquery()
    return _TallyState(
        tally=func.coalesce(tally.scalar_subquery(), 0),
        unanalysed=unanalysed.scalar_subquery(),
        pending=pending.scalar_subquery(),
        top_batch=case((result_top > job_top, result_top), else_=job_top),
    )


def _tally_behind(trigger: AnalysisTrigger) -> ColumnElement[bool]:
    """A signed-in user's tally counts fewer messages than wait for analysis beyond the
    batches queued for them, or fewer than the batches numbered so far.

    The tally only grows: each `user` message counts once, and every `batch_size`
    queue a batch, which analyses the oldest `batch_size` messages not yet analysed.
    So the messages waiting are at most `batch_size` per batch still to run plus the
    tally's part of the next batch; more (a tally lowered or lost, or a lost batch
    job) wait for nothing. Deleted messages only make fewer wait.
    """
    state = _tally_state(trigger)
    size = trigger.batch_size
    return and_(
        not_(users.c.is_anonymous),
        or_(
            state.unanalysed > state.pending * size + state.tally % size,
            state.tally < state.top_batch * size,
        ),
    )


def _offenders(check: Check, *, now: datetime, trigger: AnalysisTrigger | None) -> Select[Any]:
    """The first SAMPLE_SIZE ids of the rows breaking `check`'s rule, in id order, each
    with how many there are in all (`total`)."""
    key: Any
    if check is LAST_SEQ:
        key, where = conversations.c.id, [_WRONG_LAST_SEQ]
    elif check is SEQ_GAPS:
        key, where = conversations.c.id, [_SEQ_GAP]
    elif check is GUEST_MESSAGE_COUNT:
        key, where = conversations.c.id, [_WRONG_GUEST_COUNT]
    elif check is ANALYSIS_TALLY:
        assert trigger is not None
        key, where = users.c.id, [_tally_behind(trigger)]
    elif check is EXPIRED_LEASES:
        expired = jobs.c.lease_expires_at < literal(now, UTCDateTime())
        key, where = jobs.c.id, [jobs.c.state == "active", expired]
    elif check is GUEST_USERS_WITHOUT_SESSION:
        session = exists().where(conversations.c.user_id == users.c.id)
        session = session.where(conversations.c.is_guest_session)
        key, where = users.c.id, [users.c.is_anonymous, not_(session)]
    elif check is GUEST_CONVERSATIONS_OF_USERS:
        owner = users.c.id == conversations.c.user_id
        signed_in = exists().where(owner, not_(users.c.is_anonymous))
        key, where = conversations.c.id, [conversations.c.is_guest_session, signed_in]
    elif check is MESSAGE_OWNERS:
        owner = select(conversations.c.user_id).where(_OF_CONVERSATION).scalar_subquery()
        key, where = messages.c.id, [messages.c.user_id != owner]
    elif check is CRISIS_EVENT_OWNERS:
        of_event = conversations.c.id == crisis_events.c.conversation_id
        owner = select(conversations.c.user_id).where(of_event).scalar_subquery()
        key, where = crisis_events.c.id, [crisis_events.c.user_id != owner]
    else:  # pragma: no cover - every check has its rule above
        raise ValueError(f"no rule for {check.name}")
    return _first_of(key, where)


def _first_of(key: Any, where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    total = func.count().over().label("total")
    return select(key.label("id"), total).where(*where).order_by(key).limit(SAMPLE_SIZE)
