"""A large batch is appended by two processes: the clerk's reads and checks, a forked writer
links, stores, indexes and projects. It must store exactly what one process stores.

Every test runs on SQLite and PostgreSQL. ``parallel_from`` is the number of lines from which
the ledger appends with a writer process (normally a chunk of 4096): set to 1 it takes every
batch, set very high it takes none, so both ways run on the same register.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.generate import generate
from ledger.application import CHUNK, Ledger
from ledger.integrity import verify
from ledger.interchange import InvalidInput
from tests.conftest import FakeClock, postgres_url

REGISTER = list(generate(3000, 40, seed=7))  # every kind of line, corrections included
BIG = list(generate(12000, 40, seed=7))  # more than SQLite's checkpoint threshold (1000 pages of WAL)
TWO, ONE = 1, 10**9  # parallel_from: always / never
ROOT = Path(__file__).resolve().parent.parent


def probed_mid_batch(probe: Callable[[], object]) -> Iterator[bytes]:
    """The lines of BIG past its first 100, calling ``probe`` once, when the first chunk is with
    the writer, in its transaction."""
    for number, line in enumerate(BIG[100:], start=1):
        if number == CHUNK + CHUNK // 2:
            probe()
        yield line.encode()


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


# -- the guards against a colliding insert, lifted inside the writer's transaction (SQLite) ---


def triggers(db: Path) -> set[str]:
    """The triggers a connection of its own sees (the last committed state)."""
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    finally:
        conn.close()


def replace_refused(db: Path) -> bool:
    """Whether INSERT OR REPLACE over the first stored event is refused (by the guard)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        row = conn.execute("SELECT rowid, originator_id, originator_version, topic, state FROM stored_events"
                           " ORDER BY rowid LIMIT 1").fetchone()
        conn.execute("INSERT OR REPLACE INTO stored_events (rowid, originator_id, originator_version, topic, state)"
                     " VALUES (?, 'staff:forged', 1, ?, ?)", (row[0], row[3], row[4]))
    except sqlite3.DatabaseError as exc:
        return "append-only" in str(exc)
    finally:
        conn.close()
    return False


def test_the_writer_lifts_the_insert_guards_only_inside_its_own_transaction(
        sqlite_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    """A large batch stores its rows without the two guards that look every inserted row up
    (integrity.insert_guards_lifted): they are gone inside the writer's transaction, present
    for every other connection meanwhile, and back, refusing, once the batch is committed."""
    import ledger.application as app
    from ledger.integrity import INSERT_GUARDS

    db = Path(sqlite_url.removeprefix("sqlite:///"))
    seen_by_writer = tmp_path / "seen-by-writer.json"
    ledger = Ledger(sqlite_url, clock=FakeClock())
    ledger.append_lines([line.encode() for line in BIG[:100]])
    everything = triggers(db)
    assert set(INSERT_GUARDS) < everything and replace_refused(db)
    ledger.parallel_from = 1
    write = app._Writer.write

    def looking(self: Any, pending: Any, contents: Any = None) -> None:  # (in the forked writer)
        names = [r[0] for r in self.tx.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()]
        seen_by_writer.write_text(json.dumps(sorted(names)))
        write(self, pending, contents)

    seen_meanwhile: list[set[str]] = []
    monkeypatch.setattr(app._Writer, "write", looking)
    try:
        result = ledger.append_lines(probed_mid_batch(lambda: seen_meanwhile.append(triggers(db))))
        assert result.appended == len(BIG) - 100
    finally:
        ledger.close()
    assert set(json.loads(seen_by_writer.read_text())) == everything - set(INSERT_GUARDS)
    assert seen_meanwhile == [everything]
    assert triggers(db) == everything
    assert replace_refused(db)
    assert verify(Ledger(sqlite_url, clock=FakeClock()).store).intact


@pytest.mark.parametrize("how", ["a bad line", "a failing writer"])
def test_a_batch_that_rolls_back_leaves_the_insert_guards(sqlite_url: str, monkeypatch: Any, how: str) -> None:
    import ledger.application as app

    db = Path(sqlite_url.removeprefix("sqlite:///"))
    ledger = Ledger(sqlite_url, clock=FakeClock())
    ledger.append_lines([line.encode() for line in BIG[:100]])
    everything = triggers(db)
    ledger.parallel_from = 1
    lines = [line.encode() for line in BIG[100:]]
    if how == "a bad line":
        lines.append(b"{not json")
        expected: Any = InvalidInput
    else:
        calls: list[int] = []
        write = app._Writer.write

        def failing(self: Any, pending: Any, contents: Any = None) -> None:
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("the disk is full")
            write(self, pending, contents)

        monkeypatch.setattr(app._Writer, "write", failing)
        expected = RuntimeError
    try:
        with pytest.raises(expected):
            ledger.append_lines(lines)
    finally:
        ledger.close()
    assert triggers(db) == everything
    assert replace_refused(db)


# -- the checkpoint after the commit (SQLite) ------------------------------------------------


def events_in_database_file(db: Path, tmp_path: Path) -> int:
    """Events in the database file alone, without its write-ahead log (a copy of the file)."""
    copy = tmp_path / "file-only.db"
    shutil.copyfile(db, copy)
    conn = sqlite3.connect(copy)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0] if "stored_events" in tables else 0
    finally:
        conn.close()


def test_the_commit_leaves_the_checkpoint_to_the_writer_and_the_ledger_holds_the_batch_without_it(
        sqlite_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    import ledger.store as store_module

    db = Path(sqlite_url.removeprefix("sqlite:///"))
    monkeypatch.setattr(store_module.Store, "checkpoint", lambda self: None)  # a writer killed after its commit
    ledger = Ledger(sqlite_url, clock=FakeClock())
    ledger.parallel_from = 1
    try:
        result = ledger.append_lines([line.encode() for line in BIG])
        assert ledger.wait_for_checkpoints(timeout=60)
        assert result.appended == len(BIG)
        assert events_in_database_file(db, tmp_path) == 0  # all of it is still in the WAL
        assert len(list(ledger.log())) == len(BIG)  # committed: every reader sees it
    finally:
        ledger.close()
    reopened = Ledger(sqlite_url)
    try:
        assert verify(reopened.store).intact
    finally:
        reopened.close()


def test_the_writer_copies_the_batch_into_the_database_file_after_answering(sqlite_url: str, tmp_path: Path) -> None:
    db = Path(sqlite_url.removeprefix("sqlite:///"))
    ledger = Ledger(sqlite_url, clock=FakeClock())
    ledger.parallel_from = 1
    try:
        ledger.append_lines([line.encode() for line in BIG])
        assert ledger.wait_for_checkpoints(timeout=60)
        assert events_in_database_file(db, tmp_path) == len(BIG)
        # ... and gave the log's disk space back, though the clerk's connections are still open
        assert Path(f"{db}-wal").stat().st_size == 0
    finally:
        ledger.close()


def test_a_reader_on_the_log_keeps_it_whole_and_the_next_checkpoint_cuts_it(sqlite_url: str, tmp_path: Path) -> None:
    """The checkpoint never waits: with a reader still on the log it copies the log but leaves
    it as it is; the next one, with no reader, cuts it to nothing."""
    db = Path(sqlite_url.removeprefix("sqlite:///"))
    wal = Path(f"{db}-wal")
    ledger = Ledger(sqlite_url, clock=FakeClock())
    try:
        ledger.append_lines([line.encode() for line in REGISTER])
        reader = sqlite3.connect(db, isolation_level=None)
        try:
            reader.execute("BEGIN")
            count = reader.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
            log, copied = ledger.store.checkpoint()  # type: ignore[misc]
            assert log == copied and wal.stat().st_size > 0  # copied, not cut: the reader is on it
            assert reader.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0] == count == len(REGISTER)
            reader.execute("COMMIT")
        finally:
            reader.close()
        ledger.store.checkpoint()
        assert wal.stat().st_size == 0
        assert len(list(ledger.log())) == len(REGISTER)
    finally:
        ledger.close()


CHECKPOINT_THAT_WAITS = """
import json, os, sys, time
from pathlib import Path
import ledger.store
GO, DONE = Path(sys.argv[1]), Path(sys.argv[2])
checkpoint = ledger.store.Store.checkpoint
def waiting_checkpoint(self):
    for _ in range(600):  # until the test says go (at most a minute)
        if GO.exists():
            break
        time.sleep(0.1)
    DONE.write_text(json.dumps(checkpoint(self)))
ledger.store.Store.checkpoint = waiting_checkpoint
sys.argv = ["ledger", *sys.argv[3:]]
from cli.main import main
main()
"""


def test_the_clerks_command_ends_while_its_writer_goes_on_to_checkpoint(tmp_path: Path) -> None:
    """Whoever reads the command's output sees it end with the command, and the writer process
    outlives the command to checkpoint: here its checkpoint waits until the command has ended
    (were the command's pipes still held by it, ``run`` would never return)."""
    register = tmp_path / "register.jsonl"
    register.write_text("\n".join(BIG) + "\n", encoding="utf-8")
    go, done, db = tmp_path / "go", tmp_path / "done", tmp_path / "ledger.db"
    proc = subprocess.run(
        [sys.executable, "-c", CHECKPOINT_THAT_WAITS, str(go), str(done),
         "--store", f"sqlite:///{db}", "append", str(register), "--actor", "办公室-王敏"],
        cwd=ROOT, capture_output=True, text=True, timeout=50,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"appended {len(BIG)} event(s)" in proc.stdout
    assert not done.exists()
    # The command closed its connections without copying the log itself: its writer, still
    # open, holds the database's shared lock (were that lock only in the clerk's inherited
    # bookkeeping, the clerk closing last would have copied and deleted the log under it).
    assert Path(f"{db}-wal").exists()
    assert events_in_database_file(db, tmp_path) == 0
    go.touch()
    for _ in range(600):
        if done.exists() and done.read_text():
            break
        time.sleep(0.1)
    log, copied = json.loads(done.read_text())  # (frames in the log, frames copied)
    assert log == copied > 0
    assert events_in_database_file(db, tmp_path) == len(BIG)


#: SQLite's POSIX locks (os_unix.c): the shared-lock bytes of the database file, and the
#: "dead man switch" byte of the log's index (``-shm``) that every open connection holds shared.
SHARED_FIRST, SHARED_SIZE, SHM_DMS = 0x40000000 + 2, 510, 120 + 8


def lock_holder(path: Path, start: int, length: int) -> int | None:
    """The pid of another process holding a POSIX lock on these bytes that a write lock would
    meet (the asking process's own locks never count), or None."""
    import fcntl
    import struct

    fd = os.open(path, os.O_RDWR)
    try:
        asked = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, start, length, 0)
        kind, _, _, _, pid = struct.unpack("hhqqi", fcntl.fcntl(fd, fcntl.F_GETLK, asked))
    finally:
        os.close(fd)
    return None if kind == fcntl.F_UNLCK else pid


def test_the_writer_process_takes_its_own_sqlite_locks(sqlite_url: str, monkeypatch: Any) -> None:
    """The forked writer's connection holds real locks on the database and its log's index,
    not only the bookkeeping of the locks its parent held at the fork."""
    import ledger.application as app

    db = Path(sqlite_url.removeprefix("sqlite:///"))
    ledger = Ledger(sqlite_url, clock=FakeClock())
    ledger.append_lines([line.encode() for line in BIG[:100]])  # the clerk's connections are open
    ledger.parallel_from = 1
    writers: list[int] = []
    holders: list[tuple[int | None, int | None]] = []
    writer_init = app._WriterProcess.__init__

    def init(self: Any, owner: Ledger) -> None:
        writer_init(self, owner)
        writers.append(self.pid)
    def probe() -> None:
        holders.append((lock_holder(db, SHARED_FIRST, SHARED_SIZE), lock_holder(Path(f"{db}-shm"), SHM_DMS, 1)))

    monkeypatch.setattr(app._WriterProcess, "__init__", init)
    try:
        assert ledger.append_lines(probed_mid_batch(probe)).appended == len(BIG) - 100
    finally:
        ledger.close()
    assert len(writers) == 1
    assert holders == [(writers[0], writers[0])]


def test_the_clerk_lets_go_of_what_the_batch_knew_while_the_writer_commits(
        pair: Callable[[int], Ledger], monkeypatch: Any) -> None:
    """The checks' knowledge of a large batch (millions of objects for a large register) is freed
    before the clerk waits for the writer's commit, not after the answer."""
    import weakref

    import ledger.application as app

    known: list[weakref.ref[Any]] = []
    alive_while_waiting: list[bool] = []
    checker_init, await_commit = app._Checker.__init__, app._WriterProcess.await_commit

    def init(self: Any, *args: Any) -> None:
        checker_init(self, *args)
        known.append(weakref.ref(self.know))

    def waiting(self: Any) -> app.AppendResult:
        alive_while_waiting.append(known[-1]() is not None)
        return await_commit(self)

    monkeypatch.setattr(app._Checker, "__init__", init)
    monkeypatch.setattr(app._WriterProcess, "await_commit", waiting)
    ledger = pair(TWO)
    result = ledger.append_lines([line.encode() for line in REGISTER])
    assert result.appended == len(REGISTER)
    assert alive_while_waiting == [False]


def test_case_rows_written_before_their_reply_and_updated_by_it_equal_rows_held_until_the_end(
        pair: Callable[[int], Ledger], monkeypatch: Any) -> None:
    """While a batch is appended, a new case's row is held back for ``CaseIndex.hold`` positions
    of the log, so that a reply soon after is folded into it; one written before its reply came
    is updated by the reply. Both ways give the same table, and so does a rebuild (which holds
    every row to the end)."""
    from ledger.store import Tx
    from projections.readmodels import CaseIndex

    held = pair(ONE)
    monkeypatch.setattr(CaseIndex, "hold", 10**12)  # every row held until the batch ends
    held.append_lines([line.encode() for line in BIG])
    updates: list[int] = []
    executemany = Tx.executemany

    def spy(self: Tx, sql: str, rows: Any) -> None:
        if sql.startswith("UPDATE rm_case_index") and rows:
            updates.append(len(rows))
        executemany(self, sql, rows)

    monkeypatch.setattr(Tx, "executemany", spy)
    monkeypatch.setattr(CaseIndex, "hold", 50)
    early = pair(ONE)
    early.append_lines([line.encode() for line in BIG])
    assert sum(updates) > 100  # replies that came after their case's row was written
    assert snapshot(early)["rm_case_index"] == snapshot(held)["rm_case_index"]
    updates.clear()
    early.rebuild()  # one process does all of it: every row is held to the end
    assert updates == []
    assert snapshot(early)["rm_case_index"] == snapshot(held)["rm_case_index"]
