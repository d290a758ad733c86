"""A learner's day: when it starts and ends in UTC, in their own time zone, starting at
the rollover hour (4 in the morning by default, so that a review at half past midnight
still counts for the evening before, as Anki counts it).

Pure arithmetic on the standard library's tz database (`zoneinfo`), no storage: a day
is [the rollover hour of its date, the rollover hour of the next date), each converted
to UTC. Across a daylight saving change a day lasts 23 or 25 hours; when the rollover
hour does not exist on a date (clocks jumped over it) the day starts when the clocks
jumped, and when it happens twice (clocks went back) at the first.
"""

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

DEFAULT_ROLLOVER_HOUR: Final = 4
MAX_TIME_ZONE_LENGTH: Final = 64
# However a zone's rules move its clocks, the right date is a step or two away from the
# first guess; more than this would be a broken tz database, not a learner's day.
_MAX_STEPS: Final = 4


@dataclass(frozen=True, slots=True)
class LearnerDay:
    """One day of a learner's: its date where they are, and the instants it spans."""

    local_date: date
    time_zone: str
    starts_at: datetime  # UTC, included
    ends_at: datetime  # UTC, excluded: when the next day starts


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(name: object) -> bool:
    """Whether `name` is the name of a time zone of the IANA tz database
    (`Europe/Madrid`, `Pacific/Kiritimati`, `UTC`)."""
    return isinstance(name, str) and len(name) <= MAX_TIME_ZONE_LENGTH and name in _known_zones()


def zone_named(name: object) -> ZoneInfo:
    """The time zone `name` names; UTC for anything that names none (missing, not text,
    not in the tz database)."""
    if not is_time_zone(name):
        return ZoneInfo("UTC")
    assert isinstance(name, str)
    return ZoneInfo(name)


def learner_day(now: datetime, zone: ZoneInfo, rollover_hour: int) -> LearnerDay:
    """The day of a learner in `zone` whose days start at `rollover_hour` (0..23, local
    time) that `now` (an aware datetime) falls in."""
    if not 0 <= rollover_hour <= 23:
        raise ValueError(f"rollover_hour must be 0..23, not {rollover_hour}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rollover = time(rollover_hour)

    def start(day: date) -> datetime:
        # fold=0: a wall time clocks jumped over is read with the offset before the
        # jump, which puts it at the jump or after; one that happened twice, the first.
        return datetime.combine(day, rollover, tzinfo=zone).astimezone(UTC)

    local = now.astimezone(zone).replace(tzinfo=None)
    day = (local - timedelta(hours=rollover_hour)).date()
    # A zone that skipped a date, or shifts at the rollover hour, can make the first
    # guess a day off: move until `now` is inside.
    for _ in range(_MAX_STEPS):
        if start(day) > now:
            day -= timedelta(days=1)
        elif start(day + timedelta(days=1)) <= now:
            day += timedelta(days=1)
        else:
            return LearnerDay(day, zone.key, start(day), start(day + timedelta(days=1)))
    raise ValueError(f"no day of {zone.key} holds {now.isoformat()}")
