"""Baselines measured in the same run as the ledger's figures, on the same files.

Each function does the least work that the ledger's figure can be fairly compared with:
parsing the JSON Lines and inserting rows with raw ``sqlite3``; pydantic validation alone;
the ``eventsourcing`` recorder inserting ready stored events; the library used by the book
(an ``Application`` with a trivial aggregate); and reading the notification log back.
Every function returns (events, seconds).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

STREAM_FIELDS = ("case", "staff", "post", "unit", "policy", "year")


def read_lines(path: str) -> list[bytes]:
    with open(path, "rb") as handle:
        return [line for line in handle if line.strip()]


def stream_of(data: dict[str, Any]) -> str:
    """The stream a line belongs to, as the ledger names it (corrections: their own stream here)."""
    for name in STREAM_FIELDS:
        if name in data:
            return f"{name}:{data[name]}"
    return f"{data.get('type', 'event')}:{data.get('target', '')}"


def parse_insert(path: str, db_path: str) -> tuple[int, float]:
    """Read the file, ``json.loads`` each line, ``executemany`` into one table in one transaction."""
    start = time.perf_counter()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, id TEXT, type TEXT,"
                 " occurred_at TEXT, body TEXT)")
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            data = json.loads(line)
            rows.append((data.get("id"), data["type"], data["occurred_at"], line))
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO events (id, type, occurred_at, body) VALUES (?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()
    return len(rows), time.perf_counter() - start


def loads_validate_python(lines: Sequence[bytes]) -> tuple[int, float]:
    """What the checked reader (``ledger.interchange.parse_event``) does per line: decode, then ``validate_python``."""
    from zoneinfo import ZoneInfo

    from ledger.events import DEFAULT_TZ, EVENT_ADAPTER

    context = {"tz": ZoneInfo(DEFAULT_TZ)}
    validate = EVENT_ADAPTER.validate_python
    start = time.perf_counter()
    for line in lines:
        validate(json.loads(line), context=context)
    return len(lines), time.perf_counter() - start


def pydantic_validate(lines: Sequence[bytes]) -> tuple[int, float]:
    """The ledger's own pydantic models, ``validate_json`` on each line, nothing else."""
    from zoneinfo import ZoneInfo

    from ledger.events import DEFAULT_TZ, EVENT_ADAPTER

    context = {"tz": ZoneInfo(DEFAULT_TZ)}
    validate = EVENT_ADAPTER.validate_json
    start = time.perf_counter()
    for line in lines:
        validate(line, context=context)
    return len(lines), time.perf_counter() - start


def _sqlite_env(db_path: str) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db_path}


def recorder_insert(lines: Sequence[bytes], db_path: str) -> tuple[int, float]:
    """The library's SQLite application recorder: ``insert_events`` of ready ``StoredEvent`` s."""
    from eventsourcing.persistence import InfrastructureFactory, StoredEvent
    from eventsourcing.utils import Environment

    env = Environment("bench", {**_sqlite_env(db_path), "ORIGINATOR_ID_TYPE": "text"})
    factory = InfrastructureFactory.construct(env)
    recorder: Any = factory.application_recorder()
    recorder.create_table()
    versions: dict[str, int] = {}
    stored = []
    for line in lines:
        data = json.loads(line)
        stream = stream_of(data)
        versions[stream] = version = versions.get(stream, 0) + 1
        stored.append(StoredEvent(originator_id=stream, originator_version=version, topic=data["type"],
                                  state=line))
    start = time.perf_counter()
    recorder.insert_events(stored)
    elapsed = time.perf_counter() - start
    factory.close()
    return len(stored), elapsed


class Stream(Aggregate):
    """A trivial aggregate: one per stream, one event per line."""

    def __init__(self, name: str):
        self.name = name
        self.count = 0

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, name)

    @event("Happened")
    def happened(self, data: dict[str, Any]) -> None:
        self.count += 1


class Book(Application[UUID]):
    """The library's application, nothing added."""


def library_by_the_book(lines: Sequence[bytes], db_path: str, batch: int | None) -> tuple[int, float]:
    """An ``Application`` with a trivial aggregate per stream, every line an event on it.

    ``batch=None``: one ``save()`` per aggregate (a transaction each); otherwise ``save()`` of
    ``batch`` aggregates at a time.
    """
    app = Book(env=_sqlite_env(db_path))
    start = time.perf_counter()
    aggregates: dict[str, Any] = {}
    for line in lines:
        data = json.loads(line)
        name = stream_of(data)
        agg = aggregates.get(name)
        if agg is None:
            agg = aggregates[name] = Stream(name)
        agg.happened(data)
    pending = list(aggregates.values())
    if batch is None:
        for agg in pending:
            app.save(agg)
    else:
        for i in range(0, len(pending), batch):
            app.save(*pending[i:i + batch])
    elapsed = time.perf_counter() - start
    app.close()
    return len(lines), elapsed


def raw_decode(db_path: str, table: str = "stored_events") -> tuple[int, float]:
    """``SELECT`` the whole events table in log order and ``json.loads`` every state."""
    start = time.perf_counter()
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    n = 0
    loads = json.loads
    for _seq, _stream, _version, state in conn.execute(
        f"SELECT rowid, originator_id, originator_version, state FROM {table} ORDER BY rowid"
    ):
        loads(state)
        n += 1
    conn.close()
    return n, time.perf_counter() - start
