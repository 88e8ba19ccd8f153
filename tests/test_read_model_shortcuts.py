"""The read models' shortcuts give exactly what the plain way gives.

- A stored instant as UTC text: converted once per local hour and offset, or in full.
- A stored record's content, id and recorded-at, read from its state without decoding the
  chain fields: the same as decoding the whole record.
- The content fields a read model reads alone (the case index: occurred-at), sliced out of the
  content's bytes: the decoded field, or the whole content where slicing cannot be trusted.
- A stored instant read back holds the one tzinfo object of its offset (``shared_zone``): the
  same instant, offset and text as the plain parse.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import records
from ledger.interchange import canonical
from ledger.records import (content_bytes, decode_event, effective, link_bytes, read_instant, record_from_state,
                            shared_zone, state_parts, utc_iso)
from projections.readmodels import _utc_slow, _utc_text

offsets = st.one_of(st.integers(-12, 14).map(lambda h: timedelta(hours=h)),
                    st.sampled_from([timedelta(hours=5, minutes=45), timedelta(hours=-3, minutes=-30),
                                     timedelta(minutes=30)]))


@settings(max_examples=500, deadline=None)
@given(moment=st.datetimes(datetime(2000, 1, 2), datetime(2099, 12, 30)), offset=offsets,
       micro=st.booleans())
def test_utc_text_equals_the_full_conversion(moment: datetime, offset: timedelta, micro: bool) -> None:
    instant = moment.replace(tzinfo=timezone(offset), microsecond=moment.microsecond if micro else 0)
    for text in (instant.isoformat(), instant.astimezone(UTC).isoformat().replace("+00:00", "Z")):
        assert _utc_text(text) == _utc_slow(text) == instant.astimezone(UTC).isoformat()


@settings(max_examples=500, deadline=None)
@given(moment=st.datetimes(datetime(2000, 1, 2), datetime(2099, 12, 30)), offset=offsets, other=offsets)
def test_an_instant_read_back_is_the_plain_parse_with_its_offsets_one_tzinfo(
        moment: datetime, offset: timedelta, other: timedelta) -> None:
    text = moment.replace(tzinfo=timezone(offset)).isoformat()
    plain, read, again = datetime.fromisoformat(text), read_instant(text), read_instant(text)
    assert read == plain and read.isoformat() == text and read.utcoffset() == offset
    assert read.tzname() == plain.tzname() and read.replace(tzinfo=None) == plain.replace(tzinfo=None)
    assert again.tzinfo is read.tzinfo  # (what makes comparing them fast)
    given_one = shared_zone(moment.replace(tzinfo=timezone(offset)))
    assert given_one.tzinfo is read.tzinfo and given_one == plain
    elsewhere = read_instant(moment.replace(tzinfo=timezone(other)).isoformat())
    assert (elsewhere.tzinfo is read.tzinfo) == (other == offset)


def test_shared_zone_leaves_utc_naive_and_named_zones_as_they_are() -> None:
    from zoneinfo import ZoneInfo

    named = datetime(2024, 3, 1, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    read_instant("2024-03-01T09:00:00+08:00")  # (the offset has its shared tzinfo now)
    cst = datetime(2024, 3, 1, 9, tzinfo=timezone(timedelta(hours=8), "CST"))
    for moment in (datetime(2024, 3, 1, 9, tzinfo=UTC), datetime(2024, 3, 1, 9), named, cst):
        assert shared_zone(moment) is moment
    assert read_instant("2024-03-01T09:00:00+00:00").tzinfo is UTC


def test_decoded_facts_share_one_tzinfo_per_offset() -> None:
    def stored(seq: int, content: dict[str, object]) -> records.Record:
        _, state = link_bytes(f"case:C{seq % 2}", seq, f"e{seq}", "2024-12-10T09:00:00+00:00", "clerk",
                              canonical(content), "ab" * 32)
        return record_from_state(seq, f"case:C{seq % 2}", seq, state)

    recs = [stored(i, {"type": "Reminded", "case": f"C{i % 2}", "by": "s-1",
                       "occurred_at": f"2024-03-0{i}T09:00:00+08:00"}) for i in range(1, 5)]
    recs.append(stored(5, {"type": "Corrected", "target": "e2", "reason": "typo", "occurred_at": "2024-03-06T09:00:00+08:00",
                           "replacement": {"type": "Reminded", "case": "C0", "by": "s-2",
                                           "occurred_at": "2024-03-02T10:00:00+08:00"}}))
    facts = effective(recs, UTC)
    assert [f.occurred_at.isoformat() for f in facts] == [
        "2024-03-01T09:00:00+08:00", "2024-03-02T10:00:00+08:00", "2024-03-03T09:00:00+08:00",
        "2024-03-04T09:00:00+08:00"]
    assert len({id(f.occurred_at.tzinfo) for f in facts}) == 1
    assert decode_event(recs[0].content, UTC).occurred_at.tzinfo is facts[0].occurred_at.tzinfo


def test_utc_text_moves_the_date_across_midnight() -> None:
    assert _utc_text("2024-03-01T07:59:59+08:00") == "2024-02-29T23:59:59+00:00"
    assert _utc_text("2024-12-31T20:00:00-05:00") == "2025-01-01T01:00:00+00:00"


names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(stream=names, event_id=names, recorder=st.text(st.characters(codec="utf-8"), max_size=20),
       version=st.integers(1, 10**9), content=st.dictionaries(
           names, st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), names,
                            st.lists(names, max_size=3)), max_size=5),
       when=st.datetimes(datetime(2000, 1, 2), datetime(2099, 12, 30)))
def test_state_parts_equal_the_decoded_record(stream: str, event_id: str, recorder: str, version: int,
                                              content: dict[str, object], when: datetime) -> None:
    # A content with a key named "hash" must not confuse where the record's hash begins.
    body = {**content, "type": "Reminded", "hash": ',"hash":"x'}
    recorded_at = when.replace(tzinfo=UTC).isoformat()
    _, state = link_bytes(stream, version, event_id, recorded_at, recorder, canonical(body), "ab" * 32)
    record = record_from_state(1, stream, version, state)
    assert state_parts(state) == (record.content, record.event_id, recorded_at)
    assert content_bytes(state) == canonical(record.content) == canonical(body)
    assert utc_iso(recorded_at) == record.recorded_at.astimezone(UTC).isoformat()


def test_statement_lists_are_padded_to_a_few_sizes() -> None:
    from ledger.store import padded

    assert padded([], "") == []
    assert padded(["a"], "") == ["a"]
    assert padded(["a", "b", "c"], "") == ["a", "b", "c", ""]
    assert {len(padded(list(range(n)), -1)) for n in range(1, 513)} == {2**k for k in range(10)}


def test_sqlite_connections_keep_their_prepared_statements(tmp_path: object, monkeypatch: object) -> None:
    """The library opens SQLite connections with a statement cache of one; the store's keep
    hundreds (and are otherwise opened the library's way: WAL mode, sqlite3.Row rows)."""
    import sqlite3

    import ledger.store as store_module

    opened: list[dict[str, object]] = []
    connect = sqlite3.connect

    def recording(*args: object, **kwargs: object) -> sqlite3.Connection:
        opened.append(kwargs)
        return connect(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store_module.sqlite3, "connect", recording)  # type: ignore[attr-defined]
    store = store_module.Store(f"sqlite:///{tmp_path}/cache.db")
    try:
        with store.read() as tx:
            assert tx.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert opened and all(kw["cached_statements"] == store_module.SQLITE_STATEMENT_CACHE for kw in opened)
        assert store_module.SQLITE_STATEMENT_CACHE >= 256
    finally:
        store.close()


# --- a read model's content fields, read without decoding the rest --------------------------

#: Strings meant to confuse the slicing: the key's own bytes, quotes, escapes.
tricky = st.one_of(names, st.sampled_from(['"occurred_at":"', 'x"occurred_at":"y', '\\', '"', '\\"occurred_at\\":\\"',
                                           "occurred_at", '","occurred_at":"2020-01-01', 'x"occurred_at']))
values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-10, 10), tricky),
                      lambda inner: st.one_of(st.lists(inner, max_size=3),
                                              st.dictionaries(st.one_of(tricky, st.just("occurred_at")), inner,
                                                              max_size=3)),
                      max_leaves=8)


@settings(max_examples=500, deadline=None)
@given(content=st.dictionaries(tricky, values, max_size=5),
       occurred=st.one_of(tricky, st.just("2024-03-04T09:00:00+08:00")))
def test_sliced_content_is_the_decoded_field_or_declines(content: dict[str, object], occurred: str) -> None:
    body = {**content, "occurred_at": occurred, "type": "Replied"}  # every content has it, as a string
    raw = canonical(body)
    sliced = records.sliced_content(raw, frozenset({"occurred_at"}))
    assert sliced is None or sliced == {"occurred_at": occurred}
    _, state = link_bytes("case:C1", 1, "e1", "2024-03-04T01:00:00+00:00", "王敏", raw, "ab" * 32)
    content_read, event_id, recorded_at = state_parts(state, frozenset({"occurred_at"}))
    assert content_read in ({"occurred_at": occurred}, orjson.loads(raw))
    assert (event_id, recorded_at) == ("e1", "2024-03-04T01:00:00+00:00")


def test_sliced_content_declines_where_the_key_occurs_again_or_the_value_has_an_escape() -> None:
    fields = frozenset({"occurred_at"})
    at = "2024-03-04T09:00:00+08:00"
    plain = canonical({"case": "C1", "occurred_at": at, "type": "Replied"})
    assert records.sliced_content(plain, fields) == {"occurred_at": at}
    # the same key in a nested object (a correction's replacement has one)
    nested = {"occurred_at": at, "replacement": {"occurred_at": "2024-03-05T09:00:00+08:00"}, "type": "Corrected"}
    assert records.sliced_content(canonical(nested), fields) is None
    # inside a string the key's bytes cannot occur (its quotes are escaped) ...
    in_text = canonical({"matter": 'x"occurred_at":"y', "occurred_at": at})
    assert records.sliced_content(in_text, fields) == {"occurred_at": at}
    # ... but they end a key that ends in '"occurred_at' (an escaped quote): found before the real one
    assert records.sliced_content(canonical({"a": {'x"occurred_at': "y"}, "occurred_at": at}), fields) is None
    assert records.sliced_content(canonical({"occurred_at": 'a"b'}), fields) is None  # an escape in the value
    assert records.sliced_content(canonical({"type": "Replied"}), fields) is None  # (none has no occurred-at)
    assert records.sliced_content(b'{"occurred_at":"2024', fields) is None  # cut short


def test_a_read_model_may_ask_only_for_fields_every_content_holds_as_text(tmp_path: Path) -> None:
    from ledger.application import Ledger
    from ledger.events import EVENT_TYPES

    for cls in EVENT_TYPES.values():  # what records.SLICEABLE_FIELDS promises
        assert all(cls.model_fields[name].is_required() for name in records.SLICEABLE_FIELDS), cls

    class Asking:
        name = "asking"
        content_fields = frozenset({"occurred_at", "case"})

    with pytest.raises(ValueError, match=r"asks for content fields \['case'\]"):
        Ledger(f"sqlite:///{tmp_path}/asking.db", projectors=[Asking()])  # type: ignore[list-item]


def test_the_case_index_is_handed_only_its_field_and_a_retraction_whole(tmp_path: Path, monkeypatch: Any) -> None:
    """The rebuild, and the writer process of a large batch, give the case index its records'
    occurred-at alone; the record's type comes with it, and a retraction is decoded whole (its
    target is read). The tables equal those of the whole contents (``test_two_processes``)."""
    from bench.generate import generate
    from ledger.application import Ledger
    from projections.readmodels import CaseIndex, default_projectors

    seen = tmp_path / "seen.jsonl"
    project = CaseIndex.project

    def spy(self: CaseIndex, tx: Any, batch: Any) -> None:
        with open(seen, "a", encoding="utf-8") as out:  # (also from the writer's process)
            for r in batch:
                out.write(json.dumps([r.type, sorted(r.content)]) + "\n")
        project(self, tx, batch)

    monkeypatch.setattr(CaseIndex, "project", spy)
    ledger = Ledger(f"sqlite:///{tmp_path}/fields.db", projectors=default_projectors(None))
    try:
        assert ledger._route("case:C1", "Replied")[1] == frozenset({"occurred_at"})
        assert ledger._route("case:C1", "Retracted")[1] is None
        assert ledger._route("staff:s1", "AbsenceStarted")[1] is None  # the history reads it all
        ledger.parallel_from = 1  # two processes: the writer decodes what the read models read
        ledger.append_lines([line.encode() for line in generate(3000, 40, seed=7)], actor="王敏")
        ledger.rebuild()
    finally:
        ledger.close()
    kinds = {(t, tuple(keys)) for t, keys in map(json.loads, seen.read_text(encoding="utf-8").splitlines())}
    assert ("InquiryReceived", ("occurred_at",)) in kinds and ("Replied", ("occurred_at",)) in kinds
    assert all(keys == ("occurred_at",) for t, keys in kinds if t in ("InquiryReceived", "Replied"))
    assert any(t == "Retracted" and "target" in keys for t, keys in kinds)
