"""The runner's measurements that the README's figures come from: ``bench.cpu`` and the rows
built on it (the CPU time of a large append's clerk process and of its writer process, each
measured in that process), and ``overdue`` as known now and as known earlier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.generate import generate
from bench.run import Bench, Unavailable
from ledger.application import CHUNK, Ledger

ROOT = Path(__file__).resolve().parent.parent
LARGE = list(generate(2 * CHUNK + 500, 40, seed=11))  # more than one chunk: a writer process


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _cpu(tmp_path: Path, register: Path, store: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    report = tmp_path / "cpu.json"
    proc = subprocess.run([sys.executable, "-m", "bench.cpu", str(report), "--store", store, "append",
                           str(register)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    return proc, json.loads(report.read_text(encoding="utf-8"))


def _stored(url: str) -> int:
    ledger = Ledger(url)
    try:
        return sum(1 for _ in ledger.log())
    finally:
        ledger.close()


def test_a_large_append_reports_the_clerk_and_its_writer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    proc, report = _cpu(tmp_path, _write(tmp_path / "r.jsonl", LARGE), url)
    assert proc.returncode == 0, proc.stderr
    assert f"appended {len(LARGE)} event(s)" in proc.stdout  # the command ran as the CLI runs it
    assert _stored(url) == len(LARGE)
    assert report["exit"] == 0 and report["wall"] > 0
    clerk = report["clerk"]
    assert 0 < clerk["startup"] < clerk["total"]
    [writer] = report["writers"]
    assert writer["code"] == 0 and writer["cpu"] > 0 and writer["pid"] != os.getpid()
    assert not (tmp_path / "cpu.json.writers").exists()


def test_a_small_append_has_no_writer_and_a_failing_one_its_exit_code(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'small.db'}"
    proc, report = _cpu(tmp_path, _write(tmp_path / "s.jsonl", LARGE[:100]), url)
    assert proc.returncode == 0 and report["writers"] == []
    proc, report = _cpu(tmp_path, _write(tmp_path / "bad.jsonl", ['{"type": "Nope"}']), url)
    assert proc.returncode == 1 and report["exit"] == 1
    assert "line 1: type" in proc.stderr and _stored(url) == 100


def _bench(tmp_path: Path, lines: list[str]) -> Bench:
    bench = Bench(len(lines), 40, 11, 1, 1, None, tmp_path)
    bench.main_file = _write(tmp_path / "register.jsonl", lines)
    return bench


def test_the_runner_prints_each_process_against_the_wall(tmp_path: Path) -> None:
    bench = _bench(tmp_path, LARGE)
    bench.append_cpu()
    clerk, writer, shared = bench.rows
    found = bench.results["append_cpu"]
    wall = found["wall"]
    assert clerk.figure.startswith("ledger append: the clerk's CPU") and "start-up" in clerk.figure
    assert writer.figure.startswith("ledger append: the writer's CPU")
    assert shared.figure.startswith(f"  both shared perfectly over {os.cpu_count()} cores")
    for row in (clerk, writer, shared):
        assert row.baseline == "the command's wall"
    own = found["clerk"]["total"] - found["clerk"]["startup"]
    assert bench.results[clerk.figure.split(" (after")[0]]["ratio"] == pytest.approx(own / wall)
    both = (own + found["writers"][0]["cpu"]) / (os.cpu_count() or 1)
    assert bench.results[shared.figure]["value"] == pytest.approx(both)


def test_the_runner_says_when_no_writer_was_forked(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="no writer process"):
        _bench(tmp_path, LARGE[:100]).append_cpu()


@pytest.fixture(scope="module")
def appended(tmp_path_factory: pytest.TempPathFactory) -> Bench:
    """A small run's register and next register, appended one after the other."""
    bench = Bench(3000, 40, 5, 1, 1, None, tmp_path_factory.mktemp("bench"))
    bench.prepare()
    bench.append_main()
    bench.append_next()
    bench.rows.clear()
    return bench


def test_overdue_is_measured_as_known_now_and_as_known_between_the_appends(appended: Bench) -> None:
    appended.overdue()
    figures = [row.figure for row in appended.rows]
    appended.rows.clear()
    assert [f.split(" (")[0] for f in figures] == [
        "overdue in-process", "ledger overdue CLI wall", "overdue in-process, as known between the two appends",
        "ledger overdue CLI wall, as known between the two appends",
    ]
    assert "(--known-at)" in figures[3]


def test_overdue_asks_the_cli_as_known_at_that_instant(appended: Bench, monkeypatch: pytest.MonkeyPatch) -> None:
    """Known before anything was recorded, no case is overdue: the CLI must be asked so too."""
    monkeypatch.setattr(appended, "k_between", appended.k_before)
    appended.overdue()
    rows = appended.rows[:]
    appended.rows.clear()
    assert rows[2].figure.endswith(", 0 overdue)") and rows[3].verdict in ("ok", "MISS")


def test_overdue_refuses_a_cli_answer_that_differs_from_the_queries(
    appended: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = appended.cli_json("--store", appended.url("ledger.db"), "overdue", "--at",
                               (appended.first_at + (appended.last_at - appended.first_at) * 0.9).isoformat(),
                               "--format", "json")
    assert listed, "the small register has overdue cases"
    monkeypatch.setattr(appended, "cli_json", lambda *args: listed[1:])
    with pytest.raises(Unavailable, match=f"listed {len(listed) - 1} cases, the queries {len(listed)}"):
        appended.overdue()
    appended.rows.clear()


def test_the_export_is_measured_once_its_overdue_table_matches_the_cli(appended: Bench) -> None:
    appended.fig["decode"] = 1.0
    appended.export()
    wall, per_event, per_case = appended.rows[:]
    appended.rows.clear()
    assert wall.figure.startswith("ledger export parquet (CLI) wall (context)")
    stored = _stored(appended.url("ledger.db"))
    assert f"({stored} events, " in wall.figure
    assert appended.results["ledger export parquet (CLI), events per second of its wall (context)"] == {
        "value": pytest.approx(stored / appended.results["ledger export parquet (CLI) wall (context)"]["value"]),
        "unit": "ev/s", "baseline": "Ledger.log() decode", "base": 1.0,
        "ratio": pytest.approx(stored / appended.results["ledger export parquet (CLI) wall (context)"]["value"]),
    }
    assert per_case.value.endswith("cases/s")
    assert not (appended.workdir / "export").exists()  # (a large export's files are not kept)


def test_the_export_refuses_an_overdue_table_that_differs_from_the_cli(
    appended: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = appended.cli_json
    monkeypatch.setattr(appended, "cli_json", lambda *args: real(*args)[1:])
    with pytest.raises(Unavailable, match="the export's overdue table holds"):
        appended.export()
    assert not appended.rows
