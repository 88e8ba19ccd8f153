"""The ledger's use cases on the write side: append a batch, read streams and the log.

Writing is: read the lines (shape), then inside one serialised transaction check their
meaning against what the ledger knows, link each record into the hash chain, store them
with the library's recorder, update the read models and their tracking position, commit.
Any error rolls the whole batch back: all lines or none.

A batch streams: lines are read, checked and stored a chunk at a time inside the one
transaction, so a large register never sits in memory whole. Every line is checked even
after an error (all errors are reported at once); the transaction is then rolled back.
"""

from __future__ import annotations

import gc
import os
import pickle
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import chain, islice
from multiprocessing.connection import Connection
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import orjson
from eventsourcing.persistence import IntegrityError, Tracking

from ledger.events import DEFAULT_TZ, EVENT_TYPES, EventModel
from ledger.forks import fork, own_store, parent_death_signal, picklable
from ledger.integrity import append_only_statements, insert_guards_lifted
from ledger.interchange import InvalidInput, Line, LineError, fingerprint, read_lines
from ledger.knowledge import (
    CONFIGURATION_TYPES,
    ENTITY_KINDS,
    FORWARD_TYPES,
    IdInfo,
    Knowledge,
    normalised_replacement,
    replacement_of,
    stream_problems,
)
from ledger.policy import PolicyCatalogue, PolicyError
from ledger.records import (
    GENESIS,
    SLICEABLE_FIELDS,
    Logged,
    Record,
    content_bytes,
    effective_content,
    link_bytes,
    record_from_state,
    sliced_content,
    state_bytes,
    state_parts,
    unreadable,
    utc_iso,
    utc_text,
)
from ledger.store import DEFAULT_URL, NO_LEDGER, NoLedger, Store, StoreError, Tx


def ledger_schema(dialect: str) -> list[str]:
    """The ledger's own tables beside the library's."""
    # SQLite: the id index's rows live in its key's B-tree (one write per event, not two).
    table = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return [
        # Settings fixed when the ledger is created (its timezone).
        "CREATE TABLE IF NOT EXISTS ledger_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        # Every event id (given by the sender or assigned) and where it is in the log, for
        # idempotency and corrections; stream, type and content are the event's own. (Ledgers
        # made before 0.2 also keep stream, type and fingerprint here: ``Ledger.ids_copy_events``.)
        "CREATE TABLE IF NOT EXISTS ledger_ids ("
        f" id TEXT PRIMARY KEY, seq BIGINT NOT NULL, retracted INTEGER NOT NULL DEFAULT 0){table}",
    ]

#: Lines read, checked and stored together (one round of loading and of inserts).
CHUNK = 4096
#: Records of the log read and projected together when catching up or rebuilding.
LOG_PAGE = 5000

#: Stream kinds whose records make up configuration (packs and calendar years).
CONFIG_KINDS = ("policy", "calendar")


class Projector(Protocol):
    """A read model kept current from the notification log (with tracking)."""

    name: str
    #: The content fields ``project`` reads, if only some of ``SLICEABLE_FIELDS``: the ledger
    #: may then hand it records whose content holds those fields alone, read without decoding
    #: the rest. None: the whole content.
    content_fields: frozenset[str] | None

    def schema(self, dialect: str) -> list[str]: ...

    def wants(self, kind: str, topic: str) -> bool:
        """Whether records of this stream kind (``case``) and type concern the read model
        (others are not decoded)."""
        ...

    def begin(self, appending: bool) -> None:
        """A batch of ``project`` calls begins (inside one transaction): of a batch being appended
        (``appending``: the clerk waits for what is left at its end) or of catching up with or
        rebuilding from the log."""
        ...

    def project(self, tx: Tx, records: Sequence[Logged]) -> None:
        """Fold records into the tables: only those ``wants`` asked for, in log order. A read
        model may hold rows back until ``finish``."""
        ...

    def finish(self, tx: Tx) -> None:
        """Write what ``project`` held back (before the transaction commits)."""
        ...

    def reset(self, tx: Tx) -> None: ...


@dataclass(frozen=True)
class AppendResult:
    appended: int
    skipped: int  # lines whose id was already stored, or on an earlier line, with identical content
    first_seq: int | None
    last_seq: int | None
    recorded_at: datetime | None
    #: Of ``skipped``, the lines repeating an earlier line of the same batch rather than a stored
    #: event (so that the clerk is not told they were in the ledger).
    repeated: int = 0


#: The read models that want a (stream kind, type), and the content fields they read (None: all).
Route = tuple[tuple[Projector, ...], frozenset[str] | None]


def _content_fields(projector: Projector) -> frozenset[str] | None:
    """The content fields a read model reads alone (None, also for one that does not say: all)."""
    return getattr(projector, "content_fields", None)


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for one batch (or catch-up, rebuild, question).

    A batch makes many small objects that live until their chunk is stored, and the ones it
    keeps (the entities it checks against, a read model's rows held until the end) only grow:
    the collector's full passes would walk them again and again and free nothing. What the
    batch leaves is collected as usual after.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


Read = tuple[Line | None, list[LineError]]  # a line as read: the line (None if bad or blank), its errors


def _chunks(items: Iterable[Read]) -> Iterator[list[Read]]:
    it = iter(items)
    while chunk := list(islice(it, CHUNK)):
        yield chunk


class Ledger:
    """The ledger application: one store, one timezone, one clock."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        tz: str | ZoneInfo | None = None,
        clock: Callable[[], datetime] = _now,
        projectors: Sequence[Projector] = (),
        create: bool = True,
    ):
        """Open the ledger at ``url``, creating it unless ``create`` is False (then a store that
        holds no ledger is a ``StoreError``, and nothing is made)."""
        self.clock = clock
        self.store = Store(url, create)
        if not create and not self.store.holds_ledger():
            self.store.close()
            raise NoLedger(NO_LEDGER.format(url=url, why="it holds no ledger's tables"))
        #: Batches of at least this many lines are appended by two processes (``_append_in_two``).
        self.parallel_from = CHUNK
        #: Writer processes of committed batches, still checkpointing (their reapers).
        self._checkpointing: list[threading.Thread] = []
        self._routes: dict[tuple[str, str], Route] = {}  # (stream kind, type) -> read models, fields
        self.projectors = list(projectors)
        for projector in self.projectors:
            fields = _content_fields(projector)
            if fields is not None and not fields <= SLICEABLE_FIELDS:
                raise ValueError(f"read model {projector.name!r} asks for content fields "
                                 f"{sorted(fields - SLICEABLE_FIELDS)}: only {sorted(SLICEABLE_FIELDS)} can be "
                                 "read alone (content_fields = None reads the whole content)")
        schema = ledger_schema(self.store.dialect)
        schema.extend(append_only_statements(self.store.dialect, self.store.events_table))
        for projector in self.projectors:
            schema.extend(projector.schema(self.store.dialect))
        self.store.create_schema(schema)
        #: Whether the id index also copies each event's stream, type and fingerprint (made before 0.2).
        self.ids_copy_events = "fingerprint" in self.store.columns("ledger_ids")
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
                # (only when missing: an insert that collides is refused, ``integrity``)
                tx.execute("INSERT INTO ledger_settings (key, value) SELECT 'timezone', ? WHERE NOT EXISTS"
                           " (SELECT 1 FROM ledger_settings WHERE key = 'timezone') ON CONFLICT (key) DO NOTHING",
                           (name,))
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
        return self._append(read_lines(lines, self.tz), actor)

    def append_events(self, events: Sequence[EventModel], actor: str | None = None) -> AppendResult:
        return self._append(((Line.of(i, e), []) for i, e in enumerate(events, start=1)), actor)

    def _append(self, items: Iterable[Read], actor: str | None) -> AppendResult:
        with collector_paused():
            chunks = _chunks(items)
            first = next(chunks, [])
            chunks = chain([first], chunks)
            if len(first) >= self.parallel_from and self.store.can_fork():
                return self._append_in_two(chunks, actor)
            with self.store.write() as tx:
                writer = _Writer(self, tx)
                checker = _Checker(self, tx, writer.recorded_at, writer.fresh, actor)
                for chunk in chunks:
                    pending, contents = checker.take(chunk)
                    if not checker.errors:  # after an error the batch is only checked, not stored
                        writer.write(pending, contents)
                checker.finish()
                if checker.errors:
                    raise InvalidInput(checker.sorted_errors())  # the transaction rolls back
                return writer.result(checker.skipped, checker.repeated)

    def _append_in_two(self, chunks: Iterable[list[Read]], actor: str | None) -> AppendResult:
        """A large batch on both cores: this process reads and checks the lines while a writer
        process, holding the write transaction, links, stores, indexes and projects them."""
        with _WriterProcess(self) as writer:
            # The writer holds the write lock: what this snapshot shows is what it writes after.
            with self.store.read() as tx:
                checker = _Checker(self, tx, writer.recorded_at, writer.fresh, actor)
                for chunk in chunks:
                    pending, _ = checker.take(chunk)
                    if not checker.errors:
                        writer.write(pending)
                checker.finish()
            if checker.errors:
                writer.abort()
                raise InvalidInput(checker.sorted_errors())
            writer.request_commit(checker.skipped, checker.repeated)
            # While the writer commits, this process lets go of what the batch knew: for a large
            # register that is millions of objects, and freeing them (~0.7 s per million lines,
            # measured) would otherwise follow the commit instead of running beside it.
            del checker
            result = writer.await_commit()
        if writer.reaper is not None:
            self._checkpointing = [t for t in self._checkpointing if t.is_alive()] + [writer.reaper]
        return result

    def wait_for_checkpoints(self, timeout: float | None = None) -> bool:
        """Wait until the writer processes of this ledger's large batches have copied them into
        the database file (SQLite's checkpoint, which they run after the commit); True if none
        is left. Nothing needs this to read what was committed: it is for tests and benchmarks."""
        for reaper in self._checkpointing:
            reaper.join(timeout)
        self._checkpointing = [t for t in self._checkpointing if t.is_alive()]
        return not self._checkpointing

    def _load_ids(self, tx: Tx, ids: Sequence[str]) -> dict[str, IdInfo]:
        """The stored events with these ids: stream, type, fingerprint of the content, retracted."""
        infos: dict[str, IdInfo] = {}
        seq, events = self.store.seq_column, self.store.events_table
        for i in range(0, len(ids), 500):
            chunk = list(ids[i:i + 500])
            tx.execute(
                f"SELECT i.id, e.originator_id, e.topic, {self.store.state_of('e.')}, i.retracted, i.seq"
                f" FROM ledger_ids i JOIN {events} e ON e.{seq} = i.seq WHERE i.id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for id_, stream, type_, state, retracted, at in tx.fetchall():
                try:
                    body = content_bytes(state_bytes(at, stream, state))
                except ValueError as exc:
                    raise unreadable(at, stream, exc) from None
                infos[id_] = IdInfo(stream, type_, fingerprint(body), bool(retracted))
        return infos

    def locate(self, event_id: str) -> str | None:
        """The stream of the stored event with this id."""
        with self.store.read() as tx:
            info = self._load_ids(tx, [event_id]).get(event_id)
        return None if info is None else info.stream

    # -- read models ----------------------------------------------------------------------

    def _project(self, tx: Tx, records: Sequence[Logged], position: int) -> None:
        """Give each read model the records it wants, and move its tracking position."""
        given: dict[str, list[Logged]] = {p.name: [] for p in self.projectors}
        for record in records:
            for projector in self._audience(record.stream, record.type):
                given[projector.name].append(record)
        for projector in self.projectors:
            if given[projector.name]:
                projector.project(tx, given[projector.name])
            self._track(tx, projector.name, position)

    def _first_naming(self, tx: Tx, kind: str, name: str, besides: str) -> str | None:
        """The id of the first stored event (not retracted, nor ``besides``) that names ``name``
        as a ``kind`` (staff, unit, post, policy), a correction's replacement included."""
        return next((record.event_id for record, _ in self._naming(tx, kind, name, besides)), None)

    def _naming(self, tx: Tx, kind: str, name: str, besides: str) -> Iterator[tuple[Record, dict[str, Any]]]:
        """The stored events (not retracted, nor ``besides``) that name ``name`` as a ``kind``, in
        the order recorded, each with the content that names it (a correction's replacement)."""
        needle, after = orjson.dumps(name), 0
        while True:
            rows = self.store.rows_holding(tx, needle, after, 500)
            for row in rows:
                record = record_from_state(*row)
                content = record.content
                if record.event_id == besides or record.type == "Retracted":
                    continue
                if record.type == "Corrected":
                    content = content["replacement"]
                cls = EVENT_TYPES.get(str(content.get("type")))
                for field_name, of_kind in (cls.references.items() if cls is not None else ()):
                    value = content.get(field_name)
                    if of_kind == kind and (value == name or (isinstance(value, list) and name in value)):
                        yield record, content
                        break
            if len(rows) < 500:
                return
            after = rows[-1][0]

    def _track(self, tx: Tx, name: str, position: int) -> None:
        """Move a read model's tracking position (the library's table: one row per position)."""
        try:
            self.store.tracking._insert_tracking(tx.cursor, Tracking(name, position))
        except IntegrityError:  # a position at or past this one is recorded: not by the ledger
            raise StoreError(
                f"the read model {name} is recorded as holding the log past event {position}, which the ledger "
                "never wrote: its tracking table or the log was altered. Run `ledger verify` (and with the "
                "committee's digest), then `ledger rebuild`") from None

    def _wanted_sql(self, projectors: Sequence[Projector]) -> str:
        """An SQL condition on an event row: some of these read models want it."""
        terms = []
        for kind in sorted({cls.stream_kind for cls in EVENT_TYPES.values() if cls.stream_kind}):
            topics = [t for t in EVENT_TYPES if any(p.wants(kind, t) for p in projectors)]
            if not topics:
                continue
            within = f"originator_id >= '{kind}:' AND originator_id < '{kind};'"  # (';' follows ':')
            if len(topics) < len(EVENT_TYPES):
                within += " AND topic IN (" + ", ".join(f"'{t}'" for t in topics) + ")"
            terms.append(f"({within})")
        return " OR ".join(terms) or "1 = 0"

    def _audience(self, stream: str, topic: str) -> tuple[Projector, ...]:
        """The read models that want records of this stream's kind and type."""
        return self._route(stream, topic)[0]

    def _route(self, stream: str, topic: str) -> Route:
        """The read models that want records of this stream's kind and type, and the content
        fields they read (None: all of it; a retraction's always, the writer reads its target),
        worked out once."""
        key = (stream[:stream.find(":")], topic)
        found = self._routes.get(key)
        if found is None:
            audience = tuple(p for p in self.projectors if p.wants(key[0], topic))
            fields: frozenset[str] | None = frozenset()
            for projector in audience:
                asked = _content_fields(projector)
                fields = None if asked is None or fields is None else fields | asked
            found = self._routes[key] = (audience, None if topic == "Retracted" else fields)
        return found

    def _catch_up(self, tx: Tx) -> None:
        """Project whatever the log holds beyond each read model's tracking position.

        Each read model behind reads only the records it wants (the condition is SQL, so the
        database skips the others; most of a case's records concern no read model), a page at
        a time, decoding only their content, id and recorded-at."""
        top = self.store.max_seq(tx)
        for projector in self.projectors:
            position = self._position(tx, projector.name)
            if position >= top:
                continue
            wanted = self._wanted_sql([projector])
            fields = _content_fields(projector)
            projector.begin(appending=False)
            while position < top:
                rows = self.store.log_page(tx, position, top, LOG_PAGE, wanted)
                position = rows[-1][0] if len(rows) == LOG_PAGE else top
                records = []
                for seq, stream, topic, state in rows:
                    try:
                        content, event_id, recorded_at = state_parts(state, fields)
                    except (ValueError, TypeError, AttributeError) as exc:  # an edited row (orjson raises ValueError)
                        state_bytes(seq, stream, state)  # (names a NULL as such)
                        raise unreadable(seq, stream, exc) from None
                    records.append(Logged(seq, stream, topic, event_id, content, utc_iso(recorded_at)))
                if records:
                    projector.project(tx, records)
            projector.finish(tx)
            self._track(tx, projector.name, top)

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
        with collector_paused(), self.store.write() as tx:
            self._catch_up(tx)

    def rebuild(self) -> int:
        """Drop every read model and project the whole log again; returns the log's last
        sequence number (not a count: PostgreSQL's sequence may leave gaps)."""
        with collector_paused(), self.store.write() as tx:
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
                    for statement in projector.schema(self.store.dialect):
                        tx.execute(statement)
            return self.store.max_seq(tx)

    # -- reading ----------------------------------------------------------------------------

    def last_recorded_at(self) -> datetime | None:
        """When the last batch was recorded (None: nothing is); never before an earlier batch's."""
        with self.store.read() as tx:
            head = self.store.head_row(tx)
        return None if head is None else record_from_state(head[0], "", 0, head[1]).recorded_at

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


#: A checked line on its way to the store: stream, type, event id, recorder, canonical content.
#: (The content itself goes along in the same process; a writer process decodes
#: it again only for the records a read model wants.)
Pending = tuple[str, str, str, str, bytes]

#: Provisional sequence numbers of the batch's own records while a stream is derived again
#: (they only order the records; the store gives the real ones).
_PROVISIONAL = 1 << 60
_CORRECTIONS = ("Corrected", "Retracted")
#: The event types that define a staff member, unit or post (the kind of name they define).
_DEFINED_BY = {"StaffRegistered": "staff", "UnitDefined": "unit", "PostDefined": "post"}
#: Each type's stream (a correction's is its target's): its prefix (``case:``), the field
#: naming it, and whether it is an entity's stream (``ENTITY_KINDS``).
_STREAM_OF = {name: (f"{cls.stream_kind}:", cls.stream_field, cls.stream_kind in ENTITY_KINDS)
              for name, cls in EVENT_TYPES.items() if name not in _CORRECTIONS}


class _Checker:
    """The checking half of a batch: each line in file order against what the ledger knows.

    It reads only what was committed before the batch (through ``tx``: the write transaction,
    or a snapshot taken once the writer process holds the write lock) and keeps the batch's
    own effects in memory, so it never needs to read back what the batch wrote.
    """

    def __init__(self, ledger: Ledger, tx: Tx, now: datetime, fresh: bool, actor: str | None):
        self.ledger, self.tx, self.store, self.tz = ledger, tx, ledger.store, ledger.tz
        self.recorder = actor or "unknown"  # of a line that names no recorded_by
        self.now = now
        self.know = Knowledge(ledger.tz, now, complete=fresh)
        self.errors: list[LineError] = []
        #: Accepted lines with forward references, and corrections whose replacement has some:
        #: (line, type, content, field prefix), checked once the whole file is known.
        self.deferred: list[tuple[int, str, dict[str, Any], str]] = []
        #: A person's stream a correction or retraction of this batch touched -> the last such
        #: line (its number, the field to name, the advice), checked in ``finish``.
        self.histories: dict[str, tuple[int, str, str]] = {}
        #: Pack versions this batch retracts: (line, event id), and adds: (line, pack id), checked
        #: in ``finish``.
        self.pack_retractions: list[tuple[int, str]] = []
        self.pack_additions: list[tuple[int, str, date]] = []
        #: The batch's own records of each entity stream (id, content bytes): a correction
        #: derives its stream again from the stored records and these.
        self.kept: dict[str, list[tuple[str, bytes]]] = {}
        self.skipped = 0  # lines repeating a stored event or an earlier line, with identical content
        self.repeated = 0  # of those, the ones repeating an earlier line of this batch
        if not fresh:
            config = [s for kind in CONFIG_KINDS for s in self.store.streams_like(tx, f"{kind}:")]
            self.know.learn(config, self._stored_records(config), {})
        #: The catalogue as the batch found it: what an added version takes away is seen against it.
        self.catalogue_before = self.know.catalogue

    def take(self, chunk: Sequence[Read]) -> tuple[list[Pending], list[dict[str, Any]]]:
        """Check a chunk of lines; the accepted ones, ready for the store, and their contents."""
        lines = []
        for line, errors in chunk:
            if errors:
                self.errors.extend(errors)
            if line is not None:
                lines.append(line)
        self._load(lines)
        pending: list[Pending] = []
        contents: list[dict[str, Any]] = []
        for line in lines:
            self._take(line, pending, contents)
        return pending, contents

    def _load(self, lines: Sequence[Line]) -> None:
        """Read what the ledger holds about the streams and ids these lines touch.

        The lines' own ids first: a line whose id the ledger already holds is skipped (the same
        content) or refused (other content) on its id alone (``_take``), so nothing it touches
        is read for it. Appending a register again reads its ids, not its streams.
        """
        know = self.know
        if know.complete:
            return
        own = sorted({line.id for line in lines if line.id is not None and line.id not in know.ids})
        know.ids.update(self.ledger._load_ids(self.tx, own) if own else {})
        lines = [line for line in lines if line.type == "Corrected" or line.id is None or line.id not in know.ids]
        corrections = [line for line in lines if line.type == "Corrected"]
        replacements = [r for line in corrections if (r := replacement_of(line, self.tz))]
        streams, ids = know.wanted(lines, replacements)
        ids.difference_update(own)  # looked up just now: not in the ledger
        infos = self.ledger._load_ids(self.tx, sorted(ids)) if ids else {}
        streams |= {i.stream for i in infos.values() if i.stream.partition(":")[0] in ENTITY_KINDS} - know.loaded
        # A replacement that leaves its type out has the corrected event's: its names are read
        # once that event is known (just now, or before).
        untyped: list[Line] = []
        for line in corrections:
            given, target = line.data.get("replacement"), line.data.get("target")
            if not isinstance(given, dict) or "type" in given or not isinstance(target, str):
                continue
            info = infos.get(target) or know.ids.get(target)
            if info is not None and (replacement := replacement_of(line, self.tz, info.type)):
                untyped.append(replacement)
        if untyped:
            streams |= know.wanted([], untyped)[0]
        know.learn(streams, self._stored_records(sorted(streams)), infos)

    def _stored_records(self, streams: Sequence[str]) -> list[Record]:
        return [record_from_state(*row) for row in self.store.stream_rows(self.tx, streams)]

    def _take(self, line: Line, pending: list[Pending], contents: list[dict[str, Any]]) -> None:
        """Check one line; an accepted line joins the knowledge as it passes."""
        # (Once per line of every batch: the line's fields are read into locals once.)
        know, ids = self.know, self.know.ids
        type_name, event_id, data = line.type, line.id, line.data
        at = line.at.astimezone(UTC)  # the knowledge compares instants in UTC
        line_errors: list[LineError] | None = None
        if type_name == "Corrected":
            line_errors = know.check(line, at)
            if not line_errors:  # store the replacement normalised, like any other content
                data["replacement"] = normalised_replacement(line, ids[data["target"]].type, self.tz)
            line.seal()
            if not line_errors and (event_id is None or event_id not in ids):
                line_errors = self._history_errors(line)
        if event_id is not None and event_id in ids:
            seen = ids[event_id]
            if self._fingerprint(event_id, seen) == line.fingerprint:
                self.skipped += 1
                if seen.line:  # added by a line of this batch, not read from the ledger
                    self.repeated += 1
                return
            where = f"line {seen.line} of this file" if seen.line else "the ledger"
            self.errors.append(
                LineError(line.number, "id", f"{event_id!r} is already in {where} with different content"))
            return
        if line_errors is None:
            line_errors = know.check(line, at)
            if not line_errors and (type_name == "Retracted" or (
                    type_name == "InquiryReceived" and know.stored.get("case:" + data["case"]))):
                line_errors = self._history_errors(line)  # (a receipt again: after one retracted)
                if not line_errors and type_name == "Retracted":
                    line_errors = self._dependant_errors(line)
        if line_errors:
            self.errors.extend(line_errors)
            return
        if event_id is None:
            event_id = f"ev-{uuid.uuid4().hex[:20]}"
        correction = type_name in _CORRECTIONS
        if correction:  # a correction joins its target's stream
            stream = ids[data["target"]].stream
            entity = stream[:stream.find(":")] in ENTITY_KINDS
        else:
            prefix, field_name, entity = _STREAM_OF[type_name]
            stream = prefix + str(data[field_name])
        body = line.body
        # A line of an entity stream keeps its content in ``kept``: its fingerprint is worked
        # out from there if its id comes back.
        ids[event_id] = IdInfo(stream, type_name, None if entity else line.fingerprint, False, line.number)
        pending.append((stream, type_name, event_id, line.recorded_by or self.recorder, body))
        contents.append(data)
        if entity:
            kept = self.kept.get(stream)
            if kept is None:
                self.kept[stream] = [(event_id, body)]
            else:
                kept.append((event_id, body))
        if type_name in FORWARD_TYPES:
            self.deferred.append((line.number, type_name, data, ""))
        elif type_name == "Corrected" and data["replacement"]["type"] in FORWARD_TYPES:
            self.deferred.append((line.number, data["replacement"]["type"], data["replacement"], "replacement."))
        if correction:
            if type_name == "Retracted":
                ids[data["target"]].retracted = True
                if ids[data["target"]].type in CONFIGURATION_TYPES:
                    know.forget_configuration(data["target"])
                    if ids[data["target"]].type == "PolicyAdded":
                        self.pack_retractions.append((line.number, data["target"]))
            if entity:
                know.derive(stream, self._records_of(stream))
        else:
            know.apply(event_id, type_name, data, at)
            if type_name == "PolicyAdded":
                self.pack_additions.append((line.number, data["policy"], self._day(data["pack"]["effective_from"])))

    def _history_errors(self, line: Line) -> list[LineError]:
        """A correction or retraction of a case's or a person's event, or a case received again
        after its receipt was retracted, must leave the history consistent (``stream_problems``):
        only what the line itself would break is reported. A person's history is checked once
        the file has been read (``finish``), as the file leaves it: the start and the return of
        an absence may be retracted in either order."""
        if line.type == "InquiryReceived":
            stream = f"case:{line.data['case']}"
            field_name, advice = "occurred_at", "correct or retract that event first"
        else:
            stream = self.know.ids[line.data["target"]].stream
            field_name, advice = (("replacement.occurred_at", "correct the other event too, or in another order")
                                  if line.type == "Corrected" else ("target", "correct or retract that event first"))
        kind = stream.partition(":")[0]
        if kind == "staff":
            if line.type == "Retracted":
                advice = "correct or retract that event too"
            self.histories[stream] = (line.number, field_name, advice)  # (the stream's last such line)
            return []
        if kind != "case":
            return []
        records = self._records_of(stream)
        if line.type == "Corrected":
            field_name = self._changed_field(line.data, records)
        provisional = Record(_PROVISIONAL + len(records) + 1, stream, 0, line.id or "(this line)", self.now,
                             "", line.data, "", "")
        new = stream_problems(stream, [*records, provisional], self.tz) - stream_problems(stream, records, self.tz)
        return [LineError(line.number, field_name, f"{problem}; {advice}") for problem in sorted(new)]

    @staticmethod
    def _changed_field(data: dict[str, Any], records: list[Record]) -> str:
        """The field a correction's history error names: the replacement's time if it moves the
        event, else the first field it changes (a handoff given to someone else: ``to``)."""
        target = data["target"]
        current = next((f.content for f in effective_content(records) if f.record.event_id == target), {})
        replacement = data["replacement"]
        changed = [k for k in replacement if k != "type" and replacement[k] != current.get(k)]
        if not changed or "occurred_at" in changed:
            return "replacement.occurred_at"
        return f"replacement.{changed[0]}"

    def _dependant_errors(self, line: Line) -> list[LineError]:
        """A staff member, unit or post whose definition is retracted stops being known: refused
        while any event still names them (those events would name no one the ledger knows).
        Events of the same file before this line are not looked at: the ledger's, and the
        person's own stream, are."""
        target = line.data["target"]
        info = self.know.ids[target]
        kind = _DEFINED_BY.get(info.type)
        if kind is None:
            return []
        stream = info.stream
        name = stream.partition(":")[2]
        records = self._records_of(stream)
        provisional = Record(_PROVISIONAL + len(records) + 1, stream, 0, line.id or "(this line)", self.now,
                             "", line.data, "", "")
        remaining = effective_content([*records, provisional])
        if any(f.content["type"] == info.type for f in remaining):
            return []  # another definition of theirs stands
        own = [f.record.event_id for f in remaining]  # (a person's absences, a post's role changes)
        named = own[0] if own else self.ledger._first_naming(self.tx, kind, name, target)
        if named is None:
            return []
        return [LineError(line.number, "target", f"{kind} {name!r} would no longer be known, but event {named} "
                          f"names them: retract or correct the events that name {name!r} first, or correct "
                          f"{target} instead")]

    def _pack_change_errors(self) -> list[LineError]:
        """A pack version retracted must leave, as the whole file leaves the catalogue (a corrected
        version may follow the retraction in the same file), every other standing version resolvable;
        and a version retracted or added must leave every case received under that pack, or one
        extending it, a limit for its kind on the day of receipt: otherwise the read side could judge
        no case at all. A case is named at the file's last added version if it has one (that version
        is what leaves it without a limit), else at its last retraction."""
        know = self.know
        out: list[LineError] = []
        before = self.catalogue_before
        affected = {policy for _, policy, _ in self.pack_additions}
        # Added versions alone change only the limits on and after their dates, and only a version
        # that takes a kind or a limit away can strand a stored case: else the batch's own are read.
        since = None if self.pack_retractions else min(day for _, _, day in self.pack_additions)
        scan = bool(self.pack_retractions) or any(_limits_lost(before, know.catalogue, policy, day)
                                                  for _, policy, day in self.pack_additions)
        if self.pack_retractions:
            number, target = self.pack_retractions[-1]
            field_name, verdict = "target", "would then be judged by no pack version"
            advice = (f"add the corrected version in the same batch (`ledger policy add FILE --replacing {target!r} "
                      "--reason TEXT`)")
            out += [LineError(number, "target", f"without it, the pack version {standing} no longer resolves "
                              f"({why}): retract that one too (in either order), and add it again after")
                    for standing, why in know.unresolved.items()]
            affected |= {self.know.ids[t].stream.partition(":")[2] for _, t in self.pack_retractions}
        if self.pack_additions:
            number = self.pack_additions[-1][0]
            field_name, verdict = "pack", "would then have no time limit"
            advice = ("this version is in force on the day they were received: give it a limit for their kind, "
                      "or date it after them")
        while True:  # and the packs whose versions extend one of them
            more = {policy for _, policy, pack in know.packs if pack.get("extends") in affected} - affected
            if not more:
                break
            affected |= more
        receipts: dict[str, tuple[str, str, str, datetime]] = {
            case: (state.received_id, state.policy, state.kind, state.received_at)
            for case, state in know.cases.items() if state.policy in affected}
        unread = sorted({content["case"] for policy in sorted(affected if scan else ())
                         for _, content in self.ledger._naming(self.tx, "policy", policy, "")
                         if content.get("type") == "InquiryReceived"
                         and (since is None or self._day(content["occurred_at"]) >= since)} - set(know.cases))
        for fact in effective_content(self._stored_records([f"case:{case}" for case in unread])):
            content = fact.content
            if content["type"] == "InquiryReceived" and content["policy"] in affected:
                receipts[content["case"]] = (fact.record.event_id, content["policy"], content["kind"],
                                             fact.occurred_at)
        # (pack, kind, why) -> the first case's message (it names its day), the cases
        stranded: dict[tuple[str, str, str], tuple[str, list[str], str]] = {}
        for case, (event_id, policy, kind, at) in sorted(receipts.items()):
            if since is not None and at.astimezone(self.tz).date() < since:
                continue
            day = at.astimezone(self.tz).date()
            try:
                now = know.catalogue.limits_for(policy, kind, day)
            except PolicyError as exc:
                group = stranded.setdefault((policy, kind, type(exc).__name__), (str(exc), [], verdict))
                group[1].append(f"{case!r} (event {event_id})")
                continue
            try:
                had = before.limits_for(policy, kind, day)
            except PolicyError:
                continue  # (received in this batch under a version it adds)
            for which in ("reply", "transfer"):
                if getattr(had, which) is not None and getattr(now, which) is None:
                    why = (f"policy {policy!r} (in force on {day}) would set no {which} limit for kind {kind!r}, "
                           f"which it had when they were received ({getattr(had, which).describe()})")
                    lost = f"would then lose their {which} limit"
                    group = stranded.setdefault((policy, kind, which), (why, [], lost))
                    group[1].append(f"{case!r} (event {event_id})")
        for why, cases, said in stranded.values():
            rest = f" and {len(cases) - 3} more" if len(cases) > 3 else ""
            out.append(LineError(number, field_name, f"case {', '.join(cases[:3])}{rest} {said}: {why}; {advice}"))
        return out

    def _day(self, value: str) -> date:
        """A stored date, or an instant's day in the store's timezone."""
        if len(value.strip()) == 10:
            return date.fromisoformat(value.strip())
        return datetime.fromisoformat(value).astimezone(self.tz).date()

    def _fingerprint(self, event_id: str, info: IdInfo) -> str:
        if info.fingerprint is None:
            info.fingerprint = fingerprint(next(b for i, b in self.kept[info.stream] if i == event_id))
        return info.fingerprint

    def _records_of(self, stream: str) -> list[Record]:
        """Every record of a stream: those stored before the batch, then the batch's own."""
        own = [Record(_PROVISIONAL + i, stream, 0, event_id, self.now, "", orjson.loads(body), "", "")
               for i, (event_id, body) in enumerate(self.kept.get(stream, []))]
        return [*self.know.stored.get(stream, []), *own]

    def finish(self) -> None:
        """The checks that need the whole file."""
        for number, type_name, data, prefix in self.deferred:
            self.errors.extend(self.know.deferred_errors(number, type_name, data, prefix))
        if self.pack_retractions or self.pack_additions:
            self.errors.extend(self._pack_change_errors())
        for stream, (number, field_name, advice) in self.histories.items():
            stored = self.know.stored.get(stream, [])
            new = stream_problems(stream, self._records_of(stream), self.tz) - stream_problems(stream, stored, self.tz)
            self.errors.extend(LineError(number, field_name, f"{problem}; {advice}") for problem in sorted(new))
        # (a person whose history a correction changed is reported by the history check, at its line)
        self.errors.extend(self.know.open_absence_errors(skip=self.histories))

    def sorted_errors(self) -> list[LineError]:
        return sorted(self.errors, key=lambda e: e.line)


def _limits_lost(before: PolicyCatalogue, after: PolicyCatalogue, policy: str, since: date) -> bool:
    """Whether ``after`` takes away, on some day from ``since``, a kind or a limit that ``before``
    gave ``policy`` then (the versions change only at their dates: those days, and ``since``, tell)."""
    if policy not in before:
        return False  # a pack new in this batch: no stored case was received under it
    days = {since} | {v.effective_from for c in (before, after) for v in c.versions(policy)
                      if v.effective_from >= since}
    for day in sorted(days):
        try:
            had = before.in_force(policy, day)
        except PolicyError:
            continue
        try:
            now = after.in_force(policy, day)
        except PolicyError:
            return True
        for kind, limits in had.limits.items():
            kept = now.limits.get(kind)
            if kept is None or (limits.reply and not kept.reply) or (limits.transfer and not kept.transfer):
                return True
    return False


class _Writer:
    """The storing half of a batch, inside the write transaction: each record's stream version
    and link in the hash chain, then the events, their ids and the read models."""

    def __init__(self, ledger: Ledger, tx: Tx):
        self.ledger, self.tx, self.store = ledger, tx, ledger.store
        ledger._catch_up(tx)
        head = self.store.head_row(tx)
        now = ledger.clock()
        self.fresh = head is None  # nothing stored yet: no stream has a version to look up
        self.prev_hash, self.top, self.recorded_at = GENESIS, 0, now
        if head is not None:
            head_rec = record_from_state(head[0], "", 0, head[1])
            self.prev_hash, self.top = head_rec.hash, head[0]
            self.recorded_at = max(now, head_rec.recorded_at)  # never runs backwards
        self.when = self.recorded_at.isoformat()  # one instant for the whole batch
        self.when_utc = utc_text(self.recorded_at)
        self.versions: dict[str, int] = {}  # stream -> last version, for the streams seen
        self.appended = 0
        self.first_seq: int | None = None
        for projector in ledger.projectors:
            projector.begin(appending=True)

    def write(self, pending: Sequence[Pending], contents: Sequence[dict[str, Any]] | None = None) -> None:
        """Store checked records; ``contents`` are theirs (None: decoded where a read model wants one)."""
        if not pending:
            return
        versions = self.versions
        if not self.fresh:
            unseen = sorted({p[0] for p in pending if p[0] not in versions})
            versions.update(dict.fromkeys(unseen, 0))
            versions.update(self.store.stream_versions(self.tx, unseen))
        rows = []
        prev, when = self.prev_hash, self.when
        for stream, type_name, event_id, recorder, body in pending:
            version = versions.get(stream, 0) + 1
            versions[stream] = version
            prev, state = link_bytes(stream, version, event_id, when, recorder, body, prev)
            rows.append((stream, version, type_name, state))
        tx = self.tx
        seqs = self.store.insert(tx, rows, self.top)
        if self.ledger.ids_copy_events:
            tx.bulk_insert("ledger_ids", ("id", "seq", "stream", "type", "fingerprint"),
                           [(p[2], seq, p[0], p[1], fingerprint(p[4])) for p, seq in zip(pending, seqs, strict=True)])
        else:
            tx.bulk_insert("ledger_ids", ("id", "seq"), [(p[2], seq) for p, seq in zip(pending, seqs, strict=True)])
        route, records = self.ledger._route, []
        for i, (stream, type_name, event_id, _, body) in enumerate(pending):
            audience, fields = route(stream, type_name)
            if type_name == "Retracted" or audience:
                if contents is not None:
                    content = contents[i]
                else:  # (a retraction's target is read below: its content is decoded whole)
                    sliced = None if fields is None else sliced_content(body, fields)
                    content = orjson.loads(body) if sliced is None else sliced
                records.append(Logged(seqs[i], stream, type_name, event_id, content, self.when_utc))
        retracted = [(r.content["target"],) for r in records if r.type == "Retracted"]
        tx.executemany("UPDATE ledger_ids SET retracted = 1 WHERE id = ?", retracted)
        self.ledger._project(tx, records, seqs[-1])
        if self.first_seq is None:
            self.first_seq = seqs[0]
        self.prev_hash, self.top = prev, seqs[-1]
        self.appended += len(pending)

    def result(self, skipped: int, repeated: int = 0) -> AppendResult:
        """What was appended; the read models write what they held back (the batch is done)."""
        for projector in self.ledger.projectors:
            projector.finish(self.tx)
        if not self.appended:
            return AppendResult(0, skipped, None, None, None, repeated)
        return AppendResult(self.appended, skipped, self.first_seq, self.top, self.recorded_at, repeated)


class _WriterProcess:
    """A ``_Writer`` in a forked process of its own, fed through a pipe.

    It opens its own connection, takes the write lock and holds the one transaction; it
    commits only when told to, after every line was checked. If this process dies (even by
    SIGKILL) the writer sees the pipe close, or is killed with it, and its transaction rolls
    back: nothing of the batch is written. Once committed, it answers, then copies the batch
    from SQLite's write-ahead log into the database file while the clerk goes on (its commit
    leaves that checkpoint out: it took about a tenth of a large append's time, measured).
    """

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.pid, self.conn = fork(lambda conn: _serve(ledger, conn))
        _, *answer = self._receive()
        self.recorded_at, self.fresh = answer
        # Sending is done by a thread: this process checks the next chunk while the previous
        # one is still on its way into a busy writer (a send waits until the writer reads).
        self._outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        self._send_failed = False
        self.committed = False
        self.reaper: threading.Thread | None = None
        self._sender = threading.Thread(target=self._send_all, name="ledger-writer-feed", daemon=True)
        self._sender.start()

    def _send_all(self) -> None:
        while (message := self._outbox.get()) is not None:
            if self._send_failed:
                continue  # the writer stopped: keep emptying the queue, so nothing waits on it
            try:
                self.conn.send_bytes(message)
            except OSError:
                self._send_failed = True

    def _receive(self) -> tuple[Any, ...]:
        try:
            message: tuple[Any, ...] = pickle.loads(self.conn.recv_bytes())
        except EOFError:
            raise StoreError("the ledger's writer process ended unexpectedly; nothing was written") from None
        if message[0] == "error":
            raise message[1]
        return message

    def _stop_sending(self) -> None:
        if self._sender.is_alive():
            self._outbox.put(None)
            self._sender.join()

    def write(self, pending: Sequence[Pending]) -> None:
        if self._send_failed:
            self._stop_sending()
            self._receive()  # the writer stopped: raise what it reported
            raise StoreError("the ledger's writer process stopped; nothing was written")
        if pending:
            self._outbox.put(b"w" + pickle.dumps(pending, protocol=pickle.HIGHEST_PROTOCOL))

    def request_commit(self, skipped: int, repeated: int = 0) -> None:
        """Tell the writer to commit (the message is sent when this returns); ``await_commit``
        waits for its answer."""
        self._outbox.put(b"c" + pickle.dumps((skipped, repeated)))
        self._stop_sending()

    def await_commit(self) -> AppendResult:
        _, result = self._receive()
        assert isinstance(result, AppendResult)
        self.committed = True
        return result

    def abort(self) -> None:
        self._outbox.put(b"a")
        self._stop_sending()

    def __enter__(self) -> _WriterProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_sending()
        self.conn.close()  # a writer still waiting rolls back on seeing the pipe closed
        if self.committed:
            # The writer goes on to checkpoint (``_serve``); it is reaped when it ends, by a
            # thread, so that the clerk need not wait (and a long-lived process keeps no zombies).
            self.reaper = threading.Thread(target=os.waitpid, args=(self.pid, 0), name="ledger-writer-reaper",
                                           daemon=True)
            self.reaper.start()
        else:
            os.waitpid(self.pid, 0)


class _Abort(Exception):
    """The batch had errors: roll the writer's transaction back."""


def _serve(ledger: Ledger, conn: Connection) -> None:
    """The writer process: one write transaction, fed records until told to commit or abort."""
    try:
        ledger.store = own_store(ledger.store)  # (the parent's is left alone: ``own_store``)
        with ledger.store.write() as tx:
            ledger.store.leave_checkpoint(tx)
            writer = _Writer(ledger, tx)
            conn.send_bytes(pickle.dumps(("ready", writer.recorded_at, writer.fresh)))
            with insert_guards_lifted(ledger.store, tx):  # back before the commit (integrity.py)
                while True:
                    message = conn.recv_bytes()
                    if message[:1] == b"w":
                        writer.write(pickle.loads(message[1:]))
                    elif message[:1] == b"c":
                        result = writer.result(*pickle.loads(message[1:]))
                        break
                    else:
                        raise _Abort
    except (_Abort, EOFError):
        return
    except BaseException as exc:
        with suppress(Exception):
            conn.send_bytes(pickle.dumps(("error", picklable(exc, "the ledger's writer"))))
        raise
    # Committed. The clerk gets its answer now; this process then copies the batch from the
    # write-ahead log into the database file on its own (the clerk does not wait for it).
    _outlive_parent()
    with suppress(OSError):
        conn.send_bytes(pickle.dumps(("done", result)))
        conn.close()
    with suppress(Exception):
        ledger.store.checkpoint()


def _outlive_parent() -> None:
    """After the commit: no longer die with the clerk's process, and let go of its terminal and
    pipes (whoever reads the clerk's output sees it end when the clerk ends)."""
    parent_death_signal(0)
    with suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)


__all__ = ["EVENT_TYPES", "AppendResult", "Ledger", "Projector"]
