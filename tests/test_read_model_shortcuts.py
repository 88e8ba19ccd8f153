"""The read models' shortcuts give exactly what the plain way gives.

- A stored instant as UTC text: converted once per local hour and offset, or in full.
- A stored record's content, id and recorded-at, read from its state without decoding the
  chain fields: the same as decoding the whole record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.interchange import canonical
from ledger.records import content_bytes, link_bytes, record_from_state, state_parts, utc_iso
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
