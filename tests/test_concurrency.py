"""Concurrent clerks: real processes appending to one store at the same time.

Each `ledger append` takes the store's write lock before it reads what the ledger knows,
so batches queue: none is lost, duplicated or interleaved with another, every stream's
versions stay gapless, and the hash chain links batch after batch. A batch that clashes
with one committed just before it (the same case opened twice) is checked against it and
refused with an ordinary line error. Runs on SQLite (several processes on one file) and on
PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from ledger.integrity import verify
from tests.ledger_helpers import BASE, inquiry, jsonl

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4
CASES_PER_WORKER = 100  # three events each: 300 per batch


def worker_events(worker: int) -> list[dict[str, Any]]:
    """A clerk's batch: new cases of its own, plus events on the case every clerk touches."""
    events: list[dict[str, Any]] = []
    for n in range(CASES_PER_WORKER):
        case = f"W{worker}-{n:04d}"
        events.append(inquiry(case, id=f"w{worker}-in-{n}"))
        events.append({"type": "HandedOff", "id": f"w{worker}-ho-{n}", "occurred_at": "2024-03-04T10:00:00+08:00",
                       "case": case, "from": "s-a", "to": "s-b"})
        events.append({"type": "MaterialsRequested", "id": f"w{worker}-mr-{n}",
                       "occurred_at": "2024-03-04T11:00:00+08:00", "case": "SHARED", "by": "s-a",
                       "items": [f"申请表 {worker}-{n}"]})
    return events


def start_append(store_url: str, path: Path, actor: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "--store", store_url, "append", str(path), "--actor", actor],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )


def write(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(jsonl(*events)) + "\n", encoding="utf-8")
    return path


def test_parallel_clerks_never_lose_duplicate_or_interleave_a_batch(
    open_ledger: Any, store_url: str, tmp_path: Path
) -> None:
    ledger = open_ledger()
    ledger.append_lines(jsonl(*BASE, inquiry("SHARED")), actor="setup")
    base = len(BASE) + 1
    files = [write(tmp_path / f"clerk{w}.jsonl", worker_events(w)) for w in range(WORKERS)]

    started = time.monotonic()
    procs = [start_append(store_url, path, f"clerk{w}") for w, path in enumerate(files)]
    outputs = [p.communicate(timeout=120) for p in procs]
    elapsed = time.monotonic() - started
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert f"appended {3 * CASES_PER_WORKER} event(s)" in out

    records = list(ledger.log())
    assert len(records) == base + WORKERS * 3 * CASES_PER_WORKER
    ids = [r.event_id for r in records]
    assert len(ids) == len(set(ids)), "an event was stored twice"
    expected = {e["id"] for w in range(WORKERS) for e in worker_events(w)}
    assert expected <= set(ids), "an event was lost"

    by_clerk: dict[str, list[int]] = defaultdict(list)
    for r in records[base:]:
        by_clerk[r.recorded_by].append(r.seq)
    assert sorted(by_clerk) == [f"clerk{w}" for w in range(WORKERS)]
    for clerk, seqs in by_clerk.items():
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"{clerk}'s batch was interleaved"
        assert len({r.recorded_at for r in records if r.recorded_by == clerk}) == 1

    shared = sorted(r.version for r in records if r.stream == "case:SHARED")
    assert shared == list(range(1, 2 + WORKERS * CASES_PER_WORKER)), "the shared case's versions have gaps"
    result = verify(ledger.store)
    assert result.intact, result.first_bad
    assert elapsed < 60


def test_a_clash_on_the_same_case_is_reported_to_the_later_clerk(
    open_ledger: Any, store_url: str, tmp_path: Path
) -> None:
    ledger = open_ledger()
    ledger.append_lines(jsonl(*BASE), actor="setup")
    batches = []
    for w in range(2):
        events = [inquiry("CLASH", id=f"clash-{w}", matter=f"第{w}位办事员登记的事项")]
        events += [inquiry(f"OWN-{w}-{n}", id=f"own-{w}-{n}") for n in range(150)]
        batches.append(write(tmp_path / f"clash{w}.jsonl", events))

    procs = [start_append(store_url, path, f"clerk{w}") for w, path in enumerate(batches)]
    outputs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], outputs
    loser = next(w for w, p in enumerate(procs) if p.returncode == 1)
    winner = 1 - loser
    err = outputs[loser][1]
    assert f"{batches[loser]}: line 1: case: case 'CLASH' was already received (event clash-{winner})" in err
    assert "nothing was written" in err

    records = list(ledger.log())
    assert len(records) == len(BASE) + 151
    assert {r.recorded_by for r in records[len(BASE):]} == {f"clerk{winner}"}
    assert verify(ledger.store).intact


def test_many_small_appends_at_once_keep_one_chain(open_ledger: Any, store_url: str, tmp_path: Path) -> None:
    """Eight processes, one event each, racing for the head: every link still holds."""
    ledger = open_ledger()
    ledger.append_lines(jsonl(*BASE), actor="setup")
    files = [write(tmp_path / f"one{w}.jsonl", [inquiry(f"ONE-{w}", id=f"one-{w}")]) for w in range(8)]
    procs = [start_append(store_url, path, f"clerk{w}") for w, path in enumerate(files)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    records = list(ledger.log())
    assert len(records) == len(BASE) + 8
    assert json.dumps(verify(ledger.store).as_json()["first_bad"]) == "null"
