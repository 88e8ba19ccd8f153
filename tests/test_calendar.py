"""The working-day calendar: official schedules as data, and pure working-day arithmetic."""

from __future__ import annotations

import json
import timeit
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.schedules import (
    ScheduleFileError,
    YearSchedule,
    builtin_schedules,
    load_schedule_file,
    parse_schedule,
)
from projections.calendar import UnknownCalendarYear, WorkingCalendar, end_of_day

CAL = WorkingCalendar.builtin()

# A made-up future year, as an office would file it with `ledger calendar add FILE`.
# 2031-10-01 is a Wednesday; 2031-09-28 a Sunday and 2031-10-11 a Saturday.
SCHEDULE_2031 = {
    "year": 2031,
    "source": "国务院办公厅关于2031年部分节假日安排的通知 (test fixture)",
    "holidays": [
        {"name": "元旦", "from": "2031-01-01", "to": "2031-01-01"},
        {"name": "国庆节", "from": "2031-10-01", "to": "2031-10-07"},
    ],
    "workdays": [
        {"date": "2031-09-28", "name": "国庆节"},
        {"date": "2031-10-11", "name": "国庆节"},
    ],
}


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- the story of 2024 -------------------------------------------------------------------


class TestTwentyTwentyFour:
    """Facts of the State Council's 2024 schedule, checked against chinese_calendar."""

    @pytest.mark.parametrize("day", ["2024-02-04", "2024-02-18", "2024-09-29", "2024-10-12"])
    def test_make_up_weekend_days_are_working_days(self, day: str) -> None:
        assert d(day).weekday() >= 5
        assert CAL.is_working_day(d(day))

    def test_national_day_week_is_off(self) -> None:
        week = [d("2024-10-01") + timedelta(days=i) for i in range(7)]
        assert not any(CAL.is_working_day(x) for x in week)
        assert CAL.is_working_day(d("2024-10-08"))

    def test_ordinary_weekend_is_off_and_weekday_is_on(self) -> None:
        assert not CAL.is_working_day(d("2024-03-09"))  # Saturday
        assert CAL.is_working_day(d("2024-03-11"))  # Monday

    def test_four_working_days_after_friday_27_september_cross_the_holiday(self) -> None:
        # 29 Sep (Sun, worked), 30 Sep, then 1-7 Oct off: 8 Oct, 9 Oct.
        assert CAL.add_working_days(d("2024-09-27"), 4) == d("2024-10-09")
        assert CAL.add_working_days(d("2024-09-27"), 5) == d("2024-10-10")
        assert chinese_calendar.get_workdays(d("2024-09-28"), d("2024-10-09"))[-1] == d("2024-10-09")
        assert len(chinese_calendar.get_workdays(d("2024-09-28"), d("2024-10-09"))) == 4

    def test_working_days_in_2024(self) -> None:
        assert CAL.working_days_in(d("2024-01-01"), d("2025-01-01")) == len(
            chinese_calendar.get_workdays(d("2024-01-01"), d("2024-12-31"))
        )

    def test_schedule_2024_as_data(self) -> None:
        s = builtin_schedules()[2024]
        national = [h for h in s.holidays if "National Day" in h.name]
        assert [(h.from_, h.to) for h in national] == [(d("2024-10-01"), d("2024-10-07"))]
        assert {d("2024-09-29"), d("2024-10-12"), d("2024-02-04"), d("2024-02-18")} <= s.workday_dates()


def test_builtin_calendar_agrees_with_chinese_calendar_every_day() -> None:
    day, last = d("2004-01-01"), d("2026-12-31")
    while day <= last:
        assert CAL.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_builtin_years() -> None:
    assert CAL.known_years() == tuple(range(2004, 2027))
    assert sorted(builtin_schedules()) == list(range(2004, 2027))


def test_a_holiday_range_crossing_new_year_is_split_by_year() -> None:
    # The 2019 New Year holiday ran 2018-12-30 .. 2019-01-01.
    assert d("2018-12-31") in builtin_schedules()[2018].holiday_dates()
    assert d("2019-01-01") in builtin_schedules()[2019].holiday_dates()
    assert not CAL.is_working_day(d("2018-12-31"))
    assert CAL.is_working_day(d("2018-12-29"))  # Saturday worked in exchange


# --- counting rules ----------------------------------------------------------------------


class TestCounting:
    def test_the_day_of_x_never_counts(self) -> None:
        monday = d("2024-03-11")
        assert CAL.is_working_day(monday)
        assert CAL.add_working_days(monday, 1) == d("2024-03-12")
        assert CAL.add_calendar_days(monday, 1) == d("2024-03-12")

    def test_from_a_weekend_the_first_working_day_is_monday(self) -> None:
        assert CAL.add_working_days(d("2024-03-09"), 1) == d("2024-03-11")

    def test_zero_days_is_the_start_itself(self) -> None:
        assert CAL.add_working_days(d("2024-03-09"), 0) == d("2024-03-09")

    def test_negative_days_are_refused(self) -> None:
        with pytest.raises(ValueError):
            CAL.add_working_days(d("2024-03-09"), -1)
        with pytest.raises(ValueError):
            CAL.add_calendar_days(d("2024-03-09"), -1)

    def test_calendar_days_ignore_holidays(self) -> None:
        assert CAL.add_calendar_days(d("2024-09-30"), 4) == d("2024-10-04")
        assert CAL.add_days(d("2024-09-30"), 4, "calendar") == d("2024-10-04")
        assert CAL.add_days(d("2024-09-27"), 4, "working") == d("2024-10-09")

    def test_working_days_in_is_half_open(self) -> None:
        assert CAL.working_days_in(d("2024-03-11"), d("2024-03-11")) == 0
        assert CAL.working_days_in(d("2024-03-11"), d("2024-03-12")) == 1
        assert CAL.working_days_in(d("2024-03-11"), d("2024-03-18")) == 5
        assert CAL.working_days_in(d("2024-03-18"), d("2024-03-11")) == 0

    def test_counting_runs_across_new_year(self) -> None:
        # 2024-12-31 is a Tuesday; 2025-01-01 is a holiday.
        assert CAL.add_working_days(d("2024-12-30"), 2) == d("2025-01-02")
        assert CAL.working_days_in(d("2024-12-30"), d("2025-01-03")) == 3

    def test_end_of_day_is_the_last_millisecond_local(self) -> None:
        tz = ZoneInfo("Asia/Shanghai")
        end = end_of_day(d("2024-10-09"), tz)
        assert end == datetime(2024, 10, 9, 23, 59, 59, 999000, tzinfo=tz)
        assert end.utcoffset() == timedelta(hours=8)

    def test_adding_working_days_takes_microseconds(self) -> None:
        seconds = timeit.timeit(lambda: CAL.add_working_days(d("2024-09-27"), 60), number=2000)
        assert seconds / 2000 < 50e-6


# --- years the calendar does not know ------------------------------------------------------


class TestUnknownYears:
    @pytest.mark.parametrize("day", ["2027-03-01", "1999-03-01"])
    def test_is_working_day_refuses(self, day: str) -> None:
        with pytest.raises(UnknownCalendarYear) as err:
            CAL.is_working_day(d(day))
        year = d(day).year
        assert err.value.year == year
        message = str(err.value)
        assert f"does not know {year}" in message
        assert "2004-2026" in message
        assert f"add the State Council's schedule for {year} with `ledger calendar add FILE`" in message

    def test_counting_into_an_unknown_year_refuses_rather_than_guessing(self) -> None:
        assert CAL.add_working_days(d("2026-12-30"), 1) == d("2026-12-31")
        with pytest.raises(UnknownCalendarYear, match="2027"):
            CAL.add_working_days(d("2026-12-30"), 2)
        with pytest.raises(UnknownCalendarYear, match="2027"):
            CAL.working_days_in(d("2026-12-01"), d("2027-01-05"))
        assert CAL.working_days_in(d("2026-12-01"), d("2027-01-01")) > 0

    def test_calendar_days_need_no_schedule(self) -> None:
        assert CAL.add_calendar_days(d("2027-03-01"), 3) == d("2027-03-04")


# --- adding a year and closures ----------------------------------------------------------


class TestAddingAYear:
    def test_a_year_added_as_data_is_answered(self) -> None:
        schedule = parse_schedule(SCHEDULE_2031, "calendar-2031.json")
        cal = CAL.with_year(schedule)
        assert 2031 in cal.known_years()
        assert cal.is_working_day(d("2031-09-28"))  # Sunday worked
        assert not cal.is_working_day(d("2031-10-03"))  # Friday off
        assert cal.add_working_days(d("2031-09-30"), 1) == d("2031-10-08")
        assert cal.add_working_days(d("2031-10-10"), 1) == d("2031-10-11")  # Saturday worked
        with pytest.raises(UnknownCalendarYear) as err:
            CAL.is_working_day(d("2031-10-03"))  # the original calendar is unchanged
        assert "2031" in str(err.value)
        with pytest.raises(UnknownCalendarYear) as err:
            cal.add_working_days(d("2031-12-31"), 1)
        assert "it knows 2004-2026, 2031" in str(err.value)

    def test_load_schedule_file(self, tmp_path: object) -> None:
        from pathlib import Path

        path = Path(str(tmp_path)) / "calendar-2031.json"
        path.write_text(json.dumps(SCHEDULE_2031, ensure_ascii=False), encoding="utf-8")
        assert load_schedule_file(str(path)) == parse_schedule(SCHEDULE_2031, "x")

    def test_schedule_round_trips_through_json(self) -> None:
        s = parse_schedule(SCHEDULE_2031, "x")
        again = parse_schedule(json.dumps(s.model_dump(mode="json", by_alias=True)), "y")
        assert again == s
        assert s.holidays[1].from_ == d("2031-10-01")

    def test_every_bad_field_is_named_at_once(self) -> None:
        bad = {
            **SCHEDULE_2031,
            "holidays": [
                {"name": "国庆节", "from": "2031-10-07", "to": "2031-10-01"},
                {"name": "元旦", "from": "2032-01-01", "to": "2032-01-01"},
            ],
            "workdays": [
                {"date": "2031-10-06", "name": "国庆节"},  # a Monday, and inside a holiday range
                {"date": "2031-09-28", "name": "国庆节"},
            ],
        }
        with pytest.raises(ScheduleFileError) as err:
            parse_schedule(bad, "calendar-2031.json")
        messages = err.value.messages
        assert any(m.startswith("holidays[0].to: 2031-10-01 is before from") for m in messages)
        assert any(m.startswith("holidays[1].from: 2032-01-01 is not in 2031") for m in messages)
        assert any(m.startswith("workdays[0].date: 2031-10-06 is a Monday") for m in messages)
        assert "calendar-2031.json" in str(err.value)

    def test_shape_errors_name_fields(self) -> None:
        bad = {
            "year": "2031",
            "holidays": [{"name": "国庆节", "from": "1 Oct", "to": "2031-10-07", "until": "x"}],
            "workdays": [{"date": "2031-09-28"}],
        }
        with pytest.raises(ScheduleFileError) as err:
            parse_schedule(bad, "f.json")
        text = "\n".join(err.value.messages)
        for field in (
            "year:",
            "source: required",
            "holidays[0].from:",
            "holidays[0].until: unknown",
            "workdays[0].name: required",
        ):
            assert field in text, (field, text)

    def test_overlapping_holidays_and_make_up_days_on_holidays(self) -> None:
        bad = {
            **SCHEDULE_2031,
            "holidays": [
                {"name": "a", "from": "2031-10-01", "to": "2031-10-07"},
                {"name": "b", "from": "2031-10-05", "to": "2031-10-08"},
            ],
            "workdays": [{"date": "2031-10-04", "name": "a"}],  # a Saturday inside the range
        }
        with pytest.raises(ScheduleFileError) as err:
            parse_schedule(bad, "f.json")
        text = "\n".join(err.value.messages)
        assert "holidays[1]: 2031-10-05..2031-10-08 overlaps holidays[0]" in text
        assert "workdays[0].date: 2031-10-04 is also a holiday (holidays[0])" in text

    def test_not_json(self) -> None:
        with pytest.raises(ScheduleFileError, match="not valid JSON"):
            parse_schedule("{year: 2031", "f.json")

    def test_constructing_directly_is_checked_too(self) -> None:
        with pytest.raises(ValueError, match="is not in 2031"):
            YearSchedule.model_validate({**SCHEDULE_2031, "workdays": [{"date": "2030-09-28", "name": "x"}]})


class TestClosures:
    def test_a_closure_day_is_not_a_working_day(self) -> None:
        monday = d("2024-03-11")
        cal = CAL.with_closures([monday])
        assert not cal.is_working_day(monday)
        assert CAL.is_working_day(monday)  # the built-in calendar is untouched
        assert cal.add_working_days(d("2024-03-08"), 1) == d("2024-03-12")
        assert cal.working_days_in(d("2024-03-11"), d("2024-03-18")) == 4

    def test_a_closure_can_fall_on_a_make_up_workday(self) -> None:
        cal = CAL.with_closures([d("2024-09-29")])
        assert not cal.is_working_day(d("2024-09-29"))
        assert cal.add_working_days(d("2024-09-27"), 4) == d("2024-10-10")

    def test_closures_accumulate_and_survive_adding_a_year(self) -> None:
        cal = CAL.with_closures([d("2024-03-11")]).with_closures([d("2024-03-12")])
        cal = cal.with_year(parse_schedule(SCHEDULE_2031, "x"))
        assert cal.closures == {d("2024-03-11"), d("2024-03-12")}
        assert cal.add_working_days(d("2024-03-08"), 1) == d("2024-03-13")


# --- properties ---------------------------------------------------------------------------

# 60 working days (the largest n below) can take ~3 months with holidays: stay clear of 2027.
known_days = st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 8, 31))


@given(known_days, st.integers(min_value=1, max_value=60))
def test_the_nth_working_day_after(start: date, n: int) -> None:
    result = CAL.add_working_days(start, n)
    assert result > start
    assert CAL.is_working_day(result)
    one = timedelta(days=1)
    assert CAL.working_days_in(start + one, result + one) == n
    assert CAL.working_days_in(start + one, result) == n - 1


@given(known_days, st.integers(min_value=0, max_value=59))
def test_more_days_end_later(start: date, n: int) -> None:
    assert CAL.add_working_days(start, n + 1) > CAL.add_working_days(start, n)


@given(known_days, st.integers(0, 400), st.integers(0, 400))
def test_working_days_in_adds_up(start: date, a: int, b: int) -> None:
    mid = start + timedelta(days=a)
    end = mid + timedelta(days=b)
    if end.year > 2026:
        return
    assert CAL.working_days_in(start, mid) + CAL.working_days_in(mid, end) == CAL.working_days_in(start, end)


@given(known_days, st.sets(st.dates(date(2024, 1, 1), date(2024, 12, 31)), max_size=10))
def test_closures_only_remove_working_days(day: date, closed: set[date]) -> None:
    cal = CAL.with_closures(closed)
    assert cal.is_working_day(day) == (CAL.is_working_day(day) and day not in closed)
