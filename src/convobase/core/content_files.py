"""Content files: the documents staff write in YAML (or JSON, for a file named *.json)
and import, read with care whatever they hold.

A file is refused when it is too large, not UTF-8, not valid JSON or YAML, repeats a
key in one object (YAML and JSON would keep the last silently), or holds more than
MAX_NODES values once its YAML aliases are expanded ("a billion laughs"). A YAML file
keeps its node tree, so that every problem a domain finds in its data is reported with
its line (`line_of`). Each problem is a `ContentProblem`: the file, a JSON pointer
into it, the message, and its line and column when known; `ContentInvalid` carries
them all, so that a file is fixed in one go. The domains hold what their files mean:
their models, their checks, and what holds across files (docs/learning.md#content-files,
docs/tutoring.md#content-files).
"""

import json
from collections.abc import Callable, Iterable, Sequence
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, TypeVar

import yaml

from convobase.core.errors import ValidationFailed

MAX_NODES: Final = 2_000_000
"""The most values a YAML file may hold once its aliases are expanded: far beyond any
content, and a file of nested aliases ("a billion laughs") stops here."""
MAX_PROBLEMS: Final = 100
SUFFIXES: Final = (".yaml", ".yml", ".json")
SHIPPED_DIRECTORY: Final = "content"

Format = Literal["yaml", "json"]

Item = TypeVar("Item")
Read = TypeVar("Read")


class ContentProblem(NamedTuple):
    """One thing wrong in a content file: the file, where in it (a JSON pointer such as
    `/courses/0/assessments/1/questions/2/choices`, "" for the whole file), what, and
    its line (and column) when known."""

    file: str
    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        place = f"line {self.line}" if self.line else ""
        if place and self.column:
            place += f", column {self.column}"
        where = f"{self.path} ({place})" if self.path and place else self.path or place
        return f"{self.file}: {where}: {self.message}" if where else f"{self.file}: {self.message}"


class ContentInvalid(ValidationFailed):
    """The content files cannot be imported: nothing was."""

    code = "content_invalid"

    def __init__(self, problems: Sequence[ContentProblem]) -> None:
        self.problems = list(problems)
        shown = "; ".join(str(problem) for problem in self.problems[:5])
        more = len(self.problems) - 5
        super().__init__(shown + (f"; and {more} more" if more > 0 else "") or None)

    @property
    def extensions(self) -> dict[str, Any]:
        """Each problem: the file, where in it (a JSON pointer), what, and its line."""
        return {"errors": [problem._asdict() for problem in self.problems]}


# Reading files


def parse(name: str, text: str | bytes, *, max_bytes: int) -> tuple[object, yaml.Node | None]:
    """A content file's data (None for an empty file) and, in YAML, its node tree; or
    ContentInvalid saying why it cannot be read: JSON if `name` ends in `.json`, else
    YAML."""
    if len(text) > max_bytes:
        raise ContentInvalid([_too_large(name, len(text), max_bytes)])
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            message = f"is not UTF-8 text (byte {error.start} cannot be read)"
            raise ContentInvalid([ContentProblem(name, "", message)]) from None
    if name.lower().endswith(".json"):
        return _load_json(name, text), None
    node, data = _load_yaml(name, text)
    return data, node


def load(path: Path, *, max_bytes: int) -> tuple[object, yaml.Node | None]:
    """The content file at `path`, parsed (named by `str(path)` in its problems)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ContentInvalid([_too_large(str(path), size, max_bytes)])
        text = path.read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ContentInvalid([ContentProblem(str(path), "", f"cannot be read: {reason}")]) from None
    return parse(str(path), text, max_bytes=max_bytes)


def each(
    items: Iterable[Item], read: Callable[[Item], Read]
) -> tuple[list[tuple[Item, Read]], list[ContentProblem]]:
    """`read` applied to every item: what it read of each, and the problems of those it
    could not, so that one import names the problems of all its files."""
    read_items: list[tuple[Item, Read]] = []
    problems: list[ContentProblem] = []
    for item in items:
        try:
            read_items.append((item, read(item)))
        except ContentInvalid as error:
            problems += error.problems
    return read_items, problems


def shipped(package: Traversable) -> list[Traversable]:
    """The content files shipped inside a package (its `content/` directory), by name."""
    directory = package.joinpath(SHIPPED_DIRECTORY)
    found = [
        entry
        for entry in directory.iterdir()
        if entry.is_file() and entry.name.lower().endswith(SUFFIXES)
    ]
    return sorted(found, key=lambda entry: entry.name)


def _too_large(name: str, size: int, max_bytes: int) -> ContentProblem:
    return ContentProblem(name, "", f"is too large: {size} bytes, at most {max_bytes}")


class _RepeatedKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _RepeatedKey(key)
        result[key] = value
    return result


def _load_json(name: str, text: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_object)
    except json.JSONDecodeError as error:
        problem = ContentProblem(
            name, "", f"is not valid JSON: {error.msg}", error.lineno, error.colno
        )
        raise ContentInvalid([problem]) from None
    except _RepeatedKey as error:
        message = f"the key {json.dumps(error.args[0])} appears twice in one object"
        raise ContentInvalid([ContentProblem(name, "", message)]) from None
    except RecursionError:
        raise ContentInvalid([ContentProblem(name, "", "nests too deeply")]) from None


def _load_yaml(name: str, text: str) -> tuple[yaml.Node | None, object]:
    """The file's node tree (for lines) and its data, as `yaml.safe_load` reads it."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_nodes(name, node)
        return node, None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = "is not valid YAML: " + ", ".join(
            part for part in (error.context, error.problem) if part
        )
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        raise ContentInvalid([ContentProblem(name, "", message, line, column)]) from None
    except yaml.YAMLError as error:
        raise ContentInvalid([ContentProblem(name, "", f"is not valid YAML: {error}")]) from None
    except RecursionError:
        raise ContentInvalid([ContentProblem(name, "", "nests too deeply")]) from None
    finally:
        loader.dispose()


def _check_nodes(name: str, root: yaml.Node) -> None:
    """Refuse a key repeated in one mapping (YAML would keep the last silently), and
    more than MAX_NODES values once aliases are expanded."""
    problems: list[ContentProblem] = []
    seen: set[int] = set()
    pending: list[tuple[yaml.Node, str]] = [(root, "")]
    visited = 0
    while pending:
        node, path = pending.pop()
        visited += 1
        if visited > MAX_NODES:
            message = f"holds more than {MAX_NODES} values once its aliases are expanded"
            raise ContentInvalid([ContentProblem(name, "", message)])
        first_visit = id(node) not in seen
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            lines: dict[str, int] = {}
            for key, value in node.value:
                step = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                line = key.start_mark.line + 1
                if first_visit and isinstance(key, yaml.ScalarNode):
                    if step in lines:
                        message = f"repeats the key {json.dumps(step)} of line {lines[step]}"
                        problems.append(ContentProblem(name, path, message, line))
                    lines.setdefault(step, line)
                pending.append((value, f"{path}/{escape(step)}"))
        elif isinstance(node, yaml.SequenceNode):
            pending += [(item, f"{path}/{index}") for index, item in enumerate(node.value)]
    if problems:
        raise ContentInvalid(sorted(problems, key=lambda problem: problem.line or 0))


# JSON pointers and lines


def pointer(steps: Iterable[str | int]) -> str:
    """The JSON pointer of these steps (a pydantic error's `loc`): `/dialogs/0/key`."""
    return "".join(f"/{escape(str(step))}" for step in steps)


def escape(step: str) -> str:
    """A step as a JSON pointer writes it (`~` and `/` escaped)."""
    return step.replace("~", "~0").replace("/", "~1")


def steps(pointer: str) -> list[str]:
    """The steps of a JSON pointer, unescaped."""
    if not pointer:
        return []
    return [step.replace("~1", "/").replace("~0", "~") for step in pointer[1:].split("/")]


def place(pointer: str) -> tuple[tuple[int, int | str], ...]:
    """A pointer's steps, for sorting problems in the order of the file."""
    return tuple((0, int(step)) if step.isdigit() else (1, step) for step in steps(pointer))


def line_of(node: yaml.Node | None, pointer: str) -> int | None:
    """The line of a YAML file that `pointer` is at, or of the nearest place above it
    that exists (a missing field is reported on its object's line); None for JSON."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for step in steps(pointer):
        if isinstance(node, yaml.MappingNode):
            match = [
                (key, value)
                for key, value in node.value
                if isinstance(key, yaml.ScalarNode) and key.value == step
            ]
            if not match:
                break
            key, node = match[-1]
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and step.isdigit() and int(step) < len(node.value):
            node = node.value[int(step)]
            line = node.start_mark.line + 1
        else:
            break
    return line


# Writing files


def dump(data: object, output: Format = "yaml") -> str:
    """`data` (JSON-compatible) as the text of a content file, in field order, UTF-8
    kept as it is ("María")."""
    if output == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    text: str = yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    return text
