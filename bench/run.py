"""The benchmark runner: every figure next to its baseline from the same run, and the ratio.

    python -m bench.run                       # quick profile (20k events, < 2 minutes)
    python -m bench.run --events 1000000      # the full figures (long; prints progress)
    python -m bench.run --postgres postgresql://postgres@127.0.0.1:5432/test

Each measurement is a function; one that cannot run yet (a module or command that does not
exist, a command that fails) is reported as "(not available: ...)" and the run goes on.
See bench/README.md for what each figure means and the targets it is checked against.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench import baselines
from bench.generate import generate

TZ = ZoneInfo("Asia/Shanghai")
#: Share of the register appended first; the rest is "the next register".
MAIN_SHARE = 0.95
SMALL_LEDGER = 10_000


class Unavailable(Exception):
    """A measurement cannot run (yet)."""


@dataclass
class Row:
    figure: str
    value: str = ""
    baseline: str = ""
    base_value: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


@dataclass
class Bench:
    events: int
    staff: int
    seed: int
    n_queries: int
    runs: int
    postgres: str | None
    workdir: Path
    keep: bool = False
    rows: list[Row] = field(default_factory=list)
    fig: dict[str, float] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    t0: float = field(default_factory=time.perf_counter)

    # -- plumbing ----------------------------------------------------------------------------

    def say(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.t0:7.1f}s] {message}", file=sys.stderr, flush=True)

    def measure(self, name: str, fn: Callable[[], None]) -> None:
        self.say(name)
        try:
            fn()
        except Unavailable as exc:
            self.rows.append(Row(name, f"(not available: {exc})"))
        except Exception as exc:  # a figure that breaks must not stop the others
            self.rows.append(Row(name, f"(not available: {type(exc).__name__}: {str(exc)[:160]})"))

    def add(self, figure: str, value: float, unit: str, baseline: str = "", base: float | None = None,
            target: float | None = None, higher_is_better: bool = True, target_text: str = "",
            note: str = "") -> None:
        """One row: value, baseline, ratio value/baseline, and whether the ratio meets the target."""
        row = Row(figure + (f" {note}" if note else ""), _fmt(value, unit))
        key = figure
        self.results[key] = {"value": value, "unit": unit}
        if base is not None and base > 0:
            ratio = value / base
            row.baseline, row.base_value, row.ratio = baseline, _fmt(base, unit), f"{ratio:.2f}×"
            self.results[key].update(baseline=baseline, base=base, ratio=ratio)
            if target is not None:
                ok = ratio >= target if higher_is_better else ratio <= target
                row.target = target_text or (f"≥ {target:g}×" if higher_is_better else f"≤ {target:g}×")
                row.verdict = "ok" if ok else "MISS"
                self.results[key].update(target=target, ok=ok)
        elif baseline:
            row.baseline = baseline
        self.rows.append(row)

    def add_abs(self, figure: str, value: float, unit: str, limit: float | None = None, note: str = "") -> None:
        """A row checked against an absolute limit (value ≤ limit)."""
        row = Row(figure + (f" {note}" if note else ""), _fmt(value, unit))
        self.results[figure] = {"value": value, "unit": unit}
        if limit is not None:
            row.target = f"≤ {_fmt(limit, unit)}"
            row.verdict = "ok" if value <= limit else "MISS"
            self.results[figure].update(limit=limit, ok=value <= limit)
        self.rows.append(row)

    def ledger_cmd(self) -> list[str]:
        script = Path(sys.executable).parent / "ledger"
        if script.exists():
            return [str(script)]
        found = shutil.which("ledger")
        if found:
            return [found]
        return [sys.executable, "-c", "from cli.main import main; main()"]

    def cli(self, *args: str) -> float:
        """The wall time of one ``ledger`` command."""
        start = time.perf_counter()
        self._ledger(args)
        return time.perf_counter() - start

    def cli_json(self, *args: str) -> Any:
        """What a ``--format json`` command prints, parsed."""
        return json.loads(self._ledger(args).stdout)

    def _ledger(self, args: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run([*self.ledger_cmd(), *args], capture_output=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip().splitlines()
            raise Unavailable(f"`ledger {' '.join(a for a in args if not a.startswith(('sqlite', 'postgres')))}`"
                              f" exited {proc.returncode}: {tail[-1][:160] if tail else ''}")
        return proc

    def cli_vs_version(self, args: Sequence[str], runs: int) -> tuple[float, float]:
        """Median wall of the command and of ``ledger --version``, runs interleaved."""
        self.cli(*args)  # warm the OS caches once
        ours, version = [], []
        for _ in range(runs):
            version.append(self.cli("--version"))
            ours.append(self.cli(*args))
        return statistics.median(ours), statistics.median(version)

    def url(self, name: str) -> str:
        return f"sqlite:///{self.workdir / name}"

    # -- files ---------------------------------------------------------------------------------

    def prepare(self) -> None:
        self.say(f"generating {self.events} events, {self.staff} staff, seed {self.seed}")
        start = time.perf_counter()
        lines = list(generate(self.events, self.staff, self.seed))
        self.fig["generate"] = len(lines) / (time.perf_counter() - start)
        cut = max(1, int(len(lines) * MAIN_SHARE))
        self.main_file = self.workdir / "register.jsonl"
        self.next_file = self.workdir / "next-register.jsonl"
        self.small_file = self.workdir / "small-register.jsonl"
        self.inq_file = self.workdir / "inquiries.jsonl"
        _write(self.main_file, lines[:cut])
        _write(self.next_file, lines[cut:])
        _write(self.small_file, lines[:min(SMALL_LEDGER, cut)])
        self.n_main, self.n_next, self.n_small = cut, len(lines) - cut, min(SMALL_LEDGER, cut)
        self.n_inq = min(self.events, 200_000)
        _write(self.inq_file, list(generate(self.n_inq, self.staff, self.seed, only_inquiries=True)))
        self.cases: list[tuple[str, datetime, bool]] = []  # (case, received, in the main register)
        for i, text in enumerate(lines):
            if '"InquiryReceived"' in text:
                data = json.loads(text)
                if data["type"] == "InquiryReceived":
                    self.cases.append((data["case"], datetime.fromisoformat(data["occurred_at"]), i < cut))
        self.small_cases = [c for c in self.cases[: len(self.cases)] if c[2]][:1000]
        self.first_at = datetime.fromisoformat(json.loads(lines[0])["occurred_at"])
        self.last_at = datetime.fromisoformat(json.loads(lines[-1])["occurred_at"])
        del lines
        self.say(f"register: {self.n_main} + {self.n_next} lines, {len(self.cases)} cases, "
                 f"{self.first_at.date()} .. {self.last_at.date()}")

    # -- write side ------------------------------------------------------------------------------

    def baselines_write(self) -> None:
        n, s = baselines.parse_insert(str(self.main_file), str(self.workdir / "raw.db"))
        self.fig["parse_insert"] = n / s
        n, s = baselines.parse_insert(str(self.inq_file), str(self.workdir / "raw-inq.db"))
        self.fig["parse_insert_inq"] = n / s

    def baselines_context(self) -> None:
        lines = baselines.read_lines(str(self.main_file))
        self.measure_one("pydantic validate_json per line", lambda: baselines.pydantic_validate(lines))
        self.measure_one("json.loads + pydantic validate_python per line (as parse_lines)",
                         lambda: baselines.loads_validate_python(lines))
        self.measure_one("eventsourcing recorder insert_events (ready StoredEvents)",
                         lambda: baselines.recorder_insert(lines, str(self.workdir / "recorder.db")))
        self.measure_one("library by the book: save(*aggregates), 500 per save",
                         lambda: baselines.library_by_the_book(lines, str(self.workdir / "book-batched.db"), 500))
        sample = lines[:50_000]
        note = f"(first {len(sample)} lines)" if len(sample) < len(lines) else ""
        self.measure_one("library by the book: one save() per aggregate",
                         lambda: baselines.library_by_the_book(sample, str(self.workdir / "book.db"), None), note)

    def measure_one(self, name: str, fn: Callable[[], tuple[int, float]], note: str = "") -> None:
        def run() -> None:
            n, s = fn()
            self.add(name, n / s, "ev/s", "parse+insert", self.fig.get("parse_insert"), note=note)
        self.measure(name, run)

    def settle(self, name: str) -> float:
        """Wait until the database file holds what the last append committed: a large batch's
        writer process copies it from the write-ahead log after the command has ended (SQLite's
        checkpoint). Returns the seconds waited, so that the figures show that work too, and
        no later figure runs beside it."""
        start = time.perf_counter()
        conn = sqlite3.connect(self.workdir / name, isolation_level=None)
        try:
            while True:
                try:
                    busy, log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.OperationalError:  # the writer's checkpoint holds the lock
                    busy = 1
                if not busy and log == copied:
                    return time.perf_counter() - start
                time.sleep(0.01)  # the writer is still copying
        finally:
            conn.close()

    def bracketing(self, path: Path, append: Callable[[], float]) -> tuple[float, float, str]:
        """Run ``append`` (returns its wall seconds) between two runs of the parse+insert baseline
        on the same file, just before and just after: the baseline is their mean, so that a
        drift in the machine's speed (on these VMs the same baseline ran at 148k and at 186k ev/s
        within the hour) weighs on both sides of the ratio alike. Returns (append wall, baseline
        rate, a note naming both baseline runs)."""
        rates = []
        for i in range(2):
            if i == 1:
                wall = append()
            n, s = baselines.parse_insert(str(path), str(self.workdir / f"raw-bracket-{i}.db"))
            rates.append(n / s)
        return wall, sum(rates) / 2, f"(baseline: mean of {rates[0]:,.0f} before and {rates[1]:,.0f} after)"

    def append_main(self) -> None:
        started = datetime.now(UTC)

        def append() -> float:
            return self.cli("--store", self.url("ledger.db"), "append", str(self.main_file), "--actor", "bench")

        wall, base, note = self.bracketing(self.main_file, append)
        after = self.settle("ledger.db")
        self.k_before = started - timedelta(seconds=1)
        self.fig["append"] = self.n_main / wall
        self.add("ledger append (CLI, fresh SQLite ledger)", self.n_main / wall, "ev/s",
                 "parse+insert, bracketing", base, target=0.35, note=f"({self.n_main} events) {note}")
        self.add("  the same, against the baseline run at the start", self.n_main / wall, "ev/s",
                 "parse+insert", self.fig.get("parse_insert"))
        self.add("  the same, counting the checkpoint after the command (context)", self.n_main / (wall + after),
                 "ev/s", "parse+insert, bracketing", base, note=f"(+{after:.2f} s)")
        self.results["append_wall_s"] = wall
        self.results["append_checkpoint_after_s"] = after

    def append_next(self) -> None:
        time.sleep(1.1)
        self.k_between = datetime.now(UTC)
        time.sleep(1.1)
        wall = self.cli("--store", self.url("ledger.db"), "append", str(self.next_file), "--actor", "bench")
        self.settle("ledger.db")
        self.add(f"ledger append of the next register onto the {self.n_main}-event ledger", self.n_next / wall,
                 "ev/s", "parse+insert", self.fig.get("parse_insert"), note=f"({self.n_next} events)")

    def append_again(self) -> None:
        """The first register appended again onto its ledger: every line already stored, skipped
        (a clerk re-running a day's import to be sure it went in)."""
        wall = self.cli("--store", self.url("ledger.db"), "append", str(self.main_file), "--actor", "bench")
        self.add("ledger append of the first register again (every line skipped) (context)", self.n_main / wall,
                 "ev/s", "parse+insert", self.fig.get("parse_insert"), note=f"({self.n_main} events)")

    def append_inquiries(self) -> None:
        def append() -> float:
            return self.cli("--store", self.url("inquiries.db"), "append", str(self.inq_file), "--actor", "bench")

        wall, base, note = self.bracketing(self.inq_file, append)
        self.settle("inquiries.db")
        self.add("ledger append, inquiries only (CLI)", self.n_inq / wall, "ev/s",
                 "parse+insert (same file), bracketing", base, target=0.35, note=f"({self.n_inq} events) {note}")

    def append_cpu(self) -> None:
        """The register appended once more onto a fresh ledger, by ``bench.cpu``: the CPU time of
        the clerk's process and of its writer process, each against the command's wall time."""
        report = self.workdir / "append-cpu.json"
        proc = subprocess.run([sys.executable, "-m", "bench.cpu", str(report), "--store", self.url("cpu.db"),
                               "append", str(self.main_file), "--actor", "bench"], capture_output=True)
        if proc.returncode != 0:
            raise Unavailable(f"bench.cpu exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-160:]}")
        found = json.loads(report.read_text(encoding="utf-8"))
        if not found["writers"]:
            raise Unavailable("the append forked no writer process")
        # The wall time is the command's, from after the imports: so is the clerk's figure.
        startup = found["clerk"]["startup"]
        wall, clerk = found["wall"], found["clerk"]["total"] - startup
        writer = sum(w["cpu"] for w in found["writers"])
        cores = os.cpu_count() or 1
        self.results["append_cpu"] = found
        self.add("ledger append: the clerk's CPU (reading, validating, checking) (context)", clerk, "s",
                 "the command's wall", wall, note=f"(after a start-up of {startup:.2f} s)")
        self.add("ledger append: the writer's CPU (chain, inserts, read models, checkpoint) (context)", writer, "s",
                 "the command's wall", wall)
        self.add(f"  both shared perfectly over {cores} cores (context)", (clerk + writer) / cores, "s",
                 "the command's wall", wall)

    def append_small(self) -> None:
        wall = self.cli("--store", self.url("small.db"), "append", str(self.small_file), "--actor", "bench")
        self.settle("small.db")
        self.fig["append_small"] = self.n_small / wall
        self.add(f"ledger append of the first {self.n_small} lines (small ledger)", self.n_small / wall, "ev/s",
                 "parse+insert", self.fig.get("parse_insert"))

    def append_postgres(self, which: str) -> None:
        """The same register appended on PostgreSQL, against the SQLite figure for that file."""
        if not self.postgres:
            raise Unavailable("give --postgres DSN")
        path, n, sqlite_figure = {
            "register": (self.main_file, self.n_main, self.fig.get("append")),
            "small": (self.small_file, self.n_small, self.fig.get("append_small")),
        }[which]
        if sqlite_figure is None:
            raise Unavailable("no SQLite append figure to compare with")
        import psycopg

        schema = "bench_" + uuid.uuid4().hex[:10]
        sep = "&" if "?" in self.postgres else "?"
        url = f"{self.postgres}{sep}schema={schema}"
        try:
            wall = self.cli("--store", url, "append", str(path), "--actor", "bench")
            self.add(f"ledger append on PostgreSQL (CLI), {n} events", n / wall, "ev/s",
                     "the same on SQLite", sqlite_figure, target=1 / 3, target_text="≥ 0.33× (within 3×)")
        finally:
            with psycopg.connect(self.postgres.split("?")[0], autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    # -- rebuild ---------------------------------------------------------------------------------

    def open_ledger(self, name: str) -> Any:
        from ledger.application import Ledger
        from projections.readmodels import default_projectors

        return Ledger(self.url(name), TZ, projectors=default_projectors(TZ))

    def decode_and_rebuild(self) -> None:
        ledger = self.open_ledger("ledger.db")
        try:
            start = time.perf_counter()
            n = sum(1 for _ in ledger.log())
            decode = self.fig["decode"] = n / (time.perf_counter() - start)
            n_raw, s_raw = baselines.raw_decode(str(self.workdir / "ledger.db"), ledger.store.events_table)
            raw = n_raw / s_raw
            start = time.perf_counter()
            count = ledger.rebuild()
            rebuild = count / (time.perf_counter() - start)
        finally:
            ledger.close()
        self.add("Ledger.log() decode (context)", decode, "ev/s", "raw select + json.loads", raw)
        self.add("rebuild every read model", rebuild, "ev/s", "Ledger.log() decode", decode, target=0.8,
                 note=f"({count} events)")
        self.add("rebuild every read model, vs raw", rebuild, "ev/s", "raw select + json.loads", raw)

    # -- read side -------------------------------------------------------------------------------

    def queries(self) -> Any:
        try:
            from projections.queries import Queries
        except Exception as exc:
            raise Unavailable(f"projections.queries: {type(exc).__name__}: {exc}") from None
        return Queries

    def triples(
        self, cases: Sequence[tuple[str, datetime, bool]], n: int
    ) -> list[tuple[str, datetime, datetime | None]]:
        rng = random.Random(self.seed)
        out = []
        for _ in range(n):
            case, received, _ = rng.choice(cases)
            # Mostly during the case's life; a few before its receipt.
            at = received + timedelta(hours=rng.uniform(-24, 0) if rng.random() < 0.05 else rng.uniform(0, 24 * 45))
            roll = rng.random()
            known_at: datetime | None
            if roll < 0.4:
                known_at = None
            elif roll < 0.8:
                known_at = getattr(self, "k_between", None)
            elif roll < 0.9:
                known_at = getattr(self, "k_before", None)  # before anything was recorded
            else:
                known_at = datetime.now(UTC)
            out.append((case, at, known_at))
        return out

    def in_process(self, what: str) -> None:
        queries_cls = self.queries()
        ledger = self.open_ledger("ledger.db")
        try:
            q = queries_cls(ledger)
            fn = getattr(q, what)
            triples = self.triples(self.cases, self.n_queries)
            _ask(fn, *triples[0])  # warm-up: imports, caches
            times = []
            refused = 0
            for case, at, known_at in triples:
                start = time.perf_counter()
                answered = _ask(fn, case, at, known_at)
                times.append(time.perf_counter() - start)
                refused += not answered
        finally:
            ledger.close()
        times.sort()
        p50, p95 = times[len(times) // 2], times[int(len(times) * 0.95) - 1]
        size = (f"({len(times)} random case/at/known_at, {refused} answered 'not known then', "
                f"{self.n_main + self.n_next}-event ledger)")
        self.add_abs(f"{what} in-process p50", p50, "s", note=size)
        self.add_abs(f"{what} in-process p95", p95, "s", limit=0.005)

    def cli_query(self, what: str) -> None:
        """``ledger --version``, the command on the small ledger and on the large one, interleaved."""
        small = self.small_cases or self.cases
        case, received, _ = small[len(small) // 2]
        at = (received + timedelta(days=3)).isoformat()
        if what == "who":
            args = ["who", case, "--at", at, "--format", "json"]
        else:
            args = ["findings", "--case", case, "--at", at, "--format", "json"]
        large_args = ["--store", self.url("ledger.db"), *args]
        small_args = ["--store", self.url("small.db"), *args]
        self.cli(*large_args)  # warm the OS caches; fails early if the command is missing
        self.cli(*small_args)
        version, large, little = [], [], []
        for _ in range(self.runs):
            version.append(self.cli("--version"))
            large.append(self.cli(*large_args))
            little.append(self.cli(*small_args))
        v, big, sm = statistics.median(version), statistics.median(large), statistics.median(little)
        self.add(f"ledger {what} CLI wall, {self.n_main + self.n_next} events", big, "s", "ledger --version", v,
                 target=1.5, higher_is_better=False)
        self.add(f"ledger {what} CLI wall, {self.n_small} events", sm, "s", "ledger --version", v,
                 target=1.5, higher_is_better=False)
        self.add(f"ledger {what} CLI wall, large vs small ledger", big, "s", f"same on {self.n_small} events",
                 sm, target=1.2, higher_is_better=False, target_text="≈ 1× (≤ 1.2×)")

    def overdue(self) -> None:
        """``overdue`` at an instant late in the register, as known now and as known between the
        two appends (the next register holds corrections of earlier events): the same cases from
        the CLI as from the queries in-process, and the CLI's wall time."""
        queries_cls = self.queries()
        at = self.first_at + (self.last_at - self.first_at) * 0.9
        n_cases = len(self.cases)
        asked: list[tuple[str, datetime | None]] = [("", None)]
        if hasattr(self, "k_between"):
            asked.append((", as known between the two appends (--known-at)", self.k_between))
        for label, known_at in asked:
            ledger = self.open_ledger("ledger.db")
            try:
                start = time.perf_counter()
                rows = queries_cls(ledger).overdue(at, known_at)
                inproc = time.perf_counter() - start
            finally:
                ledger.close()
            self.add_abs(f"overdue in-process{label}", inproc, "s", note=f"({n_cases} cases, {len(rows)} overdue)")
            args = ["--store", self.url("ledger.db"), "overdue", "--at", at.isoformat(), "--format", "json"]
            if known_at is not None:
                args += ["--known-at", known_at.isoformat()]
            listed = self.cli_json(*args)
            if sorted(r["case"] for r in listed) != sorted(r["case"] for r in rows):
                raise Unavailable(f"`ledger overdue{label}` listed {len(listed)} cases, the queries {len(rows)}")
            ours, version = self.cli_vs_version(args, max(3, self.runs // 2))
            note = "" if n_cases >= 100_000 else f"({n_cases} cases; the target is for 100k)"
            self.add(f"ledger overdue CLI wall{label}", ours, "s", "ledger --version", version, target=5,
                     higher_is_better=False, note=note)

    def export(self) -> None:
        """``ledger export parquet`` of the large ledger into a fresh folder, its snapshots at the
        instant ``overdue`` asks: its overdue table must list the cases ``ledger overdue`` lists,
        then its wall time, per event and per case (context: the issue sets no target for it)."""
        at = (self.first_at + (self.last_at - self.first_at) * 0.9).isoformat()
        folder = self.workdir / "export"
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        self._ledger(["--store", self.url("ledger.db"), "export", "parquet", str(folder), "--at", at, "--quiet"])
        wall = time.perf_counter() - start
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        events = sum(run["rows"] for run in manifest["events"]["runs"])
        rows = {f["table"]: f["rows"] for f in manifest["files"] if f.get("snapshot")}
        import pyarrow.parquet as pq  # (only here: the runner's other figures need no pyarrow)

        exported = pq.read_table(folder / "overdue.parquet", columns=["case_id"]).column("case_id").to_pylist()
        listed = self.cli_json("--store", self.url("ledger.db"), "overdue", "--at", at, "--format", "json")
        if sorted(exported) != sorted(r["case"] for r in listed):
            raise Unavailable(f"the export's overdue table holds {len(exported)} cases, `ledger overdue` "
                              f"lists {len(listed)}")
        shutil.rmtree(folder, ignore_errors=True)
        note = (f"({events} events, {rows['cases']} cases, {rows['responsibility']} responsibility intervals, "
                f"{rows['overdue']} overdue; snapshots at the overdue instant)")
        self.add_abs("ledger export parquet (CLI) wall (context)", wall, "s", note=note)
        self.add("ledger export parquet (CLI), events per second of its wall (context)", events / wall, "ev/s",
                 "Ledger.log() decode", self.fig.get("decode"))
        self.add("ledger export parquet (CLI), cases per second of its wall (context)", rows["cases"] / wall,
                 "cases/s")

    # -- profile ---------------------------------------------------------------------------------

    def profile_append(self, top: int = 30) -> str:
        from ledger.application import Ledger
        from projections.readmodels import default_projectors

        lines = baselines.read_lines(str(self.main_file))
        ledger = Ledger(self.url("profile.db"), TZ, projectors=default_projectors(TZ))
        prof = cProfile.Profile()
        try:
            prof.enable()
            ledger.append_lines(lines, actor="bench")
            prof.disable()
        finally:
            ledger.close()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
        return out.getvalue()

    # -- the run ---------------------------------------------------------------------------------

    def run(self, profile: bool) -> None:
        self.prepare()
        self.add("generate (context)", self.fig["generate"], "ev/s")
        self.measure("parse+insert baseline (raw sqlite3, one transaction)", self.baselines_write)
        if "parse_insert" in self.fig:
            self.add("parse+insert baseline (json.loads + raw sqlite3 executemany, 1 tx)",
                     self.fig["parse_insert"], "ev/s")
        self.baselines_context()
        self.measure("ledger append", self.append_main)
        self.measure("ledger append, next register", self.append_next)
        self.measure("ledger append of the register again", self.append_again)
        self.measure("ledger append, inquiries only", self.append_inquiries)
        self.measure("ledger append: CPU of each process", self.append_cpu)
        self.measure("ledger append, small ledger", self.append_small)
        self.measure(f"ledger append on PostgreSQL, first {self.n_small} lines",
                     lambda: self.append_postgres("small"))
        self.measure("ledger append on PostgreSQL (CLI), the register", lambda: self.append_postgres("register"))
        self.measure("rebuild vs decode", self.decode_and_rebuild)
        self.measure("who in-process", lambda: self.in_process("who"))
        self.measure("findings --case in-process", lambda: self.in_process("findings"))
        for what in ("who", "findings"):
            self.measure(f"ledger {what} CLI wall", lambda w=what: self.cli_query(w))
        self.measure("overdue", self.overdue)
        self.measure("ledger export parquet", self.export)
        print(self.table())
        if profile:
            self.say("profiling Ledger.append_lines on the register")
            print(self.profile_append())

    def table(self) -> str:
        headers = ("figure", "value", "baseline (same run)", "baseline value", "ratio", "target", "")
        rows = [headers, *[(r.figure, r.value, r.baseline, r.base_value, r.ratio, r.target, r.verdict)
                           for r in self.rows]]
        measured = [row for row in rows if not row[1].startswith("(not available")]
        widths = [max(_width(row[i]) for row in measured) for i in range(len(headers))]
        lines = []
        for j, row in enumerate(rows):
            if row[1].startswith("(not available"):
                lines.append(f"{_pad(row[0], widths[0])}  {row[1][:200]}")
                continue
            cells = [_pad(str(c), w) for c, w in zip(row, widths, strict=True)]
            lines.append("  ".join(cells).rstrip())
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        head = (f"ledger benchmarks: {self.events} events, {self.staff} staff, seed {self.seed}, "
                f"python {sys.version.split()[0]}, {os.cpu_count()} cpu")
        return head + "\n" + "\n".join(lines)


def _ask(fn: Callable[..., Any], *args: Any) -> bool:
    """Ask one question; a refusal with a reason (case not known then) is an answer too."""
    try:
        fn(*args)
        return True
    except Exception as exc:
        if isinstance(exc, LookupError) or type(exc).__module__.split(".")[0] in ("projections", "ledger"):
            return False
        raise


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:,.0f} {unit}"


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _write(path: Path, lines: Sequence[str]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for text in lines:
            handle.write(text + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=None, help="register size (default 20000, the quick profile)")
    parser.add_argument("--quick", action="store_true", help="the quick profile: 20000 events, 5 CLI runs")
    parser.add_argument("--staff", type=int, default=None, help="staff (default: max(200, events // 3000))")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=200, help="random (case, at, known_at) per query kind")
    parser.add_argument("--runs", type=int, default=None, help="CLI runs per median (default 11; quick 5)")
    parser.add_argument("--postgres", metavar="DSN", help="also append on PostgreSQL (a schema of its own, dropped)")
    parser.add_argument("--profile", action="store_true", help="cProfile Ledger.append_lines on the register")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--workdir", help="keep the files and databases here (default: a temporary folder)")
    args = parser.parse_args(argv)
    events = 20_000 if args.quick or args.events is None else args.events
    runs = args.runs or (5 if args.quick or args.events is None else 11)
    staff = args.staff or max(200, events // 3000)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(events, staff, args.seed, args.queries, runs, args.postgres, workdir, keep=bool(args.workdir))
    try:
        bench.run(args.profile)
        if args.json:
            Path(args.json).write_text(json.dumps(bench.results, indent=2, default=str), encoding="utf-8")
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
