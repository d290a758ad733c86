"""A learner's day, without a database: it starts at the rollover hour of their own
time zone, lasts 23 or 25 hours across daylight saving changes, and holds every
instant exactly once, in zones far from UTC too."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from convobase.reviews.days import is_time_zone, learner_day, zone_named

KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14
PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")  # UTC-11
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_day_starts_at_the_rollover_hour_so_the_small_hours_count_for_the_day_before() -> None:
    before = learner_day(utc(2026, 3, 2, 3, 59), ZoneInfo("UTC"), 4)
    at = learner_day(utc(2026, 3, 2, 4), ZoneInfo("UTC"), 4)

    assert (before.local_date, before.starts_at, before.ends_at) == (
        date(2026, 3, 1),
        utc(2026, 3, 1, 4),
        utc(2026, 3, 2, 4),
    )
    assert (at.local_date, at.starts_at) == (date(2026, 3, 2), utc(2026, 3, 2, 4))


def test_kiritimati_fourteen_hours_ahead_of_utc_is_already_in_tomorrow() -> None:
    # 23:59 on 1 March there, with days starting at midnight; a minute later, 2 March.
    before = learner_day(utc(2026, 3, 1, 9, 59), KIRITIMATI, 0)
    after = learner_day(utc(2026, 3, 1, 10), KIRITIMATI, 0)

    assert (before.local_date, before.ends_at) == (date(2026, 3, 1), utc(2026, 3, 1, 10))
    assert (after.local_date, after.starts_at) == (date(2026, 3, 2), utc(2026, 3, 1, 10))
    assert after.time_zone == "Pacific/Kiritimati"


def test_pago_pago_eleven_hours_behind_utc_is_still_in_yesterday() -> None:
    before = learner_day(utc(2026, 3, 1, 10, 59), PAGO_PAGO, 0)
    after = learner_day(utc(2026, 3, 1, 11), PAGO_PAGO, 0)

    assert (before.local_date, before.ends_at) == (date(2026, 2, 28), utc(2026, 3, 1, 11))
    assert (after.local_date, after.starts_at) == (date(2026, 3, 1), utc(2026, 3, 1, 11))


def test_one_instant_is_two_different_dates_for_learners_a_day_apart() -> None:
    moment = utc(2026, 3, 1, 10, 30)

    assert learner_day(moment, KIRITIMATI, 0).local_date == date(2026, 3, 2)
    assert learner_day(moment, PAGO_PAGO, 0).local_date == date(2026, 2, 28)


def test_the_rollover_hour_is_local_far_from_utc() -> None:
    # 03:30 on 2 March in Kiritimati: before a 4 o'clock rollover, still 1 March's day.
    day = learner_day(utc(2026, 3, 1, 13, 30), KIRITIMATI, 4)

    assert (day.local_date, day.starts_at, day.ends_at) == (
        date(2026, 3, 1),
        utc(2026, 2, 28, 14),
        utc(2026, 3, 1, 14),
    )


def test_the_day_clocks_spring_forward_is_23_hours_long() -> None:
    day = learner_day(utc(2026, 3, 8, 7), NEW_YORK, 4)  # 03:00 EDT on 8 March

    assert (day.local_date, day.starts_at, day.ends_at) == (
        date(2026, 3, 7),
        utc(2026, 3, 7, 9),  # 04:00 EST
        utc(2026, 3, 8, 8),  # 04:00 EDT
    )
    assert day.ends_at - day.starts_at == timedelta(hours=23)


def test_the_day_clocks_fall_back_is_25_hours_long() -> None:
    day = learner_day(utc(2026, 11, 1, 6), NEW_YORK, 4)  # 01:00 EST, the second time

    assert (day.local_date, day.starts_at, day.ends_at) == (
        date(2026, 10, 31),
        utc(2026, 10, 31, 8),  # 04:00 EDT
        utc(2026, 11, 1, 9),  # 04:00 EST
    )
    assert day.ends_at - day.starts_at == timedelta(hours=25)


def test_a_rollover_hour_the_clocks_skip_starts_the_day_when_they_jump() -> None:
    # 02:00 does not exist in New York on 8 March 2026: 01:59 EST is followed by 03:00 EDT.
    day_before = learner_day(utc(2026, 3, 8, 6, 59), NEW_YORK, 2)
    day = learner_day(utc(2026, 3, 8, 7), NEW_YORK, 2)

    assert (day_before.local_date, day_before.ends_at) == (date(2026, 3, 7), utc(2026, 3, 8, 7))
    assert (day.local_date, day.starts_at, day.ends_at) == (
        date(2026, 3, 8),
        utc(2026, 3, 8, 7),
        utc(2026, 3, 9, 6),
    )


def test_a_rollover_hour_that_happens_twice_starts_the_day_at_the_first() -> None:
    day = learner_day(utc(2026, 11, 1, 6, 30), NEW_YORK, 1)  # 01:30 EST, the second time

    assert (day.local_date, day.starts_at, day.ends_at) == (
        date(2026, 11, 1),
        utc(2026, 11, 1, 5),  # 01:00 EDT, the first time
        utc(2026, 11, 2, 6),
    )


def test_a_date_the_zone_skipped_is_nobodys_day() -> None:
    # Samoa moved across the date line: 29 December 2011 was followed by the 31st.
    apia = ZoneInfo("Pacific/Apia")

    last_before = learner_day(utc(2011, 12, 30, 13, 59), apia, 4)
    first_after = learner_day(utc(2011, 12, 30, 14), apia, 4)

    assert (last_before.local_date, last_before.ends_at) == (
        date(2011, 12, 29),
        utc(2011, 12, 30, 14),
    )
    assert (first_after.local_date, first_after.starts_at) == (
        date(2011, 12, 31),
        utc(2011, 12, 30, 14),
    )


@pytest.mark.parametrize(
    "zone",
    ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/New_York", "Australia/Lord_Howe"],
)
@pytest.mark.parametrize("rollover_hour", [0, 1, 2, 4, 23])
def test_every_instant_falls_in_exactly_one_day_and_days_follow_each_other(
    zone: str, rollover_hour: int
) -> None:
    moment, end = utc(2026, 1, 1), utc(2027, 1, 1)
    previous = None
    while moment < end:
        day = learner_day(moment, ZoneInfo(zone), rollover_hour)
        assert day.starts_at <= moment < day.ends_at, moment
        assert timedelta(hours=22) <= day.ends_at - day.starts_at <= timedelta(hours=26)
        if previous is not None and previous != day:
            assert day.starts_at == previous.ends_at
            assert day.local_date == previous.local_date + timedelta(days=1)
        previous = day
        moment += timedelta(hours=1)


def test_a_name_that_is_no_time_zone_is_utc() -> None:
    assert zone_named("Europe/Madrid") == ZoneInfo("Europe/Madrid")
    for nothing in (None, "", "Mars/Olympus_Mons", "europe/madrid", "America", "../etc", 7):
        assert not is_time_zone(nothing)
        assert zone_named(nothing) == ZoneInfo("UTC")


def test_a_day_needs_an_aware_instant_and_an_hour_of_the_day() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        learner_day(datetime(2026, 3, 1), KIRITIMATI, 4)
    with pytest.raises(ValueError, match=r"0\.\.23"):
        learner_day(utc(2026, 3, 1), KIRITIMATI, 24)
