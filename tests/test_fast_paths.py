"""The append path's shortcuts give exactly what the plain way gives.

- Reading a line: pydantic's one-call JSON validation must produce the same event as the
  checked path (orjson, then validation of the Python object), and refuse the same lines.
- Linking: the stored bytes and chain hash assembled around already-serialised content must
  equal the canonical serialisation of the whole record body.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.interchange import parse_event, parse_lines
from ledger.records import canonical, chain_hash, link_bytes, record_body, stored_content

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TZ = ZoneInfo("Asia/Shanghai")


def _checked(text: str) -> object:
    model, errors = parse_event(orjson.loads(text), 1, TZ)
    return errors if errors else model


def test_fast_reading_equals_checked_reading_on_the_demo_register() -> None:
    lines = (EXAMPLES / "demo-register-2024.jsonl").read_bytes().splitlines()
    lines += (EXAMPLES / "demo-corrections-2024.jsonl").read_bytes().splitlines()
    good, errors = parse_lines(lines, TZ)
    assert not errors
    assert len(good) == len([x for x in lines if x.strip()])
    for line in good:
        expected = _checked(lines[line.number - 1].decode())
        assert line.event == expected
        assert line.event.content() == expected.content()  # type: ignore[attr-defined]


text = st.text(st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(by=text, case=text, when=st.sampled_from([
    "2024-03-01T09:00:00+08:00", "2024-03-01T09:00:00", "2024-03-01 09:00", "2024-03-01T01:00:00Z",
    "2024-03-01", "yesterday", "1999-12-31T09:00:00+08:00",
]), extra=st.sampled_from([{}, {"id": " r-1 "}, {"note": "x"}, {"recorded_at": "2024-03-01T09:00:00+08:00"}]))
def test_fast_reading_equals_checked_reading_on_odd_lines(by: str, case: str, when: str, extra: dict[str, str]) -> None:
    line = json.dumps({"type": "Reminded", "case": case, "by": by, "occurred_at": when, **extra}, ensure_ascii=False)
    # Line 2: the fast path is not taken for line 1 (it may carry a byte-order mark).
    good, errors = parse_lines([b"", line.encode()], TZ)
    expected = _checked(line)
    if isinstance(expected, list):
        assert not good
        assert [(e.field, e.message) for e in errors] == [(e.field, e.message) for e in expected]
    else:
        assert not errors
        assert good[0].event == expected


def test_lines_with_free_form_objects_take_the_checked_path() -> None:
    # orjson refuses NaN inside a correction's replacement; the fast reader would accept it.
    line = ('{"type": "Corrected", "occurred_at": "2024-03-01T09:00:00+08:00", "target": "e-1",'
            ' "reason": "typo", "replacement": {"x": NaN}}')
    good, errors = parse_lines([b"", line.encode()], TZ)
    assert not good
    assert [e.line for e in errors] == [2]
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
    body, data, fingerprint = stored_content({**content, "type": "Reminded"})
    assert fingerprint == hashlib.sha256(canonical(body)).hexdigest()
    digest, state = link_bytes(stream, version, event_id, when, recorder, data, prev)
    full = record_body(stream, version, event_id, when, recorder, body, prev)
    assert digest == chain_hash(full)
    assert state == canonical({**full, "hash": digest})
    assert "id" not in body and "recorded_by" not in body


def test_content_bytes_held_for_a_batch_are_compact() -> None:
    """A batch holds each event's serialised content until it is linked: a few hundred bytes
    each, not the 4 KB buffer the serialiser hands back (4 GB for a million lines)."""
    import tracemalloc

    content = {"type": "Reminded", "case": "C1", "by": "s-a", "occurred_at": "2024-03-01T09:00:00+08:00"}
    tracemalloc.start()
    try:
        held = [stored_content(content)[1] for _ in range(2000)]
        used = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(held) == 2000
    assert used / len(held) < 1024
