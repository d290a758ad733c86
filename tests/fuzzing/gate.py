"""The fuzzing gate's bookkeeping: its time budget, and how many cases it ran."""

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

BUDGET_SECONDS = 240.0
"""The gate's time in one test process, on both databases and for every kind of caller,
at most. It grows with the operations fuzzed: 48 of them took 95 to 120 s on a shared
two-core machine."""

REPORT_PROPERTY = "fuzzing_gate"
"""The user property on each gate test's report that carries its share of the gate:
the summary is written where reports arrive, which with pytest-xdist is another process."""


@dataclass
class GateLedger:
    """What the gate has spent and done so far in this test process. Its tests do not
    run one after another (the suite runs every SQLite test before the PostgreSQL ones),
    so the time of each is added up."""

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


def share(seconds: float, cases: Counter[tuple[str, str]]) -> dict[str, Any]:
    """One test's share of the gate, as its report carries it."""
    return {
        "seconds": seconds,
        "cases": {f"{backend}/{caller}": count for (backend, caller), count in cases.items()},
    }


def summary(shares: list[dict[str, Any]]) -> str | None:
    """The line the run ends with: how many cases the gate ran, and in how long."""
    if not shares:
        return None
    cases: Counter[str] = Counter()
    for one in shares:
        cases.update(one["cases"])
    seconds = sum(one["seconds"] for one in shares)
    counts = ", ".join(f"{kind} {count}" for kind, count in sorted(cases.items()))
    return (
        f"fuzzing gate: {cases.total()} schemathesis cases ({counts}) in {seconds:.0f}s "
        f"(its budget: {BUDGET_SECONDS:.0f}s in each test process)"
    )
