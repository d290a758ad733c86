"""The fuzzing gate's ledger, timing each of its tests (tests/fuzzing/gate.py)."""

import time
from collections.abc import Iterator

import pytest

from tests.fuzzing.gate import REPORT_PROPERTY, GateLedger, share

_LEDGER = pytest.StashKey[GateLedger]()


@pytest.fixture
def gate_ledger(request: pytest.FixtureRequest) -> Iterator[GateLedger]:
    """The test process's ledger, timing the test that uses it (set-up included)."""
    ledger = request.config.stash.setdefault(_LEDGER, GateLedger())
    started = ledger.item_started = time.monotonic()
    before = ledger.cases.copy()
    try:
        yield ledger
    finally:
        ledger.spent = ledger.spent_so_far()
        ledger.item_started = None
        seconds = time.monotonic() - started
        request.node.user_properties.append(
            (REPORT_PROPERTY, share(seconds, ledger.cases - before))
        )
