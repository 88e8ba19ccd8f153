"""The append path's shortcuts give exactly what the plain way gives.

- Reading a line: the fast reader (a native validator derived from the models) must give the
  same line as the checked reader (orjson, then the models with their Python validators),
  and leave every line it cannot read to the checked reader, which words the errors.
- Linking: the stored bytes and chain hash assembled around already-serialised content must
  equal the canonical serialisation of the whole record body.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.events import EVENT_TYPES
from ledger.interchange import (
    FAST_ID_RANGES,
    FREE_FORM,
    REPEATED_KEY,
    _checked,
    _fast,
    _fast_reader,
    _Pairs,
    canonical,
    key_count,
    may_repeat_a_key,
    read_lines,
    repeated_key,
)
from ledger.records import chain_hash, link_bytes, record_body

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TZ = ZoneInfo("Asia/Shanghai")


def _as_tuple(line: Any) -> tuple[Any, ...]:
    return (line.number, line.type, line.data, line.at, line.id, line.recorded_by, line.body, line.fingerprint)


def _same_as_checked(raw: bytes, number: int = 2) -> None:
    """The fast reader's answer for one line is the checked reader's, or it leaves the line."""
    fast = _fast(raw, number)
    checked, errors = _checked(number, raw, TZ)
    if fast is not None:
        assert not errors, (raw, errors)
        assert checked is not None
        assert _as_tuple(fast) == _as_tuple(checked)
    [(got, got_errors)] = list(read_lines([b"{}"] * (number - 1) + [raw], TZ))[number - 1:]
    assert got_errors == errors
    assert (got is None) == (checked is None)
    if got is not None and checked is not None:
        assert _as_tuple(got) == _as_tuple(checked)


def test_the_fast_reader_reads_every_type_without_free_form_objects() -> None:
    _, plans = _fast_reader()
    assert set(plans) == set(EVENT_TYPES) - FREE_FORM


def test_fast_identifier_characters_are_all_printable_to_python() -> None:
    for low, high in FAST_ID_RANGES:
        assert all(chr(c).isprintable() for c in range(low, high + 1)), (hex(low), hex(high))


def test_fast_reading_equals_checked_reading_on_the_demo_register() -> None:
    lines = (EXAMPLES / "demo-register-2024.jsonl").read_bytes().splitlines()
    lines += (EXAMPLES / "demo-corrections-2024.jsonl").read_bytes().splitlines()
    fast = 0
    for number, raw in enumerate(lines, start=2):
        _same_as_checked(raw, number)
        fast += _fast(raw, number) is not None
    free_form = sum(1 for raw in lines if orjson.loads(raw)["type"] in FREE_FORM)
    assert fast == len(lines) - free_form  # the demo's lines are all in the fast reader's form


text = st.text(st.characters(codec="utf-8"), max_size=12)
ids = st.one_of(text, st.sampled_from(["s-a", " s-a ", "王敏", "办公室-王敏", "ａｂ", "a\u200bb", "x" * 129]))
instants = st.sampled_from([
    "2024-03-01T09:00:00+08:00", "2024-03-01T09:00:00", "2024-03-01 09:00", "2024-03-01T01:00:00Z",
    "2024-03-01T01:00:00+00:00", "2024-03-01T01:00:00.5+08:00", "2024-02-30T09:00:00+08:00",
    "2024-03-01T24:00:00+08:00", "2000-01-01T07:00:00+08:00", "2099-12-31T20:00:00-05:00",
    "2024-03-01", "yesterday", "1999-12-31T09:00:00+08:00", " 2024-03-01T09:00:00+08:00", "1700000000",
])
values = st.one_of(st.none(), st.booleans(), st.integers(-3, 200), ids, instants, st.lists(ids, max_size=3),
                   st.floats(allow_nan=False, allow_infinity=False))


@st.composite
def odd_events(draw: st.DrawFn) -> dict[str, Any]:
    """An event of any fast type with each field sometimes odd, missing, null or extra."""
    type_name = draw(st.sampled_from(sorted(set(EVENT_TYPES) - FREE_FORM)))
    cls = EVENT_TYPES[type_name]
    event: dict[str, Any] = {"type": type_name}
    for name, info in cls.model_fields.items():
        key = info.alias or name
        if name in ("type", "recorded_at") or draw(st.integers(0, 9)) == 0:
            continue
        event[key] = draw(values)
        if "datetime" in str(info.annotation) and draw(st.booleans()):
            event[key] = draw(instants)
        elif key in ("received_by", "notified", "items") and draw(st.booleans()):
            event[key] = draw(st.lists(ids, min_size=1, max_size=3))
        elif key == "requester" and draw(st.booleans()):
            event[key] = draw(st.dictionaries(st.sampled_from(["name", "contact", "unit", "x"]),
                                              st.one_of(st.none(), text), max_size=3))
    extra = draw(st.sampled_from([{}, {"id": " r-1 "}, {"note": "x"}, {"recorded_at": "2024-03-01T09:00:00+08:00"},
                                  {"recorded_by": "办公室-王敏"}, {"from_": "s-a"}]))
    return {**event, **extra}


@settings(max_examples=1500, deadline=None)
@given(event=odd_events())
def test_fast_reading_equals_checked_reading_on_odd_lines(event: dict[str, Any]) -> None:
    _same_as_checked(json.dumps(event, ensure_ascii=False).encode())


@settings(max_examples=300, deadline=None)
@given(by=ids, case=ids, when=instants, extra=st.sampled_from([{}, {"id": " r-1 "}, {"note": "x"}]))
def test_fast_reading_equals_checked_reading_on_odd_reminders(by: str, case: str, when: str,
                                                              extra: dict[str, str]) -> None:
    line = {"type": "Reminded", "case": case, "by": by, "occurred_at": when, **extra}
    _same_as_checked(json.dumps(line, ensure_ascii=False).encode())


#: A good line of each type the fast reader finishes in Python beyond occurred_at (``_Plan``).
PLANNED = {
    "InquiryReceived": {"type": "InquiryReceived", "occurred_at": "2024-03-11T09:50:00+08:00", "case": "C1",
                        "policy": "suqian-finance", "received_by": ["s-a", "s-b"], "channel": "letter",
                        "matter": "信访件", "kind": "petition", "requester": {"name": "陈宏伟", "contact": "1876"}},
    "StandInDesignated": {"type": "StandInDesignated", "occurred_at": "2024-06-18T09:00:00+08:00", "post": "p-1",
                          "stand_in": "s-a", "by": "s-b", "until": "2024-06-21T18:00:00+08:00"},
    "AbsenceStarted": {"type": "AbsenceStarted", "occurred_at": "2024-03-13T08:30:00+08:00", "staff": "s-a",
                       "reason": "leave", "notified": ["s-b"], "expected_return": "2024-03-15T08:30:00+08:00"},
    "DeadlineExtended": {"type": "DeadlineExtended", "occurred_at": "2024-05-30T10:00:00+08:00", "case": "C1",
                         "new_due": "2024-06-26T23:59:59+08:00", "approved_by": "s-b",
                         "notified_at": "2024-05-30T11:30:00+08:00"},
}
#: Instants the fast pattern admits that the checked reader refuses: a day that does not exist.
OUT_OF_RANGE = ["2024-02-30T09:00:00+08:00", "2023-02-29T09:00:00+08:00", "2024-04-31T09:00:00+08:00"]
#: Instants at the ends of the years 2000-2099 as written, outside them in UTC: both readers take them.
AT_THE_EDGES = ["2099-12-31T20:00:00-05:00", "2000-01-01T07:00:00+08:00"]


def test_the_fast_reader_finishes_each_planned_type_as_the_checked_reader() -> None:
    _, plans = _fast_reader()
    planned = {name for name, plan in plans.items() if plan is not None}
    assert planned == set(PLANNED)  # a new planned type gets good lines here too
    for event in PLANNED.values():
        raw = json.dumps(event, ensure_ascii=False).encode()
        assert _fast(raw, 2) is not None
        _same_as_checked(raw)
        keys = [k for k, v in event.items() if isinstance(v, str) and k != "occurred_at" and v.startswith("2024-")]
        for key in ["occurred_at", *keys]:
            for instant in OUT_OF_RANGE:
                odd = json.dumps({**event, key: instant}).encode()
                assert _fast(odd, 2) is None, (key, instant)
                _same_as_checked(odd)
            for instant in AT_THE_EDGES:
                edge = json.dumps({**event, key: instant}).encode()
                assert _fast(edge, 2) is not None, (key, instant)
                _same_as_checked(edge)
    repeated = json.dumps({**PLANNED["InquiryReceived"], "received_by": ["s-a", "s-a"]}).encode()
    assert _fast(repeated, 2) is None
    _same_as_checked(repeated)
    blank = json.dumps({**PLANNED["InquiryReceived"], "requester": {"name": "陈宏伟", "contact": None}}).encode()
    line = _fast(blank, 2)
    assert line is not None and line.data["requester"] == {"name": "陈宏伟"}
    _same_as_checked(blank)


def test_a_first_line_with_a_byte_order_mark_is_read_as_written() -> None:
    raw = b'\xef\xbb\xbf{"type": "Reminded", "case": "C1", "by": "s-a", "occurred_at": "2024-03-01T09:00:00+08:00"}\r\n'
    [(line, errors)] = list(read_lines([raw], TZ))
    assert not errors and line is not None
    assert line.data == {"type": "Reminded", "case": "C1", "by": "s-a", "occurred_at": "2024-03-01T09:00:00+08:00"}


def test_lines_with_free_form_objects_take_the_checked_path() -> None:
    # orjson refuses NaN inside a correction's replacement; the fast reader would accept it.
    line = ('{"type": "Corrected", "occurred_at": "2024-03-01T09:00:00+08:00", "target": "e-1",'
            ' "reason": "typo", "replacement": {"x": NaN}}')
    assert _fast(line.encode(), 2) is None
    [(good, errors)] = list(read_lines([line.encode()], TZ))
    assert good is None
    assert [e.line for e in errors] == [1]
    assert "not valid JSON" in errors[0].message


names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(stream=names, event_id=names, recorder=st.text(st.characters(codec="utf-8"), max_size=20),
       version=st.integers(1, 10**9), content=st.dictionaries(
           names, st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), names,
                            st.lists(names, max_size=3)), max_size=5))
def test_linked_bytes_equal_the_canonical_record(stream: str, event_id: str, recorder: str, version: int,
                                                 content: dict[str, object]) -> None:
    when, prev = "2024-03-01T01:00:00.123456+00:00", "ab" * 32
    body = {**content, "type": "Reminded"}
    digest, state = link_bytes(stream, version, event_id, when, recorder, canonical(body), prev)
    full = record_body(stream, version, event_id, when, recorder, body, prev)
    assert digest == chain_hash(full)
    assert state == canonical({**full, "hash": digest})


def test_a_lines_fingerprint_hashes_its_canonical_content() -> None:
    raw = b'{"type": "Reminded", "id": "r-1", "recorded_by": "x", "case": "C1", "by": "s-a",' \
          b' "occurred_at": "2024-03-01T09:00:00+08:00"}'
    line = _fast(raw, 2)
    assert line is not None
    assert line.body == canonical(line.data)
    assert line.fingerprint == hashlib.sha256(line.body).hexdigest()
    assert "id" not in line.data and "recorded_by" not in line.data


@settings(max_examples=500, deadline=None)
@given(event=odd_events(), data=st.data())
def test_a_line_repeating_a_key_is_left_to_the_checked_reader_which_refuses_it(event: dict[str, Any],
                                                                              data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(event)))
    first = data.draw(values)
    spacing = data.draw(st.sampled_from(["", " ", "\t", "\r"]))
    raw = ("{" + json.dumps(key) + spacing + ":" + json.dumps(first, ensure_ascii=False) + ","
           + json.dumps(event, ensure_ascii=False)[1:]).encode()
    assert _fast(raw, 2) is None
    line, errors = _checked(2, raw, TZ)
    assert line is None and [(e.field, e.message) for e in errors] == [(key, REPEATED_KEY)]
    _same_as_checked(raw)


keys = st.sampled_from(["a", "b", 'q"', "c:", " d"])
strings = st.text(st.sampled_from(list('ab":{} \t\\,')), max_size=6)
trees = st.recursive(st.one_of(st.none(), st.integers(0, 9), strings),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.lists(st.tuples(keys, inner), max_size=4).map(_Pairs), max_leaves=12)


def _written(value: Any, draw: st.DrawFn, log: list[tuple[int, str, str]], path: str = "") -> str:
    """JSON text of a tree whose objects are lists of pairs (keys may repeat), spaced at random;
    ``log`` gets each key as it is written: (its object, the key, its field path)."""
    space = lambda: draw(st.sampled_from(["", " ", "\t", "  "]))  # noqa: E731
    if isinstance(value, _Pairs):
        members = []
        for k, v in value:
            here = f"{path}.{k}" if path else k
            log.append((id(value), k, here))
            members.append(json.dumps(k) + space() + ":" + space() + _written(v, draw, log, here))
        return "{" + space() + ("," + space()).join(members) + space() + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_written(v, draw, log, f"{path}[{i}]") for i, v in enumerate(value)) + "]"
    return json.dumps(value, ensure_ascii=draw(st.booleans()))


def _first_repeat(log: list[tuple[int, str, str]]) -> str | None:
    """The writer's view: the first key written into an object that already had it."""
    seen: set[tuple[int, str]] = set()
    for owner, key, path in log:
        if (owner, key) in seen:
            return path
        seen.add((owner, key))
    return None


@settings(max_examples=1500, deadline=None)
@given(tree=trees, data=st.data())
def test_the_repeated_key_screen_never_misses_a_repeated_key(tree: Any, data: st.DataObject) -> None:
    log: list[tuple[int, str, str]] = []
    text = _written(tree, data.draw, log)
    expected = _first_repeat(log)
    assert repeated_key(text) == expected
    assert repeated_key(text.encode()) == expected
    decoded = json.loads(text)
    if expected is not None:  # the screen lets nothing through that repeats a key
        assert may_repeat_a_key(text, key_count(decoded))
        assert may_repeat_a_key(text.encode(), key_count(decoded))
