"""A large batch is appended by two processes: the clerk's reads and checks, a forked writer
links, stores, indexes and projects. It must store exactly what one process stores.

Every test runs on SQLite and PostgreSQL. ``parallel_from`` is the number of lines from which
the ledger appends with a writer process (normally a chunk of 4096): set to 1 it takes every
batch, set very high it takes none, so both ways run on the same register.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bench.generate import generate
from ledger.application import CHUNK, Ledger
from ledger.interchange import InvalidInput
from tests.conftest import FakeClock, postgres_url

REGISTER = list(generate(3000, 40, seed=7))  # every kind of line, corrections included
TWO, ONE = 1, 10**9  # parallel_from: always / never


def snapshot(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    """Everything stored: the events with their sequence numbers, the id index, the read models."""
    store = ledger.store
    out = {}
    with store.read() as tx:
        tx.execute(f"SELECT {store.seq_column}, originator_id, originator_version, topic, state"
                   f" FROM {store.events_table} ORDER BY 1")
        out["events"] = [(s, o, v, t, bytes(st)) for s, o, v, t, st in tx.fetchall()]
        for table, key in (("ledger_ids", "id"), ("rm_case_index", "case_id"),
                           ("rm_history", "seq"), ("rm_members", "staff, stream")):
            out[table] = tx.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
    return out


@pytest.fixture
def pair(store_url: str) -> Any:
    """Two empty ledgers on the same backend, with clocks that read the same."""
    urls = [store_url, store_url.replace("ledger.db", "other.db") if store_url.startswith("sqlite") else postgres_url()]
    opened: list[Ledger] = []

    def make(parallel_from: int) -> Ledger:
        from projections.readmodels import default_projectors

        ledger = Ledger(urls[len(opened)], clock=FakeClock(), projectors=default_projectors(None))
        ledger.parallel_from = parallel_from
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


def seq_free(snap: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """PostgreSQL's sequence may skip numbers between schemas; compare in order without them."""
    return {"events": [row[1:] for row in snap["events"]], **{k: v for k, v in snap.items() if k != "events"}}


def test_two_processes_store_what_one_stores(pair: Callable[[int], Ledger]) -> None:
    one, two = pair(ONE), pair(TWO)
    first, second = REGISTER[:2000], REGISTER[2000:]
    for ledger in (one, two):
        ledger.append_lines([line.encode() for line in first], actor="办公室-王敏")
        # onto a ledger that holds the first part: its knowledge is read from what is stored
        ledger.clock.tick(hours=1)  # type: ignore[attr-defined]
        result = ledger.append_lines([line.encode() for line in second], actor="办公室-王敏")
        assert result.appended == len(second)
    assert seq_free(snapshot(one)) == seq_free(snapshot(two))


def test_two_processes_refuse_what_one_refuses_and_write_nothing(pair: Callable[[int], Ledger]) -> None:
    one, two = pair(ONE), pair(TWO)
    bad = [*REGISTER[:1500],
           '{"type": "Replied", "occurred_at": "2024-03-05T09:00:00+08:00", "case": "nowhere", "by": "s-00001",'
           ' "outcome": "resolved"}',
           *REGISTER[1500:], "{not json"]
    errors = []
    for ledger in (one, two):
        with pytest.raises(InvalidInput) as info:
            ledger.append_lines([line.encode() for line in bad])
        errors.append([str(e) for e in info.value.errors])
        assert snapshot(ledger)["events"] == []
    assert errors[0] == errors[1]
    assert [e.split(":")[0] for e in errors[1]] == ["line 1501", "line 3002"]


def test_a_batch_of_a_chunk_or_more_takes_two_processes(store_url: str, monkeypatch: Any) -> None:
    import ledger.application as app

    taken = []
    monkeypatch.setattr(app.Ledger, "_append_in_two", lambda self, chunks, actor: taken.append(True) or
                        app.AppendResult(0, 0, None, None, None))
    ledger = Ledger(store_url)
    try:
        assert len(REGISTER) < CHUNK
        ledger.append_lines([line.encode() for line in REGISTER])
        assert taken == []
        ledger.append_lines([line.encode() for line in (REGISTER * 2)[:CHUNK]])
        assert taken == [True]
    finally:
        ledger.close()


def test_a_writer_that_fails_is_reported_by_the_clerks_process_and_nothing_is_written(
        pair: Callable[[int], Ledger], monkeypatch: Any) -> None:
    import ledger.application as app

    def failing(self: Any, pending: Any, contents: Any = None) -> None:
        raise RuntimeError("the disk is full")

    ledger = pair(TWO)
    monkeypatch.setattr(app._Writer, "write", failing)  # (the forked writer has it too)
    with pytest.raises(RuntimeError, match="the disk is full"):
        ledger.append_lines([line.encode() for line in (REGISTER * 3)])
    monkeypatch.undo()
    assert snapshot(ledger)["events"] == []
    assert ledger.append_lines([line.encode() for line in REGISTER]).appended == len(REGISTER)  # not locked
