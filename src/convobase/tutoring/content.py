"""Tutoring content as files: lesson dialogs and library texts in the format staff
write them in (YAML, or JSON if the file is named *.json), parsed and checked.

A file is a `TutoringContent` document (`format: 1`, `dialogs`, `texts`); each dialog
and text is matched by its key when imported (`service.import_content`). Files are
read by the kernel (`core/content_files.py`: size, UTF-8, repeated keys, YAML aliases),
and parsing reports every problem as (file, JSON pointer, message), with its line in a
YAML file, so that a file is fixed in one go (docs/tutoring.md#content-files).
"""

from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import ValidationError

from convobase.core import content_files
from convobase.core.content_files import MAX_PROBLEMS, ContentInvalid, ContentProblem, Format
from convobase.tutoring.schemas import (
    DialogLineWrite,
    DialogRoleWrite,
    TutoringContent,
    content_problems,
    script_problems,
)

MAX_FILE_BYTES: Final = 4 * 1024 * 1024


def parse(name: str, text: str | bytes) -> TutoringContent:
    """The content of a file from its text, or ContentInvalid naming every problem:
    JSON if `name` ends in `.json`, else YAML (which JSON also is)."""
    data, node = content_files.parse(name, text, max_bytes=MAX_FILE_BYTES)
    return check(name, data, node=node)


def check(name: str, data: object, *, node: yaml.Node | None = None) -> TutoringContent:
    """The content `data` (parsed JSON or YAML) holds, or ContentInvalid naming every
    problem, with its line in `node` (a YAML file's tree): the format's fields, and each
    dialog's script (roles declared once, lines said by declared roles, a playable role
    with a line, target words in their line)."""
    if data is None:
        raise ContentInvalid([ContentProblem(name, "", "is empty: list `dialogs` or `texts`")])
    found: list[tuple[str, str]] = []
    document: TutoringContent | None = None
    try:
        document = TutoringContent.model_validate(data)
    except ValidationError as error:
        for detail in error.errors():
            message = str(detail["msg"]).removeprefix("Value error, ")
            found.append((content_files.pointer(detail["loc"]), message))
        # What the dialogs whose roles and lines parse say of their scripts, too.
        for at, (roles, lines) in _raw_scripts(data).items():
            found += [(at + path, text) for path, text in _script(roles, lines)]
    else:
        found += content_problems(document)
    if found or document is None:
        problems = [
            ContentProblem(name, path, message, content_files.line_of(node, path))
            for path, message in dict.fromkeys(found)
        ][:MAX_PROBLEMS]
        raise ContentInvalid(problems or [ContentProblem(name, "", "is not tutoring content")])
    return document


def load(path: Path) -> TutoringContent:
    """The content of the file at `path` (ContentInvalid says what is wrong)."""
    data, node = content_files.load(path, max_bytes=MAX_FILE_BYTES)
    return check(str(path), data, node=node)


def load_all(paths: Iterable[Path]) -> TutoringContent:
    """The files' content as one document, or one ContentInvalid naming the problems of
    them all (a key defined in two files among them)."""
    loaded, problems = content_files.each(paths, load)
    seen: dict[tuple[str, str], str] = {}
    for path, document in loaded:
        keys = [
            *(("dialogs", index, dialog.key) for index, dialog in enumerate(document.dialogs)),
            *(("texts", index, text.key) for index, text in enumerate(document.texts)),
        ]
        for kind, index, key in keys:
            if (kind, key) in seen:
                message = f"the key {key!r} is defined in {seen[(kind, key)]} too"
                problems.append(ContentProblem(str(path), f"/{kind}/{index}/key", message))
            seen.setdefault((kind, key), str(path))
    if problems:
        raise ContentInvalid(problems[:MAX_PROBLEMS])
    return _merged(document for _, document in loaded)


def shipped() -> TutoringContent:
    """The content shipped inside the package (`tutoring/content/`): the seed."""
    package = files(__package__ or "convobase.tutoring")
    return _merged(
        parse(entry.name, entry.read_bytes()) for entry in content_files.shipped(package)
    )


def dump(document: TutoringContent, output: Format = "yaml") -> str:
    """`document` as the text of a content file, UTF-8 kept as it is ("María")."""
    return content_files.dump(document.model_dump(mode="json"), output)


def _merged(documents: Iterable[TutoringContent]) -> TutoringContent:
    """The dialogs and texts of the documents, in order, as one document."""
    merged = TutoringContent.model_construct(format=1, dialogs=[], texts=[])
    for document in documents:
        merged.dialogs.extend(document.dialogs)
        merged.texts.extend(document.texts)
    return merged


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
