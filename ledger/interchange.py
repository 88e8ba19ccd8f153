"""Reading the JSON Lines interchange format: shape checks, with errors per line and field.

A good line becomes a :class:`Line`: its event as content (public field names, JSON values,
no empty optionals, without ``id`` and ``recorded_by``), its occurred-at instant, and the
canonical bytes and fingerprint of that content, which is what the ledger checks and stores.

Two readers give the same answer. The *checked* reader (``parse_event``: orjson, then the
event models with their Python validators) decides every line it sees and words every error.
The *fast* reader runs first: a validator derived from the same models in which each Python
hook is replaced by a native constraint that accepts a subset of what the hook accepts
(``_fast_schema``), so a line it accepts is one the checked reader accepts with the same
content (a property test holds them equal). Anything it refuses, and every event carrying a
free-form object (a replacement, a pack, a schedule), goes to the checked reader.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import cache
from typing import Any

import orjson
from pydantic import ValidationError
from pydantic_core import SchemaValidator

from ledger.events import EVENT_ADAPTER, EVENT_TYPES, EventModel

MAX_LINE_BYTES = 1_000_000

#: Events with free-form JSON objects inside: their objects must be read by the same JSON
#: reader as everything stored (orjson refuses NaN and integers beyond 64 bits), so they
#: always take the checked path.
FREE_FORM = frozenset({"Corrected", "PolicyAdded", "CalendarYearAdded"})

_BOM = b"\xef\xbb\xbf"


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


def canonical(data: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, UTF-8 kept as is.

    orjson writes exactly what ``json.dumps(sort_keys=True, ensure_ascii=False,
    separators=(",", ":"))`` writes for the ledger's data (strings, ints, bools, None, lists,
    dicts), about ten times faster: the hash chain and fingerprints hash these bytes.
    """
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def fingerprint(body: bytes) -> str:
    """The identity of an event's content (its canonical bytes) for idempotency."""
    return hashlib.sha256(body).hexdigest()


@dataclass(slots=True)
class Line:
    """A line that passed the shape checks, as the write side checks and stores it."""

    number: int
    type: str
    data: dict[str, Any]  # the event's content: public names, JSON values, no id/recorded_by/None
    at: datetime  # occurred_at
    id: str | None
    recorded_by: str | None
    body: bytes = b""  # canonical bytes of ``data`` (set by ``seal``)

    @classmethod
    def of(cls, number: int, event: EventModel) -> Line:
        """The line of a validated event model (the checked path, and the clerk commands)."""
        data = event.content()
        data.pop("id", None)
        data.pop("recorded_by", None)
        line = cls(number, event.type_name, data, event.occurred_at, event.id, event.recorded_by)
        if line.type != "Corrected":  # its replacement is normalised once its target is known
            line.seal()
        return line

    def seal(self) -> None:
        self.body = bytes(memoryview(canonical(self.data)))  # (exactly its size, as in ``_fast``)

    @property
    def fingerprint(self) -> str:
        """The identity of the content for idempotency: sha256 of its canonical bytes (worked
        out only when an id comes back)."""
        return fingerprint(self.body)

    def stream(self) -> str:
        """The stream (aggregate) this event belongs to, e.g. ``case:SHZ-2024-0001``
        (a correction's is its target's, known only to the ledger)."""
        prefix, field_name = _STREAMS[self.type]
        return prefix + str(self.data[field_name])


#: Each event type's stream: the prefix (``case:``) and the field naming it.
_STREAMS = {name: (f"{cls.stream_kind}:", cls.stream_field) for name, cls in EVENT_TYPES.items()}


# --- the checked reader -------------------------------------------------------------------


def _field_path(loc: tuple[Any, ...], type_name: str | None) -> str:
    parts = [str(p) for p in loc]
    if parts and type_name and parts[0] == type_name:
        parts = parts[1:]  # the discriminated union puts the tag first
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out


#: Pydantic's type errors of the strict fields (``WholeNumber``, ``Flag``): what was expected.
_STRICT_TYPES = {"int_type": "a whole number (a JSON integer)", "bool_type": "true or false (JSON)"}


def _json_type(value: Any) -> str:
    """A value as its JSON type and a glimpse of it, for an error message."""
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return "null" if value is None else ("a list" if isinstance(value, list) else "an object")


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
        elif kind in _STRICT_TYPES:  # (strict: no string, float or flag read as a number, or the reverse)
            message = f"expected {_STRICT_TYPES[kind]}, got {_json_type(err.get('input'))}"
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


class _Constant(Exception):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's reader takes them, JSON has no such numbers."""


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


def _json_error(text: str) -> tuple[str, str]:
    """(field, message) for a line orjson refused. The standard library's message names the
    place; what it reads and orjson does not (NaN, a lone surrogate) is named, the surrogate at
    its field."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        at = " column" if exc.msg.endswith(" at") else " at column"  # ("Unterminated string starting at")
        return "", f"not valid JSON: {exc.msg}{at} {exc.colno}"
    except _Constant as exc:
        return "", f"not valid JSON: {exc} is not a JSON number"
    except RecursionError:
        return "", "not valid JSON: nested too deeply"
    found = _unreadable(data, "")
    return found if found is not None else ("", "not valid JSON")


def _unreadable(value: Any, path: str) -> tuple[str, str] | None:
    """The first value of a decoded line that orjson cannot read, with its field path."""
    if isinstance(value, str):
        lone = next((c for c in value if "\ud800" <= c <= "\udfff"), None)
        if lone is not None:
            return path, (f"holds a lone surrogate (\\u{ord(lone):04x}), half of a UTF-16 pair, which is no "
                          "character: write the character itself")
    elif isinstance(value, dict):
        for key, item in value.items():
            found = _unreadable(key, path) or _unreadable(item, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _unreadable(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


#: Said of a key that some object of a line or file gives twice: JSON readers keep the last of
#: a repeated key without a word, and which value was meant is not the ledger's to guess.
REPEATED_KEY = "given more than once in the same object; JSON keeps only the last, so give it once"


class _Pairs(list[tuple[str, Any]]):
    """An object's members as written, repeated keys included (``repeated_key``)."""


def repeated_key(text: str | bytes) -> str | None:
    """The field path (``by``, ``requester.name``, ``replacement.by``) of the first key that
    some object of this JSON text gives more than once, in the order written; None if there is
    none or the text is not JSON (its reader says what is wrong)."""
    try:
        value = json.loads(text, object_pairs_hook=_Pairs)
    except ValueError:
        return None
    except RecursionError:
        return ""  # nested too deeply to look: the whole line is named
    return _repeated_in(value, "")


def _repeated_in(value: Any, path: str) -> str | None:
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, inner in value:
            here = f"{path}.{key}" if path else key
            if key in seen:
                return here
            seen.add(key)
            if (found := _repeated_in(inner, here)) is not None:
                return found
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            if (found := _repeated_in(inner, f"{path}[{i}]")) is not None:
                return found
    return None


def key_count(value: Any) -> int:
    """How many keys the objects of a decoded JSON value hold (a repeated key counts once)."""
    if isinstance(value, dict):
        return len(value) + sum(key_count(v) for v in value.values())
    if isinstance(value, list):
        return sum(key_count(v) for v in value)
    return 0


_WHITESPACE = b" \t\r\n"  # JSON's whitespace
_NO_WHITESPACE = dict.fromkeys(_WHITESPACE)


def may_repeat_a_key(text: str | bytes, keys: int) -> bool:
    """False only if no object of this JSON text gives a key twice, where ``keys`` is how many
    keys its objects hold once read (``key_count``); cheap, and True when it cannot tell.

    With its whitespace taken out, every key the text writes ends in a quote followed by a
    colon; such a pair anywhere else (a string's opening quote, or an escaped quote inside
    one, followed by a colon) only adds to the count. The count is at least the number of keys
    written, and equal to ``keys`` only if no key was written twice.
    """
    if isinstance(text, bytes):
        return text.translate(None, _WHITESPACE).count(b'":') != keys
    return text.translate(_NO_WHITESPACE).count('":') != keys


def _checked(number: int, raw: str | bytes, tz: tzinfo) -> tuple[Line | None, list[LineError]]:
    """One line the checked way: every error worded, line and field named."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_LINE_BYTES:
            return None, [LineError(number, "", f"line is longer than {MAX_LINE_BYTES} bytes")]
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, [LineError(number, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    # A byte-order mark (Excel and Notepad write one) is not part of the first line.
    text = raw.removeprefix("\ufeff").strip() if number == 1 else raw.strip()
    if not text:
        return None, []
    if len(text) > MAX_LINE_BYTES:
        return None, [LineError(number, "", f"line is longer than {MAX_LINE_BYTES} bytes")]
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None, [LineError(number, *_json_error(text))]
    if may_repeat_a_key(text, key_count(data)) and (path := repeated_key(text)) is not None:
        return None, [LineError(number, path, REPEATED_KEY if path else "not valid JSON: nested too deeply")]
    event, errors = parse_event(data, number, tz)
    return (Line.of(number, event) if event is not None else None), errors


# --- the fast reader ----------------------------------------------------------------------

#: Characters the fast reader accepts in an identifier: ranges where every character is
#: printable to Python (``str.isprintable``, what ``events._printable_id`` asks), so that the
#: Unicode tables of the native regex and of Python can never disagree (a test checks every
#: code point). Identifiers with other characters are decided by the checked reader.
FAST_ID_RANGES = ((0x20, 0x7E), (0x2010, 0x2027), (0x3001, 0x303F), (0x3400, 0x4DBF),
                  (0x4E00, 0x9FEF), (0xFF01, 0xFF60))
_FAST_ID = "^[" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in FAST_ID_RANGES) + "]+$"
#: Exactly the characters ``events._no_control`` refuses.
_NO_CONTROL = r"^[^\x{0}-\x{8}\x{b}\x{c}\x{e}-\x{1f}\x{7f}-\x{9f}]*$"
#: Instants as the models write them back (so the stored text is the input's): a time to
#: the second with an offset other than +/-00:00, or Z. Anything else is decided by the
#: checked reader, which also places naive times in the store's timezone.
_FAST_INSTANT = (r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                 r"(Z|[+-](0[1-9]|1[0-9]|2[0-3]):[0-5][0-9]|[+-]00:(0[1-9]|[1-5][0-9]))$")


@dataclass(frozen=True)
class _Plan:
    """What the fast reader finishes in Python for one event type."""

    instants: tuple[str, ...]  # fields other than occurred_at holding instants (parsed, range-checked)
    distinct: tuple[str, ...]  # list fields whose items must differ (``_distinct``)
    nested: tuple[str, ...]  # nested objects whose empty optionals are dropped
    #: Fields the validator fills with their default when absent, each as its key is written
    #: (``"name":``): a count of the line's keys leaves out those it does not give.
    filled: tuple[bytes, ...] = ()

    @property
    def more(self) -> bool:
        """Whether anything beyond occurred_at is left to finish or counted (most types: nothing)."""
        return bool(self.instants or self.distinct or self.nested or self.filled)


class _Unsupported(Exception):
    """A validator the fast reader has no native equivalent for."""


def _native(schema: dict[str, Any], notes: dict[str, str]) -> dict[str, Any]:
    """A core schema with each known Python hook replaced by a native constraint that
    accepts a subset of what it accepts; ``notes`` learns what Python must still finish."""
    kind = schema.get("type")
    if kind in ("function-after", "function-before"):
        name = getattr(schema["function"]["function"], "__name__", "")
        inner = schema.get("schema", {})
        if name == "_printable_id":
            return {**_native(inner, notes), "pattern": _FAST_ID}
        if name == "_no_control":
            return {**_native(inner, notes), "pattern": _NO_CONTROL}
        if name == "_instant_validator":
            notes["kind"] = "instant"
            return {"type": "str", "pattern": _FAST_INSTANT}
        if name == "_distinct":
            notes["kind"] = "distinct"
            return _native(inner, notes)
        raise _Unsupported(name)
    if kind == "model":
        inner = _plan_of_fields(schema)
        if any(inner.values()):
            raise _Unsupported("a nested object with instants, distinct lists or objects")
        if any(f["schema"].get("type") == "default" and f["schema"].get("default") is not None
               for f in schema["schema"]["fields"].values()):
            raise _Unsupported("a nested object filling a default (its keys could not be counted)")
        notes["kind"] = "nested"
        return _typed_dict(schema)
    if kind in ("function-wrap", "function-plain", "model-fields", "definitions", "definition-ref"):
        raise _Unsupported(str(kind))
    out = {k: v for k, v in schema.items() if k not in ("metadata", "ref", "serialization")}
    for key in ("schema", "items_schema"):
        if isinstance(out.get(key), dict):
            out[key] = _native(out[key], notes)
    return out


def _typed_dict(model: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, field in model["schema"]["fields"].items():
        if name == "recorded_at":
            continue  # refused by the checked reader, with its message
        schema, required = field["schema"], True
        if schema.get("type") == "default":
            required = False
            if schema.get("default") is None:
                schema = schema["schema"]  # absent stays absent (content drops empty optionals)
        key = field.get("validation_alias") if isinstance(field.get("validation_alias"), str) else name
        fields[key] = {"type": "typed-dict-field", "schema": _native(schema, {}), "required": required}
    # In sorted order: the validator gives the keys in this order, so the content is written
    # canonically (sorted keys) without sorting it again.
    fields = dict(sorted(fields.items()))
    config = {k: v for k, v in model.get("config", {}).items() if k in ("str_strip_whitespace",)}
    return {"type": "typed-dict", "fields": fields, "extra_behavior": "forbid", "config": config}


def _plan(model: dict[str, Any]) -> _Plan:
    found = _plan_of_fields(model)
    instants = [key for key in found["instant"] if key != "occurred_at"]
    if len(instants) == len(found["instant"]):
        raise _Unsupported("no occurred_at instant")
    filled = []
    for name, field in model["schema"]["fields"].items():
        schema = field["schema"]
        if name != "type" and schema.get("type") == "default" and schema.get("default") is not None:
            key = field.get("validation_alias") if isinstance(field.get("validation_alias"), str) else name
            filled.append(b'"%s":' % key.encode())
    return _Plan(tuple(instants), tuple(found["distinct"]), tuple(found["nested"]), tuple(filled))


def _plan_of_fields(model: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"instant": [], "distinct": [], "nested": []}
    for name, field in model["schema"]["fields"].items():
        notes: dict[str, str] = {}
        if name != "recorded_at":
            _native(field["schema"], notes)
        if "kind" in notes:
            key = field.get("validation_alias") if isinstance(field.get("validation_alias"), str) else name
            found[notes["kind"]].append(key)
    return found


@cache
def _fast_reader() -> tuple[SchemaValidator, dict[str, _Plan | None]]:
    """The fast validator (one tagged union of typed dicts) and each type's plan (None: only
    occurred_at is left to finish)."""
    choices: dict[str, Any] = {}
    plans: dict[str, _Plan | None] = {}
    for name, cls in EVENT_TYPES.items():
        if name in FREE_FORM:
            continue
        model = dict(cls.__pydantic_core_schema__)
        try:
            choices[name], plan = _typed_dict(model), _plan(model)
        except _Unsupported:
            continue  # read the checked way (a test lists the types the fast reader covers)
        plans[name] = plan if plan.more else None
    schema = {"type": "tagged-union", "choices": choices, "discriminator": "type"}
    return SchemaValidator(schema), plans


_fromiso, _dumps = datetime.fromisoformat, orjson.dumps
def _finish(data: dict[str, Any], plan: _Plan) -> bool:
    """The rest of a type's plan, in place; False when the checked reader must decide."""
    try:
        for key in plan.instants:  # (the pattern admits only the years 20xx, which are all accepted)
            value = data.get(key)
            if value is not None:
                _fromiso(value)
    except ValueError:  # the pattern passed a day or hour that does not exist
        return False
    for key in plan.distinct:
        if len(set(data[key])) != len(data[key]):
            return False
    for key in plan.nested:
        inner = data.get(key)
        if inner is not None and None in inner.values():
            data[key] = {k: v for k, v in inner.items() if v is not None}
    return True


def _fast(raw: bytes, number: int) -> Line | None:
    """The line read natively, or None when the checked reader must decide."""
    validator, plans = _fast_reader()
    return _fast_with(validator.validate_json, plans, raw, number)


def _fast_with(validate: Callable[[bytes], Any], plans: dict[str, _Plan | None], raw: bytes,
               number: int) -> Line | None:
    # (``read_lines`` calls this once per line with the reader looked up once: keep it lean.)
    try:
        data = validate(raw)
    except ValidationError:
        return None
    type_name = data["type"]
    plan = plans[type_name]
    # A key given twice leaves the line to the checked reader (``may_repeat_a_key``, inlined):
    # the keys read are counted before anything is dropped.
    keys, bare = len(data), raw.translate(None, _WHITESPACE)
    if plan is not None:
        for key in plan.nested:
            inner = data.get(key)
            if inner is not None:
                keys += len(inner)
        for written in plan.filled:  # filled in if absent; a key and its colon: nothing else looks so
            if written not in bare:
                keys -= 1
    if bare.count(b'":') != keys:
        return None
    try:
        at = _fromiso(data["occurred_at"])  # (a year 20xx, as the pattern admits: in range)
    except ValueError:  # the pattern passed a day or hour that does not exist
        return None
    if plan is not None and not _finish(data, plan):
        return None
    event_id, recorder = data.pop("id", None), data.pop("recorded_by", None)
    if None in data.values():
        data = {k: v for k, v in data.items() if v is not None}
    # Already in key order (``_typed_dict``). Copied to exactly its size, and orjson's buffer
    # (several KB) freed at once: a chunk holding thousands of those would stream through memory.
    body = bytes(memoryview(_dumps(data)))
    return Line(number, type_name, data, at, event_id, recorder, body)


def read_lines(lines: Iterable[str | bytes], tz: tzinfo) -> Iterator[tuple[Line | None, list[LineError]]]:
    """Each input line read: the line (None for a blank or bad one) and its errors."""
    validator, plans = _fast_reader()
    validate, fast = validator.validate_json, _fast_with
    for number, raw in enumerate(lines, start=1):
        if type(raw) is bytes and len(raw) <= MAX_LINE_BYTES:
            line = fast(validate, plans, raw.removeprefix(_BOM) if number == 1 else raw, number)
            if line is not None:
                yield line, []
                continue
        yield _checked(number, raw, tz)


def parse_lines(lines: Iterable[str | bytes], tz: tzinfo) -> tuple[list[Line], list[LineError]]:
    """Parse JSON Lines; blank lines are skipped; every error of every line is collected."""
    good: list[Line] = []
    errors: list[LineError] = []
    for line, errs in read_lines(lines, tz):
        errors.extend(errs)
        if line is not None:
            good.append(line)
    return good, errors
