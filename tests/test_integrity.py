"""The hash chain: `ledger verify` finds every edit that bypasses the database's refusals.

Each tampering test plays an intruder with direct access to the database (SQLite file or
PostgreSQL superuser): it drops the append-only triggers first, changes stored rows, and
checks that verify names the first bad event by sequence number, id and what is wrong.
Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from ledger.integrity import EMPTY, Head, verify
from ledger.records import GENESIS, chain_hash
from ledger.store import Store
from tests.ledger_helpers import BASE, inquiry, jsonl
from tests.tamper import Intruder, synthetic_chain


@pytest.fixture
def ledger(open_ledger: Any, clock: Any) -> Any:
    """Three batches at three recorded-at times: 7 + 3 + 2 = 12 events."""
    led = open_ledger()
    led.append_lines(jsonl(*BASE), actor="办公室-王敏")
    clock.tick(hours=1)
    led.append_lines(jsonl(inquiry("C1"), inquiry("C2"), inquiry("C3")), actor="办公室-王敏")
    clock.tick(hours=1)
    led.append_lines(jsonl(
        {"type": "HandedOff", "id": "h1", "occurred_at": "2024-03-04T10:00:00+08:00", "case": "C1",
         "from": "s-a", "to": "s-b"},
        {"type": "Replied", "id": "r2", "occurred_at": "2024-03-05T10:00:00+08:00", "case": "C2", "by": "s-a",
         "outcome": "resolved"},
    ), actor="办公室-李娜")
    return led


@pytest.fixture
def run(store_url: str) -> Callable[..., Any]:
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(cli, ["--store", store_url, *args], catch_exceptions=False)

    return invoke


def head_of(ledger: Any) -> Head:
    last = list(ledger.log())[-1]
    return Head(last.seq, last.hash)


# --- an intact ledger ----------------------------------------------------------------


def test_an_intact_ledger_verifies_and_prints_its_head(ledger: Any, run: Any) -> None:
    result = verify(ledger.store)
    assert result.intact and result.first_bad is None
    assert result.checked == 12
    assert result.head == head_of(ledger)

    out = run("verify")
    assert out.exit_code == 0, out.output
    assert "intact: 12 event(s) checked" in out.output
    assert f"head: {head_of(ledger)}" in out.output


def test_digest_prints_the_head_for_the_minutes(ledger: Any, run: Any) -> None:
    out = run("digest")
    assert out.exit_code == 0
    assert out.stdout.strip() == str(head_of(ledger))
    data = json.loads(run("digest", "--format", "json").stdout)
    assert data["head"] == {"seq": 12, "hash": head_of(ledger).hash}
    assert data["digest"] == str(head_of(ledger))


def test_verify_json_shape(ledger: Any, run: Any) -> None:
    data = json.loads(run("verify", "--format", "json").stdout)
    assert data == {"intact": True, "head": {"seq": 12, "hash": head_of(ledger).hash}, "checked": 12,
                    "first_bad": None, "digest": None}


def test_the_empty_ledger_is_intact_with_the_genesis_head(open_ledger: Any, run: Any) -> None:
    led = open_ledger()
    assert verify(led.store).intact and verify(led.store).head == EMPTY
    assert run("digest").stdout.strip() == f"0:{GENESIS}"
    assert run("verify", "--digest", f"0:{GENESIS}").exit_code == 0


def test_the_chain_links_each_record_to_the_one_before(ledger: Any) -> None:
    records = list(ledger.log())
    assert records[0].prev == GENESIS
    for before, after in itertools.pairwise(records):
        assert after.prev == before.hash
        assert chain_hash(after.body()) == after.hash


def test_an_earlier_digest_still_verifies_after_later_appends(ledger: Any, run: Any, clock: Any) -> None:
    minutes = head_of(ledger)
    clock.tick(days=1)
    ledger.append_lines(jsonl(inquiry("C4")))
    result = verify(ledger.store, digest=minutes)
    assert result.intact and result.digest_matches and result.checked == 13
    out = run("verify", "--digest", str(minutes))
    assert out.exit_code == 0 and f"the ledger up to event {minutes.seq} is unchanged" in out.output


def test_a_malformed_digest_is_a_usage_error(ledger: Any, run: Any) -> None:
    for bad, message in [("12", "is not a digest"), ("12:abc", "is not a digest"),
                         ("x:" + "0" * 64, "is not a digest"), ("0:" + "1" * 64, "the empty ledger")]:
        out = run("verify", "--digest", bad)
        assert out.exit_code == 2 and message in out.output


def test_verify_reads_in_pages_and_reports_progress(ledger: Any) -> None:
    seen: list[tuple[int, int]] = []
    result = verify(ledger.store, page=5, progress=lambda done, total: seen.append((done, total)))
    assert result.intact and result.checked == 12
    assert seen == [(5, 12), (10, 12), (12, 12)]


# --- tampering: verify names the first bad event ----------------------------------------


Tamper = Callable[[Intruder], tuple[int, str | None]]


def _edit(field: str, value: Any) -> Tamper:
    def tamper(db: Intruder) -> tuple[int, str | None]:
        data = db.state(9)
        if field in data:
            data[field] = value
        else:
            data["event"][field] = value
        db.set_state(9, data)
        return 9, "in-C2"

    return tamper


def _flip_byte(db: Intruder) -> tuple[int, str | None]:
    raw = bytearray(db.rows()[8][4])
    at = raw.index(b"13912345678")  # the requester's phone number, inside the hashed content
    raw[at] = ord("2")
    db.set_state(9, bytes(raw))
    return 9, "in-C2"


def _garble(db: Intruder) -> tuple[int, str | None]:
    db.set_state(9, db.rows()[8][4][:-5])
    return 9, None


def _null(db: Intruder) -> tuple[int, str | None]:
    db.execute(f"UPDATE {db.events} SET state = NULL WHERE {db.seq} = 9")
    return 9, None


def _reformat(db: Intruder) -> tuple[int, str | None]:
    # Same content, same hash, different bytes: still an edit of the stored row.
    db.set_state(9, json.dumps(db.state(9), sort_keys=True).encode())
    return 9, "in-C2"


def _delete(db: Intruder) -> tuple[int, str | None]:
    db.delete(9)
    return 10, "in-C3"  # the next record's prev no longer matches


def _delete_first(db: Intruder) -> tuple[int, str | None]:
    db.delete(1)
    return 2, "st-head"


def _swap(db: Intruder) -> tuple[int, str | None]:
    db.swap(9, 10)
    return 9, "in-C3"


def _move_column(db: Intruder) -> tuple[int, str | None]:
    db.move(9, "case:C9")
    return 9, "in-C2"


def _move_version(db: Intruder) -> tuple[int, str | None]:
    db.move(9, "case:C2", 7)
    return 9, "in-C2"


def _move_and_rehash(db: Intruder) -> tuple[int, str | None]:
    # A careful intruder rewrites stream, column and hash together: the next link breaks.
    data = db.state(9)
    data["stream"] = "case:C9"
    data["event"]["case"] = "C9"
    db.set_state(9, db.rehash(data))
    db.move(9, "case:C9", 1)
    return 10, "in-C3"


def _forge_append(db: Intruder) -> tuple[int, str | None]:
    data = db.state(12)
    forged = {**data, "id": "forged", "version": 9, "prev": "f" * 64,
              "event": {**data["event"], "note": "added later"}}
    db.insert(data["stream"], 9, "Replied", db.rehash(forged))
    return 13, "forged"


def _forge_topic(db: Intruder) -> tuple[int, str | None]:
    db.execute(f"UPDATE {db.events} SET topic = 'Retracted' WHERE {db.seq} = 9")
    return 9, "in-C2"


def _backdate(db: Intruder) -> tuple[int, str | None]:
    # Rewritten and re-chained from 11 on, but recorded before the event stored before it.
    data = db.state(11)
    data["recorded_at"] = "2020-01-01T00:00:00+00:00"
    db.set_state(11, db.rehash(data))
    db.rechain(11)
    return 11, "h1"


TAMPERING: dict[str, tuple[Tamper, str]] = {
    "content": (_edit("matter", "宿舍热水器正常"), "does not match its hash"),
    "recorded_at": (_edit("recorded_at", "2024-12-01T09:30:00+00:00"), "does not match its hash"),
    "recorded_by": (_edit("recorded_by", "someone-else"), "does not match its hash"),
    "occurred_at": (_edit("occurred_at", "2024-03-03T09:00:00+08:00"), "does not match its hash"),
    "one byte": (_flip_byte, "does not match its hash"),
    "garbled": (_garble, "not valid JSON"),
    "no state": (_null, "its stored state is NULL, not the bytes the ledger wrote"),
    "reformatted": (_reformat, "canonical form"),
    "deleted": (_delete, "link to the event stored before it is broken"),
    "first deleted": (_delete_first, "link to the first event is broken"),
    "swapped": (_swap, "link to the event stored before it is broken"),
    "moved stream": (_move_column, "the row was moved"),
    "moved version": (_move_version, "the row was moved"),
    "moved and rehashed": (_move_and_rehash, "link to the event stored before it is broken"),
    "forged append": (_forge_append, "link to the event stored before it is broken"),
    "forged type": (_forge_topic, "stored with type 'Retracted'"),
    "backdated": (_backdate, "before the event stored before it"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_found_and_the_first_bad_event_named(ledger: Any, store_url: str, run: Any, case: str) -> None:
    tamper, problem = TAMPERING[case]
    with Intruder(store_url) as db:
        assert db.drop_triggers(), "the ledger should have installed append-only triggers"
        bad_seq, bad_id = tamper(db)

    result = verify(ledger.store)
    assert not result.intact
    assert result.first_bad is not None
    assert result.first_bad.seq == bad_seq
    assert problem in result.first_bad.problem
    assert result.first_bad.id == bad_id
    assert result.checked == bad_seq - 1 - (1 if case in ("deleted", "first deleted") else 0)

    out = run("verify")
    assert out.exit_code == 1
    assert f"NOT INTACT at event {bad_seq}" in out.output
    assert problem in out.output
    data = json.loads(run("verify", "--format", "json").stdout)
    assert data["intact"] is False and data["first_bad"]["seq"] == bad_seq


#: SQLite's columns take any type: an UPDATE through replace() (or a CAST) leaves TEXT where the
#: ledger wrote a BLOB. (verify once failed on such a row with "TypeError: string argument
#: without an encoding".) Each: the SQL setting row 9's state, and the problem named.
TEXT_TAMPERING: dict[str, tuple[str, str]] = {
    "text, content changed": (
        """replace(state, cast('"matter":"' as blob), cast('"matter":"X' as blob))""",
        "does not match its hash",
    ),
    "text, the same bytes": ("cast(state as text)", "its stored state is TEXT, not the bytes the ledger wrote"),
    "text, not UTF-8": ("cast(x'ff' || state as text)", "not valid JSON"),
}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # (PostgreSQL's bytea holds no text)
@pytest.mark.parametrize("case", list(TEXT_TAMPERING))
def test_a_state_stored_as_text_is_tampering_not_a_crash(ledger: Any, store_url: str, run: Any, case: str) -> None:
    value, problem = TEXT_TAMPERING[case]
    with Intruder(store_url) as db:
        db.drop_triggers()
        db.execute(f"UPDATE {db.events} SET state = {value} WHERE {db.seq} = 9")
        assert db.execute(f"SELECT typeof(state) FROM {db.events} WHERE {db.seq} = 9") == [("text",)]

    result = verify(ledger.store)
    assert not result.intact and result.first_bad is not None
    assert result.first_bad.seq == 9 and result.checked == 8
    assert problem in result.first_bad.problem
    assert result.first_bad.id == (None if case == "text, not UTF-8" else "in-C2")
    out = run("verify")  # (``run`` lets a traceback through: the test would fail with it)
    assert out.exit_code == 1
    assert "NOT INTACT at event 9" in out.output and problem in out.output
    assert "8 event(s) before it hold" in out.output
    # The other commands read the edited row like any other, or say it cannot be read, and
    # send the reader to verify (no traceback: ``run`` would let it through).
    for args in (("events", "--case", "C2", "--format", "json"), ("who", "C2", "--at", "2024-03-05T10:00:00+08:00")):
        read = subprocess.run([sys.executable, "-m", "cli.main", "--store", store_url, *args],
                              capture_output=True, text=True)
        assert "Traceback" not in read.stderr
        if case == "text, not UTF-8":
            assert read.returncode == 1 and "event 9 (case:C2) cannot be read" in read.stderr
            assert "`ledger verify`" in read.stderr
        else:
            assert read.returncode == 0, read.stderr


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # (PostgreSQL's bytea holds no text)
def test_a_text_state_at_the_head_is_named_by_digest(ledger: Any, store_url: str, run: Any) -> None:
    with Intruder(store_url) as db:
        db.drop_triggers()
        db.execute(f"UPDATE {db.events} SET state = cast(state as text) WHERE {db.seq} = 12")
    out = run("digest")
    assert out.exit_code == 1
    assert "the ledger's head is damaged: event 12 (id r2, stream case:C2): its stored state is TEXT" in out.output


def test_a_wrong_digest_counts_only_the_events_before_it_as_holding(ledger: Any, run: Any) -> None:
    wrong = Head(9, "a" * 64)
    result = verify(ledger.store, digest=wrong)
    assert not result.intact and result.first_bad is not None and result.first_bad.seq == 9
    assert result.checked == 8  # events 1-8: event 9 is the bad one
    out = run("verify", "--digest", str(wrong))
    assert out.exit_code == 1
    assert "NOT INTACT at event 9 (id in-C2, stream case:C2): its hash is" in out.output
    assert "\n8 event(s) before it hold; " in out.output
    assert json.loads(run("verify", "--digest", str(wrong), "--format", "json").stdout)["checked"] == 8


def test_a_removed_tail_is_caught_by_the_digest(ledger: Any, store_url: str, run: Any) -> None:
    minutes = head_of(ledger)
    with Intruder(store_url) as db:
        db.drop_triggers()
        db.delete(12)
        db.delete(11)
    left = verify(ledger.store)  # the id index still lists the removed events
    assert not left.intact and left.first_bad is not None and left.first_bad.seq == 11
    assert "no such event is stored" in left.first_bad.problem
    with Intruder(store_url) as db:
        db.execute("DELETE FROM ledger_ids WHERE seq > 10")  # an intruder who cleans up after themselves
    assert verify(ledger.store).intact, "a chain cut at its end is still a chain: hence the digest"
    result = verify(ledger.store, digest=minutes)
    assert not result.intact and result.first_bad is not None and result.first_bad.seq == 12
    assert "the ledger now ends at event 10" in result.first_bad.problem
    out = run("verify", "--digest", str(minutes))
    assert out.exit_code == 1 and "events were removed from its end" in out.output


def test_a_history_rewritten_with_fresh_hashes_is_caught_by_the_digest(
    ledger: Any, store_url: str, run: Any, clock: Any
) -> None:
    minutes = head_of(ledger)  # written into the committee's minutes
    clock.tick(days=1)
    ledger.append_lines(jsonl(inquiry("C5")))
    with Intruder(store_url) as db:
        db.drop_triggers()
        data = db.state(4)
        data["event"]["rank"] = 9  # promote s-a after the fact...
        db.set_state(4, data)
        db.rechain(4)  # ...and recompute every later hash and link
    assert verify(ledger.store).intact, "a consistent rewrite leaves a sound chain: hence the digest"
    result = verify(ledger.store, digest=minutes)
    assert not result.intact and not result.digest_matches
    assert result.first_bad is not None and result.first_bad.seq == minutes.seq
    assert f"the history up to event {minutes.seq} was rewritten" in result.first_bad.problem
    out = run("verify", "--digest", str(minutes), "--format", "json")
    assert out.exit_code == 1
    assert json.loads(out.stdout)["digest"] == {"seq": minutes.seq, "hash": minutes.hash, "matches": False}


def test_a_digest_naming_a_removed_event_fails(ledger: Any, store_url: str) -> None:
    minutes = Head(9, list(ledger.log())[8].hash)
    with Intruder(store_url) as db:
        db.drop_triggers()
        db.delete(9)
        db.rechain(10)
        db.execute("DELETE FROM ledger_ids WHERE seq = 9")
    assert verify(ledger.store).intact
    result = verify(ledger.store, digest=minutes)
    assert not result.intact and result.first_bad is not None and result.first_bad.seq == 9
    assert "no event with that sequence number is stored" in result.first_bad.problem


def test_tampering_across_a_page_boundary(ledger: Any, store_url: str) -> None:
    with Intruder(store_url) as db:
        db.drop_triggers()
        db.delete(5)
    result = verify(ledger.store, page=4)
    assert result.first_bad is not None and result.first_bad.seq == 6


def test_digest_refuses_a_damaged_head(ledger: Any, store_url: str, run: Any) -> None:
    with Intruder(store_url) as db:
        db.drop_triggers()
        data = db.state(12)
        data["event"]["outcome"] = "explained_refusal"
        db.set_state(12, data)
    out = run("digest")
    assert out.exit_code == 1 and "the ledger's head is damaged: event 12" in out.output


# --- a large ledger: verify's memory stays flat -------------------------------------------


def test_verify_memory_does_not_grow_with_the_ledger(sqlite_url: str, tmp_path: Any) -> None:
    peaks = []
    for count in (1_000, 8_000):
        url = f"sqlite:///{tmp_path / f'big{count}.db'}"
        store = Store(url)
        store.create_schema([])
        synthetic_chain(store, count)
        tracemalloc.start()
        result = verify(store, page=250)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        store.close()
        assert result.intact and result.checked == count
    assert peaks[1] < peaks[0] * 1.5, f"peak memory grew with the ledger: {peaks}"


#: Commands a user runs on a ledger whose event 9 (C2's receipt) was set to NULL, each reading
#: that row on its way; each must stop with the error that sends them to ``ledger verify``.
NULL_READERS = {
    "events": ("events", "--format", "json"),
    "who": ("who", "C2", "--at", "2024-03-05T10:00:00+08:00"),
    "findings": ("findings", "--case", "C2", "--at", "2024-04-01T10:00:00+08:00"),
    "rebuild": ("rebuild",),
    "append a line of the case": ("append", "-"),
    "append the same id again": ("append", "-"),
}


@pytest.mark.parametrize("command", list(NULL_READERS))
def test_a_null_state_stops_every_reader_with_a_pointer_to_verify(
    ledger: Any, store_url: str, command: str, tmp_path: Path
) -> None:
    with Intruder(store_url) as db:
        db.drop_triggers()
        _null(db)
    line = (inquiry("C2") if command == "append the same id again" else
            {"type": "Reminded", "occurred_at": "2024-03-06T10:00:00+08:00", "case": "C2", "by": "s-a"})
    read = subprocess.run([sys.executable, "-m", "cli.main", "--store", store_url, *NULL_READERS[command]],
                          capture_output=True, text=True, input=jsonl(line)[0] + "\n", cwd=tmp_path)
    assert "Traceback" not in read.stderr, read.stderr
    assert read.returncode == 1
    assert "event 9 (case:C2) cannot be read as a record" in read.stderr
    assert "the stored state is NULL" in read.stderr and "`ledger verify`" in read.stderr


def test_a_read_model_tracked_past_the_log_stops_appends_with_a_message_and_rebuild_heals_it(
    ledger: Any, store_url: str, tmp_path: Path
) -> None:
    with ledger.store.write() as tx:
        tx.execute(f"UPDATE {ledger.store.tracking_table} SET notification_id = 100 "
                   "WHERE application_name = 'case_index.2'")

    def ledger_cli(*args: str, line: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli.main", "--store", store_url, *args], capture_output=True,
                              text=True, input=line, cwd=tmp_path)

    line = jsonl({"type": "Reminded", "occurred_at": "2024-03-06T10:00:00+08:00", "case": "C1", "by": "s-a"})[0]
    refused = ledger_cli("append", "-", line=line + "\n")
    assert "Traceback" not in refused.stderr and refused.returncode == 1
    assert "the read model case_index.2 is recorded as holding the log past event 13" in refused.stderr
    assert "`ledger rebuild`" in refused.stderr
    assert ledger_cli("rebuild").returncode == 0
    assert ledger_cli("append", "-", line=line + "\n").returncode == 0
