"""A year's official holiday schedule (节假日安排) as data.

Every year the State Council's General Office publishes a notice (国务院办公厅关于某年部分
节假日安排的通知) listing the public holidays and the weekend days worked in exchange
(调休上班). A :class:`YearSchedule` is that notice, cut to one calendar year, in the JSON
form ``ledger calendar add FILE`` reads::

    {"year": 2031, "source": "国办发明电〔2030〕7号",
     "holidays": [{"name": "国庆节", "from": "2031-10-01", "to": "2031-10-07"}],
     "workdays": [{"date": "2031-09-28", "name": "国庆节"}]}

Holiday ranges may include weekend days, as the notices do; only the weekdays among them
change anything. The built-in years come from the ``chinesecalendar`` package, which
transcribes those notices; a year it does not cover must be added as data, never guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from functools import cache
from importlib import metadata
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ledger.interchange import REPEATED_KEY, key_count, may_repeat_a_key, repeated_key

FIRST_YEAR = 2000
LAST_YEAR = 2099

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    """Accept a date or a YYYY-MM-DD string; refuse datetimes, numbers and other shapes."""
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        return value.strip()
    raise ValueError(f"expected a date like 2031-10-01, got {value!r}")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A calendar date written YYYY-MM-DD."""


class HolidayRange(BaseModel):
    """One holiday period of the notice (放假), both ends included."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, description="the holiday, e.g. 国庆节")
    from_: IsoDate = Field(alias="from", description="first day off")
    to: IsoDate = Field(description="last day off")

    def dates(self) -> list[date]:
        """Every date of the range, ends included."""
        return [self.from_ + timedelta(days=i) for i in range((self.to - self.from_).days + 1)]


class MakeUpWorkday(BaseModel):
    """A Saturday or Sunday worked in exchange for a holiday (调休上班)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    day: IsoDate = Field(alias="date", description="the Saturday or Sunday worked")
    name: str = Field(min_length=1, description="the holiday it makes up for")


class YearSchedule(BaseModel):
    """The official holiday schedule of one calendar year."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    year: int = Field(ge=FIRST_YEAR, le=LAST_YEAR, strict=True, description="the calendar year")
    source: str = Field(min_length=1, description="the notice it transcribes")
    holidays: tuple[HolidayRange, ...] = Field(description="holiday periods")
    workdays: tuple[MakeUpWorkday, ...] = Field(default=(), description="make-up workdays")

    @model_validator(mode="after")
    def check_dates_fit_the_year(self) -> YearSchedule:
        """Refuse a schedule whose dates contradict each other or leave the year."""
        problems = self.problems()
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def problems(self) -> list[str]:
        """Every inconsistency, one message a field, each naming the field."""
        out: list[str] = []
        for i, h in enumerate(self.holidays):
            for field, day in (("from", h.from_), ("to", h.to)):
                if day.year != self.year:
                    out.append(f"holidays[{i}].{field}: {day} is not in {self.year}")
            if h.to < h.from_:
                out.append(f"holidays[{i}].to: {h.to} is before from ({h.from_})")
        for i, h in enumerate(self.holidays):
            for j in range(i):
                other = self.holidays[j]
                if h.from_ <= other.to and other.from_ <= h.to:
                    out.append(
                        f"holidays[{i}]: {h.from_}..{h.to} overlaps holidays[{j}] "
                        f"({other.from_}..{other.to})"
                    )
        off = {d: i for i, h in enumerate(self.holidays) for d in h.dates()}
        seen: dict[date, int] = {}
        for i, w in enumerate(self.workdays):
            if w.day.year != self.year:
                out.append(f"workdays[{i}].date: {w.day} is not in {self.year}")
            if w.day.weekday() < 5:
                out.append(
                    f"workdays[{i}].date: {w.day} is a {w.day:%A}; a make-up workday "
                    "is a Saturday or Sunday"
                )
            if w.day in off:
                out.append(
                    f"workdays[{i}].date: {w.day} is also a holiday (holidays[{off[w.day]}])"
                )
            if w.day in seen:
                out.append(f"workdays[{i}].date: {w.day} repeats workdays[{seen[w.day]}]")
            seen.setdefault(w.day, i)
        return out

    def holiday_dates(self) -> frozenset[date]:
        """Every date inside a holiday range (weekend days included)."""
        return frozenset(d for h in self.holidays for d in h.dates())

    def workday_dates(self) -> frozenset[date]:
        """The make-up workdays."""
        return frozenset(w.day for w in self.workdays)


def json_object(
    data: Mapping[str, Any] | str | bytes, not_object: str, error: Callable[[list[str]], Exception]
) -> Mapping[str, Any]:
    """A configuration file's JSON object (text or already parsed), or ``error(messages)`` raised.

    ``not_object`` is the message for valid JSON that is not an object, with ``{}`` for its type.
    """
    if isinstance(data, str | bytes):
        text = data
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise error([f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})"]) from None
        if may_repeat_a_key(text, key_count(data)) and (path := repeated_key(text)) is not None:
            raise error([f"{path}: {REPEATED_KEY}" if path else "not valid JSON: nested too deeply"])
    if not isinstance(data, Mapping):
        raise error([not_object.format(type(data).__name__)])
    return data


def parse_schedule(data: Mapping[str, Any] | str | bytes, source_name: str) -> YearSchedule:
    """Validate one year's schedule (a JSON text or its parsed object).

    Raises :class:`ScheduleFileError` listing every bad field at once.
    """
    data = json_object(data, "expected a JSON object with year, source, holidays, workdays; got {}",
                       lambda messages: ScheduleFileError(source_name, messages))
    try:
        return YearSchedule.model_validate(dict(data))
    except ValidationError as e:
        raise ScheduleFileError(source_name, validation_messages(e)) from None


def load_schedule_file(path: str) -> YearSchedule:
    """Read and validate a schedule file (``ledger calendar add FILE``)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ScheduleFileError(path, [f"cannot read the file: {e.strerror}"]) from None
    return parse_schedule(raw, path)


def validation_messages(error: ValidationError) -> list[str]:
    """One message per bad field, ``path: what is wrong``; model-level checks keep their lines."""
    out: list[str] = []
    for err in error.errors(include_url=False):
        path = field_path(err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] not in ("value_error", "assertion_error"):
            msg = f"{msg} (got {_short(err.get('input'))})"
        if path:
            out.append(f"{path}: {msg}")
        else:
            out.extend(line for line in msg.splitlines() if line)
    return out


def field_path(loc: tuple[int | str, ...]) -> str:
    """``('holidays', 2, 'to')`` -> ``holidays[2].to``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            text += " (key)"
        else:
            text += f".{part}" if text else str(part)
    return text


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


@cache
def builtin_schedules() -> dict[int, YearSchedule]:
    """Every year the ``chinesecalendar`` package covers (2004-2026 in 1.11), cut by year.

    Holidays are the package's named days off grouped into consecutive same-name ranges
    (a range crossing 31 December is split, so each year holds only its own dates);
    workdays are the weekend days it marks as worked. Cached: treat the dict as read-only.
    """
    import chinese_calendar

    from_package: dict[date, str] = chinese_calendar.holidays
    worked: dict[date, str] = chinese_calendar.workdays
    version = metadata.version("chinesecalendar")
    years = sorted({d.year for d in from_package})
    out: dict[int, YearSchedule] = {}
    for year in years:
        ranges: list[dict[str, str]] = []
        for day in sorted(d for d in from_package if d.year == year):
            name = _holiday_name(from_package[day])
            last = ranges[-1] if ranges else None
            follows = last is not None and date.fromisoformat(last["to"]) + timedelta(1) == day
            if last is not None and follows and last["name"] == name:
                last["to"] = day.isoformat()
            else:
                ranges.append({"name": name, "from": day.isoformat(), "to": day.isoformat()})
        workdays = [
            {"date": d.isoformat(), "name": _holiday_name(worked[d])}
            for d in sorted(d for d in worked if d.year == year and d.weekday() >= 5)
        ]
        out[year] = parse_schedule(
            {
                "year": year,
                "source": f"国务院办公厅 {year}年部分节假日安排 (via chinesecalendar {version})",
                "holidays": ranges,
                "workdays": workdays,
            },
            f"chinesecalendar:{year}",
        )
    return out


def _holiday_name(english: str) -> str:
    """``'National Day'`` -> ``'国庆节 National Day'``."""
    from chinese_calendar.constants import Holiday

    try:
        return f"{Holiday(english).chinese} {english}"
    except ValueError:
        return english


class ScheduleFileError(Exception):
    """A schedule file with bad fields; ``messages`` has one line per bad field."""

    def __init__(self, source_name: str, messages: list[str]) -> None:
        self.source_name = source_name
        self.messages = list(messages)
        lines = "\n".join(f"  - {m}" for m in self.messages)
        super().__init__(f"{source_name}: not a valid holiday schedule:\n{lines}")
