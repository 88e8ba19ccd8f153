"""Crash safety: a clerk's process killed (SIGKILL) halfway through a large append.

A batch is one database transaction, so a process that dies inside it leaves the ledger
exactly as it was: same events, same head digest, chain intact. Running the same append
again completes it; a third run finds every id already stored and appends nothing.
The kill is real and lands inside the transaction, before the batch could be committed: the
clerk's process is still reading its register, and the writer holds the write lock (SQLite: the
database's; PostgreSQL: the events table's). A large batch is
stored by a writer process of the clerk's; it dies with it, and its transaction rolls back.
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


def sqlite_locked(store_url: str) -> Callable[[], bool]:
    """True while another connection holds the write lock: a batch's transaction is open
    (its rows sit in the writer's page cache until the commit)."""
    path = store_url[len("sqlite:///"):]

    def probe() -> bool:
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


def postgres_locked(store_url: str) -> Callable[[], bool]:
    """True while another session holds the events table's write lock: a batch's transaction is open."""
    import psycopg

    schema = store_url.rsplit("schema=", 1)[1]
    conn = psycopg.connect(store_url.split("?", 1)[0], autocommit=True)

    def probe() -> bool:
        row = conn.execute(
            "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n"
            " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = 'ledger_events'"
            " AND l.mode = 'ExclusiveLock' AND l.granted AND l.pid <> pg_backend_pid()", (schema,)).fetchone()
        return row is not None

    return probe


def still_reading(proc: subprocess.Popen[str], path: Path) -> Callable[[], bool]:
    """True while the clerk's process has read less than 80% of the register: it has not yet
    finished checking it, so it cannot have told its writer to commit (a large batch is
    stored by a writer process that commits only when told, once every line is checked)."""
    size = path.stat().st_size

    def probe() -> bool:
        fds = Path(f"/proc/{proc.pid}/fd")
        try:
            for fd in fds.iterdir():
                if fd.resolve() == path.resolve():
                    info = (Path(f"/proc/{proc.pid}/fdinfo") / fd.name).read_text()
                    position = int(info.split("pos:")[1].split()[0])
                    return position < 0.8 * size
        except (FileNotFoundError, ProcessLookupError):
            return False
        return False

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
    reading = still_reading(proc, path)
    if store_url.startswith("sqlite"):
        writing = sqlite_locked(store_url)
    else:
        writing = postgres_locked(store_url)
    kill_mid_transaction(proc, lambda: writing() and reading(), linger=0)

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


SMALL_PAGE_CACHE = """
import sys
import ledger.store
ledger.store.SQLITE_WRITE_CACHE_KIB = 256  # the writer spills its pages into the WAL early and often
sys.argv = ["ledger", *sys.argv[1:]]
from cli.main import main
main()
"""


def test_a_writer_killed_after_spilling_pages_into_the_wal_leaves_the_ledger_as_before(
    sqlite_url: str, tmp_path: Path
) -> None:
    """SQLite: a large batch's writer writes pages into the write-ahead log before its commit
    (its page cache is bounded); killed then, those pages never count (no commit frame)."""
    from ledger.application import Ledger
    from projections.readmodels import default_projectors

    ledger = Ledger(sqlite_url, projectors=default_projectors(None))
    ledger.append_lines(jsonl(*BASE, inquiry("C1"), inquiry("C2")), actor="setup")
    before_count, before_head = sum(1 for _ in ledger.log()), head(ledger.store)
    wal = Path(sqlite_url.removeprefix("sqlite:///") + "-wal")
    wal_before = wal.stat().st_size if wal.exists() else 0
    path = register(tmp_path / "register.jsonl")
    proc = subprocess.Popen(
        [sys.executable, "-c", SMALL_PAGE_CACHE, "--store", sqlite_url, "append", str(path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )
    reading, writing = still_reading(proc, path), sqlite_locked(sqlite_url)

    def spilled() -> bool:
        return wal.exists() and wal.stat().st_size > wal_before + 200 * 4096

    kill_mid_transaction(proc, lambda: writing() and reading() and spilled(), linger=0)
    assert sum(1 for _ in ledger.log()) == before_count, "a killed batch left events behind"
    assert head(ledger.store) == before_head
    assert verify(ledger.store).intact
    ledger.close()
    reopened = Ledger(sqlite_url, projectors=default_projectors(None))
    try:
        assert sum(1 for _ in reopened.log()) == before_count
        result = reopened.append_lines(path.read_text(encoding="utf-8").splitlines())
        assert result.appended == LINES
        assert verify(reopened.store).intact
    finally:
        reopened.close()
