"""Tutoring content as files: lesson dialogs and library texts in the format staff
write them in (YAML, or JSON if the file is named *.json), parsed and checked.

A file is a `TutoringContent` document (`format: 1`, `dialogs`, `texts`); each dialog
and text is matched by its key when imported (`service.import_content`). Parsing
reports every problem as (file, JSON pointer, message), so that a file is fixed in one
go (docs/tutoring.md#content-files).
"""

import json
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import ValidationError

from convobase.tutoring.errors import ContentInvalid, ContentProblem
from convobase.tutoring.schemas import (
    DialogLineWrite,
    DialogRoleWrite,
    TutoringContent,
    content_problems,
    script_problems,
)

MAX_FILE_BYTES: Final = 4 * 1024 * 1024
MAX_PROBLEMS: Final = 100
SUFFIXES: Final = (".yaml", ".yml", ".json")
SHIPPED_DIRECTORY: Final = "content"

Format = Literal["yaml", "json"]


def parse(name: str, text: str | bytes) -> TutoringContent:
    """The content of a file from its text, or ContentInvalid naming every problem:
    JSON if `name` ends in `.json`, else YAML (which JSON also is)."""
    if len(text) > MAX_FILE_BYTES:
        message = f"is too large: {len(text)} bytes, at most {MAX_FILE_BYTES}"
        raise ContentInvalid([ContentProblem(name, "", message)])
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            message = f"is not UTF-8 text (byte {error.start} cannot be read)"
            raise ContentInvalid([ContentProblem(name, "", message)]) from None
    try:
        data = json.loads(text) if name.lower().endswith(".json") else yaml.safe_load(text)
    except json.JSONDecodeError as error:
        message = f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        raise ContentInvalid([ContentProblem(name, "", message)]) from None
    except yaml.YAMLError as error:
        raise ContentInvalid([ContentProblem(name, "", f"is not valid YAML: {error}")]) from None
    except RecursionError:
        raise ContentInvalid([ContentProblem(name, "", "nests too deeply")]) from None
    return check(name, data)


def check(name: str, data: object) -> TutoringContent:
    """The content `data` (parsed JSON or YAML) holds, or ContentInvalid naming every
    problem: the format's fields, and each dialog's script (roles declared once, lines
    said by declared roles, a playable role with a line, target words in their line)."""
    if data is None:
        raise ContentInvalid([ContentProblem(name, "", "is empty: list `dialogs` or `texts`")])
    problems: list[ContentProblem] = []
    document: TutoringContent | None = None
    try:
        document = TutoringContent.model_validate(data)
    except ValidationError as error:
        for detail in error.errors():
            message = str(detail["msg"]).removeprefix("Value error, ")
            problems.append(ContentProblem(name, _pointer(detail["loc"]), message))
        # What the dialogs whose roles and lines parse say of their scripts, too.
        for at, (roles, lines) in _raw_scripts(data).items():
            found = _script(roles, lines)
            problems += [ContentProblem(name, at + path, text) for path, text in found]
    else:
        problems += [ContentProblem(name, path, text) for path, text in content_problems(document)]
    if problems or document is None:
        unique = list(dict.fromkeys(problems))[:MAX_PROBLEMS]
        raise ContentInvalid(unique or [ContentProblem(name, "", "is not tutoring content")])
    return document


def load(path: Path) -> TutoringContent:
    """The content of the file at `path` (ContentInvalid says what is wrong)."""
    try:
        if (size := path.stat().st_size) > MAX_FILE_BYTES:
            message = f"is too large: {size} bytes, at most {MAX_FILE_BYTES}"
            raise ContentInvalid([ContentProblem(str(path), "", message)])
        text = path.read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ContentInvalid([ContentProblem(str(path), "", f"cannot be read: {reason}")]) from None
    return parse(str(path), text)


def load_all(paths: Iterable[Path]) -> TutoringContent:
    """The files' content as one document, or one ContentInvalid naming the problems of
    them all (a key defined in two files among them)."""
    loaded: list[tuple[str, TutoringContent]] = []
    problems: list[ContentProblem] = []
    for path in paths:
        try:
            loaded.append((str(path), load(path)))
        except ContentInvalid as error:
            problems += error.problems
    merged = TutoringContent.model_construct(format=1, dialogs=[], texts=[])
    seen: dict[tuple[str, str], str] = {}
    for name, document in loaded:
        keys = [
            *(("dialogs", index, dialog.key) for index, dialog in enumerate(document.dialogs)),
            *(("texts", index, text.key) for index, text in enumerate(document.texts)),
        ]
        for kind, index, key in keys:
            if (kind, key) in seen:
                message = f"the key {key!r} is defined in {seen[(kind, key)]} too"
                problems.append(ContentProblem(name, f"/{kind}/{index}/key", message))
            seen.setdefault((kind, key), name)
        merged.dialogs.extend(document.dialogs)
        merged.texts.extend(document.texts)
    if problems:
        raise ContentInvalid(problems[:MAX_PROBLEMS])
    return merged


def shipped() -> TutoringContent:
    """The content shipped inside the package (`tutoring/content/`): the seed."""
    directory = files(__package__ or "convobase.tutoring").joinpath(SHIPPED_DIRECTORY)
    entries = sorted(
        (entry for entry in directory.iterdir() if entry.name.lower().endswith(SUFFIXES)),
        key=lambda entry: entry.name,
    )
    merged = TutoringContent.model_construct(format=1, dialogs=[], texts=[])
    for entry in entries:
        document = parse(entry.name, entry.read_bytes())
        merged.dialogs.extend(document.dialogs)
        merged.texts.extend(document.texts)
    return merged


def dump(document: TutoringContent, output: Format = "yaml") -> str:
    """`document` as the text of a content file, UTF-8 kept as it is ("María")."""
    data = document.model_dump(mode="json")
    if output == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    dumped: str = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    return dumped


def _raw_scripts(data: object) -> dict[str, tuple[Any, Any]]:
    """Each dialog's roles and lines as the file has them, by the dialog's pointer."""
    dialogs = data.get("dialogs") if isinstance(data, dict) else None
    if not isinstance(dialogs, list):
        return {}
    return {
        f"/dialogs/{index}": (dialog.get("roles"), dialog.get("lines"))
        for index, dialog in enumerate(dialogs)
        if isinstance(dialog, dict)
    }


def _script(roles: object, lines: object) -> list[tuple[str, str]]:
    """What is wrong with a dialog's script, where its roles and lines parse."""
    if not (isinstance(roles, list) and isinstance(lines, list)):
        return []
    try:
        parsed_roles = [DialogRoleWrite.model_validate(role) for role in roles]
        parsed_lines = [DialogLineWrite.model_validate(line) for line in lines]
    except ValidationError:
        return []  # the document's own validation located it
    return script_problems(parsed_roles, parsed_lines)


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "".join(f"/{str(step).replace('~', '~0').replace('/', '~1')}" for step in loc)
