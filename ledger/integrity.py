"""Integrity of the journal: append-only storage, the hash chain, and database roles.

Three layers, each covering what the one before cannot:

1. No code path updates or deletes an event, and the database refuses it too: triggers on
   the events table (and on the ``ledger_ids`` index) abort UPDATE, DELETE and, on
   PostgreSQL, TRUNCATE (on SQLite, INSERT OR REPLACE; a large batch's writer lifts those two
   inside its own transaction only: ``insert_guards_lifted``); the settings table (the
   timezone, written when the ledger is created) refuses every change the same way. On
   PostgreSQL ``grant_roles`` also gives clerks INSERT but no UPDATE/DELETE (on the settings,
   SELECT only), and committees SELECT only. The settings are outside the hash chain: someone
   who drops the triggers can change the timezone undetected by ``verify``, which every answer
   then shows (its times carry the zone's offset).
2. Someone with the database file (or superuser rights) can drop the triggers. Every record
   therefore carries ``prev`` (the hash of the record before it in sequence order) and
   ``hash`` (sha256 of its canonical body: stream, version, id, both times, recorder,
   content, prev), and ``verify`` recomputes the chain, naming the first bad event. It also
   checks the id index against the chain it walks: an index edited with its triggers dropped
   (an id's row removed, so that the id is taken again; an id marked retracted with no
   Retracted event, so that it can no longer be corrected) breaks no hash.
3. An intruder who rewrites history *and* recomputes every later hash leaves a chain that
   is internally sound. The head digest (``SEQ:HASH``) written into a committee's minutes
   catches that: ``verify(digest=...)`` checks the record at SEQ still has that hash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson

from ledger.interchange import canonical
from ledger.records import GENESIS
from ledger.store import LOCK_FUNCTION, Store, StoreError, Tx

#: What every refusal says, on both databases.
APPEND_ONLY = "the ledger is append-only"

#: The fields of a stored record's state (records.Record.state()).
RECORD_KEYS = frozenset({"stream", "version", "id", "recorded_at", "recorded_by", "event", "prev", "hash"})

#: The ledger's own index of event ids (ledger/application.py): append-only except that an
#: id may be marked retracted, which Ledger._index does when a Retracted event is stored.
IDS_TABLE = "ledger_ids"
#: The settings fixed when the ledger is created (its timezone): written once, never changed.
SETTINGS_TABLE = "ledger_settings"
_SETTINGS_FIXED = "the settings of a ledger (its timezone) are fixed when it is created"

_HASH = re.compile(r"[0-9a-f]{64}")
_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


# --- 1. append-only storage ------------------------------------------------------------


def append_only_statements(dialect: str, events_table: str) -> list[str]:
    """SQL that makes the event tables refuse UPDATE and DELETE (idempotent, run on every open).

    Read-model tables (``rm_*``) and the library's tracking table are caches that
    ``ledger rebuild`` empties; they are deliberately left writable.
    """
    if dialect == "sqlite":
        return _sqlite_statements(events_table)
    return [_postgres_statement(events_table)]


def _sqlite_statements(events: str) -> list[str]:
    def refuse(message: str) -> str:
        return f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}: {message}'); END"

    return [
        f"CREATE TRIGGER IF NOT EXISTS ledger_events_refuse_update BEFORE UPDATE ON {events} "
        + refuse("a stored event cannot be changed; record a Corrected event instead"),
        f"CREATE TRIGGER IF NOT EXISTS ledger_events_refuse_delete BEFORE DELETE ON {events} "
        + refuse("a stored event cannot be deleted; record a Retracted event instead"),
        # INSERT OR REPLACE deletes the row it collides with without firing DELETE triggers
        # (unless recursive_triggers is on), so a colliding insert is refused here.
        f"CREATE TRIGGER IF NOT EXISTS {INSERT_GUARDS[0]} BEFORE INSERT ON {events} "
        f"WHEN EXISTS (SELECT 1 FROM {events} WHERE rowid = NEW.rowid"
        " OR (originator_id = NEW.originator_id AND originator_version = NEW.originator_version)) "
        + refuse("an event with this sequence number or stream version is already stored"),
        f"CREATE TRIGGER IF NOT EXISTS ledger_ids_refuse_delete BEFORE DELETE ON {IDS_TABLE} "
        + refuse("an event id cannot be removed from the index"),
        f"CREATE TRIGGER IF NOT EXISTS ledger_ids_refuse_update BEFORE UPDATE OF id, seq, stream, type, "
        f"fingerprint ON {IDS_TABLE} " + refuse("an indexed event id cannot be changed"),
        f"CREATE TRIGGER IF NOT EXISTS ledger_ids_refuse_unretract BEFORE UPDATE OF retracted ON {IDS_TABLE} "
        "WHEN NEW.retracted IS NOT 1 " + refuse("a retraction cannot be undone"),
        # An id is marked retracted by the batch that stores its Retracted event, and only then.
        f"CREATE TRIGGER IF NOT EXISTS ledger_ids_retract_needs_event BEFORE UPDATE OF retracted ON {IDS_TABLE} "
        f"WHEN NEW.retracted = 1 AND OLD.retracted IS NOT 1 AND NOT EXISTS (SELECT 1 FROM {events} r "
        f"WHERE r.originator_id = (SELECT t.originator_id FROM {events} t WHERE t.rowid = NEW.seq) "
        "AND r.topic = 'Retracted' AND json_extract(CAST(r.state AS TEXT), '$.event.target') = NEW.id) "
        + refuse("an event id is marked retracted only by storing its Retracted event"),
        f"CREATE TRIGGER IF NOT EXISTS {INSERT_GUARDS[1]} BEFORE INSERT ON {IDS_TABLE} "
        f"WHEN EXISTS (SELECT 1 FROM {IDS_TABLE} WHERE id = NEW.id) "
        + refuse("this event id is already indexed"),
        # The timezone decides how every naive time was read and where each working day ends:
        # changed, the same events would give other answers.
        f"CREATE TRIGGER IF NOT EXISTS ledger_settings_refuse_update BEFORE UPDATE ON {SETTINGS_TABLE} "
        + refuse(_SETTINGS_FIXED),
        f"CREATE TRIGGER IF NOT EXISTS ledger_settings_refuse_delete BEFORE DELETE ON {SETTINGS_TABLE} "
        + refuse(_SETTINGS_FIXED),
        f"CREATE TRIGGER IF NOT EXISTS ledger_settings_refuse_replace BEFORE INSERT ON {SETTINGS_TABLE} "
        f"WHEN EXISTS (SELECT 1 FROM {SETTINGS_TABLE} WHERE key = NEW.key) " + refuse(_SETTINGS_FIXED),
    ]


#: SQLite's guards against a colliding insert (``INSERT OR REPLACE``), one per table.
INSERT_GUARDS = ("ledger_events_refuse_replace", "ledger_ids_refuse_replace")


@contextmanager
def insert_guards_lifted(store: Store, tx: Tx) -> Iterator[None]:
    """Inside one SQLite write transaction: lift the guards against a colliding insert while a
    large batch is stored, and put them back before the transaction can commit.

    Each guard looks its table up once per inserted row (the events' by rowid and by stream
    version, the index's by id): 3-5 µs per event, measured on 300k rows, a sixth of a large
    batch's storing. They guard against *other* writers, and while this transaction lasts
    there is none: it holds SQLite's write lock. Its own inserts are plain ``INSERT`` s, which
    a collision makes fail on the tables' keys anyway. SQLite's DDL is transactional, so the
    lifting is part of this transaction: every reader's snapshot, and every state ever
    committed, has the guards; a transaction that rolls back (an error, a killed process)
    rolls the lifting back with it. PostgreSQL has no such guard (it has no REPLACE): nothing
    to lift.
    """
    if store.dialect != "sqlite":
        yield
        return
    guards = [s for s in _sqlite_statements(store.events_table) if any(n in s for n in INSERT_GUARDS)]
    for name in INSERT_GUARDS:
        tx.execute(f"DROP TRIGGER IF EXISTS {name}")
    try:
        yield
    except BaseException:
        with suppress(Exception):  # the transaction rolls back, and the drop with it; this is for
            for statement in guards:  # a caller that would catch the error and commit anyway
                tx.execute(statement)
        raise
    for statement in guards:
        tx.execute(statement)


# Bodies of the PostgreSQL trigger functions. No '%' or '?' anywhere: Tx passes statements
# through the driver's placeholder parsing.
_PG_REFUSE = (
    "BEGIN RAISE EXCEPTION USING ERRCODE = 'restrict_violation', "
    f"MESSAGE = '{APPEND_ONLY}: ' || TG_OP || ' on ' || TG_TABLE_NAME || ' is refused', "
    "HINT = 'record a Corrected or Retracted event instead'; END"
)
_PG_SETTINGS_FIXED = (
    "BEGIN RAISE EXCEPTION USING ERRCODE = 'restrict_violation', "
    f"MESSAGE = '{APPEND_ONLY}: ' || TG_OP || ' on ' || TG_TABLE_NAME || ' is refused', "
    f"HINT = '{_SETTINGS_FIXED}'; END"
)


def _pg_ids_guard(events: str) -> str:
    # Every column but retracted unchanged (whichever columns the index has), retracted set, and
    # the id's Retracted event stored (by the same batch, which marks it).
    return (
        "BEGIN IF TG_OP = 'UPDATE' AND NEW.retracted = 1"
        " AND (to_jsonb(NEW) - 'retracted') = (to_jsonb(OLD) - 'retracted')"
        f" AND (OLD.retracted = 1 OR EXISTS (SELECT 1 FROM {events} e WHERE e.originator_id ="
        f" (SELECT t.originator_id FROM {events} t WHERE t.notification_id = NEW.seq)"
        " AND e.topic = 'Retracted' AND convert_from(e.state, 'UTF8')::jsonb #>> '{event,target}' = NEW.id))"
        " THEN RETURN NEW;"
        " END IF; RAISE EXCEPTION USING ERRCODE = 'restrict_violation', "
        f"MESSAGE = '{APPEND_ONLY}: ' || TG_OP || ' on ' || TG_TABLE_NAME || ' is refused', "
        "HINT = 'the only change allowed to an indexed event id is marking it retracted, by storing its "
        "Retracted event'; END"
    )


def _postgres_statement(events: str) -> str:
    """One DO block creating what is missing (runs in the ledger's schema, via search_path).

    It looks before it creates: CREATE OR REPLACE FUNCTION and DROP/CREATE TRIGGER on every
    open would take table locks behind a clerk's batch and fail ("tuple concurrently
    updated") when several clerks open the ledger at once.
    """
    def function(name: str, body: str) -> str:
        return (
            f" IF NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = '{name}' AND pronamespace ="
            f" (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND prosrc = $src${body}$src$)"
            f" THEN CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $src${body}$src$;"
            " END IF;"
        )

    def trigger(name: str, table: str, when: str, function_name: str) -> str:
        scope = "FOR EACH STATEMENT" if "TRUNCATE" in when else "FOR EACH ROW"
        return (
            f" IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = '{table}'::regclass AND tgname = '{name}')"
            f" THEN CREATE TRIGGER {name} {when} ON {table} {scope} EXECUTE FUNCTION {function_name}(); END IF;"
        )

    return (
        "DO $ledger$ BEGIN"
        + function("ledger_refuse_change", _PG_REFUSE)
        + function("ledger_ids_guard", _pg_ids_guard(events))
        + trigger("ledger_events_refuse_change", events, "BEFORE UPDATE OR DELETE", "ledger_refuse_change")
        + trigger("ledger_events_refuse_truncate", events, "BEFORE TRUNCATE", "ledger_refuse_change")
        + trigger("ledger_ids_refuse_change", IDS_TABLE, "BEFORE UPDATE OR DELETE", "ledger_ids_guard")
        + trigger("ledger_ids_refuse_truncate", IDS_TABLE, "BEFORE TRUNCATE", "ledger_refuse_change")
        + function("ledger_settings_fixed", _PG_SETTINGS_FIXED)
        + trigger("ledger_settings_refuse_change", SETTINGS_TABLE, "BEFORE UPDATE OR DELETE", "ledger_settings_fixed")
        + trigger("ledger_settings_refuse_truncate", SETTINGS_TABLE, "BEFORE TRUNCATE", "ledger_settings_fixed")
        + " END $ledger$"
    )


# --- 2. the hash chain -----------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """A point in the chain: a sequence number and the hash of the record there."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        """Read ``SEQ:HASH`` as printed by ``ledger digest``."""
        seq, sep, digest = text.strip().partition(":")
        digest = digest.lower()
        if not sep or not seq.isdigit() or not _HASH.fullmatch(digest):
            raise ValueError(
                f"{text[:80]!r} is not a digest: expected SEQ:HASH as printed by `ledger digest`, "
                "e.g. 1024:" + "0" * 64
            )
        if int(seq) == 0 and digest != GENESIS:
            raise ValueError(f"the digest of the empty ledger is 0:{GENESIS}")
        return cls(int(seq), digest)


EMPTY = Head(0, GENESIS)


@dataclass(frozen=True)
class Problem:
    """The first thing wrong with the chain: where, and what."""

    seq: int
    id: str | None
    stream: str | None
    problem: str

    def __str__(self) -> str:
        where = f"event {self.seq}"
        if self.id:
            where += f" (id {self.id}"
            where += f", stream {self.stream})" if self.stream else ")"
        return f"{where}: {self.problem}"


@dataclass(frozen=True)
class Verification:
    """The result of re-computing the chain."""

    intact: bool
    head: Head  # the ledger's last record as stored (its recorded hash, even when broken)
    checked: int  # records found good before the first bad one (all of them when intact)
    first_bad: Problem | None
    digest: Head | None = None  # the digest that was checked, if one was given
    digest_matches: bool = False  # the record at digest.seq was reached and has digest.hash

    def as_json(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "head": asdict(self.head),
            "checked": self.checked,
            "first_bad": asdict(self.first_bad) if self.first_bad else None,
            "digest": None if self.digest is None else {
                **asdict(self.digest),
                "matches": self.digest_matches,
            },
        }


@dataclass(frozen=True)
class _Row:
    seq: int
    stream: str
    version: int
    topic: str | None
    state: bytes
    stored_as: str = "blob"  # what the state column held: "blob" as the ledger writes it (``_rows``)


@dataclass
class _Link:
    """What the next record must agree with."""

    hash: str = GENESIS
    recorded_at: datetime | None = None
    record: dict[str, Any] | None = None  # the state of the record it moved on to (``_check_record``)


def _rows(store: Store, tx: Tx, after: int, upto: int, limit: int) -> list[_Row]:
    """Stored rows as they are, whatever an intruder left in them.

    The ledger writes every state as bytes, but a SQLite column holds whatever it is given:
    an UPDATE through SQLite's ``replace()`` leaves TEXT, and anyone can set a number or NULL
    (PostgreSQL's ``bytea`` holds bytes or NULL only). The state is read as the store reads it
    (``Store.state_column``: cast to bytes, so TEXT that is not UTF-8 does not fail in the driver)
    with ``typeof`` alongside, so that ``_check_record`` names such a row instead of verify failing
    with a traceback.
    """
    seq = store.seq_column
    state = (f"{store.state_column} AS state, typeof(state) AS stored_as" if store.dialect == "sqlite"
             else f"{store.state_column} AS state, 'blob' AS stored_as")
    tx.execute(
        f"SELECT {seq}, originator_id, originator_version, topic, {state} FROM {store.events_table} "
        f"WHERE {seq} > ? AND {seq} <= ? ORDER BY {seq} LIMIT ?",
        (after, upto, limit),
    )
    return [
        _Row(int(s), str(o), int(v), None if t is None else str(t), b"" if st is None else bytes(st),
             "null" if st is None else str(kind))
        for s, o, v, t, st, kind in tx.fetchall()
    ]


def _check_record(row: _Row, link: _Link) -> Problem | None:
    """Everything that must hold for one stored record, given the record before it.

    On success ``link`` moves on to this record.
    """
    def bad(problem: str, data: Any = None) -> Problem:
        ident = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
        return Problem(row.seq, ident, row.stream, problem)

    if row.stored_as not in ("blob", "text"):  # NULL, a number: there is no record to read
        return bad(f"its stored state is {row.stored_as.upper()}, not the bytes the ledger wrote (the row was edited)")
    try:
        data = orjson.loads(row.state)
    except (ValueError, UnicodeDecodeError):
        return bad("its stored state is not valid JSON (the row was edited)")
    if not isinstance(data, dict) or set(data) != RECORD_KEYS:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        return bad(f"its stored state does not have the fields of a record (found {found})", data)
    if not all(isinstance(data[k], str) for k in ("stream", "id", "recorded_at", "recorded_by", "prev", "hash")) \
            or not isinstance(data["event"], dict) or type(data["version"]) is not int:
        return bad("its stored state has fields of the wrong type (the row was edited)", data)
    body = {k: v for k, v in data.items() if k != "hash"}
    digest = hashlib.sha256(canonical(body)).hexdigest()
    if digest != data["hash"]:
        return bad("its content does not match its hash: stream, version, id, times, recorder or "
                   "event were changed after it was recorded", data)
    if canonical(data) != row.state:
        return bad("its stored bytes are not the canonical form of its content (the row was edited)", data)
    # TEXT is checked as its bytes above, so that a changed content is named as such; TEXT
    # holding the very bytes the ledger wrote is still an edit (the ledger writes only BLOBs).
    if row.stored_as != "blob":
        return bad("its stored state is TEXT, not the bytes the ledger wrote (the row was edited)", data)
    if data["stream"] != row.stream or data["version"] != row.version:
        return bad(f"it is stored as {row.stream} version {row.version}, but its record says "
                   f"{data['stream']} version {data['version']} (the row was moved)", data)
    if row.topic is not None and row.topic != data["event"].get("type"):
        return bad(f"it is stored with type {row.topic!r}, but its record says {data['event'].get('type')!r}", data)
    if data["prev"] != link.hash:
        what = "the first event" if link.hash == GENESIS else "the event stored before it"
        return bad(f"its link to {what} is broken (prev {data['prev'][:12]}…, expected {link.hash[:12]}…): "
                   "an event before it was deleted, inserted, changed or reordered", data)
    try:
        recorded_at = datetime.fromisoformat(data["recorded_at"])
    except ValueError:
        return bad(f"its recorded_at {data['recorded_at'][:40]!r} is not an instant", data)
    if recorded_at.utcoffset() is None:
        return bad(f"its recorded_at {data['recorded_at']!r} has no UTC offset", data)
    if link.recorded_at is not None and recorded_at < link.recorded_at:
        return bad(f"it was recorded at {data['recorded_at']}, before the event stored before it "
                   f"({link.recorded_at.isoformat()}): the ledger's clock never runs backwards", data)
    link.hash, link.recorded_at, link.record = digest, recorded_at, data
    return None


def head(store: Store) -> Head:
    """The last record's sequence number and hash (``EMPTY`` for an empty ledger).

    The head record's own hash is checked; a broken head raises ``StoreError``.
    """
    with store.read() as tx:
        upto = store.max_seq(tx)
        rows = _rows(store, tx, upto - 1, upto, 1) if upto else []
    if not rows:
        return EMPTY
    row = rows[0]
    try:
        prev = orjson.loads(row.state).get("prev", "")
    except (ValueError, AttributeError, UnicodeDecodeError):
        prev = ""
    problem = _check_record(row, _Link(hash=prev if isinstance(prev, str) else ""))
    if problem is not None:
        raise StoreError(f"the ledger's head is damaged: {problem}; run `ledger verify`")
    return Head(row.seq, orjson.loads(row.state)["hash"])


def verify(
    store: Store,
    digest: Head | None = None,
    page: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> Verification:
    """Re-compute the whole chain in pages (memory stays flat), stopping at the first bad event.

    With ``digest`` (from a committee's minutes) the record at its sequence number must
    also still carry its hash: this catches a truncated tail and a history rewritten with
    freshly computed hashes, which the chain alone cannot. ``progress(seq, top)`` is
    called after each page.

    The ledger's id index (``ledger_ids``, when the store has one) is checked against the
    records that hold, a page at a time (``_IdIndex``): each record's id is indexed at its own
    sequence number, so that no two records share an id; an id is marked retracted exactly when
    a stored Retracted event targets it; and the index has no other row. Each record's chain is
    checked before its index row.
    """
    with store.read() as tx:
        top = store.max_seq(tx)
        last = _rows(store, tx, top - 1, top, 1) if top else []
    stored_head = EMPTY
    if last:
        try:
            stored_head = Head(top, str(orjson.loads(last[0].state)["hash"]))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            stored_head = Head(top, "")
    index = _IdIndex.of(store)
    link = _Link()
    checked, position = 0, 0
    anchor_found = digest is None or digest.seq == 0

    def result(problem: Problem | None) -> Verification:
        matches = digest is not None and anchor_found and not (problem and problem.seq == digest.seq)
        return Verification(problem is None, stored_head, checked, problem, digest, matches)

    def index_result(problem: Problem, before: int) -> Verification:
        nonlocal checked, anchor_found
        checked = before  # the records before it hold
        anchor_found = digest is None or digest.seq <= problem.seq  # (reached, as the chain holds up to it)
        return result(problem)

    if digest is not None and digest.seq == 0 and digest.hash != GENESIS:
        return result(Problem(0, None, None, f"the empty ledger's digest is 0:{GENESIS}"))
    while position < top:
        with store.read() as tx:
            rows = _rows(store, tx, position, top, page)
        if not rows:
            break
        holding: list[_Held] = []  # this page's records that hold, in order
        stop: Problem | None = None  # what is wrong with the record after them
        for row in rows:
            if digest is not None and not anchor_found and row.seq > digest.seq:
                stop = _missing_anchor(digest, top)
                break
            stop = _check_record(row, link)
            if stop is not None:
                break
            if digest is not None and row.seq == digest.seq:
                anchor_found = True
                if link.hash != digest.hash:  # the bad event: not counted among those that hold
                    stop = Problem(
                        row.seq, _id_of(row), row.stream,
                        f"its hash is {link.hash}, but the digest says {digest.hash}: the history up to "
                        f"event {digest.seq} was rewritten since that digest was taken",
                    )
                    break
            assert link.record is not None
            holding.append(_held(row, link.record))
        if index is not None:  # (a record that holds comes before ``stop``, and so does its index row)
            found = index.check(holding, checked)
            if found is not None:
                return index_result(*found)
        checked += len(holding)
        if stop is not None:
            return result(stop)
        position = rows[-1].seq
        if progress is not None:
            progress(position, top)
    if not anchor_found and digest is not None:
        return result(_missing_anchor(digest, top))
    if index is not None:
        found = index.finish(top, checked)
        if found is not None:
            return index_result(*found)
    return result(None)


#: Ids looked up in the index with one statement (SQLite allows 32766 parameters since 3.32, 999 before).
_ID_CHUNK = 900


class _IdIndex:
    """The ledger's id index (``ledger_ids``) as ``verify`` checks it against the records.

    Each record that holds must have its id indexed at its own sequence number (the id is the
    index's key, so a second record with the same id cannot also be), with the stream and type
    that ledgers made before 0.2 copy into the index, and marked retracted exactly when a stored
    Retracted event targets it; and the index must have no row besides the records'. The rows
    are looked up by key, a page's ids at a time (the index has no other), and only the ids
    marked retracted whose Retracted event is not read yet are kept.
    """

    def __init__(self, store: Store, columns: Sequence[str]):
        self.store = store
        #: Whether the index copies each event's stream and type (ledgers made before 0.2).
        self.copies = "stream" in columns and "type" in columns
        self.select = "id, seq, retracted" + (", stream, type" if self.copies else "")
        #: Ids marked retracted, read before any Retracted event targeting them: id -> (seq, stream,
        #: how many records hold before it).
        self.pending: dict[str, tuple[int, str, int]] = {}

    @classmethod
    def of(cls, store: Store) -> _IdIndex | None:
        """The store's id index (None for a store the ledger's schema was never created in)."""
        columns = store.columns(IDS_TABLE)
        return cls(store, columns) if columns else None

    def check(self, holding: Sequence[_Held], before: int) -> tuple[Problem, int] | None:
        """The first record whose index row is wrong, with how many hold before it (``before``
        hold before the first of these)."""
        if not holding:
            return None
        wanted = {held[2] for held in holding}
        wanted.update(held[4] for held in holding if held[4] is not None)
        indexed = self._lookup(list(wanted))
        copies = self.copies
        for i, held in enumerate(holding):
            entry = indexed.get(held[2])
            # Most records: indexed here, not retracted, retracting nothing (and nothing copied).
            if entry is None or entry[1] != held[0] or entry[2] != 0 or held[4] is not None or copies:
                problem = self._check(held, indexed, before + i)
                if problem is not None:
                    return problem, before + i
        return None

    def _lookup(self, ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        found: dict[str, tuple[Any, ...]] = {}
        with self.store.read() as tx:
            for i in range(0, len(ids), _ID_CHUNK):
                chunk = ids[i:i + _ID_CHUNK]
                tx.execute(f"SELECT {self.select} FROM {IDS_TABLE} WHERE id IN ({','.join('?' * len(chunk))})",
                           chunk)
                for entry in tx.fetchall():
                    found[entry[0]] = entry
        return found

    def _check(self, held: _Held, indexed: dict[str, tuple[Any, ...]], before: int) -> Problem | None:
        at, stream, event_id, kind, target = held

        def bad(problem: str) -> Problem:
            return Problem(at, event_id, stream, problem)

        entry = indexed.get(event_id)
        if entry is None:
            return bad(f"its id {event_id!r} is missing from the ledger's id index ({IDS_TABLE}): the index "
                       "was edited, so a repeated id would not be caught")
        seq, retracted = entry[1], entry[2]
        if seq != at:
            return bad(self._elsewhere(event_id, seq))
        if self.copies and (entry[3], entry[4]) != (stream, kind):
            return bad(f"the id index ({IDS_TABLE}) has it as {entry[4]!r} in {entry[3]!r}, but its record is "
                       f"{kind!r} in {stream!r}: the index was edited")
        if retracted not in (0, 1):
            return bad(f"the id index ({IDS_TABLE}) holds retracted = {retracted!r} for it, not 0 or 1: "
                       "the index was edited")
        if retracted == 1:  # its Retracted event comes after it, if there is one
            self.pending[event_id] = (at, stream, before)
        if target is None:
            return None
        aimed = indexed.get(target)
        if aimed is None or type(aimed[1]) is not int or aimed[1] >= at:
            return bad(f"it retracts {target!r}, but the id index ({IDS_TABLE}) has no event with that id "
                       "stored before it")
        if aimed[2] != 1:
            return bad(f"it retracts {target!r}, but the id index ({IDS_TABLE}) does not mark {target!r} "
                       "retracted: the index was edited, so it could be corrected or retracted again")
        self.pending.pop(target, None)
        return None

    def _elsewhere(self, event_id: str, seq: Any) -> str:
        """What is wrong when the index gives a record's id another sequence number."""
        if type(seq) is not int:
            return f"its id {event_id!r} is indexed ({IDS_TABLE}) at {seq!r}, not at this event: the index was edited"
        where = f"its id {event_id!r} is indexed ({IDS_TABLE}) at event {seq}, not at this one"
        with self.store.read() as tx:
            rows = _rows(self.store, tx, seq - 1, seq, 1)
        if rows and _id_of(rows[0]) == event_id:
            return (f"{where}, and event {seq} has the same id: the index was edited, so the repeated id "
                    "was not caught")
        return f"{where}: the index was edited"

    def finish(self, top: int, checked: int) -> tuple[Problem, int] | None:
        """After the last record (``checked`` of them, up to ``top``, all holding): an id marked
        retracted that no Retracted event targets, or a row of the index that is no record's; with
        how many records hold before it."""
        store = self.store
        events, seq = store.events_table, store.seq_column
        found: list[tuple[Problem, int]] = []
        with store.read() as tx:
            if self.pending:  # a Retracted event appended since verify began may target one
                tx.execute(f"SELECT {store.state_column} FROM {events} WHERE {seq} > ? AND topic = 'Retracted'",
                           (top,))
                for (state,) in tx.fetchall():
                    try:
                        target = orjson.loads(bytes(state))["event"]["target"]
                    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                        continue
                    if isinstance(target, str):
                        self.pending.pop(target, None)
            if self.pending:
                event_id, (at, stream, before) = min(self.pending.items(), key=lambda item: item[1][0])
                found.append((Problem(at, event_id, stream, (
                    f"the id index ({IDS_TABLE}) marks {event_id!r} retracted, but no Retracted event targets it: "
                    "the index was edited, so the event can no longer be corrected or retracted")), before))
            # Every record's own row is in the index (``check``): any other row up to ``top`` is one
            # too many. Rows past it are of events appended since, unless no such event is stored.
            tx.execute(
                f"SELECT COALESCE(SUM(CASE WHEN i.seq <= ? THEN 1 ELSE 0 END), 0) AS upto, COALESCE(SUM(CASE WHEN"
                f" i.seq > ? AND NOT EXISTS (SELECT 1 FROM {events} e WHERE e.{seq} = i.seq) THEN 1 ELSE 0 END), 0)"
                f" AS past FROM {IDS_TABLE} i", (top, top))  # (named: PostgreSQL's rows are dicts)
            counted = tx.fetchone()
            assert counted is not None
            if int(counted[0]) != checked or int(counted[1]):
                found.append(self._extra_row(tx, top, checked, int(counted[0])))
        return min(found, key=lambda f: f[0].seq) if found else None

    def _extra_row(self, tx: Tx, top: int, checked: int, rows: int) -> tuple[Problem, int]:
        """The first row of the index that is no record's (there is one)."""
        store = self.store
        events, seq = store.events_table, store.seq_column
        candidates: list[tuple[Problem, int]] = []

        def before(at: int) -> int:
            tx.execute(f"SELECT COUNT(*) FROM {events} WHERE {seq} < ? AND {seq} <= ?", (at, top))
            counted = tx.fetchone()
            return int(counted[0]) if counted else 0

        # A row at a sequence number where no event is stored.
        tx.execute(f"SELECT i.id, i.seq FROM {IDS_TABLE} i WHERE NOT EXISTS (SELECT 1 FROM {events} e"
                   f" WHERE e.{seq} = i.seq) ORDER BY i.seq LIMIT 1")
        orphan = tx.fetchone()
        if orphan is not None:
            event_id, at = str(orphan[0]), orphan[1]
            at = at if type(at) is int else top
            candidates.append((Problem(at, event_id, None, (
                f"the id index ({IDS_TABLE}) lists {event_id!r} at event {orphan[1]!r}, but no such event is "
                "stored: the index was edited")), before(at)))
        # A second row at a record's sequence number (the record's own row is the one with its id).
        tx.execute(f"SELECT seq FROM {IDS_TABLE} WHERE seq <= ? GROUP BY seq HAVING COUNT(*) > 1 ORDER BY seq LIMIT 1",
                   (top,))
        shared = tx.fetchone()
        if shared is not None:
            at = int(shared[0])
            stored = _rows(store, tx, at - 1, at, 1)
            own = _id_of(stored[0]) if stored else None
            tx.execute(f"SELECT id FROM {IDS_TABLE} WHERE seq = ? ORDER BY id", (at,))
            others = [str(r[0]) for r in tx.fetchall() if r[0] != own]
            candidates.append((Problem(at, own, stored[0].stream if stored else None, (
                f"the id index ({IDS_TABLE}) also lists {others[0]!r} at this event, which is not its id: the "
                "index was edited")), before(at)))
        if candidates:
            return min(candidates, key=lambda c: c[0].seq)
        return (Problem(top, None, None, f"the id index ({IDS_TABLE}) has {rows} row(s) up to event {top}, but "
                        f"{checked} event(s) are stored: the index was changed while it was checked"), checked)


#: What the index check needs of a record that holds: sequence number, stream, id, type, and the
#: id it retracts (a Retracted event's target, else None).
_Held = tuple[int, str, str, Any, str | None]


def _held(row: _Row, record: dict[str, Any]) -> _Held:
    event = record["event"]
    kind = event.get("type")
    target = event.get("target") if kind == "Retracted" else None
    return row.seq, row.stream, record["id"], kind, target if isinstance(target, str) else None


def _missing_anchor(digest: Head, top: int) -> Problem:
    if digest.seq > top:
        why = f"the ledger now ends at event {top}: events were removed from its end since that digest was taken"
    else:
        why = "no event with that sequence number is stored: it was removed since that digest was taken"
    return Problem(digest.seq, None, None, f"the digest names event {digest.seq}, but {why}")


def _id_of(row: _Row) -> str | None:
    try:
        value = orjson.loads(row.state).get("id")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, str) else None


# --- 3. database roles (PostgreSQL) ----------------------------------------------------


ROLES_ON_SQLITE = ("database roles exist only on PostgreSQL; protect a SQLite ledger with file permissions "
                   "(clerks: the ledger command with write access; committees: a read-only copy)")


class RoleError(Exception):
    """Roles cannot be set up as asked."""


def grant_roles(store: Store, clerks: Sequence[str], readers: Sequence[str], dry_run: bool = False) -> list[str]:
    """Create (if absent) and grant the clerk and reader roles; returns the SQL that was run.

    A clerk may read everything and append: INSERT on the events table and its sequence,
    INSERT and UPDATE on the id index (only ``retracted`` may change; a trigger keeps the
    rest), and full rights on the caches (read models, tracking) that appending and
    ``ledger rebuild`` maintain. No UPDATE, DELETE or TRUNCATE on the events table. A reader
    (committee, analyst) may only SELECT. Run it as the ledger's owner; it is idempotent.
    With ``dry_run`` everything runs and is rolled back.
    """
    if store.dialect != "postgresql":
        raise RoleError(ROLES_ON_SQLITE)
    for name in [*clerks, *readers]:
        if not _ROLE.fullmatch(name):
            raise RoleError(f"role name {name!r} must be lower-case letters, digits and _ (at most 63)")
    both = set(clerks) & set(readers)
    if both:
        raise RoleError(f"{', '.join(sorted(both))} cannot be both a clerk and a reader")
    if not clerks and not readers:
        raise RoleError("name at least one --clerk or --reader")
    schema = store.url.schema
    with store.read() if dry_run else store.write() as tx:
        for name in [*clerks, *readers]:
            tx.execute(
                "SELECT r.rolsuper OR pg_has_role(r.oid, c.relowner, 'USAGE') FROM pg_roles r, pg_class c"
                " WHERE r.rolname = ? AND c.oid = to_regclass(?)",
                (name, f'"{schema}"."{store.events_table}"'),
            )
            row = tx.fetchone()
            if row is not None and row[0]:
                raise RoleError(f"role {name!r} is a superuser or owns the ledger: clerks and readers "
                                "must be separate roles, or the grants mean nothing")
        tx.execute("SELECT tablename FROM pg_tables WHERE schemaname = ? ORDER BY tablename", (schema,))
        tables = [str(r[0]) for r in tx.fetchall()]
        tx.execute("SELECT pg_get_serial_sequence(?, 'notification_id')", (f'"{schema}"."{store.events_table}"',))
        seq_row = tx.fetchone()
        sequence = str(seq_row[0]) if seq_row and seq_row[0] else None
        statements = role_statements(schema, store.events_table, tables, sequence, clerks, readers)
        for statement in statements:
            tx.execute(statement)
    return statements


def role_statements(
    schema: str, events_table: str, tables: Sequence[str], sequence: str | None,
    clerks: Sequence[str], readers: Sequence[str],
) -> list[str]:
    """The SQL behind ``grant_roles`` (pure, for reading and testing)."""
    s = f'"{schema}"'
    out: list[str] = []
    for role in [*clerks, *readers]:
        r = f'"{role}"'
        out += [
            f"DO $r$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}')"
            f" THEN CREATE ROLE {r} LOGIN; END IF; END $r$",
            # Start from nothing, so that running it again after a change leaves no stray right.
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
            f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {s} FROM {r}",
            f"GRANT USAGE ON SCHEMA {s} TO {r}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {r}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {r}",
        ]
    for role in clerks:
        r = f'"{role}"'
        out += [
            f'GRANT INSERT ON {s}."{events_table}" TO {r}',
            f'GRANT INSERT, UPDATE ON {s}."{IDS_TABLE}" TO {r}',
            f"GRANT EXECUTE ON FUNCTION {s}.{LOCK_FUNCTION}() TO {r}",
            # Read models added by a later version are caches the clerk's appends maintain.
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT INSERT, UPDATE, DELETE ON TABLES TO {r}",
        ]
        if sequence:
            out.append(f"GRANT USAGE ON SEQUENCE {sequence} TO {r}")
        out += [f'GRANT INSERT, UPDATE, DELETE ON {s}."{t}" TO {r}'
                for t in tables if t not in (events_table, IDS_TABLE, SETTINGS_TABLE)]  # (settings: read only)
    return out
