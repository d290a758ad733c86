"""A clock tests move by hand."""

from datetime import datetime, timedelta

from convobase.core.time import utc_now


class FakeClock:
    """A clock that moves only when a test moves it."""

    def __init__(self) -> None:
        # Jobs are queued at the real time: the fake one starts a moment after it.
        self.now = utc_now().replace(microsecond=0) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by
