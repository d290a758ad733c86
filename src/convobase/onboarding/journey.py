"""Where a session stands in its flow, as pure functions of its answers: which phases
apply, which are done, where advancing and going back lead, how far along it is; how a
stored session is repaired and upgraded to its flow's latest version; and how a
device's copy merges with it. No database here: the service stores what these decide.

A phase is *done* when the session holds answers for it that fit its schema; passing
an optional phase empty stores `{}` for it. The session *resumes* at its current
phase, unless an earlier phase that applies is not done (answers gone or no longer
valid after a flow change or damage): then at the earliest such phase. It never goes
back to the first phase for anything else.
"""

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from convobase.onboarding.flow import AnswerError, Flow, FlowCatalog, Phase, Upgrade

Answers = dict[str, dict[str, Any]]
MAX_GOALS = 50
_SETTLING_ROUNDS = 5


class RepairReason(StrEnum):
    """Why a stored session had to be repaired when it was read."""

    FLOW_UNKNOWN = "flow_unknown"  # its flow is no longer shipped: the default flow
    FLOW_VERSION_UNKNOWN = "flow_version_unknown"  # its version is not: the latest
    ANSWERS_UNREADABLE = "answers_unreadable"  # not a JSON object of objects
    PHASES_UNKNOWN = "phases_unknown"  # answers for phases the flow does not have
    ANSWERS_INVALID = "answers_invalid"  # answers that no longer fit their phase
    PHASE_UNKNOWN = "phase_unknown"  # its current phase is gone from the flow
    PHASE_SKIPPED = "phase_skipped"  # its current phase no longer applies
    EARLIER_PHASE_UNDONE = "earlier_phase_undone"  # an earlier phase is no longer done
    ANSWERS_REBUILT = "answers_rebuilt"  # ...and rebuilt from the session's event log
    CONTEXT_UNREADABLE = "context_unreadable"  # not a JSON object
    DERIVED_OUT_OF_DATE = "derived_out_of_date"  # goals or progress not as the answers say


# --- phases -------------------------------------------------------------------------


def applicable(flow: Flow, answers: Mapping[str, Any]) -> list[Phase]:
    """The phases of `flow` that the answers so far do not skip, in order."""
    return [phase for phase in flow.phases if not phase.is_skipped(answers)]


def is_done(phase: Phase, answers: Mapping[str, Any]) -> bool:
    """Whether `answers` hold valid answers for `phase`."""
    entry = answers.get(phase.key)
    return isinstance(entry, dict) and not phase.errors(entry)


def next_phase(flow: Flow, answers: Mapping[str, Any], current: str) -> Phase | None:
    """Where advancing from `current` leads: the first phase after it that applies and
    is not done (done ones keep their answers and are passed over), else the last
    phase that applies, if that is after it. None from the last phase."""
    phases = applicable(flow, answers)
    position = flow.index(current)
    later = [phase for phase in phases if flow.index(phase.key) > position]
    undone = next((phase for phase in later if not is_done(phase, answers)), None)
    return undone or (later[-1] if later else None)


def previous_phase(flow: Flow, answers: Mapping[str, Any], current: str) -> Phase | None:
    """Where going back from `current` leads: the phase before it that applies."""
    position = flow.index(current)
    earlier = [phase for phase in applicable(flow, answers) if flow.index(phase.key) < position]
    return earlier[-1] if earlier else None


def resume_point(flow: Flow, answers: Mapping[str, Any], current: str | None) -> Phase:
    """Where a session at `current` resumes: there, unless an earlier phase that
    applies is not done (then the earliest such). A current phase that no longer
    applies gives way to the next that does; one the flow does not have, to the first
    phase not done (or, all done, the last)."""
    phases = applicable(flow, answers)
    phase = flow.phase(current) if current is not None else None
    if phase is None:
        return next((p for p in phases if not is_done(p, answers)), phases[-1])
    if phase not in phases:
        position = flow.index(phase.key)
        phase = next((p for p in phases if flow.index(p.key) > position), phases[-1])
    for earlier in phases:
        if earlier is phase:
            break
        if not is_done(earlier, answers):
            return earlier
    return phase


def progress(flow: Flow, answers: Mapping[str, Any], *, completed: bool = False) -> int:
    """How far along the session is, 0..100: the share of the phases that apply that
    are done; 100 once completed."""
    if completed:
        return 100
    phases = applicable(flow, answers)
    done = sum(is_done(phase, answers) for phase in phases)
    return min(99, done * 100 // len(phases)) if phases else 0


def completion_errors(flow: Flow, answers: Mapping[str, Any]) -> list[AnswerError]:
    """What stands between the answers and completing the onboarding: every required
    phase that applies must be done, every optional one valid (or unanswered). Each
    error's `loc` starts with its phase."""
    errors: list[AnswerError] = []
    for phase in applicable(flow, answers):
        entry = answers.get(phase.key)
        if entry is None and not phase.required:
            continue
        for error in phase.errors({} if entry is None else entry):
            errors.append(AnswerError((phase.key, *error.loc), error.msg, error.type))
    return errors


@dataclass(frozen=True, slots=True)
class Effects:
    """What completing the onboarding sets on the user."""

    goals: list[str]
    profile: dict[str, Any]
    preferences: dict[str, Any]


def effects(flow: Flow, answers: Mapping[str, Any], extra_goals: list[str]) -> Effects:
    """What the answers of the phases that apply set on the user, after each phase's
    `sets`, plus `extra_goals` (the device's, from an import)."""
    profile: dict[str, Any] = {}
    preferences: dict[str, Any] = {}
    for phase in applicable(flow, answers):
        entry = answers.get(phase.key)
        if not isinstance(entry, dict):
            continue
        for key, name in phase.sets.profile.items():
            if name in entry:
                profile[key] = copy.deepcopy(entry[name])
        for key, name in phase.sets.preferences.items():
            if name in entry:
                preferences[key] = copy.deepcopy(entry[name])
    return Effects(goals(flow, answers, extra_goals), profile, preferences)


def goals(flow: Flow, answers: Mapping[str, Any], extra_goals: list[str]) -> list[str]:
    """The goals the answers name (each phase's `sets.goals` fields that apply), then
    `extra_goals`; each once, at most MAX_GOALS."""
    found: list[str] = []
    for phase in applicable(flow, answers):
        entry = answers.get(phase.key)
        if not isinstance(entry, dict):
            continue
        for name in phase.sets.goals:
            value = entry.get(name)
            found += [value] if isinstance(value, str) else []
            found += [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
    found += extra_goals
    return list(dict.fromkeys(goal for goal in found if goal))[:MAX_GOALS]


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """`target` changed by the JSON merge patch `patch` (RFC 7396): a member set to
    null is removed, an object merges into an object, anything else replaces."""
    merged = copy.deepcopy(dict(target))
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        elif isinstance(value, dict):
            current = merged.get(name)
            merged[name] = merge_patch(current if isinstance(current, dict) else {}, value)
        else:
            merged[name] = copy.deepcopy(value)
    return merged


# --- repairs and upgrades ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stored:
    """A session as the database holds it, before anything is checked."""

    flow_key: str
    flow_version: int
    phase: str
    answers: object


@dataclass(slots=True)
class Repair:
    """A stored session made valid for its flow: the flow (upgraded to its latest
    version unless told not to), the answers that fit it, and the phase it resumes
    at; what was wrong, the flow versions it went through, and what was dropped."""

    flow: Flow
    answers: Answers
    phase: str
    reasons: list[RepairReason] = field(default_factory=list)
    upgraded_from: list[str] = field(default_factory=list)
    dropped: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.reasons or self.upgraded_from)

    def note(self, reason: RepairReason) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)


def repair(
    catalog: FlowCatalog, stored: Stored, *, upgrade: bool = True, settle: bool = True
) -> Repair:
    """`stored` made valid: readable answers, upgraded to the latest version of its flow
    (if `upgrade`) through each version's mapping, answers that no longer fit their
    phase dropped field by field, and, if `settle`, the phase it resumes at (see
    `resume_point`). A flow or version no longer shipped gives way to the latest
    version of the flow (or the default flow), keeping answers phase by phase."""
    answers = _readable(stored.answers)
    flow = catalog.get(stored.flow_key, stored.flow_version)
    result = Repair(flow or catalog.default, answers.entries, stored.phase)
    if answers.unreadable:
        result.note(RepairReason.ANSWERS_UNREADABLE)
        result.dropped["answers"] = answers.unreadable
    if flow is None:
        latest = catalog.latest(stored.flow_key)
        result.flow = latest or catalog.default
        result.note(
            RepairReason.FLOW_UNKNOWN if latest is None else RepairReason.FLOW_VERSION_UNKNOWN
        )
    elif upgrade:
        for step in catalog.upgrades(flow.key, flow.version):
            _upgrade(result, step)
    _drop_unknown_phases(result)
    _drop_invalid_answers(result)
    phase = result.flow.phase(result.phase)
    if settle or phase is None:
        resumed = resume_point(result.flow, result.answers, result.phase)
        if resumed.key != result.phase:
            if phase is None:
                if not result.upgraded_from:
                    result.note(RepairReason.PHASE_UNKNOWN)
            elif phase not in applicable(result.flow, result.answers):
                result.note(RepairReason.PHASE_SKIPPED)
            elif not result.upgraded_from:
                result.note(RepairReason.EARLIER_PHASE_UNDONE)
            result.phase = resumed.key
    return result


@dataclass(frozen=True, slots=True)
class _Readable:
    entries: Answers
    unreadable: Any


def _readable(answers: object) -> _Readable:
    """The phase entries of `answers` that are JSON objects; what is not, set aside."""
    if not isinstance(answers, dict):
        return _Readable({}, str(answers) if isinstance(answers, str) else answers)
    entries = {key: value for key, value in answers.items() if isinstance(value, dict)}
    others = {key: value for key, value in answers.items() if not isinstance(value, dict)}
    return _Readable(copy.deepcopy(entries), copy.deepcopy(others) or None)


def _upgrade(result: Repair, step: Flow) -> None:
    """Move `result` one version up, to `step`, through its upgrade mapping (without
    one, phases and fields keep their names)."""
    mapping = step.upgrade
    moved: Answers = {}
    for old_phase, entry in result.answers.items():
        target = mapping.phase_for(old_phase) if mapping is not None else old_phase
        if target is None or step.phase(target) is None:
            result.dropped.setdefault(f"{result.flow.name}/{old_phase}", entry)
            if not _mapped(mapping, old_phase):  # gone from the flow without a word
                result.note(RepairReason.PHASES_UNKNOWN)
            continue
        renamed: dict[str, Any] = {}
        for name, value in entry.items():
            new_name = mapping.field_for(old_phase, name) if mapping is not None else name
            if new_name is None:
                result.dropped.setdefault(f"{result.flow.name}/{old_phase}.{name}", value)
            else:
                renamed[new_name] = value
        moved.setdefault(target, {}).update(renamed)
    phase = mapping.phase_for(result.phase) if mapping is not None else result.phase
    if (phase is None or step.phase(phase) is None) and not _mapped(mapping, result.phase):
        result.note(RepairReason.PHASE_UNKNOWN)
    result.upgraded_from.append(result.flow.name)
    result.flow, result.answers, result.phase = step, moved, phase or ""


def _mapped(mapping: Upgrade | None, old_phase: str) -> bool:
    """Whether an upgrade says where `old_phase` goes (None, too, says it)."""
    return mapping is not None and old_phase in mapping.phases


def _drop_unknown_phases(result: Repair) -> None:
    for key in [key for key in result.answers if result.flow.phase(key) is None]:
        result.dropped.setdefault(key, result.answers.pop(key))
        result.note(RepairReason.PHASES_UNKNOWN)


def _drop_invalid_answers(result: Repair) -> None:
    """Drop each answer that does not fit its phase's schema, keeping the rest (what is
    still missing is not wrong: the user answers it)."""
    for key, entry in result.answers.items():
        phase = result.flow.phase(key)
        assert phase is not None
        for _ in range(_SETTLING_ROUNDS):  # dropping one field may refuse another
            errors = phase.errors(entry, partial=True)
            if not errors:
                break
            result.note(RepairReason.ANSWERS_INVALID)
            names = {error.loc[0] for error in errors if error.loc}
            if not names or any(not error.loc for error in errors):
                result.dropped.setdefault(key, dict(entry))
                entry.clear()
                break
            for name in names:
                result.dropped.setdefault(f"{key}.{name}", entry.pop(str(name), None))


# --- merging a device's copy ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Side:
    """One copy of a session: its answers (already valid for the flow), its phase, and
    when it last changed (a device's clock clamped to when the import arrived)."""

    answers: Answers
    phase: str
    updated_at: datetime


def merge(flow: Flow, server: Side, device: Side) -> tuple[Answers, str]:
    """The server's copy and a device's merged: answers phase by phase (a phase only
    one holds is taken from it; where both hold different answers, the done one wins,
    and of two done or two undone, the one changed later, the server's on a tie), and
    the phase the further of the two had reached, unless an earlier one is not done."""
    answers: Answers = {}
    for phase in flow.phases:
        ours, theirs = server.answers.get(phase.key), device.answers.get(phase.key)
        if ours is None or theirs is None or ours == theirs:
            chosen = ours if ours is not None else theirs
        elif is_done(phase, server.answers) != is_done(phase, device.answers):
            chosen = ours if is_done(phase, server.answers) else theirs
        else:
            chosen = theirs if device.updated_at > server.updated_at else ours
        if chosen is not None:
            answers[phase.key] = copy.deepcopy(chosen)
    further = max(server.phase, device.phase, key=flow.index)
    return answers, resume_point(flow, answers, further).key


# --- rebuilding answers from the event log ---------------------------------------------

# Events whose data holds the session's whole answers after them.
_SNAPSHOTS = frozenset({"started", "imported", "repaired", "upgraded"})


@dataclass(frozen=True, slots=True)
class Logged:
    """One event of a session's log, as replaying reads it."""

    kind: str
    flow_key: str | None
    flow_version: int | None
    phase: str | None
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Replayed:
    """The answers a session's log says it had, and the flow version they were for."""

    flow_key: str
    flow_version: int
    answers: Answers


def replay(log: list[Logged]) -> Replayed | None:
    """The answers a session's event log (oldest first) says it had: the last snapshot
    (the session's start, an import, a repair or an upgrade), then every patch saved
    and every phase passed after it; None if the log holds no snapshot (purged)."""
    start = next(
        (
            n
            for n in range(len(log) - 1, -1, -1)
            if log[n].kind in _SNAPSHOTS and isinstance(log[n].data.get("answers"), dict)
        ),
        None,
    )
    if start is None:
        return None
    snapshot = log[start].data["answers"]
    answers: Answers = {k: copy.deepcopy(v) for k, v in snapshot.items() if isinstance(v, dict)}
    key, version = log[start].flow_key, log[start].flow_version
    for event in log[start + 1 :]:
        if event.phase is None:
            continue
        if event.kind == "answers_saved" and isinstance(patch := event.data.get("patch"), dict):
            answers[event.phase] = merge_patch(answers.get(event.phase, {}), patch)
        elif event.kind == "phase_completed" and isinstance(
            entry := event.data.get("answers"), dict
        ):
            answers[event.phase] = copy.deepcopy(entry)
        key, version = event.flow_key or key, event.flow_version or version
    if key is None or version is None:
        return None
    return Replayed(key, version, answers)
