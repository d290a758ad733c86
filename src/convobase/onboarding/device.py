"""A device's onboarding export, record by record: each session and message record is
checked against the published format (`device_export.schema.json`) on its own, and
read into what the import merges, its times clamped to when the export arrived; a
record that cannot be read is `Refused`, with the reason, for the import to quarantine.
"""

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any, Final

from jsonschema import Draft202012Validator

from convobase.core.validation import bounded_json, unstorable
from convobase.onboarding.flow import answer_errors

MAX_RECORD_BYTES: Final = 64 * 1024
MAX_CONTEXT_BYTES: Final = 16 * 1024
_SHOWN_RECORD_CHARACTERS: Final = 2000
_SHOWN_ERRORS: Final = 3


@dataclass(frozen=True, slots=True)
class DeviceSession:
    """A device's onboarding session, read."""

    index: int
    client_session_id: str
    flow_key: str
    flow_version: int
    phase: str
    completed: bool
    answers: dict[str, Any]
    goals: list[str]
    context: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    digest: str


@dataclass(frozen=True, slots=True)
class DeviceMessage:
    """A message of a device's onboarding conversation, read."""

    index: int
    client_message_id: str
    client_session_id: str
    role: str
    content: str
    metadata: dict[str, Any]
    phase: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Refused:
    """A record that cannot be imported: why, and the record as it can be kept."""

    index: int
    client_id: str | None
    reason: str
    kept: dict[str, Any]
    digest: str


@functools.cache
def export_schema() -> dict[str, Any]:
    """The published format of an export (`device_export.schema.json`)."""
    text = (files("convobase.onboarding") / "device_export.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator(definition: str) -> Draft202012Validator:
    schema = export_schema()
    return Draft202012Validator(
        {"$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def read_session(index: int, record: object, received_at: datetime) -> DeviceSession | Refused:
    """The session record at `index` of an export received at `received_at`."""
    checked = _check(index, record, "OnboardingSession", "client_session_id")
    if isinstance(checked, Refused):
        return checked
    times = _times(checked, ("created_at", "updated_at"), received_at)
    if isinstance(times, str):
        return _refused(index, record, "client_session_id", times)
    context = checked.get("context", {})
    try:
        bounded_json(context, max_bytes=MAX_CONTEXT_BYTES, name="context")
    except ValueError as error:
        return _refused(index, record, "client_session_id", str(error))
    key, version = checked["flow"].split("@")
    return DeviceSession(
        index=index,
        client_session_id=checked["client_session_id"],
        flow_key=key,
        flow_version=int(version),
        phase=checked["phase"],
        completed=checked["status"] == "completed",
        answers=checked["answers"],
        goals=list(checked.get("goals", [])),
        context=context,
        created_at=times["created_at"],
        updated_at=times["updated_at"],
        digest=digest(record),
    )


def read_message(index: int, record: object, received_at: datetime) -> DeviceMessage | Refused:
    """The message record at `index` of an export received at `received_at`."""
    checked = _check(index, record, "ConversationMessage", "client_message_id")
    if isinstance(checked, Refused):
        return checked
    times = _times(checked, ("created_at",), received_at)
    if isinstance(times, str):
        return _refused(index, record, "client_message_id", times)
    return DeviceMessage(
        index=index,
        client_message_id=checked["client_message_id"],
        client_session_id=checked["client_session_id"],
        role=checked["role"],
        content=checked["content"],
        metadata=checked.get("metadata", {}),
        phase=checked.get("phase"),
        created_at=times["created_at"],
    )


def _check(index: int, record: object, definition: str, id_field: str) -> dict[str, Any] | Refused:
    """`record` if it is storable and matches its definition; else why not."""
    try:
        bounded_json({"record": record}, max_bytes=MAX_RECORD_BYTES, name="the record")
    except ValueError as error:
        return _refused(index, record, id_field, str(error).replace("the record.record", "it"))
    errors = answer_errors(_validator(definition), record, limit=_SHOWN_ERRORS)
    if errors:
        shown = "; ".join(
            f"{'.'.join(str(part) for part in error.loc) or 'the record'}: {error.msg}"
            for error in errors[:_SHOWN_ERRORS]
        )
        return _refused(index, record, id_field, f"does not match {definition}: {shown}")
    assert isinstance(record, dict)
    return record


def _times(
    record: dict[str, Any], names: tuple[str, ...], received_at: datetime
) -> dict[str, datetime] | str:
    """The record's times, each clamped to `received_at`; or what is wrong with one."""
    times = {}
    for name in names:
        try:
            value = datetime.fromisoformat(record[name])
        except ValueError:
            return f"{name}: not an RFC 3339 date and time"
        if value.tzinfo is None:
            return f"{name}: a time needs its time zone (Z or +hh:mm)"
        times[name] = min(value, received_at)
    return times


def _refused(index: int, record: object, id_field: str, reason: str) -> Refused:
    client_id = record.get(id_field) if isinstance(record, dict) else None
    shown_id = client_id if isinstance(client_id, str) and unstorable(client_id) is None else None
    return Refused(index, shown_id, reason, kept=keepable(record), digest=digest(record))


def keepable(record: object) -> dict[str, Any]:
    """`record` as the event log can keep it: itself, if both databases can store it;
    otherwise a bounded, escaped text of it."""
    try:
        return bounded_json({"record": record}, max_bytes=MAX_RECORD_BYTES, name="record")
    except (ValueError, RecursionError):
        shown = repr(record)[:_SHOWN_RECORD_CHARACTERS]
        return {"unstorable": shown.encode("utf-8", "backslashreplace").decode()}


def digest(record: object) -> str:
    """A fingerprint of `record`'s content, the same for the same JSON."""
    try:
        text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(record)
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()
