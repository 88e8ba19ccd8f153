"""Working-day arithmetic (工作日计算): pure, no I/O, no clock.

A working day is Monday to Friday, minus the statutory holidays, plus the weekend days
worked in exchange (调休), minus the office's own closure days. The schedule of each year is
data (:class:`ledger.schedules.YearSchedule`); a question about a year the calendar was not
given is refused with :class:`UnknownCalendarYear`, never answered with a weekend-only guess.

Counting follows CONTRACT.md: "within N working days of X" ends with the Nth working day
after the day of X; the day of X itself never counts.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import cache
from types import MappingProxyType
from typing import Literal

from ledger.schedules import YearSchedule, builtin_schedules

_LAST_INSTANT_OF_DAY = time(23, 59, 59, 999000)


@dataclass(frozen=True, slots=True)
class _Year:
    """One year's working days as sorted ordinals (for bisect) and a set (for membership)."""

    ordinals: tuple[int, ...]
    members: frozenset[int]

    @classmethod
    def build(cls, schedule: YearSchedule, closures: frozenset[date]) -> _Year:
        holidays = schedule.holiday_dates()
        worked = schedule.workday_dates()
        first = date(schedule.year, 1, 1)
        ordinals: list[int] = []
        for i in range((date(schedule.year, 12, 31) - first).days + 1):
            day = first + timedelta(days=i)
            usual = day.weekday() < 5 and day not in holidays
            if (usual or day in worked) and day not in closures:
                ordinals.append(day.toordinal())
        return cls(tuple(ordinals), frozenset(ordinals))


class WorkingCalendar:
    """The working days of an office: official schedules by year, plus its closure days.

    Immutable: :meth:`with_year` and :meth:`with_closures` return new calendars.
    """

    __slots__ = ("_closures", "_derived", "_schedules", "_years")

    def __init__(
        self, schedules: Mapping[int, YearSchedule], closures: Iterable[date] = frozenset()
    ) -> None:
        for year, schedule in schedules.items():
            if year != schedule.year:
                raise ValueError(f"schedule for {schedule.year} filed under {year}")
        ordered = dict(sorted(schedules.items()))
        self._schedules: Mapping[int, YearSchedule] = MappingProxyType(ordered)
        self._closures = frozenset(closures)
        # Built on first use; the cache never changes an answer, so the object stays immutable.
        self._years: dict[int, _Year] = {}
        self._derived: dict[frozenset[date], WorkingCalendar] = {}  # ``with_closures``, once each

    @classmethod
    def builtin(cls) -> WorkingCalendar:
        """The calendar of every year the built-in schedules cover, no closures."""
        return _builtin_calendar()

    @property
    def closures(self) -> frozenset[date]:
        """The office's own closure days."""
        return self._closures

    @property
    def schedules(self) -> Mapping[int, YearSchedule]:
        """The official schedules, by year (read-only)."""
        return self._schedules

    def known_years(self) -> tuple[int, ...]:
        """The years this calendar can answer for, ascending."""
        return tuple(self._schedules)

    def with_year(self, schedule: YearSchedule) -> WorkingCalendar:
        """A calendar that also knows (or, for a known year, now uses) ``schedule``."""
        return WorkingCalendar({**self._schedules, schedule.year: schedule}, self._closures)

    def with_closures(self, dates: Iterable[date]) -> WorkingCalendar:
        """A calendar where ``dates`` are also closure days (not working days)."""
        extra = frozenset(dates)
        if extra <= self._closures:
            return self
        found = self._derived.get(extra)
        if found is None:  # (a pack's closures, asked for each of its cases: its years built once)
            found = self._derived[extra] = WorkingCalendar(self._schedules, self._closures | extra)
        return found

    def is_working_day(self, day: date) -> bool:
        """Mon-Fri minus holidays, plus make-up workdays, minus closures."""
        return day.toordinal() in self._year(day.year).members

    def add_working_days(self, start: date, n: int) -> date:
        """The Nth working day after ``start`` (``start`` itself never counts; n=0 gives start)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        year = start.year
        days = self._year(year).ordinals
        if n == 0:
            return start
        index = bisect_right(days, start.toordinal())
        remaining = n
        while True:
            available = len(days) - index
            if remaining <= available:
                return date.fromordinal(days[index + remaining - 1])
            remaining -= available
            year += 1
            days = self._year(year).ordinals
            index = 0

    def add_calendar_days(self, start: date, n: int) -> date:
        """The Nth calendar day after ``start`` (no schedule needed, so any year is fine)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return start + timedelta(days=n)

    def add_days(self, start: date, n: int, count: Literal["working", "calendar"]) -> date:
        """:meth:`add_working_days` or :meth:`add_calendar_days`, as a limit's ``count`` says."""
        if count == "working":
            return self.add_working_days(start, n)
        if count == "calendar":
            return self.add_calendar_days(start, n)
        raise ValueError(f"count must be 'working' or 'calendar', got {count!r}")

    def working_days_in(self, first: date, end: date) -> int:
        """The number of working days in the half-open range [first, end)."""
        if end <= first:
            return 0
        last = end - timedelta(days=1)
        lo, hi = first.toordinal(), end.toordinal()
        total = 0
        for year in range(first.year, last.year + 1):
            days = self._year(year).ordinals
            total += bisect_left(days, hi) - bisect_left(days, lo)
        return total

    def _year(self, year: int) -> _Year:
        built = self._years.get(year)
        if built is None:
            schedule = self._schedules.get(year)
            if schedule is None:
                raise UnknownCalendarYear(year, self.known_years())
            built = self._years[year] = _Year.build(schedule, self._closures)
        return built

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkingCalendar):
            return NotImplemented
        return self._schedules == other._schedules and self._closures == other._closures

    def __hash__(self) -> int:
        return hash((tuple(self._schedules), self._closures))

    def __repr__(self) -> str:
        years = _year_ranges(self.known_years())
        return f"WorkingCalendar(years={years}, closures={len(self._closures)})"


def end_of_day(day: date, tz: tzinfo) -> datetime:
    """The last instant of ``day`` in ``tz`` (23:59:59.999 local), timezone-aware."""
    return datetime.combine(day, _LAST_INSTANT_OF_DAY, tzinfo=tz)


@cache
def _builtin_calendar() -> WorkingCalendar:
    return WorkingCalendar(builtin_schedules())


def _year_ranges(years: Iterable[int]) -> str:
    """``[2004, 2005, 2006, 2031]`` -> ``'2004-2006, 2031'``."""
    runs: list[list[int]] = []
    for y in sorted(years):
        if runs and runs[-1][1] == y - 1:
            runs[-1][1] = y
        else:
            runs.append([y, y])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs) or "no year"


class UnknownCalendarYear(Exception):
    """A question about a year whose official schedule the calendar was not given."""

    def __init__(self, year: int, known: Iterable[int] = (), case: str | None = None) -> None:
        self.year = year
        self.known = tuple(known)
        self.case = case
        about = "" if case is None else f"case {case!r} counts working days in {year}, but "
        super().__init__(
            f"{about}the working-day calendar does not know {year} (it knows "
            f"{_year_ranges(self.known)}); add the State Council's schedule for {year} "
            f"with `ledger calendar add FILE` (README: Calendar)"
        )

    def about(self, case: str) -> UnknownCalendarYear:
        """The same, naming the case whose clock needed the year (a question over many cases)."""
        return UnknownCalendarYear(self.year, self.known, case)
