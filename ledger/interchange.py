"""Reading the JSON Lines interchange format into event models, with errors per line and field."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import orjson
from pydantic import ValidationError

from ledger.events import EVENT_ADAPTER, EVENT_TYPES, CalendarYearAdded, Corrected, EventModel, PolicyAdded

MAX_LINE_BYTES = 1_000_000

#: Events with free-form JSON objects inside (a replacement, a pack, a schedule): their
#: objects must be read by the same JSON reader as everything stored, so they always take
#: the checked path (orjson refuses NaN and integers beyond 64 bits; pydantic's reader would not).
_FREE_FORM = (Corrected, PolicyAdded, CalendarYearAdded)


@dataclass(frozen=True)
class LineError:
    """One thing wrong with one input line."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "input"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class InvalidInput(Exception):
    """The input has errors; nothing was written."""

    def __init__(self, errors: list[LineError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass(frozen=True)
class Line:
    """A line that passed the shape checks."""

    number: int
    event: EventModel


def _field_path(loc: tuple[Any, ...], type_name: str | None) -> str:
    parts = [str(p) for p in loc]
    if parts and type_name and parts[0] == type_name:
        parts = parts[1:]  # the discriminated union puts the tag first
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out


def validation_errors(
    exc: ValidationError, line: int, prefix: str = "", type_name: str | None = None
) -> list[LineError]:
    """Pydantic's errors as line errors naming the field."""
    errors = []
    for err in exc.errors(include_url=False):
        kind = err["type"]
        path = _field_path(tuple(err["loc"]), type_name)
        if kind == "union_tag_not_found":
            errors.append(LineError(line, prefix + "type", "missing: every line needs a 'type'"))
            continue
        if kind == "union_tag_invalid":
            tag = err.get("ctx", {}).get("tag", "?")
            errors.append(LineError(
                line, prefix + "type",
                f"unknown event type {str(tag)[:60]!r}; expected one of {', '.join(EVENT_TYPES)}",
            ))
            continue
        message = err["msg"]
        if kind == "missing":
            message = "required field is missing"
        elif kind == "extra_forbidden":
            message = "is not a field of this event type"
        elif message.startswith("Value error, "):
            message = message[len("Value error, "):]
        errors.append(LineError(line, prefix + path, message))
    return errors


def parse_event(data: Any, line: int, tz: tzinfo, prefix: str = "") -> tuple[EventModel | None, list[LineError]]:
    """Validate one decoded JSON object as an event."""
    if not isinstance(data, dict):
        return None, [LineError(line, prefix.rstrip("."), f"expected a JSON object, got {type(data).__name__}")]
    type_name = data.get("type") if isinstance(data.get("type"), str) else None
    try:
        return EVENT_ADAPTER.validate_python(data, context={"tz": tz}), []
    except ValidationError as exc:
        return None, validation_errors(exc, line, prefix, type_name)


def _json_error(text: str) -> str:
    """The standard library's message names the place; orjson is only used when the line is good."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return "not valid JSON: nested too deeply"
    return "not valid JSON"  # orjson refuses what json accepts (e.g. NaN or lone surrogates)


def parse_lines(lines: Iterable[str | bytes], tz: tzinfo) -> tuple[list[Line], list[LineError]]:
    """Parse JSON Lines; blank lines are skipped; every error of every line is collected."""
    good: list[Line] = []
    errors: list[LineError] = []
    context = {"tz": tz}
    for number, raw in enumerate(lines, start=1):
        if number > 1 and type(raw) is bytes and len(raw) <= MAX_LINE_BYTES:
            # Fast path: pydantic reads the bytes (UTF-8 and JSON) and validates the event in
            # one call. Anything it refuses, and every event with free-form objects, goes the
            # checked way below, which gives the messages (line and field) and decides; a fast
            # success equals a checked one.
            try:
                fast = EVENT_ADAPTER.validate_json(raw, context=context)
            except ValidationError:
                fast = None
            if fast is not None and not isinstance(fast, _FREE_FORM):
                good.append(Line(number, fast))
                continue
        if isinstance(raw, bytes):
            if len(raw) > MAX_LINE_BYTES:
                errors.append(LineError(number, "", f"line is longer than {MAX_LINE_BYTES} bytes"))
                continue
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                errors.append(LineError(number, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
                continue
        # A byte-order mark (Excel and Notepad write one) is not part of the first line.
        text = raw.removeprefix("\ufeff").strip() if number == 1 else raw.strip()
        if not text:
            continue
        if len(text) > MAX_LINE_BYTES:
            errors.append(LineError(number, "", f"line is longer than {MAX_LINE_BYTES} bytes"))
            continue
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            errors.append(LineError(number, "", _json_error(text)))
            continue
        event, errs = parse_event(data, number, tz)
        errors.extend(errs)
        if event is not None:
            good.append(Line(number, event))
    return good, errors
