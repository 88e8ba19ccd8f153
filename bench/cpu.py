"""Where a large append's CPU goes: the clerk's process and its writer process, each on its own.

    python -m bench.cpu REPORT.json --store sqlite:///ledger.db append register.jsonl

Runs the ``ledger`` command given after the report's path in this process, as the CLI would,
and writes a JSON report: the clerk's CPU (this process: ``startup`` until the command begins,
``total`` at its end, user and system time together) and, for each writer process the command
forked (a batch of more than one chunk of lines), that process's CPU, its checkpoint after the
commit included. The command's wall time is from the start of the command, not of the process.

A forked process starts with its own resource usage at zero, and the writer ends through
``os._exit`` (no clean-up of the clerk's objects), so that is where its figure is taken: it
appends a line to ``REPORT.writers`` (one per writer), which this process reads once the
writers have ended (they may outlive the command while checkpointing).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from pathlib import Path


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    report, command = Path(argv[0]), argv[1:]
    writers = report.with_name(report.name + ".writers")
    writers.unlink(missing_ok=True)
    clerk = os.getpid()
    real_exit = os._exit

    def exit_reporting(code: int) -> None:
        if os.getpid() != clerk:  # a writer process ending
            with open(writers, "a", encoding="utf-8") as out:
                out.write(json.dumps({"pid": os.getpid(), "cpu": _cpu(), "code": code}) + "\n")
        real_exit(code)

    os._exit = exit_reporting  # type: ignore[assignment]
    from cli.main import main as ledger_main

    startup = _cpu()
    start = time.perf_counter()
    sys.argv = ["ledger", *command]
    code = 0
    try:
        ledger_main()  # exactly as the ``ledger`` script runs it: it ends by SystemExit
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    wall = time.perf_counter() - start
    total = _cpu()
    for thread in threading.enumerate():  # a committed writer's reaper waits for its checkpoint
        if thread.name == "ledger-writer-reaper":
            thread.join(timeout=600)
    forked = [json.loads(line) for line in writers.read_text(encoding="utf-8").splitlines()] \
        if writers.exists() else []
    writers.unlink(missing_ok=True)
    report.write_text(json.dumps({"command": command, "exit": code, "wall": wall,
                                  "clerk": {"startup": startup, "total": total}, "writers": forked},
                                 indent=2), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
