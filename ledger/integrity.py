"""Integrity of the journal: append-only storage, the hash chain, and database roles.

Three layers, each covering what the one before cannot:

1. No code path updates or deletes an event, and the database refuses it too: triggers on
   the events table (and on the ``ledger_ids`` index) abort UPDATE, DELETE and, on
   PostgreSQL, TRUNCATE (on SQLite, INSERT OR REPLACE; a large batch's writer lifts those two
   inside its own transaction only: ``insert_guards_lifted``). On PostgreSQL ``grant_roles``
   also gives clerks INSERT but no UPDATE/DELETE, and committees SELECT only.
2. Someone with the database file (or superuser rights) can drop the triggers. Every record
   therefore carries ``prev`` (the hash of the record before it in sequence order) and
   ``hash`` (sha256 of its canonical body: stream, version, id, both times, recorder,
   content, prev), and ``verify`` recomputes the chain, naming the first bad event.
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
    link.hash, link.recorded_at = digest, recorded_at
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
    link = _Link()
    checked, position = 0, 0
    anchor_found = digest is None or digest.seq == 0

    def result(problem: Problem | None) -> Verification:
        matches = digest is not None and anchor_found and not (problem and problem.seq == digest.seq)
        return Verification(problem is None, stored_head, checked, problem, digest, matches)

    if digest is not None and digest.seq == 0 and digest.hash != GENESIS:
        return result(Problem(0, None, None, f"the empty ledger's digest is 0:{GENESIS}"))
    while position < top:
        with store.read() as tx:
            rows = _rows(store, tx, position, top, page)
        if not rows:
            break
        for row in rows:
            if digest is not None and not anchor_found and row.seq > digest.seq:
                return result(_missing_anchor(digest, top))
            problem = _check_record(row, link)
            if problem is not None:
                return result(problem)
            if digest is not None and row.seq == digest.seq:
                anchor_found = True
                if link.hash != digest.hash:  # the bad event: not counted among those that hold
                    return result(Problem(
                        row.seq, _id_of(row), row.stream,
                        f"its hash is {link.hash}, but the digest says {digest.hash}: the history up to "
                        f"event {digest.seq} was rewritten since that digest was taken",
                    ))
            checked += 1
        position = rows[-1].seq
        if progress is not None:
            progress(position, top)
    if not anchor_found and digest is not None:
        return result(_missing_anchor(digest, top))
    return result(None)


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
        raise RoleError(
            "database roles exist only on PostgreSQL; protect a SQLite ledger with file permissions "
            "(clerks: the ledger command with write access; committees: a read-only copy)"
        )
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
                for t in tables if t not in (events_table, IDS_TABLE)]
    return out
