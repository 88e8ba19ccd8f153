"""Crash safety: a clerk's process killed (SIGKILL) halfway through a large append.

A batch is one database transaction, so a process that dies inside it leaves the ledger
exactly as it was: same events, same head digest, chain intact. Running the same append
again completes it; a third run finds every id already stored and appends nothing.
The kill is real and lands while the process is inserting rows it has not committed (SQLite:
it holds the write lock and its pages spill into the write-ahead log; PostgreSQL: the events
sequence has moved past the head).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.integrity import head, verify
from tests.ledger_helpers import BASE, inquiry, jsonl

ROOT = Path(__file__).resolve().parent.parent
LINES = 20_000


def register(path: Path) -> Path:
    """Reference data (already stored: skipped) then many new cases."""
    events = [*BASE, *(inquiry(f"BIG-{n:06d}", id=f"big-{n}") for n in range(LINES))]
    path.write_text("\n".join(jsonl(*events)) + "\n", encoding="utf-8")
    return path


def append(store_url: str, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "--store", store_url, "append", str(path), "--actor", "办公室-王敏"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )


def sqlite_inserting(store_url: str) -> Callable[[], bool]:
    """True once another connection, holding the write lock, has spilled over a megabyte of
    uncommitted pages into the write-ahead log: it is inserting rows, and has not committed."""
    path = store_url[len("sqlite:///"):]
    wal = Path(path + "-wal")
    baseline = wal.stat().st_size if wal.exists() else 0

    def probe() -> bool:
        if not wal.exists() or wal.stat().st_size < baseline + 1_000_000:
            return False
        conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return True
        finally:
            conn.close()

    return probe


def postgres_inserting(store_url: str, before: int) -> Callable[[], bool]:
    """True once rows have been inserted past ``before`` (uncommitted: sequences ignore transactions)."""
    import psycopg

    schema = store_url.rsplit("schema=", 1)[1]
    conn = psycopg.connect(store_url.split("?", 1)[0], autocommit=True)
    (sequence,) = conn.execute("SELECT pg_get_serial_sequence(%s, 'notification_id')",
                               (f'"{schema}".ledger_events',)).fetchone() or (None,)
    assert sequence

    def probe() -> bool:
        row = conn.execute(f"SELECT last_value FROM {sequence}").fetchone()
        return bool(row and row[0] > before + 100)

    return probe


def kill_mid_transaction(proc: subprocess.Popen[str], in_transaction: Callable[[], bool], linger: float) -> None:
    deadline = time.monotonic() + 120
    while not in_transaction():
        assert proc.poll() is None, f"the append ended before it could be killed: {proc.communicate()}"
        assert time.monotonic() < deadline, "the append never started writing"
        time.sleep(0.01)
    time.sleep(linger)  # deeper into the transaction
    assert proc.poll() is None, "the append finished before the kill: make the register larger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_a_killed_append_leaves_the_ledger_as_before_and_can_be_rerun(
    open_ledger: Any, store_url: str, tmp_path: Path
) -> None:
    ledger = open_ledger()
    ledger.append_lines(jsonl(*BASE, inquiry("C1"), inquiry("C2")), actor="setup")
    before_count = sum(1 for _ in ledger.log())
    before_head = head(ledger.store)
    path = register(tmp_path / "register.jsonl")

    proc = append(store_url, path)
    if store_url.startswith("sqlite"):
        kill_mid_transaction(proc, sqlite_inserting(store_url), linger=0.02)
    else:
        kill_mid_transaction(proc, postgres_inserting(store_url, before_count), linger=0.02)

    assert sum(1 for _ in ledger.log()) == before_count, "a killed batch left events behind"
    assert head(ledger.store) == before_head
    assert verify(ledger.store).intact

    again = subprocess.run(
        [sys.executable, "-m", "cli.main", "--store", store_url, "append", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ},
    )
    assert again.returncode == 0, again.stderr
    assert f"appended {LINES} event(s)" in again.stdout
    assert f"{len(BASE)} already in the ledger, skipped" in again.stdout

    third = subprocess.run(
        [sys.executable, "-m", "cli.main", "--store", store_url, "append", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ},
    )
    assert third.returncode == 0, third.stderr
    assert f"appended 0 event(s); {LINES + len(BASE)} already in the ledger, skipped" in third.stdout

    result = verify(ledger.store)
    assert result.intact and result.checked == before_count + LINES
    assert result.head != before_head
