"""`convobase db doctor`: check what the schema cannot, and with `repair` fix what can
be recomputed from the rows, in one transaction, as the tables' owner.

The checks and the counters' repairs are storage-level SQL (`convobase.db.doctor`).
What belongs to a domain is done through that domain: expired leases are released by
the job queue's own sweep, and the analysis batches a repaired tally passes are queued
by the analysis trigger itself. Without `repair` the transaction is read-only.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from convobase.analysis import service as analysis_service
from convobase.conversations.events import UserMessagesCounted
from convobase.core.time import utc_now
from convobase.db import doctor as checks
from convobase.db.doctor import AnalysisTrigger, Check, Finding
from convobase.db.session import Database
from convobase.jobs import service as job_service

# Recorded as the last error of each job whose lease the repair releases.
LEASE_RELEASED = (
    "lease expired: the worker running it stopped answering "
    "(released by `convobase db doctor --repair`)"
)
ANALYSIS_TRIGGER = AnalysisTrigger(analysis_service.ANALYSIS_TASK, analysis_service.BATCH_SIZE)


@dataclass(frozen=True, slots=True)
class Repaired:
    """What the repair of one check changed: `count` of its rows, and anything it did
    besides (`also`)."""

    check: Check
    count: int
    also: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """What the checks found; with a repair, what it changed and what the checks find
    after it (in the same transaction)."""

    found: list[Finding]
    repaired: list[Repaired] | None = None
    remaining: list[Finding] | None = None

    @property
    def healthy(self) -> bool:
        """Nothing wrong is left: nothing was found, or the repair fixed it all."""
        final = self.found if self.remaining is None else self.remaining
        return not any(finding.count for finding in final)

    def lines(self) -> list[str]:
        """The report as `convobase db doctor` prints it."""
        lines = [line for finding in self.found for line in _describe(finding)]
        if self.repaired is None:
            problems = [finding for finding in self.found if finding.count]
            if not problems:
                return [*lines, "No problems found."]
            repairable = [f.check.name for f in problems if f.check.repair is not None]
            summary = f"{_counted(len(problems), 'checks')} found problems."
            if repairable:
                summary += f" `convobase db doctor --repair` repairs {', '.join(repairable)}."
            return [*lines, summary]
        for repaired in self.repaired:
            check = repaired.check
            line = f"Repaired {check.name}: {_counted(repaired.count, check.noun)}; {check.repair}"
            lines.append(line + (f"; {repaired.also}" if repaired.also else ""))
        remaining = [finding for finding in self.remaining or () if finding.count]
        if not remaining:
            return [*lines, "Nothing remains to repair." if self.repaired else "No problems found."]
        if self.repaired:
            lines.append("After the repair:")
            lines += [line for finding in remaining for line in _describe(finding)]
        verb = "finds" if len(remaining) == 1 else "find"
        return [*lines, f"{_counted(len(remaining), 'checks')} still {verb} problems."]


def examine(
    engine: Engine,
    *,
    repair: bool = False,
    analysis_enabled: bool = True,
    now: datetime | None = None,
) -> Report:
    """Run every check on the database behind `engine` (the tables' owner's); with
    `repair`, fix what can be fixed and check again, all in one transaction."""
    now = now or utc_now()
    trigger = ANALYSIS_TRIGGER if analysis_enabled else None
    database = Database(engine)
    with database.transaction(readonly=not repair) as session:
        connection = session.connection()
        found = checks.examine(connection, now=now, trigger=trigger)
        if not repair:
            return Report(found)
        to_repair = {finding.check for finding in found if finding.count and finding.check.repair}
        if not to_repair:
            return Report(found, [], found)
        repaired = _repair(session, to_repair, now=now, trigger=trigger)
        remaining = checks.examine(connection, now=now, trigger=trigger)
        return Report(found, repaired, remaining)


def _repair(
    session: Session, to_repair: set[Check], *, now: datetime, trigger: AnalysisTrigger | None
) -> list[Repaired]:
    connection = session.connection()
    repaired = []
    if checks.LAST_SEQ in to_repair:
        repaired.append(Repaired(checks.LAST_SEQ, checks.repair_last_seq(connection)))
    if checks.GUEST_MESSAGE_COUNT in to_repair:
        counted = checks.repair_guest_message_counts(connection)
        repaired.append(Repaired(checks.GUEST_MESSAGE_COUNT, counted))
    if checks.ANALYSIS_TALLY in to_repair and trigger is not None:
        raised = checks.repair_tallies(connection, trigger)
        queued = 0
        for tally in raised:
            counted_event = UserMessagesCounted(tally.user_id, tally.passed, tally.after)
            analysis_service.queue_due_analyses(session, counted_event)
            queued += tally.after // trigger.batch_size - tally.passed // trigger.batch_size
        also = f"{_counted(queued, 'analysis jobs')} queued"
        repaired.append(Repaired(checks.ANALYSIS_TALLY, len(raised), also))
    if checks.EXPIRED_LEASES in to_repair:
        released = job_service.release_expired_leases(session, now=now, error=LEASE_RELEASED)
        repaired.append(Repaired(checks.EXPIRED_LEASES, released))
    return repaired


def _describe(finding: Finding) -> list[str]:
    check = finding.check
    if finding.skipped is not None:
        return [f"{check.name:<30} skipped  {finding.skipped}"]
    lines = [f"{check.name:<30} {finding.count:>7}  {check.noun} {check.description}"]
    if finding.count:
        more = ", ..." if finding.count > len(finding.sample) else ""
        lines.append(f"    e.g. {', '.join(finding.sample)}{more}")
        if check.reported_only is not None:
            lines.append(f"    reported only: {check.reported_only}")
    return lines


def _counted(count: int, noun: str) -> str:
    """`1 job`, `2 jobs`: the nouns here all take an s."""
    return f"{count} {noun.removesuffix('s') if count == 1 else noun}"
