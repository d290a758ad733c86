"""Every error a caller can get has a stable code, one status, and a row in the API
guide's table (docs/api.md), so that clients can match on codes they can look up."""

import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import convobase
from convobase.core.errors import ConvobaseError

API_GUIDE = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _every_error() -> Iterator[type[ConvobaseError]]:
    # The app imports every module that raises for a request; the domains' errors
    # modules hold the rest (a job's or a command's).
    importlib.import_module("convobase.app")
    for module in pkgutil.walk_packages(convobase.__path__, "convobase."):
        if module.name.endswith(".errors"):
            importlib.import_module(module.name)
    pending = [ConvobaseError]
    while pending:
        for subclass in pending.pop().__subclasses__():
            yield subclass
            pending.append(subclass)


def _table_of_codes() -> dict[str, set[int]]:
    """Each code the guide's error table names, with the statuses it is listed under."""
    text = API_GUIDE.read_text()
    table = text[text.index("| status | code | when |") :]
    table = table[: table.index("\n\n")]
    listed: dict[str, set[int]] = {}
    for row in table.splitlines()[2:]:
        status, codes, _ = row.strip("|").split("|", 2)
        for code in re.findall(r"`([a-z_]+)`", codes):
            listed.setdefault(code, set()).add(int(status))
    return listed


def test_every_error_code_is_in_the_guides_table_under_its_status() -> None:
    listed = _table_of_codes()

    missing = {
        (error.code, error.status)
        for error in _every_error()
        if error.status not in listed.get(error.code, set())
    }

    assert not missing, f"add these (code, status) to the table in docs/api.md: {missing}"


def test_a_code_means_one_status() -> None:
    statuses: dict[str, set[int]] = {}
    for error in _every_error():
        statuses.setdefault(error.code, set()).add(error.status)

    assert {code: found for code, found in statuses.items() if len(found) > 1} == {}
