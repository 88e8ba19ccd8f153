"""Direct access to a ledger's database, as an intruder with the file or a superuser has it.

The integrity tests use it to do what no ledger code path does: drop the append-only
triggers, then edit, delete, reorder and forge stored rows.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from ledger.records import GENESIS, Record, canonical, chain_hash
from ledger.store import Store


class Intruder:
    """A raw connection to the store behind a ledger URL (autocommit)."""

    def __init__(self, store_url: str):
        self.sqlite = store_url.startswith("sqlite:///")
        if self.sqlite:
            self.conn: Any = sqlite3.connect(store_url[len("sqlite:///"):], isolation_level=None, timeout=30)
            self.events, self.seq = "stored_events", "rowid"
        else:
            import psycopg

            parts = urlparse(store_url)
            schema = parse_qs(parts.query).get("schema", ["public"])[0]
            self.conn = psycopg.connect(store_url.split("?", 1)[0], autocommit=True)
            self.conn.execute(f'SET search_path TO "{schema}"')
            self.events, self.seq = "ledger_events", "notification_id"

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Intruder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if not self.sqlite:
            sql = sql.replace("?", "%s")
        cur = self.conn.execute(sql, tuple(params))
        try:
            return [tuple(r) for r in cur.fetchall()]
        except Exception:  # statements without rows
            return []

    def drop_triggers(self) -> list[str]:
        """Remove every trigger on the events and id tables; returns their names."""
        if self.sqlite:
            names = [r[0] for r in self.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
            for name in names:
                self.execute(f"DROP TRIGGER {name}")
            return names
        names = []
        for table in (self.events, "ledger_ids"):
            for (name,) in self.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = ?::regclass AND NOT tgisinternal", (table,)
            ):
                self.execute(f"DROP TRIGGER {name} ON {table}")
                names.append(name)
        return names

    # -- rows ---------------------------------------------------------------------------

    def rows(self) -> list[tuple[int, str, int, str, bytes]]:
        """(seq, stream, version, topic, state) in sequence order."""
        return [
            (int(s), str(o), int(v), str(t), bytes(st))
            for s, o, v, t, st in self.execute(
                f"SELECT {self.seq}, originator_id, originator_version, topic, state FROM {self.events} "
                f"ORDER BY {self.seq}"
            )
        ]

    def state(self, seq: int) -> dict[str, Any]:
        (raw,) = self.execute(f"SELECT state FROM {self.events} WHERE {self.seq} = ?", (seq,))[0]
        data: dict[str, Any] = json.loads(bytes(raw))
        return data

    def set_state(self, seq: int, state: dict[str, Any] | bytes) -> None:
        raw = state if isinstance(state, bytes) else canonical(state)
        self.execute(f"UPDATE {self.events} SET state = ? WHERE {self.seq} = ?", (raw, seq))

    def rehash(self, data: dict[str, Any]) -> dict[str, Any]:
        """The record with a freshly computed hash, as a careful intruder would leave it."""
        body = {k: v for k, v in data.items() if k != "hash"}
        return {**body, "hash": chain_hash(body)}

    def rechain(self, start: int) -> None:
        """Recompute every hash and link from ``start`` on: a rewrite with no broken link."""
        rows = self.rows()
        prev = None
        for seq, *_ in rows:
            data = self.state(seq)
            if seq < start:
                prev = data["hash"]
                continue
            if prev is not None:
                data["prev"] = prev
            data = self.rehash(data)
            self.set_state(seq, data)
            prev = data["hash"]

    def delete(self, seq: int) -> None:
        self.execute(f"DELETE FROM {self.events} WHERE {self.seq} = ?", (seq,))

    def swap(self, a: int, b: int) -> None:
        """Exchange the positions of two rows in the sequence."""
        self.execute(f"UPDATE {self.events} SET {self.seq} = ? WHERE {self.seq} = ?", (-1, a))
        self.execute(f"UPDATE {self.events} SET {self.seq} = ? WHERE {self.seq} = ?", (a, b))
        self.execute(f"UPDATE {self.events} SET {self.seq} = ? WHERE {self.seq} = ?", (b, -1))

    def move(self, seq: int, stream: str, version: int | None = None) -> None:
        """Put a row into another stream (columns only)."""
        if version is None:
            self.execute(f"UPDATE {self.events} SET originator_id = ? WHERE {self.seq} = ?", (stream, seq))
        else:
            self.execute(f"UPDATE {self.events} SET originator_id = ?, originator_version = ? "
                         f"WHERE {self.seq} = ?", (stream, version, seq))

    def insert(self, stream: str, version: int, topic: str, state: dict[str, Any]) -> None:
        self.execute(
            f"INSERT INTO {self.events} (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            (stream, version, topic, canonical(state)),
        )


def synthetic_chain(store: Store, count: int, index: bool = False) -> None:
    """``count`` well-formed records straight into the store (far faster than appending); with
    ``index``, their rows of the event-id index too (as the ledger writes them)."""
    at, prev = datetime(2024, 1, 1, tzinfo=UTC), GENESIS
    with store.write() as tx:
        for start in range(0, count, 5000):
            stored, ids = [], []
            for n in range(start, min(count, start + 5000)):
                rec = Record(0, f"staff:s-{n}", 1, f"st-{n}", at + timedelta(seconds=n), "bench",
                             {"type": "StaffRegistered", "occurred_at": "2024-01-01T08:00:00+08:00",
                              "staff": f"s-{n}", "name": f"职员{n}", "rank": 1, "unit": "repair"}, prev, "")
                rec = replace(rec, hash=chain_hash(rec.body()))
                prev = rec.hash
                stored.append((rec.stream, 1, rec.type, rec.state()))
                ids.append((rec.event_id, n + 1))
            store.insert(tx, stored, start)
            if index:
                tx.bulk_insert("ledger_ids", ("id", "seq"), ids)
