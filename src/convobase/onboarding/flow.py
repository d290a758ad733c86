"""Onboarding flows: versioned definitions shipped as data, checked when they load.

A flow version (`running-coach@2`) is an ordered list of phases. Each phase has a JSON
Schema (Draft 2020-12) for its answers, may be skipped while the answers so far match
its `skip_if` schema, and says what completing the onboarding sets on the user from
its answers. Version n+1 of a flow says how a session of version n becomes one of it
(`Upgrade`). The files live in `flows/` beside this module, one per version, in the
format of `flow.schema.json` (docs/onboarding.md).
"""

import functools
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Final, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

DEFAULT_FLOW: Final = "running-coach"
MAX_ERRORS: Final = 50
_DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
_SHOWN_MESSAGE_CHARACTERS: Final = 200
_FILE_NAME: Final = re.compile(r"(?P<key>[a-z][a-z0-9-]*)@(?P<version>[1-9][0-9]*)\.json")


class FlowError(ValueError):
    """A flow definition that cannot be used, and why."""


@dataclass(frozen=True, slots=True)
class AnswerError:
    """One answer that does not fit its phase's schema: where it is (field names and
    list indexes inside the phase's answers), what is wrong, and the kind of error."""

    loc: tuple[str | int, ...]
    msg: str
    type: str


@dataclass(frozen=True, slots=True)
class Sets:
    """What completing the onboarding sets on the user from one phase's answers: answer
    fields whose values become goals, and profile and preference keys with the answer
    field each takes its value from."""

    goals: tuple[str, ...] = ()
    profile: Mapping[str, str] = field(default_factory=dict)
    preferences: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class Phase:
    """One step of a flow."""

    key: str
    title: str
    prompt: str | None
    required: bool
    schema: Mapping[str, Any]
    skip_if: Mapping[str, Any] | None
    sets: Sets
    _answers: Draft202012Validator
    _skip: Draft202012Validator | None

    def errors(self, answers: object, *, partial: bool = False) -> list[AnswerError]:
        """What is wrong with `answers` for this phase, at most MAX_ERRORS of it. With
        `partial`, answers still missing are not wrong: what was given must fit."""
        return answer_errors(self._answers, answers, partial=partial)

    def is_skipped(self, answers: Mapping[str, Any]) -> bool:
        """Whether the answers so far ({phase: answers}) skip this phase."""
        return self._skip is not None and self._skip.is_valid(dict(answers))


@dataclass(frozen=True, slots=True)
class Upgrade:
    """How a session of the version before becomes one of this version: where each old
    phase's answers go (None: dropped), and fields renamed (None: dropped) per old
    phase. Phases and fields not named keep their names."""

    from_version: int
    phases: Mapping[str, str | None] = field(default_factory=dict)
    fields: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)

    def phase_for(self, old: str) -> str | None:
        """The phase of this version that the old phase `old` becomes, or None."""
        return self.phases.get(old, old)

    def field_for(self, old_phase: str, name: str) -> str | None:
        """The name the field `name` of the old phase `old_phase` takes, or None."""
        return self.fields.get(old_phase, {}).get(name, name)


@dataclass(frozen=True, slots=True, eq=False)
class Flow:
    """One version of a flow: its phases in order."""

    key: str
    version: int
    title: str
    description: str | None
    phases: tuple[Phase, ...]
    upgrade: Upgrade | None

    @property
    def name(self) -> str:
        """`key@version`, as sessions and events name it."""
        return f"{self.key}@{self.version}"

    def phase(self, key: str) -> Phase | None:
        """The phase named `key`, if this version has one."""
        return next((phase for phase in self.phases if phase.key == key), None)

    def index(self, key: str | None) -> int:
        """The position of the phase `key` (0 for the first), or -1."""
        return next((n for n, phase in enumerate(self.phases) if phase.key == key), -1)


class FlowCatalog:
    """Every version of every flow, and the flow new sessions start with."""

    def __init__(self, flows: Iterable[Flow], *, default: str = DEFAULT_FLOW) -> None:
        versions: dict[str, dict[int, Flow]] = {}
        for flow in flows:
            if flow.version in versions.setdefault(flow.key, {}):
                raise FlowError(f"{flow.name} is defined twice")
            versions[flow.key][flow.version] = flow
        for key, by_version in versions.items():
            if sorted(by_version) != list(range(1, len(by_version) + 1)):
                raise FlowError(f"the versions of {key} must be 1, 2, 3... without gaps")
            for version, flow in by_version.items():
                if version > 1:
                    _check_upgrade(by_version[version - 1], flow)
        if default not in versions:
            raise FlowError(f"the default flow {default!r} is not defined")
        self._versions = versions
        self._default = default

    @classmethod
    def from_documents(
        cls, documents: Iterable[object], *, default: str = DEFAULT_FLOW
    ) -> "FlowCatalog":
        """A catalog of the flow definitions `documents` (parsed JSON), each checked."""
        return cls((load_flow(document) for document in documents), default=default)

    @property
    def default(self) -> Flow:
        """The latest version of the flow new sessions start with."""
        flow = self.latest(self._default)
        assert flow is not None
        return flow

    def get(self, key: str, version: int) -> Flow | None:
        """The version `version` of the flow `key`, if it is defined."""
        return self._versions.get(key, {}).get(version)

    def latest(self, key: str) -> Flow | None:
        """The newest version of the flow `key`, if it is defined."""
        by_version = self._versions.get(key)
        return by_version[max(by_version)] if by_version else None

    def upgrades(self, key: str, from_version: int) -> list[Flow]:
        """The versions of `key` after `from_version`, in order: the steps that take a
        session of `from_version` to the latest."""
        by_version = self._versions.get(key, {})
        return [by_version[v] for v in sorted(by_version) if v > from_version]

    def __iter__(self) -> Iterator[Flow]:
        for key in sorted(self._versions):
            yield from (self._versions[key][v] for v in sorted(self._versions[key]))


def answer_errors(
    validator: Draft202012Validator,
    answers: object,
    *,
    partial: bool = False,
    limit: int = MAX_ERRORS,
) -> list[AnswerError]:
    """What `validator` finds wrong with `answers`, one entry per field (a missing one
    and an unexpected one are named where they would be), in the order of their
    places, from at most `limit` of the validator's errors. With `partial`, the top
    level's missing fields are not wrong."""
    found: dict[tuple[tuple[str, ...], str], AnswerError] = {}

    def add(error: AnswerError) -> None:
        found.setdefault((tuple(str(part) for part in error.loc), error.type), error)

    for error in itertools.islice(validator.iter_errors(answers), limit):
        path = tuple(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            if partial and not path:
                continue
            names = error.validator_value if isinstance(error.validator_value, list) else []
            for name in names:
                if isinstance(name, str) and name not in error.instance:
                    add(AnswerError((*path, name), "Field required", "missing"))
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            extras = _unexpected(error)
            for name in extras:
                add(AnswerError((*path, name), "Extra inputs are not permitted", "extra_forbidden"))
            if not extras:
                add(AnswerError(path, _shown(error.message), "additionalProperties"))
        else:
            add(AnswerError(path, _shown(error.message), str(error.validator)))
    ordered = sorted(found.items(), key=lambda item: item[0])
    return [error for _, error in ordered[:MAX_ERRORS]]


def _unexpected(error: ValidationError) -> list[str]:
    """The keys an `additionalProperties: false` refused."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = schema.get("properties", {})
    patterns = [re.compile(pattern) for pattern in schema.get("patternProperties", {})]
    instance = cast(dict[str, Any], error.instance)
    return [
        name
        for name in instance
        if name not in known and not any(pattern.search(name) for pattern in patterns)
    ]


def _shown(message: str) -> str:
    if len(message) > _SHOWN_MESSAGE_CHARACTERS:
        return f"{message[:_SHOWN_MESSAGE_CHARACTERS]}..."
    return message


# --- loading and checking definitions ---------------------------------------------------


@functools.cache
def _meta_validator() -> Draft202012Validator:
    schema = json.loads((files("convobase.onboarding") / "flow.schema.json").read_text("utf-8"))
    return Draft202012Validator(schema)


def load_flow(document: object) -> Flow:
    """A flow version from its definition (parsed JSON), or FlowError saying what is
    wrong with it: beyond `flow.schema.json`, each phase's schemas must be valid Draft
    2020-12 schemas of an object, a required phase's must refuse `{}` and an optional
    one's accept it, `skip_if` may look only at earlier phases (never the first's),
    and `sets` may only name fields the phase's schema has."""
    problems = [
        f"{'/'.join(str(part) for part in error.absolute_path) or 'the flow'}: {error.message}"
        for error in _meta_validator().iter_errors(document)
    ]
    if problems:
        raise FlowError("; ".join(problems[:5]))
    assert isinstance(document, dict)
    name = f"{document['key']}@{document['version']}"
    phases: list[Phase] = []
    for number, definition in enumerate(document["phases"]):
        where = f"{name} phase {definition['key']!r}"
        if any(phase.key == definition["key"] for phase in phases):
            raise FlowError(f"{where} is defined twice")
        phases.append(_phase(definition, where, earlier=[p.key for p in phases], first=not number))
    upgrade = None
    if (definition := document.get("upgrade")) is not None:
        upgrade = Upgrade(
            from_version=definition["from_version"],
            phases=dict(definition.get("phases", {})),
            fields={old: dict(names) for old, names in definition.get("fields", {}).items()},
        )
    flow = Flow(
        key=document["key"],
        version=document["version"],
        title=document["title"],
        description=document.get("description"),
        phases=tuple(phases),
        upgrade=upgrade,
    )
    if flow.version == 1 and upgrade is not None:
        raise FlowError(f"{name}: the first version has nothing to upgrade from")
    if upgrade is not None and upgrade.from_version != flow.version - 1:
        raise FlowError(f"{name}: the upgrade must be from version {flow.version - 1}")
    return flow


def _phase(definition: dict[str, Any], where: str, *, earlier: list[str], first: bool) -> Phase:
    schema = definition["schema"]
    answers = _validator(schema, f"{where} schema")
    if schema.get("type") != "object":
        raise FlowError(f"{where}: its schema must be of an object (type: object)")
    if definition["required"] and answers.is_valid({}):
        raise FlowError(f"{where}: a required phase's schema must refuse {{}} (no answers)")
    if not definition["required"] and not answers.is_valid({}):
        raise FlowError(f"{where}: an optional phase's schema must accept {{}} (no answers)")
    skip = None
    if (skip_if := definition.get("skip_if")) is not None:
        if first:
            raise FlowError(f"{where}: the first phase cannot be skipped")
        skip = _validator(skip_if, f"{where} skip_if")
        looked_at = set(skip_if.get("properties", {})) | set(skip_if.get("required", []))
        if later := sorted(looked_at - set(earlier)):
            raise FlowError(f"{where}: skip_if may only look at earlier phases, not {later}")
    sets = definition.get("sets", {})
    fields = set(schema.get("properties", {}))
    named = [*sets.get("goals", []), *sets.get("profile", {}).values()]
    named += sets.get("preferences", {}).values()
    if unknown := sorted(set(named) - fields):
        raise FlowError(f"{where}: sets names fields its schema does not have: {unknown}")
    return Phase(
        key=definition["key"],
        title=definition["title"],
        prompt=definition.get("prompt"),
        required=definition["required"],
        schema=schema,
        skip_if=skip_if,
        sets=Sets(
            goals=tuple(sets.get("goals", [])),
            profile=dict(sets.get("profile", {})),
            preferences=dict(sets.get("preferences", {})),
        ),
        _answers=answers,
        _skip=skip,
    )


def _validator(schema: dict[str, Any], where: str) -> Draft202012Validator:
    declared = schema.get("$schema", _DRAFT)
    if declared.rstrip("#") != _DRAFT:
        raise FlowError(f"{where}: schemas are Draft 2020-12 ({_DRAFT}), not {declared}")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise FlowError(f"{where}: not a valid JSON Schema: {error.message}") from None
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _check_upgrade(previous: Flow, flow: Flow) -> None:
    """The upgrade of `flow` names only phases and fields that exist."""
    upgrade = flow.upgrade or Upgrade(from_version=previous.version)
    for old in (*upgrade.phases, *upgrade.fields):
        if previous.phase(old) is None:
            raise FlowError(f"{flow.name}: the upgrade names {old!r}, no phase of {previous.name}")
    for old, new in upgrade.phases.items():
        if new is not None and flow.phase(new) is None:
            raise FlowError(f"{flow.name}: the upgrade moves {old!r} to {new!r}, no phase of it")
    for old, renamed in upgrade.fields.items():
        target = flow.phase(upgrade.phase_for(old) or "")
        known = set(target.schema.get("properties", {})) if target is not None else set()
        if unknown := sorted(n for n in renamed.values() if n is not None and n not in known):
            raise FlowError(f"{flow.name}: the upgrade renames {old!r} fields to unknown {unknown}")


def load_flows(directory: Traversable) -> list[Flow]:
    """Every flow version in `directory`, one `KEY@VERSION.json` file each."""
    flows = []
    for entry in sorted(directory.iterdir(), key=lambda entry: entry.name):
        if not entry.name.endswith(".json"):
            continue
        match = _FILE_NAME.fullmatch(entry.name)
        try:
            document = json.loads(entry.read_text("utf-8"))
        except ValueError as error:
            raise FlowError(f"{entry.name}: not JSON: {error}") from None
        flow = load_flow(document)
        if match is None or (match["key"], int(match["version"])) != (flow.key, flow.version):
            raise FlowError(f"{entry.name} must be named {flow.name}.json")
        flows.append(flow)
    return flows


@functools.cache
def default_catalog() -> FlowCatalog:
    """The flows convobase ships (`flows/`), loaded and checked once."""
    return FlowCatalog(load_flows(files("convobase.onboarding") / "flows"))
