"""The reviews domain reads the time through its service module: tests move it by hand."""

import pytest

from convobase.reviews import service
from tests.clocks import FakeClock


@pytest.fixture
def now(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock the reviews service reads, which moves only when the test moves it."""
    monkeypatch.setattr(service, "utc_now", clock)
    return clock
