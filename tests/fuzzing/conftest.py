"""The fuzzing gate's bookkeeping: its time budget, and how many cases it ran."""

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

BUDGET_SECONDS = 240.0
"""The whole gate, on both databases and for every kind of caller, at most. It grows with
the operations fuzzed: 48 of them took 95 to 120 s on a shared two-core machine."""


@dataclass
class GateLedger:
    """What the gate has spent and done so far in this run. Its tests do not run one
    after another (the suite runs every SQLite test before the PostgreSQL ones), so the
    time of each is added up."""

    spent: float = 0.0
    cases: Counter[tuple[str, str]] = field(default_factory=Counter)
    item_started: float | None = None

    def spent_so_far(self) -> float:
        running = 0.0 if self.item_started is None else time.monotonic() - self.item_started
        return self.spent + running

    def check_budget(self) -> None:
        """Fail the gate once it has spent its budget."""
        if (spent := self.spent_so_far()) > BUDGET_SECONDS:
            pytest.fail(
                f"the fuzzing gate has spent {spent:.0f}s, over its budget of "
                f"{BUDGET_SECONDS:.0f}s: lower MAX_EXAMPLES or find what got slow"
            )


_LEDGER = pytest.StashKey[GateLedger]()


@pytest.fixture
def gate_ledger(pytestconfig: pytest.Config) -> Iterator[GateLedger]:
    """The run's ledger, timing the test that uses it (set-up included)."""
    ledger = pytestconfig.stash.setdefault(_LEDGER, GateLedger())
    ledger.item_started = time.monotonic()
    try:
        yield ledger
    finally:
        ledger.spent = ledger.spent_so_far()
        ledger.item_started = None


@pytest.hookimpl(tryfirst=True)
def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Say how many cases the gate ran, and in how long."""
    ledger = config.stash.get(_LEDGER, None)
    if ledger is None:
        return
    counts = ", ".join(
        f"{backend}/{caller} {count}" for (backend, caller), count in sorted(ledger.cases.items())
    )
    terminalreporter.write_line(
        f"fuzzing gate: {ledger.cases.total()} schemathesis cases ({counts}) in "
        f"{ledger.spent:.0f}s of its {BUDGET_SECONDS:.0f}s budget"
    )
