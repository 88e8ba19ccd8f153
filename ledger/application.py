"""The ledger's use cases on the write side: append a batch, read streams and the log.

Writing is: parse the lines (shape), then inside one serialised transaction check their
meaning against what the ledger knows, link each record into the hash chain, store them
with the library's recorder, update the read models and their tracking position, commit.
Any error rolls the whole batch back: all lines or none.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from eventsourcing.persistence import StoredEvent, Tracking

from ledger.events import DEFAULT_TZ, Corrected, EventModel, Retracted
from ledger.integrity import append_only_statements
from ledger.interchange import InvalidInput, Line, LineError, parse_event, parse_lines
from ledger.knowledge import DEFERRED, IdInfo, Knowledge, validate_replacement
from ledger.records import (
    GENESIS,
    Fact,
    Record,
    link_bytes,
    record_from_state,
    stored_content,
)
from ledger.store import DEFAULT_URL, Store, StoreError, Tx

LEDGER_SCHEMA = [
    # Settings fixed when the ledger is created (its timezone).
    "CREATE TABLE IF NOT EXISTS ledger_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # Every event id (given by the sender or assigned), for idempotency and corrections.
    "CREATE TABLE IF NOT EXISTS ledger_ids ("
    " id TEXT PRIMARY KEY, seq BIGINT NOT NULL, stream TEXT NOT NULL, type TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL, retracted INTEGER NOT NULL DEFAULT 0)",
]


class Projector(Protocol):
    """A read model kept current from the notification log (with tracking)."""

    name: str

    def schema(self) -> list[str]: ...

    def project(self, tx: Tx, records: Sequence[Record]) -> None: ...

    def reset(self, tx: Tx) -> None: ...


@dataclass(frozen=True)
class Pending:
    """A checked line waiting for its place in the chain."""

    line: Line
    record: Record  # stream, id and content; version, times and hash come at linking
    fingerprint: str
    content_bytes: bytes  # the record's content, canonical (what the fingerprint hashes)


@dataclass(frozen=True)
class AppendResult:
    appended: int
    skipped: int  # lines whose id was already stored with identical content
    first_seq: int | None
    last_seq: int | None
    recorded_at: datetime | None


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for one batch.

    A batch keeps every model and record it makes until it commits, so the collector's full
    passes would walk an ever larger heap again and again (measured: ~15% of a large append)
    and free nothing. What the batch leaves behind is collected as usual afterwards.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Ledger:
    """The ledger application: one store, one timezone, one clock."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        tz: str | ZoneInfo | None = None,
        clock: Callable[[], datetime] = _now,
        projectors: Sequence[Projector] = (),
    ):
        self.clock = clock
        self.store = Store(url)
        self.projectors = list(projectors)
        schema = list(LEDGER_SCHEMA)
        schema.extend(append_only_statements(self.store.dialect, self.store.events_table))
        for projector in self.projectors:
            schema.extend(projector.schema())
        self.store.create_schema(schema)
        self.tz = self._timezone(tz)
        self.catch_up()

    def _timezone(self, asked: str | ZoneInfo | None) -> ZoneInfo:
        """The store's timezone: chosen when the ledger is created, the same for every clerk after.

        Times without an offset are read in it, so two clerks must never read the same line
        differently: asking for another zone on an existing ledger is an error.
        """
        name = asked.key if isinstance(asked, ZoneInfo) else asked
        with self.store.read() as tx:
            row = tx.execute("SELECT value FROM ledger_settings WHERE key = 'timezone'").fetchone()
        if row is None:
            name = name or DEFAULT_TZ
            ZoneInfo(name)  # an unknown zone fails before anything is written
            with self.store.write() as tx:
                tx.execute("INSERT INTO ledger_settings (key, value) VALUES ('timezone', ?)"
                           " ON CONFLICT (key) DO NOTHING", (name,))
                row = tx.execute("SELECT value FROM ledger_settings WHERE key = 'timezone'").fetchone()
        assert row is not None
        stored = str(row[0])
        if name is not None and name != stored:
            raise StoreError(
                f"this ledger keeps its times in {stored} (set when it was created); "
                f"it cannot be used with --tz {name}: leave --tz out or give {stored}"
            )
        return ZoneInfo(stored)

    def close(self) -> None:
        self.store.close()

    # -- appending ------------------------------------------------------------------------

    def append_lines(self, lines: Iterable[str | bytes], actor: str | None = None) -> AppendResult:
        """Append JSON Lines: all or none. Raises ``InvalidInput`` with every error."""
        with _collector_paused():
            good, errors = parse_lines(lines, self.tz)
            return self.append(good, actor, shape_errors=errors)

    def append_events(self, events: Sequence[EventModel], actor: str | None = None) -> AppendResult:
        return self.append([Line(i, e) for i, e in enumerate(events, start=1)], actor)

    def append(
        self, lines: Sequence[Line], actor: str | None = None, shape_errors: Sequence[LineError] = ()
    ) -> AppendResult:
        errors = list(shape_errors)
        with _collector_paused(), self.store.write() as tx:
            self._catch_up(tx)
            now = self.clock()
            head = self.store.head_row(tx)
            prev_hash, head_time = GENESIS, None
            if head is not None:
                head_rec = record_from_state(head[0], "", 0, head[1])
                prev_hash, head_time = head_rec.hash, head_rec.recorded_at
            recorded_at = max(now, head_time) if head_time else now  # never runs backwards
            know = self._knowledge(tx, lines, recorded_at)
            accepted, skipped = self._check(know, lines, errors)
            if errors:
                errors.sort(key=lambda e: e.line)
                raise InvalidInput(errors)
            if not accepted:
                return AppendResult(0, skipped, None, None, None)
            linked = self._link(tx, accepted, actor, recorded_at, prev_hash)
            stored = [
                StoredEvent(originator_id=r.stream, originator_version=r.version, topic=r.type, state=state)
                for r, state in linked
            ]
            seqs = self.store.insert(tx, stored)
            records = [
                Record(s, r.stream, r.version, r.event_id, r.recorded_at, r.recorded_by, r.content, r.prev, r.hash)
                for s, (r, _) in zip(seqs, linked, strict=True)
            ]
            self._index(tx, records, [p.fingerprint for p in accepted])
            self._project(tx, records)
            return AppendResult(len(records), skipped, seqs[0], seqs[-1], recorded_at)

    def _knowledge(self, tx: Tx, lines: Sequence[Line], now: datetime) -> Knowledge:
        """Load the streams and ids the batch touches."""
        streams: set[str] = set()
        ids: set[str] = set()
        for line in lines:
            for ev in self._with_replacement(line.event):
                if ev.stream_kind:
                    streams.add(ev.stream())
                if ev.id:
                    ids.add(ev.id)
                for ref in ev.named():
                    if ref.kind == "event":
                        ids.add(ref.name)
                    elif ref.kind != "policy":
                        streams.add(f"{ref.kind}:{ref.name}")
        id_infos = self._load_ids(tx, sorted(ids))
        streams |= {info.stream for info in id_infos.values()}
        streams |= set(self.store.streams_like(tx, "policy:")) | set(self.store.streams_like(tx, "calendar:"))
        rows = self.store.stream_rows(tx, sorted(streams))
        return Knowledge.from_records(
            (record_from_state(*row) for row in rows), id_infos, self.tz, now
        )

    def _with_replacement(self, event: EventModel) -> Iterator[EventModel]:
        """The event, and for a correction also its replacement (its references need loading)."""
        yield event
        if isinstance(event, Corrected) and "type" in event.replacement:
            model, _ = parse_event(event.replacement, 0, self.tz)
            if model is not None:
                yield model

    def _load_ids(self, tx: Tx, ids: Sequence[str]) -> dict[str, IdInfo]:
        infos: dict[str, IdInfo] = {}
        for i in range(0, len(ids), 500):
            chunk = list(ids[i:i + 500])
            tx.execute(
                "SELECT id, stream, type, fingerprint, retracted FROM ledger_ids "
                f"WHERE id IN ({','.join('?' * len(chunk))})", chunk,
            )
            for id_, stream, type_, fp, retracted in tx.fetchall():
                infos[id_] = IdInfo(stream, type_, fp, bool(retracted))
        return infos

    def _check(
        self, know: Knowledge, lines: Sequence[Line], errors: list[LineError]
    ) -> tuple[list[Pending], int]:
        """Check every line in file order; accepted lines join the knowledge as they pass."""
        accepted: list[Pending] = []
        skipped = 0
        pending_seq = 1 << 60  # provisional order for records not stored yet
        for line in lines:
            event = line.event
            content = event.content()
            line_errors = know.check(line.number, event)
            if isinstance(event, Corrected) and not line_errors:
                # Store the replacement normalised, like any other event content.
                target_type = know.ids[event.target].type
                content["replacement"] = validate_replacement(event, target_type, self.tz).content()
            body, body_bytes, fp = stored_content(content)
            if event.id is not None and event.id in know.ids:
                seen = know.ids[event.id]
                if seen.fingerprint == fp:
                    skipped += 1
                    continue
                where = f"line {seen.line} of this file" if seen.line else "the ledger"
                errors.append(
                    LineError(line.number, "id", f"{event.id!r} is already in {where} with different content")
                )
                continue
            if line_errors:
                errors.extend(line_errors)
                continue
            event_id = event.id or f"ev-{uuid.uuid4().hex[:20]}"
            is_correction = isinstance(event, (Corrected, Retracted))
            # A correction joins its target's stream.
            stream = know.ids[event.target].stream if isinstance(event, (Corrected, Retracted)) else event.stream()
            record = Record(pending_seq, stream, 0, event_id, know.now, event.recorded_by or "",
                            body, "", "")
            pending_seq += 1
            know.ids[event_id] = IdInfo(stream, event.type_name, fp, line=line.number)
            know.records.setdefault(stream, []).append(record)
            if isinstance(event, Retracted):
                know.ids[event.target].retracted = True
            if is_correction:
                know.derive(stream)
            else:
                know.apply(Fact(event_id, event, pending_seq, know.now))
            accepted.append(Pending(line, record, fp, body_bytes))
        for pending in accepted:
            errors.extend(self._deferred_errors(know, pending.line))
        for staff, first, second in know.open_absence_overlaps():
            line_no = next((p.line.number for p in accepted if p.record.event_id == first.start_id), 0)
            errors.append(LineError(
                line_no, "occurred_at",
                f"the absence of {staff!r} from {first.start.isoformat()} never ends, so it overlaps "
                f"the absence starting {second.start.isoformat()} (event {second.start_id}); record its AbsenceEnded",
            ))
        return accepted, skipped

    @staticmethod
    def _deferred_errors(know: Knowledge, line: Line) -> list[LineError]:
        event = line.event
        errors = []
        for type_name, field_name in DEFERRED:
            if event.type_name != type_name:
                continue
            kind = event.references[field_name]
            name = getattr(event, field_name)
            if not know.exists(kind, name):
                errors.append(LineError(line.number, field_name, know._unknown(kind, name)))
        return errors

    def _link(self, tx: Tx, accepted: Sequence[Pending], actor: str | None,
              recorded_at: datetime, prev_hash: str) -> list[tuple[Record, bytes]]:
        """Give each record its stream version, recorder and link in the hash chain; with its stored bytes."""
        versions = self.store.stream_versions(tx, sorted({p.record.stream for p in accepted}))
        when = recorded_at.isoformat()  # one instant for the whole batch
        linked = []
        for pending in accepted:
            rec = pending.record
            version = versions.get(rec.stream, 0) + 1
            versions[rec.stream] = version
            recorder = pending.line.event.recorded_by or actor or "unknown"
            digest, state = link_bytes(rec.stream, version, rec.event_id, when, recorder,
                                       pending.content_bytes, prev_hash)
            linked.append((Record(0, rec.stream, version, rec.event_id, recorded_at, recorder, rec.content,
                                  prev_hash, digest), state))
            prev_hash = digest
        return linked

    def _index(self, tx: Tx, records: Sequence[Record], fingerprints: Sequence[str]) -> None:
        tx.executemany(
            "INSERT INTO ledger_ids (id, seq, stream, type, fingerprint) VALUES (?, ?, ?, ?, ?)",
            [(r.event_id, r.seq, r.stream, r.type, fp) for r, fp in zip(records, fingerprints, strict=True)],
        )
        retracted = [(r.content["target"],) for r in records if r.type == "Retracted"]
        tx.executemany("UPDATE ledger_ids SET retracted = 1 WHERE id = ?", retracted)

    # -- read models ----------------------------------------------------------------------

    def _project(self, tx: Tx, records: Sequence[Record]) -> None:
        for projector in self.projectors:
            projector.project(tx, records)
            self.store.tracking._insert_tracking(tx.cursor, Tracking(projector.name, records[-1].seq))

    def _catch_up(self, tx: Tx) -> None:
        """Project whatever the log holds beyond each read model's tracking position."""
        top = self.store.max_seq(tx)
        positions = {p.name: self._position(tx, p.name) for p in self.projectors}
        behind = [p for p in self.projectors if positions[p.name] < top]
        if not behind:
            return
        position = min(positions[p.name] for p in behind)
        while position < top:  # read and decode each page once, for every projector behind
            records = [record_from_state(*row) for row in self.store.rows_between(tx, position, top, limit=5000)]
            position = records[-1].seq
            for projector in behind:
                fresh = [r for r in records if r.seq > positions[projector.name]]
                if fresh:
                    projector.project(tx, fresh)
                    positions[projector.name] = position
                    self.store.tracking._insert_tracking(tx.cursor, Tracking(projector.name, position))

    def _position(self, tx: Tx, name: str) -> int:
        tx.execute(f"SELECT MAX(notification_id) FROM {self.store.tracking_table} WHERE application_name = ?", (name,))
        row = tx.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def catch_up(self) -> None:
        if not self.projectors:
            return
        # Look before taking the write lock: a role that may only read (a committee's) must
        # still open an up-to-date ledger, and opening need not queue behind a clerk's batch.
        with self.store.read() as tx:
            top = self.store.max_seq(tx)
            if all(self._position(tx, p.name) >= top for p in self.projectors):
                return
        with self.store.write() as tx:
            self._catch_up(tx)

    def rebuild(self) -> int:
        """Drop every read model and project the whole log again; returns events projected."""
        with self.store.write() as tx:
            for projector in self.projectors:
                projector.reset(tx)
                # The tracking row only ever moves forward through the library's API; a
                # rebuild removes it (it is a read-model position, not an event).
                tx.execute(f"DELETE FROM {self.store.tracking_table} WHERE application_name = ?", (projector.name,))
            self._catch_up(tx)
            if self.store.dialect == "sqlite":
                # A reset may drop a read model's indexes so that they are built once, now
                # (SQLite only: on PostgreSQL a clerk's role may rebuild but not create).
                for projector in self.projectors:
                    for statement in projector.schema():
                        tx.execute(statement)
            return self.store.max_seq(tx)

    # -- reading ----------------------------------------------------------------------------

    def records(self, streams: Sequence[str]) -> list[Record]:
        with self.store.read() as tx:
            return [record_from_state(*row) for row in self.store.stream_rows(tx, streams)]

    def streams(self, prefix: str) -> list[str]:
        """Names of the streams starting with ``prefix`` (e.g. ``policy:``)."""
        with self.store.read() as tx:
            return self.store.streams_like(tx, prefix)

    def log(self, after: int = 0, batch: int = 5000) -> Iterator[Record]:
        """The whole notification log in order, read in pages."""
        position = after
        while True:
            with self.store.read() as tx:
                rows = self.store.rows_between(tx, position, None, limit=batch)
            if not rows:
                return
            for row in rows:
                yield record_from_state(*row)
            position = rows[-1][0]
