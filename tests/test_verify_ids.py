"""`ledger verify` also checks the ledger's own event-id index (``ledger_ids``) against the log.

An intruder who drops the index's triggers can delete an id's row (so that the id can be stored
a second time), point a row at another event, mark an id retracted with no Retracted event (so
that the event can no longer be corrected or retracted) or unmark one, or add rows no event has.
None of that touches the hash chain; verify names the event the index is wrong about. Every test
runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from ledger.application import ledger_schema
from ledger.integrity import Head, verify
from ledger.store import Store
from tests.ledger_helpers import BASE, inquiry, jsonl
from tests.tamper import Intruder, synthetic_chain

T_RETRACT = "2024-03-04T12:00:00+08:00"


def retraction(target: str, event_id: str) -> dict[str, Any]:
    return {"type": "Retracted", "id": event_id, "target": target, "reason": "重复登记", "occurred_at": T_RETRACT}


@pytest.fixture
def ledger(open_ledger: Any, clock: Any) -> Any:
    """Four batches, 13 events, two of them retractions:

    1-7 BASE; 8-10 in-C1, in-C2, in-C3; 11 rt-C2 (retracts in-C2), 12 h1 (C1 handed off);
    13 rt-h1 (retracts h1).
    """
    led = open_ledger()
    led.append_lines(jsonl(*BASE))
    clock.tick(hours=1)
    led.append_lines(jsonl(inquiry("C1"), inquiry("C2"), inquiry("C3")))
    clock.tick(hours=1)
    led.append_lines(jsonl(retraction("in-C2", "rt-C2"), {
        "type": "HandedOff", "id": "h1", "occurred_at": "2024-03-04T10:00:00+08:00", "case": "C1",
        "from": "s-a", "to": "s-b"}))
    clock.tick(hours=1)
    led.append_lines(jsonl(retraction("h1", "rt-h1")))
    return led


@pytest.fixture
def run(store_url: str) -> Callable[..., Any]:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Any:
        return runner.invoke(cli, ["--store", store_url, *args], input=input, catch_exceptions=False)

    return invoke


def tampered(store_url: str, *statements: str) -> None:
    with Intruder(store_url) as db:
        assert db.drop_triggers(), "the ledger should have installed append-only triggers"
        for sql in statements:
            db.execute(sql)


def assert_found(ledger: Any, run: Any, seq: int, event_id: str | None, stream: str | None, words: str,
                 checked: int) -> None:
    """verify (the function, at several page sizes, and the command) names this event."""
    for page in (5000, 4, 1):
        result = verify(ledger.store, page=page)
        assert not result.intact and result.first_bad is not None, page
        assert (result.first_bad.seq, result.first_bad.id, result.first_bad.stream) == (seq, event_id, stream), (
            page, result.first_bad)
        assert words in result.first_bad.problem, result.first_bad.problem
        assert result.checked == checked, page
    out = run("verify")
    assert out.exit_code == 1, out.output
    assert f"NOT INTACT at event {seq}" in out.output and words in out.output
    data = json.loads(run("verify", "--format", "json").stdout)
    assert data["intact"] is False and data["checked"] == checked
    assert data["first_bad"] == {"seq": seq, "id": event_id, "stream": stream, "problem": data["first_bad"]["problem"]}


# --- an intact ledger ------------------------------------------------------------------


def test_an_intact_ledger_with_retractions_verifies(ledger: Any, run: Any) -> None:
    for page in (5000, 5, 2, 1):
        result = verify(ledger.store, page=page)
        assert result.intact and result.checked == 13 and result.first_bad is None, (page, result.first_bad)
    out = run("verify")
    assert out.exit_code == 0, out.output
    assert "intact: 13 event(s) checked" in out.output
    data = json.loads(run("verify", "--format", "json").stdout)
    assert data["intact"] is True and data["checked"] == 13 and data["first_bad"] is None


def test_an_id_retracted_while_verify_runs_is_not_taken_for_an_edit(ledger: Any, clock: Any) -> None:
    """verify reads the log in pages, each in its own read: a clerk may append meanwhile. Its
    retraction marks an id verify has not read yet, by an event past the end verify checks."""
    appended: list[int] = []

    def append_once(done: int, total: int) -> None:
        if not appended:
            clock.tick(hours=1)
            appended.append(ledger.append_lines(jsonl(retraction("in-C3", "rt-C3"))).appended)

    result = verify(ledger.store, page=4, progress=append_once)
    assert appended == [1]
    assert result.intact and result.checked == 13, result.first_bad
    assert verify(ledger.store).checked == 14


def test_an_empty_ledger_verifies(open_ledger: Any) -> None:
    assert verify(open_ledger().store).intact


# --- the index edited ------------------------------------------------------------------


def test_a_deleted_id_row_is_found(ledger: Any, store_url: str, run: Any) -> None:
    tampered(store_url, "DELETE FROM ledger_ids WHERE id = 'in-C1'")
    assert_found(ledger, run, 8, "in-C1", "case:C1", "its id 'in-C1' is missing from the ledger's id index "
                 "(ledger_ids): the index was edited, so a repeated id would not be caught", checked=7)


def test_an_id_stored_twice_after_its_row_was_deleted_is_found(
    ledger: Any, store_url: str, run: Any, clock: Any
) -> None:
    """The reviewer's case: with the row gone, the ledger takes a second event with the same id."""
    tampered(store_url, "DELETE FROM ledger_ids WHERE id = 'in-C3'")
    clock.tick(hours=1)
    assert ledger.append_lines(jsonl(inquiry("C9", id="in-C3"))).appended == 1  # accepted: two events, one id
    assert_found(ledger, run, 10, "in-C3", "case:C3",
                 "its id 'in-C3' is indexed (ledger_ids) at event 14, not at this one, and event 14 has the "
                 "same id", checked=9)


def test_an_id_row_pointing_at_another_event_is_found(ledger: Any, store_url: str, run: Any) -> None:
    tampered(store_url, "UPDATE ledger_ids SET seq = 3 WHERE id = 'in-C1'")
    assert_found(ledger, run, 8, "in-C1", "case:C1",
                 "its id 'in-C1' is indexed (ledger_ids) at event 3, not at this one: the index was edited", checked=7)


def test_an_id_marked_retracted_without_a_retracted_event_is_found(ledger: Any, store_url: str, run: Any) -> None:
    tampered(store_url, "UPDATE ledger_ids SET retracted = 1 WHERE id = 'in-C1'")
    refused = run("retract", "--target", "in-C1", "--reason", "重复登记")
    assert refused.exit_code == 1 and "was already retracted" in refused.output  # what the edit does
    assert_found(ledger, run, 8, "in-C1", "case:C1", "the id index (ledger_ids) marks 'in-C1' retracted, but no "
                 "Retracted event targets it", checked=7)


def test_a_retracted_event_marked_retracted_itself_is_found(ledger: Any, store_url: str, run: Any) -> None:
    tampered(store_url, "UPDATE ledger_ids SET retracted = 1 WHERE id = 'rt-C2'")
    assert_found(ledger, run, 11, "rt-C2", "case:C2", "marks 'rt-C2' retracted, but no Retracted event targets it",
                 checked=10)


def test_a_retraction_unmarked_in_the_index_is_found(ledger: Any, store_url: str, run: Any) -> None:
    tampered(store_url, "UPDATE ledger_ids SET retracted = 0 WHERE id = 'h1'")
    assert_found(ledger, run, 13, "rt-h1", "case:C1", "it retracts 'h1', but the id index (ledger_ids) does not "
                 "mark 'h1' retracted: the index was edited", checked=12)


def test_a_strange_retracted_value_is_found(ledger: Any, store_url: str, run: Any) -> None:
    tampered(store_url, "UPDATE ledger_ids SET retracted = 2 WHERE id = 'in-C1'")
    assert_found(ledger, run, 8, "in-C1", "case:C1", "holds retracted = 2 for it, not 0 or 1", checked=7)


EXTRA_ROWS = {
    # (id, seq) inserted -> (named seq, id, stream, words, checked)
    "past the end": (("ghost", 99), (99, "ghost", None, "lists 'ghost' at event 99, but no such event is stored", 13)),
    "before the first": (("ghost", 0), (0, "ghost", None, "lists 'ghost' at event 0, but no such event is stored", 0)),
    "at a stored event": (("ghost", 5), (5, "st-b", "staff:s-b", "also lists 'ghost' at this event, which is not "
                                         "its id", 4)),
}


@pytest.mark.parametrize("case", list(EXTRA_ROWS))
def test_an_extra_id_row_is_found(ledger: Any, store_url: str, run: Any, case: str) -> None:
    (ghost, at), (seq, event_id, stream, words, checked) = EXTRA_ROWS[case]
    tampered(store_url, f"INSERT INTO ledger_ids (id, seq, retracted) VALUES ('{ghost}', {at}, 0)")
    assert_found(ledger, run, seq, event_id, stream, words, checked)


def test_the_first_problem_in_sequence_order_is_named(ledger: Any, store_url: str) -> None:
    with Intruder(store_url) as db:
        db.drop_triggers()
        db.execute("DELETE FROM ledger_ids WHERE id = 'in-C1'")  # event 8
        db.set_state(10, db.rows()[9][4][:-5])  # event 10's chain breaks
    for page in (5000, 3, 1):
        bad = verify(ledger.store, page=page).first_bad
        assert bad is not None and bad.seq == 8 and "missing from the ledger's id index" in bad.problem, page


def test_each_record_s_chain_is_checked_before_its_index_row(ledger: Any, store_url: str) -> None:
    with Intruder(store_url) as db:
        db.drop_triggers()
        data = db.state(8)
        data["event"]["matter"] = "改过的事项"
        db.set_state(8, data)
        db.execute("DELETE FROM ledger_ids WHERE id = 'in-C1'")
    bad = verify(ledger.store).first_bad
    assert bad is not None and bad.seq == 8 and "does not match its hash" in bad.problem


def test_a_digest_after_an_index_problem_was_not_reached(ledger: Any, store_url: str) -> None:
    records = list(ledger.log())
    tampered(store_url, "DELETE FROM ledger_ids WHERE id = 'in-C1'")
    later, earlier = Head(12, records[11].hash), Head(5, records[4].hash)
    result = verify(ledger.store, digest=later)
    assert not result.intact and not result.digest_matches and result.first_bad is not None
    assert result.first_bad.seq == 8
    result = verify(ledger.store, digest=earlier)
    assert not result.intact and result.digest_matches and result.checked == 7


# --- ledgers made before 0.2: the index copies stream and type ---------------------------


OLD_IDS = ("CREATE TABLE ledger_ids (id TEXT PRIMARY KEY, seq BIGINT NOT NULL, stream TEXT NOT NULL,"
           " type TEXT NOT NULL, fingerprint TEXT NOT NULL, retracted INTEGER NOT NULL DEFAULT 0)")


def _old_ledger(store_url: str, open_ledger: Any) -> Any:
    if store_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(store_url[len("sqlite:///"):]) as conn:
            conn.execute(OLD_IDS)
    else:
        import psycopg

        dsn, schema = store_url.split("?")[0], store_url.rsplit("schema=", 1)[1]
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(OLD_IDS.replace("ledger_ids", f'"{schema}".ledger_ids'))
    led = open_ledger()
    assert led.ids_copy_events
    led.append_lines(jsonl(*BASE, inquiry("C1"), inquiry("C2")))
    led.append_lines(jsonl(retraction("in-C2", "rt-C2")))
    return led


@pytest.mark.parametrize("edit, words", [
    ("stream = 'case:C9'", "the id index (ledger_ids) has it as 'InquiryReceived' in 'case:C9', but its record is "
                           "'InquiryReceived' in 'case:C1'"),
    ("type = 'Replied'", "has it as 'Replied' in 'case:C1'"),
])
def test_an_old_index_s_stream_and_type_must_match(
    store_url: str, open_ledger: Any, run: Any, edit: str, words: str
) -> None:
    led = _old_ledger(store_url, open_ledger)
    assert verify(led.store).intact and verify(led.store, page=1).checked == 10
    tampered(store_url, f"UPDATE ledger_ids SET {edit} WHERE id = 'in-C1'")
    assert_found(led, run, 8, "in-C1", "case:C1", words, checked=7)


# --- a large ledger: memory stays flat with the index checked too ----------------------


def _synthetic_ledger(url: str, count: int) -> Store:
    """``count`` well-formed records and their id rows straight into the store."""
    store = Store(url)
    store.create_schema(ledger_schema(store.dialect))
    synthetic_chain(store, count, index=True)
    return store


def test_verify_memory_does_not_grow_with_the_ledger_or_its_index(tmp_path: Path) -> None:
    peaks = []
    for count in (1_000, 8_000):
        store = _synthetic_ledger(f"sqlite:///{tmp_path / f'big{count}.db'}", count)
        tracemalloc.start()
        result = verify(store, page=250)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        store.close()
        assert result.intact and result.checked == count, result.first_bad
    assert peaks[1] < peaks[0] * 1.5, f"peak memory grew with the ledger: {peaks}"
