"""Calendar and local-time windows: public holidays and contact hours in a customer's time zone.

Contact rules speak of the customer's local time ("no calls before 08:00 where the customer
lives"), while the bank plans in its own zone. These helpers work per time zone and per day, not
per account: a run has a few dozen distinct zones, so the per-account work stays in SQL, which joins
the small tables built from these functions.

Times are wall-clock `datetime.time`; an end of 24:00 is written `time.max` by callers and handled
as the start of the next day. Windows are half-open: [start, end).

Holiday periods: the `holidays` package lists the statutory days and the days off moved from
weekends (调休), but not the Saturdays and Sundays inside or next to a Chinese holiday block, e.g.
Sunday 4 October 2026 in the National Day holiday of 1–7 October. In countries whose holidays are
announced as such blocks (`BLOCK_HOLIDAY_COUNTRIES`), a weekend day that is not a moved working
day and is joined to a holiday by other days off belongs to that holiday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_calendars

END_OF_DAY = time.max  # stands for 24:00

# Countries whose public holidays are announced as blocks of days off that take in the weekends
# around them (China's 放假调休 notices of the State Council).
BLOCK_HOLIDAY_COUNTRIES = frozenset({"CN"})
# Longest run of weekend days searched for a neighbouring holiday.
_MAX_WEEKEND_RUN = 4


@cache
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone '{name}' (use an IANA name such as Asia/Shanghai)"
        ) from None


def local_moment(day: date, at: time, tz: str) -> datetime:
    """`at` on `day` in zone `tz` as an aware datetime; END_OF_DAY is next day 00:00."""
    if at == END_OF_DAY:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone(tz))
    return datetime.combine(day, at, tzinfo=zone(tz))


@dataclass(frozen=True)
class Window:
    """A half-open interval of instants; shown in some zone's local time with its offset."""

    start: datetime  # aware
    end: datetime  # aware

    @property
    def empty(self) -> bool:
        return self.end <= self.start

    def intersect(self, other: Window) -> Window:
        return Window(max(self.start, other.start), min(self.end, other.end))

    def contains(self, other: Window) -> bool:
        return self.start <= other.start and other.end <= self.end

    def in_zone(self, tz: str) -> Window:
        z = zone(tz)
        return Window(self.start.astimezone(z), self.end.astimezone(z))

    def utc(self) -> tuple[datetime, datetime]:
        """Start and end as naive UTC datetimes (what Parquet TIMESTAMP columns hold)."""
        return (
            self.start.astimezone(UTC).replace(tzinfo=None),
            self.end.astimezone(UTC).replace(tzinfo=None),
        )


def day_window(day: date, start: time, end: time, tz: str) -> Window:
    """Wall-clock hours [start, end) of `day` in zone `tz`."""
    return Window(local_moment(day, start, tz), local_moment(day, end, tz))


def iso_local(moment: datetime) -> str:
    """'2026-11-28T09:00:00+08:00'."""
    return moment.isoformat(timespec="seconds")


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants (naive) at which `day` starts and ends in zone `tz`."""
    window = day_window(day, time(0), END_OF_DAY, tz)
    return window.utc()


@cache
def _calendar(country: str, years: tuple[int, ...]) -> holiday_calendars.HolidayBase:
    try:
        return holiday_calendars.country_holidays(country, years=years)
    except NotImplementedError:
        raise ValueError(f"no public-holiday calendar for country '{country}'") from None


def holiday_name(day: date, country: str) -> str | None:
    """The public holiday on `day` in `country` (ISO code, e.g. CN), or None.

    In BLOCK_HOLIDAY_COUNTRIES a weekend day joined to a holiday by days off (not a weekend
    working day) is part of it and gets its name.
    """
    calendar = _calendar_for(day, country)
    name = calendar.get(day)
    if name is not None:
        return str(name)
    if country.upper() not in BLOCK_HOLIDAY_COUNTRIES or not _weekend_day_off(calendar, day):
        return None
    for step in (timedelta(days=-1), timedelta(days=1)):
        current = day + step
        for _ in range(_MAX_WEEKEND_RUN):
            calendar = _calendar_for(current, country)
            found = calendar.get(current)
            if found is not None:
                return str(found)
            if not _weekend_day_off(calendar, current):
                break
            current += step
    return None


def _calendar_for(day: date, country: str) -> holiday_calendars.HolidayBase:
    return _calendar(country, (day.year - 1, day.year, day.year + 1))


def _weekend_day_off(calendar: holiday_calendars.HolidayBase, day: date) -> bool:
    """A Saturday or Sunday (the country's weekend) that is not a moved working day."""
    return bool(day.weekday() in calendar.weekend and day not in calendar.weekend_workdays)


def next_open_day(day: date, country: str, *, max_days: int = 31) -> date:
    """`day` itself if no public holiday, else the first day after it that is not one."""
    current = day
    for _ in range(max_days + 1):
        if holiday_name(current, country) is None:
            return current
        current += timedelta(days=1)
    raise ValueError(f"no day without a public holiday within {max_days} days of {day}")


def next_working_day(day: date, country: str, *, max_days: int = 31) -> date:
    """`day` itself if a working day in `country`, else the first working day after it.

    Not a working day: a public holiday (holiday_name) or a weekend day, unless the calendar
    lists that weekend day as a moved working day (调休上班, e.g. a Saturday before National Day).
    """
    current = day
    for _ in range(max_days + 1):
        weekend_day_off = _weekend_day_off(_calendar_for(current, country), current)
        if not weekend_day_off and holiday_name(current, country) is None:
            return current
        current += timedelta(days=1)
    raise ValueError(f"no working day within {max_days} days of {day} in '{country}'")
