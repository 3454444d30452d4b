"""When a shift runs, in its site's time zone. Plain functions on plain values: no ORM, so the
board, the snapshot job and the check-in answer share one definition of "the next shift".

A shift is a local start and end time on some weekdays. A shift whose end is not after its
start runs overnight and ends the next day. Times are wall-clock times of the site: a shift at
08:00 in Europe/Paris starts at 07:00 UTC in winter and 06:00 UTC in summer.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Occurrence:
    """One run of a shift: aware datetimes in the site's zone."""

    start: dt.datetime
    end: dt.datetime
    lead: dt.timedelta

    @property
    def lead_start(self) -> dt.datetime:
        return self.start - self.lead

    def is_running(self, now: dt.datetime) -> bool:
        return self.start <= now < self.end

    def in_lead_time(self, now: dt.datetime) -> bool:
        """True from `lead` before the start until the start: the minutes a supervisor uses."""
        return self.lead_start <= now < self.start

    def countdown(self, now: dt.datetime) -> dt.timedelta:
        return max(self.start - now, dt.timedelta(0))


def zone_of(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _local(day: dt.date, at: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    # fold=0: a start inside the autumn repeat takes its first instance; one inside the spring
    # gap lands an hour later in UTC terms, as a wall clock that skips the hour would show it.
    naive = dt.datetime.combine(day, at)
    return naive.replace(tzinfo=zone).astimezone(zone)


def occurrence_on(
    day: dt.date, starts: dt.time, ends: dt.time, zone: zoneinfo.ZoneInfo, lead: dt.timedelta
) -> Occurrence:
    start = _local(day, starts, zone)
    end_day = day if ends > starts else day + dt.timedelta(days=1)
    return Occurrence(start=start, end=_local(end_day, ends, zone), lead=lead)


def current_or_next(
    *,
    starts: dt.time,
    ends: dt.time,
    weekdays: Iterable[int],
    zone: zoneinfo.ZoneInfo,
    lead: dt.timedelta,
    now: dt.datetime,
) -> Occurrence | None:
    """The run that is on now, else the next one to start; None for a shift with no weekdays.

    Weekdays are those of the start (Monday is 0): an overnight shift on Friday ends on Saturday."""
    days = set(weekdays)
    if not days:
        return None
    today = now.astimezone(zone).date()
    # Yesterday's overnight run may still be on; a week ahead always holds the next start.
    for offset in range(-1, 8):
        day = today + dt.timedelta(days=offset)
        if day.weekday() not in days:
            continue
        occurrence = occurrence_on(day, starts, ends, zone, lead)
        if now < occurrence.end:
            return occurrence
    return None


def last_start(
    *,
    starts: dt.time,
    ends: dt.time,
    weekdays: Iterable[int],
    zone: zoneinfo.ZoneInfo,
    now: dt.datetime,
    within: dt.timedelta,
) -> dt.datetime | None:
    """The latest start at or before `now`, if it was no longer than `within` ago."""
    days = set(weekdays)
    today = now.astimezone(zone).date()
    for offset in range(0, -9, -1):
        day = today + dt.timedelta(days=offset)
        if day.weekday() not in days:
            continue
        start = _local(day, starts, zone)
        if start <= now:
            return start if now - start <= within else None
    return None


def weekdays_text(weekdays: Iterable[int]) -> str:
    days = sorted(set(weekdays))
    if days == list(range(5)):
        return "Mon-Fri"
    if days == list(range(7)):
        return "every day"
    return ", ".join(WEEKDAY_NAMES[day] for day in days)
