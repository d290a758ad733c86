"""Onboarding sessions: resumed where the user left off, answered phase by phase with
answers checked against the flow, repaired when what is stored no longer fits it,
merged from a device's export, and cleaned up when abandoned (docs/onboarding.md).

Every write names the version it changes (If-Match with the session's ETag) and locks
the session's row, so of two writers holding one version, one wins and the other is
told the session changed (412).
"""

import copy
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError
from sqlalchemy.orm import Session

from convobase.conversations import service as conversation_service
from convobase.conversations.schemas import ConversationCreate, MessageCreate
from convobase.core.errors import (
    Conflict,
    ConvobaseError,
    Forbidden,
    PreconditionRequired,
    ValidationFailed,
)
from convobase.core.ids import new_id
from convobase.core.limits import DEFAULT_LIMITS, Limits
from convobase.core.principal import Principal, require_staff
from convobase.core.time import utc_now
from convobase.core.validation import bounded_json
from convobase.onboarding import device, journey, repository
from convobase.onboarding.device import DeviceMessage, DeviceSession, Refused
from convobase.onboarding.errors import (
    AnswersInvalid,
    OnboardingCompleted,
    OnboardingIncomplete,
    SessionChanged,
    TransitionNotAllowed,
)
from convobase.onboarding.flow import Flow, FlowCatalog, Phase, default_catalog
from convobase.onboarding.journey import Answers, RepairReason
from convobase.onboarding.models import (
    OnboardingEvent,
    OnboardingEventKind,
    OnboardingSession,
    OnboardingStatus,
)
from convobase.onboarding.schemas import MAX_PHASE_ANSWERS_BYTES, ImportOutcome, PhaseState
from convobase.users import service as user_service

MAX_ANSWERS_BYTES: Final = 64 * 1024
MAX_EVENT_DATA_BYTES: Final = 192 * 1024
MAX_CONTEXT_BYTES: Final = 32 * 1024
# Sessions each run of the clean-up abandons, and purges, at most: the rest next run.
CLEANUP_BATCH: Final = 500
# Where an import keeps the goals a device gathered besides its answers' own.
DEVICE_GOALS: Final = "device_goals"
_SHOWN_ORIGINAL_CHARACTERS: Final = 8000

_ACTIVE = OnboardingStatus.ACTIVE.value
_COMPLETED = OnboardingStatus.COMPLETED.value
_ABANDONED = OnboardingStatus.ABANDONED.value


# --- what callers are answered with ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhaseView:
    key: str
    title: str
    prompt: str | None
    required: bool
    answers_schema: dict[str, Any]
    answers: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PhaseSummary:
    key: str
    title: str
    required: bool
    state: PhaseState


@dataclass(frozen=True, slots=True)
class OnboardingView:
    """A session as its user resumes it: where it is, what to answer there, and how it
    may move on."""

    id: uuid.UUID
    flow: str
    flow_version: int
    flow_title: str
    status: OnboardingStatus
    phase: PhaseView
    next_phase: str | None
    previous_phase: str | None
    phases: list[PhaseSummary]
    answers: Answers
    progress: int
    can_complete: bool
    goals: list[str]
    context: dict[str, Any]
    conversation_id: uuid.UUID | None
    client_session_id: str | None
    version: int
    etag: str
    last_activity_at: datetime
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


def etag_of(row: OnboardingSession) -> str:
    """The session's version as a strong entity tag: its id and version number."""
    return f'"{row.id}.{row.version}"'


# --- reading and starting -------------------------------------------------------------


def peek(
    session: Session, principal: Principal, *, catalog: FlowCatalog | None = None
) -> OnboardingView | None:
    """The caller's onboarding as they left it, if reading it writes nothing; None when
    it must be started, resumed, repaired or upgraded first (`current` does)."""
    _require_user(principal)
    catalog = catalog or default_catalog()
    row = repository.current(session, principal)
    if row is None or row.status == _ABANDONED:
        return None
    if row.status == _ACTIVE and row.conversation_id is None:
        return None
    repair = _repair(session, row, catalog)
    return None if repair.changed else _view(row, repair)


def current(
    session: Session, principal: Principal, *, catalog: FlowCatalog | None = None
) -> OnboardingView:
    """The caller's onboarding as they left it: their active session (repaired or
    upgraded to the flow's latest version first, if need be), else their completed one,
    else an abandoned one resumed, else a new session of the default flow."""
    _require_user(principal)
    catalog = catalog or default_catalog()
    row = _current_row(session, principal, catalog)
    repair = _settle(session, row, catalog)
    if row.status == _ACTIVE and row.conversation_id is None:  # its user deleted it
        _conversation_of(session, principal, row, catalog)
        _changed(row, utc_now())
    return _view(row, repair)


def _current_row(session: Session, principal: Principal, catalog: FlowCatalog) -> OnboardingSession:
    row = repository.current(session, principal, for_update=True)
    if row is not None and row.status == _ABANDONED and row.answers_purged_at is None:
        _resume(session, row)
    elif row is None or row.status == _ABANDONED:
        row = _start(session, principal, catalog.default)
    return row


def _start(
    session: Session,
    principal: Principal,
    flow: Flow,
    *,
    answers: Answers | None = None,
    phase: str | None = None,
    created_at: datetime | None = None,
    client_session_id: str | None = None,
    context: dict[str, Any] | None = None,
) -> OnboardingSession:
    """A new active session of `flow` with its onboarding conversation; if another
    request started one first, that one."""
    assert principal.user_id is not None
    answers = answers or {}
    phase = phase or journey.resume_point(flow, answers, None).key
    now = utc_now()
    row = OnboardingSession(
        id=new_id(),
        user_id=principal.user_id,
        flow_key=flow.key,
        flow_version=flow.version,
        current_phase=phase,
        status=_ACTIVE,
        answers=answers,
        context=context or {},
        client_session_id=client_session_id,
        version=1,
        last_activity_at=now,
        created_at=created_at or now,
        updated_at=now,
    )
    _derive(row, flow)
    try:
        with repository.savepoint(session):
            row.conversation_id = _new_conversation(session, principal, flow, row.id)
            repository.add_active(session, row)
    except repository.ActiveSessionExists:
        started = repository.current(session, principal, for_update=True)
        if started is None or started.status != _ACTIVE:
            raise Conflict("Another request changed the onboarding meanwhile: try again.") from None
        return started
    _log(session, row, OnboardingEventKind.STARTED, data={"answers": answers})
    _log(session, row, OnboardingEventKind.PHASE_ENTERED, phase=phase)
    return row


def _new_conversation(
    session: Session, principal: Principal, flow: Flow, session_id: uuid.UUID
) -> uuid.UUID:
    data = ConversationCreate.model_validate(
        {
            "title": flow.title,
            "kind": "onboarding",
            "context": {"onboarding_session_id": str(session_id), "flow": flow.key},
        }
    )
    return conversation_service.create_conversation(session, principal, data=data).id


def _resume(session: Session, row: OnboardingSession) -> None:
    """Make an abandoned session active again: its user came back."""
    now = utc_now()
    row.status = _ACTIVE
    row.abandoned_at = None
    row.last_activity_at = now
    _changed(row, now)
    _log(session, row, OnboardingEventKind.RESUMED)


def _repair(session: Session, row: OnboardingSession, catalog: FlowCatalog) -> journey.Repair:
    """What `row` must become to fit its flow: only an active session is upgraded to
    the flow's latest version and moved to the phase it resumes at. Answers that cannot
    be read are rebuilt from the session's event log, as far as it goes."""
    active = row.status == _ACTIVE
    stored = journey.Stored(row.flow_key, row.flow_version, row.current_phase, row.answers)
    replayed = None
    if not _readable(row.answers):
        log = repository.session_events(session, Principal.user(row.user_id), row.id)
        replayed = journey.replay(
            [journey.Logged(e.kind, e.flow_key, e.flow_version, e.phase, e.data) for e in log]
        )
    if replayed is not None:
        kept = row.answers if isinstance(row.answers, dict) else {}
        answers = {**replayed.answers, **{k: v for k, v in kept.items() if isinstance(v, dict)}}
        whole = not isinstance(row.answers, dict)
        key, version = (
            (replayed.flow_key, replayed.flow_version)
            if whole
            else (stored.flow_key, stored.flow_version)
        )
        stored = journey.Stored(key, version, row.current_phase, answers)
    repair = journey.repair(catalog, stored, upgrade=active, settle=active)
    if replayed is not None:
        repair.note(RepairReason.ANSWERS_UNREADABLE)
        repair.note(RepairReason.ANSWERS_REBUILT)
        repair.dropped["answers"] = _jsonable(row.answers)
    if not isinstance(row.context, dict):
        repair.note(RepairReason.CONTEXT_UNREADABLE)
        repair.dropped["context"] = _jsonable(row.context)
    elif not repair.changed and _derived(row, repair.flow, repair.answers) != (
        row.goals,
        row.progress,
    ):
        repair.note(RepairReason.DERIVED_OUT_OF_DATE)
    return repair


def _readable(answers: object) -> bool:
    """Whether stored answers are a JSON object of objects, as they should be."""
    return isinstance(answers, dict) and all(isinstance(v, dict) for v in answers.values())


def _settle(session: Session, row: OnboardingSession, catalog: FlowCatalog) -> journey.Repair:
    """Repair and upgrade `row` as `_repair` says, keeping the original in a `repaired`
    (or `upgraded`) event; return what it is now."""
    repair = _repair(session, row, catalog)
    if not repair.changed:
        return repair
    original = {
        "flow": f"{row.flow_key}@{row.flow_version}",
        "phase": row.current_phase,
        "answers": _jsonable(row.answers),
        "context": _jsonable(row.context),
    }
    moved = (repair.flow.name, repair.phase) != (
        f"{row.flow_key}@{row.flow_version}",
        row.current_phase,
    )
    row.flow_key, row.flow_version = repair.flow.key, repair.flow.version
    row.answers = repair.answers
    row.current_phase = repair.phase
    if not isinstance(row.context, dict):
        row.context = {}
    _derive(row, repair.flow)
    _changed(row, utc_now())
    data: dict[str, Any] = {
        "original": original,
        "dropped": _jsonable(repair.dropped),
        "answers": repair.answers,
    }
    if repair.reasons:
        data["reasons"] = [reason.value for reason in repair.reasons]
    if repair.upgraded_from:
        data["upgraded_from"] = repair.upgraded_from
    kind = OnboardingEventKind.REPAIRED if repair.reasons else OnboardingEventKind.UPGRADED
    _log(session, row, kind, phase=row.current_phase, data=data)
    if moved and row.status == _ACTIVE:
        _log(session, row, OnboardingEventKind.PHASE_ENTERED, phase=row.current_phase)
    return repair


# --- writing: answers and transitions --------------------------------------------------


def save_answers(
    session: Session,
    principal: Principal,
    *,
    patch: dict[str, Any],
    if_match: str | None,
    catalog: FlowCatalog | None = None,
) -> OnboardingView:
    """Apply a JSON merge patch to the current phase's answers. What is given must fit
    the phase's schema (questions not yet answered may stay missing until advancing)."""
    row, repair = _writable(session, principal, if_match, catalog)
    phase = _phase(repair)
    entry = journey.merge_patch(repair.answers.get(phase.key, {}), patch)
    if errors := phase.errors(entry, partial=True):
        raise AnswersInvalid(errors, prefix=("body",))
    answers = {**repair.answers, phase.key: entry}
    _check_size(answers, entry)
    if entry != repair.answers.get(phase.key, {}):
        row.answers = answers
        _derive(row, repair.flow)
        _touched(row)
        _log(
            session,
            row,
            OnboardingEventKind.ANSWERS_SAVED,
            phase=phase.key,
            data={"fields": sorted(patch), "patch": patch},
        )
    return _view(row, _repair(session, row, _catalog(catalog)))


def advance(
    session: Session,
    principal: Principal,
    *,
    if_match: str | None,
    catalog: FlowCatalog | None = None,
) -> OnboardingView:
    """Pass the current phase, whose answers must be complete (an optional phase may be
    passed empty), to the next phase that applies and is not done yet."""
    row, repair = _writable(session, principal, if_match, catalog)
    phase = _phase(repair)
    entry = repair.answers.get(phase.key, {})
    if errors := phase.errors(entry):
        raise AnswersInvalid(
            errors,
            prefix=("answers", phase.key),
            detail=f"Answer the questions of {phase.key!r} before moving on: "
            + "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors[:5]),
        )
    answers = {**repair.answers, phase.key: entry}
    target = journey.next_phase(repair.flow, answers, phase.key)
    if target is None:
        raise TransitionNotAllowed("This is the last phase: complete the onboarding instead.")
    row.answers = answers
    row.current_phase = target.key
    _derive(row, repair.flow)
    _touched(row)
    _log(
        session, row, OnboardingEventKind.PHASE_COMPLETED, phase=phase.key, data={"answers": entry}
    )
    _log(session, row, OnboardingEventKind.PHASE_ENTERED, phase=target.key)
    return _view(row, _repair(session, row, _catalog(catalog)))


def back(
    session: Session,
    principal: Principal,
    *,
    if_match: str | None,
    catalog: FlowCatalog | None = None,
) -> OnboardingView:
    """Go back to the phase before the current one that applies; the current phase's
    answers are kept as they are."""
    row, repair = _writable(session, principal, if_match, catalog)
    phase = _phase(repair)
    target = journey.previous_phase(repair.flow, repair.answers, phase.key)
    if target is None:
        raise TransitionNotAllowed("This is the first phase: there is no phase before it.")
    row.current_phase = target.key
    _derive(row, repair.flow)
    _touched(row)
    _log(session, row, OnboardingEventKind.PHASE_ENTERED, phase=target.key, data={"back": True})
    return _view(row, _repair(session, row, _catalog(catalog)))


def complete(
    session: Session,
    principal: Principal,
    *,
    if_match: str | None,
    catalog: FlowCatalog | None = None,
) -> OnboardingView:
    """Complete the onboarding: every question that must be answered is, and what the
    answers set on the user (goals, profile, preferences) is set, once. Completing a
    completed onboarding changes nothing and answers as the first time did."""
    _require_user(principal)
    catalog = _catalog(catalog)
    _require_precondition(if_match)
    row = repository.current(session, principal, for_update=True)
    if row is not None and row.status == _COMPLETED:
        return _view(row, _settle(session, row, catalog))
    row, repair = _writable(session, principal, if_match, catalog, row=row)
    if errors := journey.completion_errors(repair.flow, repair.answers):
        raise OnboardingIncomplete(errors, prefix=("answers",))
    _finish(session, principal, row, repair.flow)
    return _view(row, _repair(session, row, catalog))


def _finish(session: Session, principal: Principal, row: OnboardingSession, flow: Flow) -> None:
    """Complete `row`: its effects on the user, once, and its events."""
    answers: Answers = row.answers
    effects = journey.effects(flow, answers, _device_goals(row.context))
    user_service.add_to_profile(
        session,
        principal,
        goals=effects.goals,
        profile=effects.profile,
        preferences=effects.preferences,
    )
    phase = flow.phase(row.current_phase)
    if phase is not None and phase.key not in answers:
        row.answers = {**answers, phase.key: {}}
    now = utc_now()
    row.status = _COMPLETED
    row.completed_at = now
    _derive(row, flow)
    _touched(row, now)
    last = row.answers.get(row.current_phase, {})
    _log(
        session,
        row,
        OnboardingEventKind.PHASE_COMPLETED,
        phase=row.current_phase,
        data={"answers": last},
    )
    _log(session, row, OnboardingEventKind.COMPLETED)


def _writable(
    session: Session,
    principal: Principal,
    if_match: str | None,
    catalog: FlowCatalog | None,
    *,
    row: OnboardingSession | None = None,
) -> tuple[OnboardingSession, journey.Repair]:
    """The caller's active session, locked, if `if_match` names its current version."""
    _require_user(principal)
    _require_precondition(if_match)
    assert if_match is not None
    row = row or repository.current(session, principal, for_update=True)
    if row is None or row.status == _ABANDONED:
        raise SessionChanged("There is no onboarding in progress: read /v1/onboarding/current.")
    if row.status == _COMPLETED:
        raise OnboardingCompleted
    repair = _repair(session, row, _catalog(catalog))
    if repair.changed or etag_of(row) not in _entity_tags(if_match):
        raise SessionChanged(
            f"The onboarding session is at {etag_of(row)}"
            f"{' and must be read again' if repair.changed else ''}: read it again, then retry."
        )
    return row, repair


def _require_precondition(if_match: str | None) -> None:
    if if_match is None:
        raise PreconditionRequired(
            "Send If-Match with the onboarding session's ETag, so that a change made "
            "meanwhile (on another device) is not overwritten."
        )
    if if_match.strip() == "*":
        raise PreconditionRequired("If-Match: * names no version: send the session's ETag.")


def _entity_tags(if_match: str) -> set[str]:
    """The strong entity tags of an If-Match header (weak ones never match a write)."""
    return {tag.strip() for tag in if_match.split(",") if not tag.strip().startswith("W/")}


def _phase(repair: journey.Repair) -> Phase:
    phase = repair.flow.phase(repair.phase)
    assert phase is not None, "a repaired session is at a phase of its flow"
    return phase


def _check_size(answers: Answers, entry: dict[str, Any] | None = None) -> None:
    """Refuse (422) answers larger than a session keeps."""
    try:
        if entry is not None:
            bounded_json(entry, max_bytes=MAX_PHASE_ANSWERS_BYTES, name="the phase's answers")
        bounded_json(answers, max_bytes=MAX_ANSWERS_BYTES, name="the answers")
    except ValueError as error:
        raise ValidationFailed(str(error)) from None


# --- importing a device's export -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordReport:
    index: int
    client_id: str | None
    outcome: ImportOutcome
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ImportResult:
    dry_run: bool
    received_at: datetime
    sessions: list[RecordReport]
    messages: list[RecordReport]
    onboarding: OnboardingView | None


@dataclass
class _Import:
    """One import's state: where each device session went."""

    principal: Principal
    catalog: FlowCatalog
    limits: Limits
    received_at: datetime
    targets: dict[str, OnboardingSession | None] = field(default_factory=dict)
    # Records set aside, by their dedup key, for the event log.
    quarantined: dict[str, OnboardingEvent] = field(default_factory=dict)


def import_device_export(
    session: Session,
    principal: Principal,
    *,
    sessions: Sequence[Any],
    messages: Sequence[Any],
    dry_run: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    catalog: FlowCatalog | None = None,
) -> ImportResult:
    """Merge a device's onboarding sessions and their messages into the caller's
    onboarding, record by record (docs/onboarding.md states the rules). Importing the
    same export again changes nothing; a record that cannot be imported is quarantined
    and reported; `dry_run` reports without writing anything."""
    _require_user(principal)
    state = _Import(principal, _catalog(catalog), limits, utc_now())
    if not dry_run:
        return _import(session, state, sessions, messages, dry_run=False)
    with repository.undone(session):
        return _import(session, state, sessions, messages, dry_run=True)


def _import(
    session: Session,
    state: _Import,
    sessions: Sequence[Any],
    messages: Sequence[Any],
    *,
    dry_run: bool,
) -> ImportResult:
    session_reports = _import_sessions(session, state, sessions)
    message_reports = _import_messages(session, state, messages)
    _keep_quarantined(session, state)
    row = repository.current(session, state.principal)
    view = None
    if row is not None and row.status != _ABANDONED:
        view = copy.deepcopy(_view(row, _settle(session, row, state.catalog)))
    return ImportResult(
        dry_run=dry_run,
        received_at=state.received_at,
        sessions=sorted(session_reports, key=lambda report: report.index),
        messages=sorted(message_reports, key=lambda report: report.index),
        onboarding=view,
    )


def _import_sessions(
    session: Session, state: _Import, records: Sequence[Any]
) -> list[RecordReport]:
    reports: list[RecordReport] = []
    read: list[DeviceSession] = []
    seen: dict[str, int] = {}
    for index, record in enumerate(records):
        parsed = device.read_session(index, record, state.received_at)
        if isinstance(parsed, Refused):
            reports.append(_quarantine(session, state, parsed, "session"))
        elif parsed.client_session_id in seen:
            first = seen[parsed.client_session_id]
            reports.append(
                RecordReport(
                    index,
                    parsed.client_session_id,
                    ImportOutcome.DUPLICATE,
                    f"the session at index {first} has this client_session_id; this one is ignored",
                )
            )
        else:
            seen[parsed.client_session_id] = index
            read.append(parsed)
    # Oldest first: where two of them disagree, the later change is merged last.
    for parsed in sorted(read, key=lambda parsed: (parsed.updated_at, parsed.index)):
        reports.append(_import_session(session, state, parsed))
    return reports


def _import_session(session: Session, state: _Import, record: DeviceSession) -> RecordReport:
    csid = record.client_session_id
    if state.catalog.latest(record.flow_key) is None:
        return _quarantine(session, state, _refused_session(record, "unknown flow"), "session")
    stored = journey.Stored(record.flow_key, record.flow_version, record.phase, record.answers)
    theirs = journey.repair(state.catalog, stored)
    try:
        _check_size(theirs.answers)
    except ValidationFailed as error:
        return _quarantine(session, state, _refused_session(record, error.detail), "session")
    notes = _repair_notes(theirs)
    key = f"import:{csid}:{record.digest}"
    if repository.logged_keys(session, state.principal, [key]):
        # Merged once already: merged again, it could undo what changed on the server
        # since (a device clock ahead is clamped to each import's arrival).
        before = repository.by_client_session_id(session, state.principal, csid)
        state.targets[csid] = before or repository.current(session, state.principal)
        return RecordReport(record.index, csid, ImportOutcome.UNCHANGED, notes)
    target, csid_free = _import_target(session, state, csid)
    if target is None:
        row = _start(
            session,
            state.principal,
            theirs.flow,
            answers=theirs.answers,
            phase=theirs.phase,
            created_at=record.created_at,
            client_session_id=csid if csid_free else None,
            context=_merged_context({}, record),
        )
        state.targets[csid] = row
        if row.client_session_id != csid and csid_free:  # another request started one
            return _merge_into(session, state, row, record, theirs, notes, claim=False)
        _log_import(session, row, record, theirs)
        if record.completed:
            _complete_if_possible(session, state, row, theirs.flow)
        return RecordReport(record.index, csid, ImportOutcome.CREATED, notes)
    state.targets[csid] = target
    claim = csid_free and target.client_session_id is None
    return _merge_into(session, state, target, record, theirs, notes, claim=claim)


def _import_target(
    session: Session, state: _Import, csid: str
) -> tuple[OnboardingSession | None, bool]:
    """The session a device session merges into: the one imported from it before,
    unless abandoned; else the caller's active or completed one; else an abandoned one,
    resumed (while its answers are kept); else none (the import starts one). And
    whether no session holds the device session's id yet."""
    principal = state.principal
    mine = repository.by_client_session_id(session, principal, csid, for_update=True)
    if mine is not None and mine.status != _ABANDONED:
        return mine, False
    row = repository.current(session, principal, for_update=True)
    if row is not None and row.status != _ABANDONED:
        return row, mine is None
    for candidate in (mine, row):
        if candidate is not None and candidate.answers_purged_at is None:
            _resume(session, candidate)
            return candidate, mine is None
    return None, mine is None


def _merge_into(
    session: Session,
    state: _Import,
    row: OnboardingSession,
    record: DeviceSession,
    theirs: journey.Repair,
    notes: str | None,
    *,
    claim: bool,
) -> RecordReport:
    """Merge a device's session into `row` (see `journey.merge`); `claim`: `row` takes
    the device session's id, so that its messages find it next time."""
    csid = record.client_session_id
    if row.status == _COMPLETED:
        reason = "the onboarding is completed on the server"
        return RecordReport(record.index, csid, ImportOutcome.KEPT_SERVER, reason)
    _settle(session, row, state.catalog)
    ours = _repair(session, row, state.catalog)
    if ours.flow.key != theirs.flow.key:
        reason = f"the onboarding in progress follows {ours.flow.key!r}, not {theirs.flow.key!r}"
        return RecordReport(record.index, csid, ImportOutcome.KEPT_SERVER, reason)
    server = journey.Side(ours.answers, ours.phase, row.updated_at)
    mine = journey.Side(theirs.answers, theirs.phase, record.updated_at)
    answers, phase = journey.merge(ours.flow, server, mine)
    context = _merged_context(row.context, record)
    changed = claim or (answers, phase, context) != (ours.answers, ours.phase, row.context)
    if changed:
        try:
            _check_size(answers)
        except ValidationFailed as error:
            return _quarantine(session, state, _refused_session(record, error.detail), "session")
        moved = phase != row.current_phase
        row.answers, row.current_phase, row.context = answers, phase, context
        if claim:
            row.client_session_id = csid
        _derive(row, ours.flow)
        _touched(row)
        if moved:
            _log(session, row, OnboardingEventKind.PHASE_ENTERED, phase=phase)
    # Logged even when nothing changed: the record is never merged again.
    _log_import(session, row, record, theirs)
    completed = record.completed and _complete_if_possible(session, state, row, ours.flow)
    outcome = ImportOutcome.MERGED if changed or completed else ImportOutcome.UNCHANGED
    return RecordReport(record.index, csid, outcome, notes)


def _refused_session(record: DeviceSession, reason: str) -> Refused:
    kept = {
        "client_session_id": record.client_session_id,
        "flow": f"{record.flow_key}@{record.flow_version}",
        "phase": record.phase,
        "answers": record.answers,
    }
    return Refused(
        record.index, record.client_session_id, reason, device.keepable(kept), record.digest
    )


def _complete_if_possible(
    session: Session, state: _Import, row: OnboardingSession, flow: Flow
) -> bool:
    """Complete `row`, which its device completed, if its answers allow it."""
    if row.status != _ACTIVE or journey.completion_errors(flow, row.answers):
        return False
    _finish(session, state.principal, row, flow)
    return True


def _merged_context(context: object, record: DeviceSession) -> dict[str, Any]:
    """The server's context, with the device's keys it lacks, and the device's goals
    added to those imported before."""
    merged = dict(context) if isinstance(context, dict) else {}
    for key, value in record.context.items():
        if key != DEVICE_GOALS:
            merged.setdefault(key, copy.deepcopy(value))
    goals = list(dict.fromkeys([*_device_goals(merged), *record.goals]))[: journey.MAX_GOALS]
    if goals:
        merged[DEVICE_GOALS] = goals
    try:
        return bounded_json(merged, max_bytes=MAX_CONTEXT_BYTES, name="context")
    except ValueError:  # the device's context does not fit beside the server's: left out
        server = dict(context) if isinstance(context, dict) else {}
        return {**server, **({DEVICE_GOALS: goals} if goals else {})}


def _device_goals(context: object) -> list[str]:
    goals = context.get(DEVICE_GOALS) if isinstance(context, dict) else None
    return [goal for goal in goals if isinstance(goal, str)] if isinstance(goals, list) else []


def _log_import(
    session: Session, row: OnboardingSession, record: DeviceSession, theirs: journey.Repair
) -> None:
    """Record that a device's session record was merged into `row`, once for all: with
    `row`'s answers after it (a snapshot), and what the device had that did not fit."""
    data = {
        "answers": row.answers,
        "client_session_id": record.client_session_id,
        "flow": f"{record.flow_key}@{record.flow_version}",
        "phase": record.phase,
        "dropped": _jsonable(theirs.dropped),
    }
    key = f"import:{record.client_session_id}:{record.digest}"
    _log(session, row, OnboardingEventKind.IMPORTED, data=data, dedup_key=key)


def _repair_notes(repair: journey.Repair) -> str | None:
    """What the import changed in a device's session, said for the report."""
    notes = []
    if repair.upgraded_from:
        notes.append(f"upgraded from {repair.upgraded_from[0]} to {repair.flow.name}")
    if repair.reasons:
        notes.append("repaired: " + ", ".join(reason.value for reason in repair.reasons))
    return "; ".join(notes) or None


def _import_messages(
    session: Session, state: _Import, records: Sequence[Any]
) -> list[RecordReport]:
    reports: list[RecordReport] = []
    read: list[DeviceMessage] = []
    seen: dict[tuple[str, str], int] = {}
    for index, record in enumerate(records):
        parsed = device.read_message(index, record, state.received_at)
        if isinstance(parsed, Refused):
            reports.append(_quarantine(session, state, parsed, "message"))
            continue
        key = (parsed.client_session_id, parsed.client_message_id)
        if key in seen:
            reason = (
                f"the message at index {seen[key]} has this client_message_id; this one is ignored"
            )
            reports.append(
                RecordReport(index, parsed.client_message_id, ImportOutcome.DUPLICATE, reason)
            )
            continue
        seen[key] = index
        read.append(parsed)
    # In the order they were written on the device.
    for message in sorted(read, key=lambda message: (message.created_at, message.index)):
        reports.append(_import_message(session, state, message))
    return reports


def _import_message(session: Session, state: _Import, message: DeviceMessage) -> RecordReport:
    mid = message.client_message_id
    row = _session_of(session, state, message.client_session_id)
    if row is None:
        reason = f"no session {message.client_session_id!r} was imported, now or before"
        return _quarantine(session, state, _refused_message(message, reason), "message")
    metadata = {
        **message.metadata,
        "imported": {
            "client_session_id": message.client_session_id,
            "client_created_at": message.created_at.isoformat(),
            **({"phase": message.phase} if message.phase is not None else {}),
        },
    }
    try:
        data = MessageCreate.model_validate(
            {
                "role": message.role,
                "content": message.content,
                "metadata": metadata,
                "client_message_id": f"{message.client_session_id}/{mid}",
            }
        )
    except ValidationError as error:
        reason = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:3]
        )
        refused = _refused_message(message, reason)
        return _quarantine(session, state, refused, "message", target=row)
    try:
        with repository.savepoint(session):
            conversation_id = _conversation_of(session, state.principal, row, state.catalog)
            appended = conversation_service.append_message(
                session, state.principal, conversation_id, data=data, limits=state.limits
            )
    except ConvobaseError as error:
        refused = _refused_message(message, error.detail)
        return _quarantine(session, state, refused, "message", target=row)
    assert isinstance(appended, conversation_service.AppendedMessage), "a user is no guest"
    outcome = ImportOutcome.UNCHANGED if appended.replayed else ImportOutcome.APPENDED
    return RecordReport(message.index, mid, outcome)


def _session_of(session: Session, state: _Import, csid: str) -> OnboardingSession | None:
    if csid in state.targets:
        return state.targets[csid]
    row = repository.by_client_session_id(session, state.principal, csid)
    state.targets[csid] = row
    return row


def _conversation_of(
    session: Session, principal: Principal, row: OnboardingSession, catalog: FlowCatalog
) -> uuid.UUID:
    """The session's onboarding conversation; a new one if its user deleted it."""
    if row.conversation_id is None:
        flow = catalog.get(row.flow_key, row.flow_version) or catalog.default
        row.conversation_id = _new_conversation(session, principal, flow, row.id)
        repository.save(session)
    return row.conversation_id


def _refused_message(message: DeviceMessage, reason: str) -> Refused:
    record = {
        "client_message_id": message.client_message_id,
        "client_session_id": message.client_session_id,
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at.isoformat(),
    }
    return Refused(
        message.index,
        message.client_message_id,
        reason,
        kept=device.keepable(record),
        digest=device.digest(record),
    )


def _quarantine(
    session: Session,
    state: _Import,
    refused: Refused,
    kind: str,
    *,
    target: OnboardingSession | None = None,
) -> RecordReport:
    """Set aside a record that cannot be imported, with its reason (and the session it
    was for, if there is one): the event log keeps it once (`_keep_quarantined`)."""
    assert state.principal.user_id is not None
    key = f"quarantine:{kind}:{refused.digest}"
    state.quarantined.setdefault(
        key,
        OnboardingEvent(
            id=new_id(),
            user_id=state.principal.user_id,
            session_id=target.id if target is not None else None,
            session_version=target.version if target is not None else None,
            kind=OnboardingEventKind.QUARANTINED.value,
            flow_key=target.flow_key if target is not None else None,
            flow_version=target.flow_version if target is not None else None,
            data=_bounded(
                {"kind": kind, "index": refused.index, "reason": refused.reason, **refused.kept}
            ),
            dedup_key=key,
            created_at=utc_now(),
        ),
    )
    return RecordReport(refused.index, refused.client_id, ImportOutcome.QUARANTINED, refused.reason)


def _keep_quarantined(session: Session, state: _Import) -> None:
    """Log each record set aside, unless an earlier import logged it already."""
    logged = repository.logged_keys(session, state.principal, list(state.quarantined))
    new = [event for key, event in state.quarantined.items() if key not in logged]
    repository.add_events(session, new)


# --- staff: the funnel ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FunnelPhase:
    phase: str
    reached: int
    completed: int
    abandoned: int


@dataclass(frozen=True, slots=True)
class FunnelFlow:
    flow: str
    version: int
    sessions: int
    completed: int
    abandoned: int
    phases: list[FunnelPhase]


@dataclass(frozen=True, slots=True)
class Funnel:
    since: datetime | None
    until: datetime | None
    flows: list[FunnelFlow]


def funnel(
    session: Session,
    principal: Principal,
    *,
    flow: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    catalog: FlowCatalog | None = None,
) -> Funnel:
    """Per flow version: sessions that followed it, completed it and were abandoned in
    it, and per phase how many reached it, got past it and were abandoned at it, from
    every user's event log (staff). A range with nothing in it (`since` not before
    `until`) counts nothing."""
    require_staff(principal, "read the onboarding funnel")
    catalog = _catalog(catalog)
    counts = repository.funnel(session, principal, flow_key=flow, since=since, until=until)
    whole: dict[tuple[str, int], dict[str | None, int]] = defaultdict(dict)
    per_phase: dict[tuple[str, int], dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for count in counts:
        followed = (count.flow_key, count.flow_version)
        if count.phase is None:
            whole[followed][count.kind] = count.sessions
        elif count.kind is not None:
            per_phase[followed][count.phase][count.kind] = count.sessions
    flows = []
    for (key, version), kinds in sorted(whole.items()):
        phases = per_phase[(key, version)]
        defined = catalog.get(key, version)
        order = [phase.key for phase in defined.phases] if defined is not None else []
        shown = [name for name in order if name in phases] + sorted(set(phases) - set(order))
        flows.append(
            FunnelFlow(
                flow=key,
                version=version,
                sessions=kinds.get(None, 0),
                completed=kinds.get(OnboardingEventKind.COMPLETED.value, 0),
                abandoned=kinds.get(OnboardingEventKind.ABANDONED.value, 0),
                phases=[
                    FunnelPhase(
                        phase=name,
                        reached=phases[name].get(OnboardingEventKind.PHASE_ENTERED.value, 0),
                        completed=phases[name].get(OnboardingEventKind.PHASE_COMPLETED.value, 0),
                        abandoned=phases[name].get(OnboardingEventKind.ABANDONED.value, 0),
                    )
                    for name in shown
                ],
            )
        )
    return Funnel(since, until, flows)


# --- staff: the clean-up ----------------------------------------------------------------


def abandon_idle(
    session: Session, principal: Principal, *, idle_before: datetime, limit: int = CLEANUP_BATCH
) -> int:
    """Mark abandoned the active sessions nobody has touched since `idle_before`, at most
    `limit` of them; how many (staff: the clean-up job)."""
    require_staff(principal, "clean up onboarding sessions")
    rows = repository.idle(session, principal, before=idle_before, limit=limit)
    now = utc_now()
    for row in rows:
        row.status = _ABANDONED
        row.abandoned_at = now
        _changed(row, now)
        _log(session, row, OnboardingEventKind.ABANDONED, phase=row.current_phase)
    repository.save(session)
    return len(rows)


def purge_abandoned(
    session: Session,
    principal: Principal,
    *,
    abandoned_before: datetime,
    limit: int = CLEANUP_BATCH,
) -> int:
    """Delete the answers, goals and context of sessions abandoned before
    `abandoned_before`, and the copies of them the event log keeps (with device records
    quarantined before then), at most `limit` sessions; how many (staff)."""
    require_staff(principal, "clean up onboarding sessions")
    rows = repository.unpurged(session, principal, abandoned_before=abandoned_before, limit=limit)
    now = utc_now()
    for row in rows:
        row.answers, row.goals, row.context = {}, [], {}
        row.progress = 0
        row.answers_purged_at = now
        _changed(row, now)
        _log(session, row, OnboardingEventKind.PURGED)
    repository.save(session)
    repository.forget_event_data(
        session,
        principal,
        session_ids=[row.id for row in rows],
        quarantined_before=abandoned_before,
    )
    return len(rows)


# --- the account export -------------------------------------------------------------------


def all_sessions(session: Session, principal: Principal) -> Sequence[OnboardingSession]:
    """Every onboarding session of the caller, oldest first, as stored."""
    return repository.all_of(session, principal)


# --- shared -------------------------------------------------------------------------------


def _require_user(principal: Principal) -> None:
    if not principal.is_signed_in or principal.user_id is None:
        raise Forbidden("Only a signed-in user has an onboarding.")


def _catalog(catalog: FlowCatalog | None) -> FlowCatalog:
    return catalog or default_catalog()


def _derived(row: OnboardingSession, flow: Flow, answers: Answers) -> tuple[list[str], int]:
    """The goals and progress that `answers` give `row`."""
    goals = journey.goals(flow, answers, _device_goals(row.context))
    return goals, journey.progress(flow, answers, completed=row.status == _COMPLETED)


def _derive(row: OnboardingSession, flow: Flow) -> None:
    row.goals, row.progress = _derived(row, flow, row.answers)


def _changed(row: OnboardingSession, now: datetime) -> None:
    row.version += 1
    row.updated_at = now


def _touched(row: OnboardingSession, now: datetime | None = None) -> None:
    """The user changed `row`: a new version, and activity that keeps it from being
    abandoned."""
    now = now or utc_now()
    row.last_activity_at = now
    _changed(row, now)


def _log(
    session: Session,
    row: OnboardingSession,
    kind: OnboardingEventKind,
    *,
    phase: str | None = None,
    data: dict[str, Any] | None = None,
    dedup_key: str | None = None,
) -> None:
    repository.add_events(
        session,
        [
            OnboardingEvent(
                id=new_id(),
                user_id=row.user_id,
                session_id=row.id,
                session_version=row.version,
                kind=kind.value,
                flow_key=row.flow_key,
                flow_version=row.flow_version,
                phase=phase,
                data=_bounded(data or {}),
                dedup_key=dedup_key,
                created_at=utc_now(),
            )
        ],
    )


def _bounded(data: dict[str, Any]) -> dict[str, Any]:
    """`data` as the event log can keep it: itself if it fits, else each of its members
    that does not, as the start of its JSON text."""
    try:
        return bounded_json(data, max_bytes=MAX_EVENT_DATA_BYTES, name="data")
    except ValueError:
        kept: dict[str, Any] = {}
        for key, value in data.items():
            try:
                kept[key] = bounded_json(
                    {"value": value}, max_bytes=MAX_EVENT_DATA_BYTES // 4, name="value"
                )["value"]
            except ValueError:
                text = json.dumps(value, ensure_ascii=True, default=repr)
                kept[key] = {"truncated": text[:_SHOWN_ORIGINAL_CHARACTERS]}
        return kept


def _jsonable(value: object) -> Any:
    """A stored value as plain JSON values (damaged text as the text it is), for the
    event log."""
    try:
        return json.loads(json.dumps(value, default=repr))
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def _view(row: OnboardingSession, repair: journey.Repair) -> OnboardingView:
    """`row`, valid for its flow (as `repair` says it is), as its user sees it."""
    flow, answers = repair.flow, repair.answers
    phase = _phase(repair)
    active = row.status == _ACTIVE
    applying = journey.applicable(flow, answers)
    summaries = []
    for each in flow.phases:
        if each is phase and active:
            state = PhaseState.CURRENT
        elif each not in applying:
            state = PhaseState.SKIPPED
        elif journey.is_done(each, answers) or row.status == _COMPLETED:
            state = PhaseState.DONE
        else:
            state = PhaseState.TODO
        summaries.append(PhaseSummary(each.key, each.title, each.required, state))
    following = journey.next_phase(flow, answers, phase.key) if active else None
    preceding = journey.previous_phase(flow, answers, phase.key) if active else None
    context = row.context if isinstance(row.context, dict) else {}
    return OnboardingView(
        id=row.id,
        flow=flow.key,
        flow_version=flow.version,
        flow_title=flow.title,
        status=OnboardingStatus(row.status),
        phase=PhaseView(
            key=phase.key,
            title=phase.title,
            prompt=phase.prompt,
            required=phase.required,
            answers_schema=copy.deepcopy(dict(phase.schema)),
            answers=copy.deepcopy(answers.get(phase.key, {})),
        ),
        next_phase=following.key if following is not None else None,
        previous_phase=preceding.key if preceding is not None else None,
        phases=summaries,
        answers=copy.deepcopy(answers),
        progress=journey.progress(flow, answers, completed=row.status == _COMPLETED),
        can_complete=active and not journey.completion_errors(flow, answers),
        goals=journey.goals(flow, answers, _device_goals(context)),
        context=copy.deepcopy(context),
        conversation_id=row.conversation_id,
        client_session_id=row.client_session_id,
        version=row.version,
        etag=etag_of(row),
        last_activity_at=row.last_activity_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        completed_at=row.completed_at,
    )
