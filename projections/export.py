"""Parquet for analysts (``ledger export parquet``): the raw events, incrementally, and the read
models as snapshots, with a manifest that says what each file covers.

Layout of an export folder::

    manifest.json                          what is here, which log range, which schema
    events/month=YYYY-MM/part-A-B.parquet  the log (Hive partitions by month of occurred_at,
                                           in the store's timezone); A-B = first and last seq
    cases.parquet  responsibility.parquet  findings.parquet  overdue.parquet
    absences.parquet  cover.parquet  staff.parquet          snapshots, rewritten every time

Events are incremental: an export writes only the records after the last one the manifest
lists, so the ``runs`` of the manifest cover contiguous, non-overlapping ranges of the log.
"As known at K" (``known_at``) cuts the log at the last record recorded by K (recorded-at
never runs backwards along the log, so that is a prefix); a later export may extend it but
never shrink it: an export whose K is earlier than the last exported record is refused (use
``fresh`` to start again). The snapshots are computed per case, in pages, as of ``at`` and as
known at K (or, without K, at the last exported record), so they agree with the events.

Requester names and contacts are pseudonymised (:mod:`projections.pseudonyms`) unless
``include_pii``; the two kinds of export never mix in one folder. Memory stays flat: the log
is read in pages and written in row groups, the cases are read a page at a time. From
``PARALLEL_FROM`` cases on, on two cores or more, a forked process judges cases while this one
writes the events, then beside it, into temporary files that are then written back in the
cases' order: the same files as one process writes, in about half the time (``_Snapshots``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import signal
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ledger.application import Ledger
from ledger.events import (
    AbsenceEnded,
    AbsenceStarted,
    InquiryReceived,
    PostDefined,
    Replied,
    RolesAssigned,
    StaffRegistered,
    StandInDesignated,
    UnitDefined,
)
from ledger.forks import fork, own_store, picklable
from ledger.policy import PolicyCatalogue, PolicyError
from ledger.records import (
    Fact,
    Record,
    Withdrawal,
    effective,
    read_instant,
    record_from_state,
    shared_zone,
    state_bytes,
)
from projections.calendar import UnknownCalendarYear
from projections.configuration import CONFIG_PREFIXES, calendar_from, catalogue_from
from projections.findings import findings
from projections.pseudonyms import Pseudonymiser, ledger_key, personal_pattern, requester_values
from projections.queries import Context, Queries
from projections.responsibility import CaseFile, CaseNotFoundAt, Party, assess, case_file
from projections.status import case_status
from projections.world import Absence, World, canonical, pair_intervals

#: 2: overdue's `at` became `asked_at` (a keyword in DuckDB's SQL), and the events' texts are masked
#: more widely (mobile numbers in full-width digits; requester data a later correction added), so a
#: folder of version 1 is exported again with --fresh rather than extended.
#: 3: a requester's telephone number keeps their key however it is written (+86, 0086, dots: such
#: contacts had keys of their own) and is masked in its other written forms; findings name the
#: case's retracted events (`withdrawn`). A folder of version 2 is exported again with --fresh.
#: 4: a requester's own name and number are masked in their ``unit`` too (「马云飞个体户」), a Chinese name
#: retyped with spaces between its characters, and identity card numbers (身份证号) everywhere: a
#: folder of version 3 may hold them in clear, and is exported again with --fresh.
SCHEMA_VERSION = 4
MANIFEST = "manifest.json"
#: Written into a folder before a first export writes anything there, removed with its manifest in
#: place: a folder holding it and no manifest was left by an export that was stopped.
MARKER = ".ledger-export-in-progress"
EVENTS_DIR = "events"
#: Rows per Parquet row group, and the most rows held in memory before writing.
ROW_GROUP = 10_000
BUFFER_CAP = 20_000
#: Cases read and judged together.
CASE_PAGE = 500
#: The tables the cases fill (``_Snapshot.case``).
CASE_TABLES = ("cases", "responsibility", "findings", "overdue")
#: From this many cases on, where the machine has two cores or more, a forked process judges
#: cases beside this one (``_Snapshots``).
PARALLEL_FROM = 4 * CASE_PAGE

#: stage name, rows done since the last call, total rows expected (None: unknown)
Progress = Callable[[str, int, int | None], None]

#: Errors about one case that are answers (an unknown calendar year, a kind with no limit),
#: reported in the case's ``problem`` column instead of stopping the export.
CASE_PROBLEMS = (PolicyError, UnknownCalendarYear, CaseNotFoundAt)


class ExportRefused(Exception):
    """The folder holds something this export must not add to; the message says what to do."""


# --- table schemas (the documentation analysts see) -----------------------------------------

TS = pa.timestamp("us", tz="UTC")
_STRINGS = pa.list_(pa.string())


def _f(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": doc})


TABLES: dict[str, tuple[str, list[pa.Field]]] = {
    "events": ("The ledger's notification log, one row per stored event (corrections are events of their own).", [
        _f("seq", pa.int64(), "position in the ledger's global log (notification id)", False),
        _f("event_id", pa.string(), "the event's id (the sender's or one the ledger assigned)", False),
        _f("type", pa.string(), "event type, e.g. InquiryReceived, Replied, Corrected", False),
        _f("stream", pa.string(), "the stream it belongs to, e.g. case:SHZ-2024-0001, staff:zy-lina", False),
        _f("stream_version", pa.int64(), "position within the stream", False),
        _f("case_id", pa.string(), "the case, for events of a case stream (corrections of them included)"),
        _f("staff", pa.string(), "the event's main staff member: staff, received_by[0], from, by, approved_by, "
                                 "stand_in, a or head (of the replacement for Corrected)"),
        _f("target", pa.string(), "Corrected/Retracted: the id of the event corrected or withdrawn"),
        _f("occurred_at", TS, "valid time: when it happened in the office (UTC)", False),
        _f("recorded_at", TS, "transaction time: when the ledger stored it (UTC)", False),
        _f("recorded_by", pa.string(), "the clerk who recorded it", False),
        _f("payload", pa.string(), "the event as JSON (requester name/contact replaced by requester.key "
                                   "unless the export includes personal data)", False),
    ]),
    "cases": ("One row per case as of `at`, as known at the manifest's snapshot_known_at.", [
        _f("case_id", pa.string(), "case id", False),
        _f("policy", pa.string(), "policy pack id"),
        _f("policy_version", pa.string(), "effective_from of the pack version in force on the day of receipt"),
        _f("kind", pa.string(), "kind of matter (selects the time limit)"),
        _f("channel", pa.string(), "visit, phone, letter or online"),
        _f("post", pa.string(), "the post (岗位) that owns the matter, if given"),
        _f("unit", pa.string(), "the office (科室): the post's unit, else the first-asked staff's"),
        _f("unit_name", pa.string(), "the unit's name"),
        _f("month", pa.string(), "YYYY-MM of received_at in the store's timezone"),
        _f("received_at", TS, "receipt (受理)"),
        _f("in_remit", pa.bool_(), "within the first-asked staff's remit"),
        _f("first_asked", pa.string(), "first-asked staff (首问责任人), by the rank rule for joint inquiries"),
        _f("handler", pa.string(), "holder of the case at `at`: the first-asked staff or, after an accepted "
                                   "handoff, the handler (承办人)"),
        _f("responsible", pa.string(), "primary responsible staff at `at` (A/B cover applied)"),
        _f("responsible_basis", pa.string(), "holder, acting_b, stand_in or supervisor"),
        _f("status", pa.string(), "open, replied or not_received (received after `at`)"),
        _f("clock_state", pa.string(), "running, suspended, awaiting_supplements, no_limit, beyond_calendar "
           "(due in a year the calendar does not know yet) or unknown_year (the due cannot be worked out at `at` "
           "without a year the calendar does not know: see problem)"),
        _f("due", TS, "the reply deadline (null: no limit, or the clock is stopped)"),
        _f("overdue", pa.bool_(), "open and past its due at `at`"),
        _f("late", pa.bool_(), "the deadline was missed: replied after the due, or open past it"),
        _f("working_days_overdue", pa.int32(), "working days past the due, for overdue cases (null when `at` is "
           "in a year the calendar does not know: see problem)"),
        _f("replied_at", TS, "the reply (办结), if by `at`"),
        _f("replied_by", pa.string(), "staff who replied"),
        _f("outcome", pa.string(), "resolved, explained_refusal or referred_outside"),
        _f("days_to_reply", pa.float64(), "calendar days from receipt to reply"),
        _f("requester_key", pa.string(), "pseudonym of the requester (same name and contact, same key)"),
        _f("requester_unit", pa.string(), "the requester's unit or organisation"),
        _f("problem", pa.string(), "why some columns are empty (no limit configured, unknown calendar year)"),
    ]),
    "responsibility": ("Who was responsible for each case over time: intervals of equal answers of `who`.", [
        _f("case_id", pa.string(), "case id", False),
        _f("role", pa.string(), "primary or secondary", False),
        _f("staff", pa.string(), "the responsible staff member", False),
        _f("staff_name", pa.string(), "their name"),
        _f("basis", pa.string(), "holder, acting_b, stand_in or supervisor", False),
        _f("capacity", pa.string(), "first_asked, handler, A, B, stand_in or supervisor"),
        _f("clauses", _STRINGS, "the clauses that decide it"),
        _f("valid_from", TS, "start of the interval", False),
        _f("valid_to", TS, "end (exclusive): the next change or the reply; null = still at `at`"),
    ]),
    "absences": ("Absences from the post (离岗) started by `at`.", [
        _f("absence_id", pa.string(), "id of the AbsenceStarted event", False),
        _f("staff", pa.string(), "who was away", False),
        _f("staff_name", pa.string(), "their name"),
        _f("unit", pa.string(), "their unit"),
        _f("reason", pa.string(), "trip, meeting, leave, sick or other"),
        _f("started_at", TS, "start", False),
        _f("ended_at", TS, "end; null = still away at `at`"),
        _f("expected_return", TS, "expected return, if given"),
        _f("handover_to", pa.string(), "staff handed over to (交接); null = no handover"),
        _f("notified", _STRINGS, "staff told of the absence"),
        _f("briefed", pa.bool_(), "B reported back on return (000 AB art. 6)"),
    ]),
    "cover": ("Cover periods: who acted for an absent A on each post where they hold the A role.", [
        _f("absence_id", pa.string(), "the absence (absences.absence_id)", False),
        _f("absent_staff", pa.string(), "the absent A", False),
        _f("post", pa.string(), "the post", False),
        _f("acting", pa.string(), "who acted: B, or the designated stand-in; null = vacant"),
        _f("basis", pa.string(), "acting_b, stand_in or vacant", False),
        _f("valid_from", TS, "start", False),
        _f("valid_to", TS, "end (exclusive); null = still at `at`"),
    ]),
    "findings": ("Liability findings (问责认定) as of `at`: one breach, one row.", [
        _f("case_id", pa.string(), "case id", False),
        _f("rule", pa.string(), "no_handover, cover_failure, late_transfer, handler_late, invalid_extension, "
                                "piecemeal_notice or vacancy", False),
        _f("liable", pa.string(), "staff found liable", False),
        _f("liable_name", pa.string(), "their name"),
        _f("clause", pa.string(), "the main clause", False),
        _f("clauses", _STRINGS, "every clause cited"),
        _f("due", TS, "the deadline breached, if any"),
        _f("breached_at", TS, "when the breach happened", False),
        _f("policy", pa.string(), "policy pack id"),
        _f("policy_version", pa.string(), "effective_from of the pack version applied"),
        _f("also_liable", pa.list_(pa.struct([("staff", pa.string()), ("name", pa.string()),
                                              ("tier", pa.string()), ("clause", pa.string())])),
           "leaders answerable under the pack's leadership tiers"),
        _f("evidence", _STRINGS, "ids of the events the finding rests on"),
        _f("withdrawn", _STRINGS, "ids of the case's events up to `at` retracted as known then (left out of "
                                  "the facts; their Retracted events are in events.parquet)"),
        _f("explanation_en", pa.string(), "the reasoning in English"),
        _f("explanation_zh", pa.string(), "the reasoning in Chinese"),
    ]),
    "overdue": ("Open cases past their due at `at` (ledger overdue).", [
        _f("case_id", pa.string(), "case id", False),
        _f("asked_at", TS, "the instant asked about (the manifest's `at`)", False),
        _f("due", TS, "the due instant", False),
        _f("responsible", pa.string(), "primary responsible staff at `at`"),
        _f("responsible_name", pa.string(), "their name"),
        _f("working_days_overdue", pa.int32(), "working days past the due (null when `at` is in a year the "
           "calendar does not know)"),
    ]),
    "staff": ("Staff as registered at `at` (for names in joins).", [
        _f("staff", pa.string(), "staff id", False),
        _f("name", pa.string(), "name"),
        _f("rank", pa.int32(), "rank, higher = more senior"),
        _f("unit", pa.string(), "unit id"),
        _f("unit_name", pa.string(), "the unit's name"),
    ]),
}
_PII_FIELDS = [
    _f("requester_name", pa.string(), "the requester's name (personal data; --include-pii only)"),
    _f("requester_contact", pa.string(), "the requester's phone or address (personal data; --include-pii only)"),
]
SNAPSHOTS = ("cases", "responsibility", "absences", "cover", "findings", "overdue", "staff")


def table_schema(name: str, include_pii: bool = False) -> pa.Schema:
    """The Arrow schema of an export table, with column descriptions and the schema version."""
    doc, fields = TABLES[name]
    if name == "cases" and include_pii:
        fields = [*fields[:-1], *_PII_FIELDS, fields[-1]]
    return pa.schema(fields, metadata={
        "ledger.schema_version": str(SCHEMA_VERSION), "ledger.table": name, "ledger.description": doc,
        "ledger.include_pii": str(include_pii).lower(),
    })


# --- writing files ----------------------------------------------------------------------------


class _Writer:
    """One Parquet file written in row groups to a temporary name, renamed when committed."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self.schema = path, schema
        self.tmp = self.tmp_of(path)
        self.tmp.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self.tmp, schema)
        self.rows: list[dict[str, Any]] = []
        self.held: list[pa.Table] = []  # (``add_table``: fewer than ROW_GROUP rows, not yet written)
        self.held_rows = 0
        self.count = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None

    @staticmethod
    def tmp_of(path: Path) -> Path:
        return path.with_name(f".{path.name}.tmp")

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= ROW_GROUP:
            self.flush()

    def add_table(self, table: pa.Table) -> None:
        """Rows already in Arrow (a case worker's, read back), written in row groups of
        ``ROW_GROUP`` as ``add`` writes its rows (the file is the same either way)."""
        assert not self.rows, "a writer takes rows one way only"
        if table.num_rows:
            self.held.append(table.cast(self.schema))
            self.held_rows += table.num_rows
        if self.held_rows >= ROW_GROUP:
            whole = pa.concat_tables(self.held)
            cut = whole.num_rows - whole.num_rows % ROW_GROUP
            self._writer.write_table(whole.slice(0, cut), row_group_size=ROW_GROUP)
            self.count += cut
            rest = whole.slice(cut)
            self.held, self.held_rows = ([rest] if rest.num_rows else []), rest.num_rows

    @property
    def added(self) -> int:
        """Rows added so far, written or not."""
        return self.count + len(self.rows) + self.held_rows

    def flush(self) -> None:
        if self.rows:
            self._writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.count += len(self.rows)
            self.rows = []
        if self.held:
            self._writer.write_table(pa.concat_tables(self.held), row_group_size=ROW_GROUP)
            self.count += self.held_rows
            self.held, self.held_rows = [], 0

    def close(self) -> None:
        self.flush()
        self._writer.close()

    def commit(self, path: Path | None = None) -> Path:
        if path is not None:
            self.path = path
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._writer.close()
        except Exception:  # already closed, or half written: the file goes anyway
            pass
        finally:
            self.tmp.unlink(missing_ok=True)


def _utc(t: datetime | None) -> datetime | None:
    return None if t is None else t.astimezone(UTC)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- events -----------------------------------------------------------------------------------

#: The field naming an event's main staff member (a list: its first entry).
MAIN_STAFF = {
    "StaffRegistered": "staff", "AbsenceStarted": "staff", "AbsenceEnded": "staff", "UnitDefined": "head",
    "PostDefined": "a", "RolesAssigned": "a", "StandInDesignated": "stand_in", "InquiryReceived": "received_by",
    "HandedOff": "from", "HandoffAccepted": "by", "MaterialsRequested": "by", "Replied": "by",
    "Reminded": "by", "DeadlineExtended": "approved_by",
}


def _main_staff(content: Mapping[str, Any]) -> str | None:
    if content.get("type") == "Corrected" and isinstance(content.get("replacement"), Mapping):
        replacement = content["replacement"]
        target_type = replacement.get("type")
        return _main_staff({**replacement, "type": target_type}) if target_type else None
    value = content.get(MAIN_STAFF.get(str(content.get("type")), ""))
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)


def _instant(value: Any, tz: tzinfo) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def event_row(
    record: Record, pseudo: Pseudonymiser, tz: tzinfo, also: Sequence[str] = (),
) -> tuple[str, dict[str, Any]]:
    """(month partition, row) of one stored record; ``also``: its case's requester data (masked in its texts)."""
    content = record.content
    occurred = _instant(content["occurred_at"], tz)
    row = {
        "seq": record.seq, "event_id": record.event_id, "type": record.type, "stream": record.stream,
        "stream_version": record.version,
        "case_id": record.stream.removeprefix("case:") if record.stream.startswith("case:") else None,
        "staff": _main_staff(content),
        "target": content.get("target") if record.type in ("Corrected", "Retracted") else None,
        "occurred_at": occurred.astimezone(UTC), "recorded_at": record.recorded_at.astimezone(UTC),
        "recorded_by": record.recorded_by,
        "payload": json.dumps(pseudo.content(content, also), ensure_ascii=False, sort_keys=True, separators=(",", ":")),
    }
    return occurred.astimezone(tz).strftime("%Y-%m"), row


def _case_requester(ledger: Ledger, record: Record, requesters: dict[str, list[str]],
                    corrected: Mapping[str, list[str]]) -> list[str]:
    """The requester data of the case a record belongs to, for masking in its texts: gathered
    from the case's receipt and corrections as the log passes them, and from the corrections this
    run will meet later (``corrected``: a name added by a correction is masked in the events
    before it too); a case whose receipt came before this export run is read once."""
    stream = record.stream
    if not stream.startswith("case:"):
        return []
    known = requesters.get(stream)
    if known is None:
        earlier = [] if record.type == "InquiryReceived" else [
            r for r in ledger.records([stream]) if r.seq < record.seq]
        known = requesters[stream] = [str(v) for r in earlier for v in requester_values(r.content)]
        known += [v for v in corrected.get(stream, ()) if v not in known]
    for value in requester_values(record.content):
        if str(value) not in known:
            known.append(str(value))
    return known


def _corrected_requesters(ledger: Ledger, after: int, top: int, known_at: datetime | None,
                          pseudo: Pseudonymiser) -> dict[str, list[str]]:
    """Per case stream, the requester data the corrections in ``(after, top]`` (recorded by
    ``known_at``) give. Refused when one adds data that events exported by an earlier run of
    this folder name in their texts: those files cannot be masked now."""
    found: dict[str, list[str]] = {}
    with ledger.store.read() as tx:
        position = after
        while True:
            rows = ledger.store.log_page(tx, position, top, 10_000, "topic = 'Corrected'")
            for seq, stream, _, state in rows:
                if not stream.startswith("case:"):
                    continue
                record = record_from_state(seq, stream, 0, state_bytes(seq, stream, state))
                if known_at is not None and record.recorded_at > known_at:
                    continue
                values = found.setdefault(stream, [])
                values += [str(v) for v in requester_values(record.content) if str(v) not in values]
            if len(rows) < 10_000:
                break
            position = rows[-1][0]
    if after:
        for stream, values in found.items():
            before = [r for r in ledger.records([stream]) if r.seq <= after]
            named = {str(v) for r in before for v in requester_values(r.content)}
            new = personal_pattern(tuple(sorted(set(values) - named)))
            if new is None:
                continue
            for r in before:
                shown = json.dumps(pseudo.content(r.content, sorted(named)), ensure_ascii=False)
                if new.search(shown):
                    raise ExportRefused(
                        f"a correction recorded since this folder's last export gives the requester of "
                        f"{stream.removeprefix('case:')} data that event {r.event_id}, exported then, names in "
                        "its text: use --fresh to export everything again, masked")
    return found


@dataclass
class _EventsRun:
    files: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0
    last: Record | None = None


def _export_events(
    ledger: Ledger, root: Path, after: int, top: int, known_at: datetime | None, pseudo: Pseudonymiser,
    batch: int, run: int, progress: Progress,
) -> _EventsRun:
    """Write the records after ``after`` up to ``top`` (recorded by ``known_at``), one file per month."""
    out = _EventsRun()
    requesters: dict[str, list[str]] = {}  # case stream -> its requester's name and contact, as met
    corrected = {} if pseudo.include_pii else _corrected_requesters(ledger, after, top, known_at, pseudo)
    schema = table_schema("events", pseudo.include_pii)
    parts: dict[str, _Writer] = {}
    committed: list[Path] = []
    buffered = 0
    try:
        for record in ledger.log(after=after, batch=batch):
            if record.seq > top:
                break  # appended after this export began
            if known_at is not None and record.recorded_at > known_at:
                break  # recorded-at never decreases along the log: nothing later was known at K
            also = () if pseudo.include_pii else _case_requester(ledger, record, requesters, corrected)
            month, row = event_row(record, pseudo, ledger.tz, also)
            part = parts.get(month)
            if part is None:
                folder = root / EVENTS_DIR / f"month={month}"
                part = parts[month] = _Writer(folder / f"part-{record.seq}.parquet", schema)
                part.first_seq = record.seq
            part.add(row)
            part.last_seq = record.seq
            out.rows += 1
            out.last = record
            buffered += 1
            if buffered >= BUFFER_CAP:  # many months interleaved: write what is held
                for p in parts.values():
                    p.flush()
                buffered = 0
            if out.rows % 1000 == 0:
                progress("events", 1000, None)
        for month, part in sorted(parts.items()):
            part.close()
            final = part.path.with_name(f"part-{part.first_seq}-{part.last_seq}.parquet")
            committed.append(part.commit(final))
            out.files.append({
                "path": final.relative_to(root).as_posix(), "table": "events", "month": month,
                "rows": part.count, "run": run, "seq_first": part.first_seq, "seq_last": part.last_seq,
            })
        progress("events", out.rows % 1000, None)
    except BaseException:
        for part in parts.values():
            part.abort()
        for path in committed:  # renamed in this run but never listed: not part of the export
            path.unlink(missing_ok=True)
        raise
    return out


# --- snapshots --------------------------------------------------------------------------------


class WorldIndex:
    """When the world around a case can change: the instants at which `who` must be asked again."""

    def __init__(self, facts: Sequence[Fact]) -> None:
        self.staff_marks: dict[str, set[datetime]] = {}
        self.post_marks: dict[str, set[datetime]] = {}
        self.unit_marks: dict[str, set[datetime]] = {}
        self.post_staff: dict[str, set[str]] = {}
        self.post_units: dict[str, set[str]] = {}
        self.staff_units: dict[str, set[str]] = {}
        self.a_posts: dict[str, set[str]] = {}
        self.staff_ids: list[str] = []
        cover: dict[str, list[Fact]] = {}
        for fact in canonical(facts):
            e, t = fact.event, fact.occurred_at
            if isinstance(e, UnitDefined):
                self.unit_marks.setdefault(e.unit, set()).add(t)
            elif isinstance(e, StaffRegistered):
                if e.staff not in self.staff_marks:
                    self.staff_ids.append(e.staff)
                self.staff_marks.setdefault(e.staff, set()).add(t)
                self.staff_units.setdefault(e.staff, set()).add(e.unit)
            elif isinstance(e, PostDefined | RolesAssigned):
                self.post_marks.setdefault(e.post, set()).add(t)
                self.post_staff.setdefault(e.post, set()).update((e.a, e.b))
                self.a_posts.setdefault(e.a, set()).add(e.post)
                if isinstance(e, PostDefined):
                    self.post_units.setdefault(e.post, set()).add(e.unit)
            elif isinstance(e, StandInDesignated):
                marks = self.post_marks.setdefault(e.post, set())
                marks.add(t)
                # The stand-in's own absences change who stands in (``World.stand_in_at``).
                self.post_staff.setdefault(e.post, set()).add(e.stand_in)
                if e.until is not None:
                    marks.add(e.until + timedelta(microseconds=1))  # in force while at <= until
            elif isinstance(e, AbsenceStarted | AbsenceEnded):
                cover.setdefault(e.staff, []).append(fact)
                self.staff_marks.setdefault(e.staff, set()).add(t)
        self.absences: list[Absence] = []
        for staff, moves in cover.items():
            for start, end in pair_intervals(moves, lambda f: isinstance(f.event, AbsenceStarted)):
                e = start.event
                assert isinstance(e, AbsenceStarted)
                self.absences.append(Absence(staff, start, end, e.handover_to, tuple(e.notified or ()), e.reason))
        self.absences.sort(key=lambda a: (a.started_at, a.staff))
        self._staff = {k: sorted(v) for k, v in self.staff_marks.items()}
        self._posts = {k: sorted(v) for k, v in self.post_marks.items()}
        self._units = {k: sorted(v) for k, v in self.unit_marks.items()}

    def marks(self, staff: Iterable[str], posts: Iterable[str], lo: datetime, hi: datetime) -> set[datetime]:
        """Instants in [lo, hi] where the absences, posts, stand-ins or units of these may change."""
        posts = set(posts)
        people = set(staff) | {s for p in posts for s in self.post_staff.get(p, ())}
        units = {u for p in posts for u in self.post_units.get(p, ())}
        units |= {u for s in people for u in self.staff_units.get(s, ())}
        out: set[datetime] = set()
        for marks in ([self._staff.get(s, []) for s in people] + [self._posts.get(p, []) for p in posts]
                      + [self._units.get(u, []) for u in units]):
            out.update(marks[bisect_left(marks, lo):bisect_right(marks, hi)])
        return out


def _merge(
    answers: Sequence[tuple[datetime, tuple[Any, ...] | None]], end: datetime | None,
) -> Iterator[tuple[tuple[Any, ...], datetime, datetime | None]]:
    """Consecutive equal answers as (answer, from, to); None answers are gaps."""
    current: tuple[Any, ...] | None = None
    since: datetime | None = None
    for t, answer in answers:
        if answer == current:
            continue
        if current is not None and since is not None:
            yield current, since, t
        current, since = answer, t
    if current is not None and since is not None:
        yield current, since, end


def _party(p: Party | None) -> tuple[Any, ...] | None:
    return None if p is None else (p.staff, p.basis, p.role, p.name, p.clauses)


def _pack_starts(catalogue: PolicyCatalogue, policy: str, tz: tzinfo) -> set[datetime]:
    try:
        return {datetime.combine(v.effective_from, time(0), tzinfo=tz) for v in catalogue.versions(policy)}
    except PolicyError:
        return set()


@dataclass
class _Snapshot:
    """What one export computes over the cases, world and policies, as of ``at``."""

    ledger: Ledger
    ctx: Context
    index: WorldIndex
    at: datetime
    pseudo: Pseudonymiser
    writers: dict[str, _Writer]

    @property
    def tz(self) -> tzinfo:
        return self.ledger.tz

    @property
    def world(self) -> World:
        return self.ctx.world

    def pack_day(self, t: datetime) -> date:
        return t.astimezone(self.tz).date()

    # -- cases --------------------------------------------------------------------------------

    def case(self, case_id: str, facts: Sequence[Fact], withdrawals: Sequence[Withdrawal] = ()) -> None:
        receipt = next((f for f in canonical(facts) if isinstance(f.event, InquiryReceived)), None)
        if receipt is None:
            return  # the receipt was withdrawn: not a case any more
        inq = receipt.event
        assert isinstance(inq, InquiryReceived)
        received = receipt.occurred_at
        requester = inq.requester.model_dump(exclude_none=True) if inq.requester is not None else None
        personal = [str(v) for v in requester_values({"requester": requester})] if requester else []
        row: dict[str, Any] = {
            "case_id": case_id, "policy": inq.policy, "kind": inq.kind, "channel": inq.channel, "post": inq.post,
            "month": received.astimezone(self.tz).strftime("%Y-%m"), "received_at": _utc(received),
            "in_remit": inq.in_remit, "first_asked": inq.received_by[0],
            "requester_key": self.pseudo.requester_key(requester),
            "requester_unit": self.pseudo.masked(requester.get("unit"), personal) if requester else None,
        }
        if self.pseudo.include_pii:
            row["requester_name"] = requester.get("name") if requester else None
            row["requester_contact"] = requester.get("contact") if requester else None
        problems: list[str] = []
        try:
            row["policy_version"] = self.ctx.catalogue.in_force(
                inq.policy, self.pack_day(received)).effective_from.isoformat()
            self._status(row, facts, problems)
        except CASE_PROBLEMS as exc:
            if str(exc) not in problems:
                problems.append(str(exc))
        try:
            for finding in findings(facts, self.world, self.at, self.ctx.catalogue, self.ctx.calendar, self.tz):
                self.writers["findings"].add({
                    "case_id": case_id, "rule": finding.rule, "liable": finding.liable,
                    "liable_name": finding.liable_name, "clause": finding.clause, "clauses": list(finding.clauses),
                    "due": _utc(finding.due), "breached_at": _utc(finding.breached_at), "policy": finding.policy,
                    "policy_version": finding.policy_version,
                    "also_liable": [{"staff": a.staff, "name": a.name, "tier": a.tier, "clause": a.clause}
                                    for a in finding.also_liable],
                    "evidence": list(finding.evidence),
                    "withdrawn": [w.event_id for w in withdrawals if read_instant(w.occurred_at) <= self.at],
                    # (an explanation quotes the case's items and notes, which may name the requester)
                    "explanation_en": self.pseudo.masked(finding.explanation_en, personal),
                    "explanation_zh": self.pseudo.masked(finding.explanation_zh, personal),
                })
        except CASE_PROBLEMS as exc:
            if str(exc) not in problems:
                problems.append(str(exc))
        if row.get("unit") is None:
            row["unit"] = self._unit_of(inq, str(row["first_asked"]), received)
        unit = self.world.unit(row["unit"], self.at) if row["unit"] else None
        row["unit_name"] = unit.name if unit is not None else None
        row["problem"] = "; ".join(problems) or None
        self.writers["cases"].add(row)

    def _unit_of(self, inq: InquiryReceived, first: str, t: datetime) -> str | None:
        if inq.post is not None:
            post = self.world.post(inq.post, t)
            if post is not None:
                return post.unit
        person = self.world.staff(first, t)
        return None if person is None else person.unit

    def _status(self, row: dict[str, Any], facts: Sequence[Fact], problems: list[str]) -> None:
        ctx, at, tz = self.ctx, self.at, self.tz
        # (at an instant in a year the calendar does not know, the status, due and responsibility
        # are still exact; only the working days overdue are not: ``problem`` says why)
        status = case_status(facts, self.world, at, ctx.catalogue, ctx.calendar, tz, due_needed=False)
        row.update(status=status.state, clock_state=status.clock_state, due=_utc(status.due),
                   working_days_overdue=status.working_days_overdue, replied_at=_utc(status.replied_at),
                   overdue=status.is_overdue(), responsible=status.responsible)
        if status.limit_problem:
            problems.append(status.limit_problem)
        if status.state == "not_received":
            return
        file = case_file(facts, at)
        pack = ctx.catalogue.in_force(file.inquiry.policy, self.pack_day(at))
        found = assess(file, self.world, at, pack, tz, explain=False)  # (the tables hold no sentences)
        row.update(first_asked=found.first_asked, handler=found.holder, responsible_basis=found.primary.basis)
        row["unit"] = self._unit_of(file.inquiry, found.first_asked, file.receipt.occurred_at)
        reply = next((f for f in file.upto(at) if isinstance(f.event, Replied)), None)
        if reply is not None:
            assert isinstance(reply.event, Replied)
            row.update(replied_by=reply.event.by, outcome=reply.event.outcome,
                       days_to_reply=(reply.occurred_at - file.receipt.occurred_at).total_seconds() / 86400)
        due = status.due
        row["late"] = None if due is None else (reply.occurred_at > due if reply is not None else at > due)
        if status.is_overdue():
            self.writers["overdue"].add({
                "case_id": status.case, "asked_at": _utc(at), "due": _utc(due), "responsible": status.responsible,
                "responsible_name": status.responsible_name, "working_days_overdue": status.working_days_overdue,
            })
        self._responsibility(file, reply)

    def _responsibility(self, file: CaseFile, reply: Fact | None) -> None:
        """Evaluate `who` at every instant where its answer may change, and merge equal answers."""
        start = file.receipt.occurred_at
        end = reply.occurred_at if reply is not None else None
        named = {s for f in file.facts for s in f.event.names("staff")}
        posts = {file.inquiry.post} if file.inquiry.post else {p for s in named for p in self.index.a_posts.get(s, ())}
        marks = {f.occurred_at for f in file.facts} | self.index.marks(named, posts, start, end or self.at)
        marks |= _pack_starts(self.ctx.catalogue, file.inquiry.policy, self.tz)
        points = sorted(t for t in marks | {start}
                        if start <= t and (t < end if end is not None else t <= self.at))
        primary: list[tuple[datetime, tuple[Any, ...] | None]] = []
        secondary: list[tuple[datetime, tuple[Any, ...] | None]] = []
        for t in points:
            pack = self.ctx.catalogue.in_force(file.inquiry.policy, self.pack_day(t))
            found = assess(file, self.world, t, pack, self.tz, explain=False)
            primary.append((t, _party(found.primary)))
            secondary.append((t, _party(found.secondary)))
        for role, answers in (("primary", primary), ("secondary", secondary)):
            for (staff, basis, capacity, name, clauses), since, until in _merge(answers, end):
                self.writers["responsibility"].add({
                    "case_id": file.case, "role": role, "staff": staff, "staff_name": name, "basis": basis,
                    "capacity": capacity, "clauses": list(clauses), "valid_from": _utc(since),
                    "valid_to": _utc(until),
                })

    # -- the world ------------------------------------------------------------------------------

    def staff_and_absences(self) -> None:
        at, world = self.at, self.world
        for staff_id in self.index.staff_ids:
            person = world.staff(staff_id, at)
            if person is None:
                continue
            unit = world.unit(person.unit, at)
            self.writers["staff"].add({"staff": staff_id, "name": person.name, "rank": person.rank,
                                       "unit": person.unit, "unit_name": unit.name if unit else None})
        for absence in self.index.absences:
            if absence.started_at > at:
                continue
            ended = absence.ended_at if absence.ended_at is not None and absence.ended_at <= at else None
            end_event = absence.end.event if ended is not None and absence.end is not None else None
            start_event = absence.start.event
            assert isinstance(start_event, AbsenceStarted)
            person = world.staff(absence.staff, absence.started_at)
            self.writers["absences"].add({
                "absence_id": absence.start.event_id, "staff": absence.staff,
                "staff_name": world.name_of(absence.staff, absence.started_at),
                "unit": person.unit if person else None, "reason": absence.reason,
                "started_at": _utc(absence.started_at), "ended_at": _utc(ended),
                "expected_return": _utc(start_event.expected_return), "handover_to": absence.handover_to,
                "notified": list(absence.notified),
                "briefed": end_event.briefed if isinstance(end_event, AbsenceEnded) else None,
            })
            self._cover(absence, ended)

    def _cover(self, absence: Absence, ended: datetime | None) -> None:
        """Who acted for the absent A on each of their posts, over the absence."""
        world, start = self.world, absence.started_at
        for post_id in sorted(self.index.a_posts.get(absence.staff, ())):
            marks = self.index.marks((), {post_id}, start, ended or self.at) | {start}
            points = sorted(t for t in marks if start <= t and (t < ended if ended is not None else t <= self.at))
            answers: list[tuple[datetime, tuple[Any, ...] | None]] = []
            for t in points:
                post = world.post(post_id, t)
                answer: tuple[Any, ...] | None = None
                if post is not None and post.a == absence.staff:
                    if world.absence_at(post.b, t) is None:
                        answer = ("acting_b", post.b)
                    else:
                        stand_in = world.stand_in_at(post_id, t)
                        answer = ("stand_in", stand_in.stand_in) if stand_in is not None else ("vacant", None)
                answers.append((t, answer))
            for (basis, acting), since, until in _merge(answers, ended):
                self.writers["cover"].add({
                    "absence_id": absence.start.event_id, "absent_staff": absence.staff, "post": post_id,
                    "acting": acting, "basis": basis, "valid_from": _utc(since), "valid_to": _utc(until),
                })


def _facts(ledger: Ledger, prefixes: Sequence[str], known_at: datetime | None) -> list[Fact]:
    streams = [s for p in prefixes for s in ledger.streams(p)]
    return effective(ledger.records(streams), ledger.tz, known_at)


def _case_pages(cases: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """The cases a page at a time."""
    for start in range(0, len(cases), size):
        yield cases[start:start + size]


class _Snapshots:
    """The snapshot tables of one export. Prepared before the events are written (the world,
    the policies and the cases known at K read; from ``PARALLEL_FROM`` cases on, on two cores or
    more, a forked worker started on the cases), finished after (``finish``).

    With the worker, the pages of cases are handed out in turn (``_Turns``) to it and to this
    process, which joins once the events are written; each judges its pages into temporary files,
    then the pages are written to the tables in the cases' order: the same files as one process
    writes (a test compares). The worker reads with a connection of its own (``ledger.forks``)
    the cases listed here, as known at the same K; it is killed if this process dies, and its
    error, if any, is raised here. The temporary files are removed whatever happens.
    """

    def __init__(self, ledger: Ledger, root: Path, at: datetime, known_at: datetime | None, pseudo: Pseudonymiser,
                 progress: Progress) -> None:
        self.known_at, self.progress = known_at, progress
        self.queries = Queries(ledger)
        at = shared_zone(at)  # (compared with the facts' instants again and again: ``shared_zone``)
        # What Queries.context(all_staff=True) loads, read once: the index needs the facts themselves.
        world_facts = _facts(ledger, ("unit:", "post:", "staff:"), known_at)
        config = _facts(ledger, CONFIG_PREFIXES, known_at)
        ctx = Context(World.from_facts(world_facts), catalogue_from(config), calendar_from(config), known_at)
        index = WorldIndex(world_facts)
        del world_facts, config
        self.writers: dict[str, _Writer] = {}
        self.worker: _CaseWorker | None = None
        try:
            for name in SNAPSHOTS:
                self.writers[name] = _Writer(root / f"{name}.parquet", table_schema(name, pseudo.include_pii))
            self.snap = _Snapshot(ledger, ctx, index, at, pseudo, self.writers)
            self.cases = self.queries.cases_known(known_at)  # in the order the ledger heard of them
            self.pages = list(_case_pages(self.cases, CASE_PAGE))
            if len(self.cases) >= PARALLEL_FROM and _cores() > 1:
                schemas = {name: self.writers[name].schema for name in CASE_TABLES}
                self.mine, self.theirs = _Pages(root, 0, schemas), _Pages(root, 1, schemas)
                self.turns = _Turns(len(self.pages))
                self.worker = _CaseWorker(self.snap, known_at, self.pages, self.turns, self.theirs)
        except BaseException:
            self.abort()
            raise

    def finish(self) -> dict[str, _Writer]:
        """Every snapshot table written (not yet committed)."""
        try:
            self.snap.staff_and_absences()
            self.progress("cases", 0, len(self.cases))
            if self.worker is None:
                for page in self.pages:
                    _judge(self.snap, self.queries, self.known_at, page)
                    self.progress("cases", len(page), None)
            else:
                self._judge_in_two(self.worker)
            for writer in self.writers.values():
                writer.close()
        except BaseException:
            self.abort()
            raise
        self._end_worker()
        return self.writers

    def _judge_in_two(self, worker: _CaseWorker) -> None:
        reported = 0

        def report() -> None:  # (by the pages handed out: both workers' progress)
            nonlocal reported
            given = min(self.turns.given() * CASE_PAGE, len(self.cases))
            self.progress("cases", given - reported, None)
            reported = given

        own = replace(self.snap, writers=self.mine.open())
        while (i := self.turns.take(worker.check)) is not None:
            self.mine.counts.append((i, _judge(own, self.queries, self.known_at, self.pages[i])))
            report()
        self.mine.close()
        worker.wait()
        report()
        judged = self.mine.counts + self.theirs.counts
        owner = {i: w for w, parts in enumerate((self.mine, self.theirs)) for i, _ in parts.counts}
        if sorted(i for i, _ in judged) != list(range(len(self.pages))):
            raise ExportRefused(f"the export's case workers judged {len(owner)} distinct pages of "
                                f"{len(self.pages)}; nothing was written")
        counts = dict(judged)
        for name in CASE_TABLES:
            sources = (self.mine.rows(name), self.theirs.rows(name))
            for i in range(len(self.pages)):
                self.writers[name].add_table(sources[owner[i]].take(counts[i][name]))

    def _end_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.mine.remove()
            self.theirs.remove()
            self.worker = None

    def abort(self) -> None:
        self._end_worker()
        for writer in self.writers.values():
            writer.abort()


def _judge(snap: _Snapshot, queries: Queries, known_at: datetime | None, page: Sequence[str]) -> dict[str, int]:
    """The rows of one page of cases, added to ``snap``'s writers; how many per case table."""
    before = {name: snap.writers[name].added for name in CASE_TABLES}
    withdrawals: dict[str, list[Withdrawal]] = {}
    for case_id, facts in queries.all_case_facts(known_at, cases=list(page), withdrawals=withdrawals).items():
        snap.case(case_id, facts, withdrawals.get(case_id, []))
    return {name: snap.writers[name].added - before[name] for name in CASE_TABLES}


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # (not on every system)
        return os.cpu_count() or 1


class _Pages:
    """One case worker's rows: a temporary Parquet file per case table, and the pages it judged
    with their row counts, so that the pages of both workers can be put back in the cases' order."""

    def __init__(self, root: Path, worker: int, schemas: Mapping[str, pa.Schema]) -> None:
        self.paths = {name: root / f".{name}.worker-{worker}.parquet" for name in CASE_TABLES}
        self.schemas = schemas
        self.writers: dict[str, _Writer] = {}
        self.counts: list[tuple[int, dict[str, int]]] = []  # (page, rows per table) judged, in order

    def open(self) -> dict[str, _Writer]:
        for name in CASE_TABLES:
            self.writers[name] = _Writer(self.paths[name], self.schemas[name])
        return self.writers

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()

    def rows(self, name: str) -> _Rows:
        return _Rows(_Writer.tmp_of(self.paths[name]))

    def remove(self) -> None:
        for writer in self.writers.values():
            writer.abort()
        for path in self.paths.values():
            _Writer.tmp_of(path).unlink(missing_ok=True)


class _Rows:
    """A worker's table read back in order, ``take(n)`` rows at a time (a batch at a time in memory)."""

    def __init__(self, path: Path) -> None:
        self.path, self.file = path, pq.ParquetFile(path)
        self.batches = self.file.iter_batches(batch_size=ROW_GROUP)
        self.held: pa.Table = self.file.schema_arrow.empty_table()

    def take(self, n: int) -> pa.Table:
        parts = []
        while n > 0:
            if self.held.num_rows == 0:
                batch = next(self.batches, None)
                if batch is None:
                    raise ExportRefused(f"{self.path} holds fewer rows than its case worker counted")
                self.held = pa.Table.from_batches([batch])
            part = self.held.slice(0, n)
            parts.append(part)
            n -= part.num_rows
            self.held = self.held.slice(part.num_rows)
        return pa.concat_tables(parts) if parts else self.held.slice(0, 0)


class _Turns:
    """The pages of cases handed out in turn to the two case workers (a counter in memory both
    processes share), so that the one that starts first, or runs faster, judges more."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.counter = multiprocessing.Value("q", 0)

    def given(self) -> int:
        return min(int(self.counter.value), self.pages)

    def take(self, check: Callable[[], None] | None = None) -> int | None:
        """The next page, None once all were given. ``check`` is called while the counter stays
        locked (raising if the other worker died holding it)."""
        lock = self.counter.get_lock()
        while not lock.acquire(timeout=1.0):
            if check is not None:
                check()
        try:
            i = int(self.counter.value)
            if i >= self.pages:
                return None
            self.counter.value = i + 1
            return i
        finally:
            lock.release()


class _CaseWorker:
    """The forked process of ``_Snapshots``: judges the pages it is given in turn, then sends
    which pages it judged and how many rows each gave (``done``), or its error (``error``)."""

    def __init__(self, snap: _Snapshot, known_at: datetime | None, pages: Sequence[Sequence[str]], turns: _Turns,
                 parts: _Pages) -> None:
        self.parts, self.done = parts, False
        self.status: int | None = None  # (its wait status, once it ended)
        self.pid, self.conn = fork(lambda conn: _work(snap, known_at, pages, turns, parts, conn), duplex=False)

    def wait(self) -> None:
        """Until the worker is done; raises its error."""
        try:
            message = pickle.loads(self.conn.recv_bytes())
        except EOFError:
            raise ExportRefused(_ENDED) from None
        if message[0] != "done":
            raise message[1]
        self.parts.counts = message[1]
        self.done = True

    def check(self) -> None:
        """Raises if the worker has ended (while this process waits for the page counter)."""
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                if self.conn.poll():
                    self.wait()  # (its error, if it sent one)
                raise ExportRefused(_ENDED)

    def stop(self) -> None:
        """Ends the worker (killed, unless it is done) and waits for it."""
        self.conn.close()
        if self.status is None:
            if not self.done:
                with suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            self.status = os.waitpid(self.pid, 0)[1]


_ENDED = "the export's second case worker ended unexpectedly; nothing was written"


def _work(snap: _Snapshot, known_at: datetime | None, pages: Sequence[Sequence[str]], turns: _Turns,
          parts: _Pages, conn: Connection) -> int:
    """The forked case worker's life (``_CaseWorker``); its exit status."""
    try:
        ledger = snap.ledger
        ledger.store = own_store(ledger.store)
        queries = Queries(ledger)
        own = replace(snap, writers=parts.open())
        while (i := turns.take()) is not None:
            parts.counts.append((i, _judge(own, queries, known_at, pages[i])))
        parts.close()
        conn.send_bytes(pickle.dumps(("done", parts.counts)))
        return 0
    except BaseException as exc:
        with suppress(Exception):
            conn.send_bytes(pickle.dumps(("error", picklable(exc, "the export's second case worker"))))
        return 1


# --- the export -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    manifest: dict[str, Any]
    new_events: int
    event_files: list[str]
    snapshot_rows: dict[str, int]


def _read_manifest(root: Path) -> dict[str, Any] | None:
    path = root / MANIFEST
    if not path.exists():
        if root.exists() and any(root.iterdir()):
            # A first export interrupted before its manifest leaves its marker and files of its own
            # only: swept (files named like an export's, without the marker, are someone's copy).
            ours = {p for p in _ours(root) if p.is_file()} | {root / MARKER}
            if not (root / MARKER).is_file() or any(p.is_file() and p not in ours for p in root.rglob("*")):
                raise ExportRefused(
                    f"{root} is not empty and holds no {MANIFEST}: export into a new or empty folder"
                )
            _clear(root)
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportRefused(f"cannot read {path}: {exc}; use --fresh to export everything again") from None
    if not isinstance(data, dict):
        raise ExportRefused(f"{path} is not a ledger export manifest; use --fresh to start again")
    return data


def _ours(root: Path) -> Iterator[Path]:
    """Files an export writes (and temporaries it may have left behind)."""
    yield from root.glob(f"{EVENTS_DIR}/month=*/part-*.parquet")
    yield from root.glob(f"{EVENTS_DIR}/month=*/.*.tmp")
    yield from root.glob(".*.tmp")
    for name in SNAPSHOTS:
        yield root / f"{name}.parquet"


def _clear(root: Path) -> None:
    """Remove every file an export writes (its marker and temporaries too), and their folders."""
    for path in _ours(root):
        path.unlink(missing_ok=True)
    (root / MARKER).unlink(missing_ok=True)
    _sweep(root, set())
    if (root / EVENTS_DIR).is_dir() and not any((root / EVENTS_DIR).iterdir()):
        (root / EVENTS_DIR).rmdir()


def _sweep(root: Path, keep: set[str]) -> None:
    """Remove event parts no manifest lists (left by an interrupted export) and temporaries."""
    for path in _ours(root):
        rel = path.relative_to(root).as_posix()
        if path.exists() and rel not in keep and (path.name.endswith(".tmp") or rel.startswith(EVENTS_DIR)):
            path.unlink()
    for folder in root.glob(f"{EVENTS_DIR}/month=*"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _record_at(ledger: Ledger, seq: int) -> Record | None:
    return next((r for r in ledger.log(after=seq - 1, batch=1) if r.seq == seq), None)


def _continue_from(
    old: dict[str, Any], ledger: Ledger, known_at: datetime | None, pseudo: Pseudonymiser,
) -> Record | None:
    """Check the folder's export can be extended by this one; returns its last record."""
    hint = "export into another folder, or use --fresh to replace this export"
    if old.get("schema_version") != SCHEMA_VERSION:
        raise ExportRefused(f"the folder holds schema version {old.get('schema_version')}, this ledger writes "
                            f"{SCHEMA_VERSION}: {hint}")
    if bool(old.get("include_pii")) != pseudo.include_pii:
        was = "with personal data in clear" if old.get("include_pii") else "pseudonymised"
        raise ExportRefused(f"the folder holds an export {was}; one folder never mixes the two: {hint}")
    if old.get("pseudonym_key_id") != pseudo.key_id:
        raise ExportRefused(f"the folder was exported with another pseudonymisation key (another ledger?): {hint}")
    head = (old.get("ledger") or {}).get("head")
    if not head:
        return None
    record = _record_at(ledger, int(head["seq"]))
    if record is None or record.hash != head["hash"]:
        raise ExportRefused(
            f"the folder's last event (seq {head['seq']}, hash {str(head['hash'])[:12]}…) is not in this ledger: "
            f"it was exported from another ledger, or this one's history differs (run `ledger verify`); {hint}"
        )
    if known_at is not None and known_at < record.recorded_at:
        raise ExportRefused(
            f"the folder already holds events up to seq {record.seq}, recorded at {record.recorded_at.isoformat()}; "
            f"an export as known at {known_at.isoformat()} would hold fewer (exports only grow): "
            f"give a later --known-at, {hint}"
        )
    return record


def _as_read(kind: pa.DataType) -> str:
    """A column's type as a Parquet reader gives it back (a list's items are ``element`` there)."""
    return str(kind).replace("list<item: ", "list<element: ")


def _describe_tables(include_pii: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in TABLES:
        schema = table_schema(name, include_pii)
        out[name] = {
            "description": TABLES[name][0],
            "columns": [{"name": f.name, "type": _as_read(f.type),
                         "description": (f.metadata or {}).get(b"description", b"").decode()} for f in schema],
        }
    out["events"]["partitioning"] = "hive: month=YYYY-MM, the month of occurred_at in the store's timezone"
    return out


def export_parquet(
    ledger: Ledger,
    directory: str | os.PathLike[str],
    *,
    known_at: datetime | None = None,
    at: datetime | None = None,
    include_pii: bool = False,
    fresh: bool = False,
    batch: int = 5000,
    progress: Progress | None = None,
) -> ExportResult:
    """Export the ledger to ``directory`` (see the module docstring); raises :class:`ExportRefused`.

    A first export that fails takes its ``MARKER`` away with its files; one killed leaves it, and
    the next export sweeps what it left."""
    marker = Path(directory) / MARKER
    marked = marker.exists()
    try:
        return _export_parquet(ledger, directory, known_at=known_at, at=at, include_pii=include_pii, fresh=fresh,
                               batch=batch, progress=progress)
    except BaseException:
        if not marked:
            marker.unlink(missing_ok=True)
        raise


def _export_parquet(
    ledger: Ledger,
    directory: str | os.PathLike[str],
    *,
    known_at: datetime | None,
    at: datetime | None,
    include_pii: bool,
    fresh: bool,
    batch: int,
    progress: Progress | None,
) -> ExportResult:
    report: Progress = progress or (lambda stage, done, total: None)
    root = Path(directory)
    exported_at = ledger.clock()
    try:
        old = _read_manifest(root)
    except ExportRefused:
        if not (fresh and (root / MANIFEST).is_file()):
            raise
        old = {}  # an unreadable manifest of ours: --fresh replaces the export it described
    pseudo = Pseudonymiser(ledger_key(ledger.store), include_pii)
    if old is not None and fresh:
        _clear(root)
        (root / MANIFEST).unlink()
        old = None
    old_files = [f for f in (old or {}).get("files", []) if f.get("table") == "events"]
    missing = [str(f["path"]) for f in old_files if not (root / str(f["path"])).is_file()]
    if missing:
        raise ExportRefused(f"{root / MANIFEST} lists {missing[0]}"
                            f"{f' and {len(missing) - 1} more' if len(missing) > 1 else ''}, which is gone: "
                            "use --fresh to export everything again")
    _sweep(root, {str(f["path"]) for f in old_files})
    if old is None:
        root.mkdir(parents=True, exist_ok=True)
        (root / MARKER).write_text("a ledger export is being written here\n", encoding="utf-8")
    previous = _continue_from(old, ledger, known_at, pseudo) if old is not None else None
    runs: list[dict[str, Any]] = list((old or {}).get("events", {}).get("runs", []))
    after = previous.seq if previous is not None else 0
    with ledger.store.read() as tx:
        top = ledger.store.max_seq(tx)
    # The snapshots know what the events hold: as known at K, else at the last record exported,
    # the head read now (the events stop there: a batch appended meanwhile waits for the next
    # export). They are prepared first, so that a worker can judge cases while the events go.
    if known_at is not None:
        snapshot_known: datetime | None = known_at
    else:
        last = _record_at(ledger, top) if top > after else previous
        snapshot_known = last.recorded_at if last is not None else None
    when = at or known_at or exported_at
    snapshots = _Snapshots(ledger, root, when, snapshot_known, pseudo, report)
    new = _EventsRun()
    try:
        report("events", 0, max(top - after, 0))
        (root / EVENTS_DIR).mkdir(parents=True, exist_ok=True)
        run = len(runs) + 1
        new = _export_events(ledger, root, after, top, known_at, pseudo, batch, run, report)
        if new.rows and new.last is not None:
            runs.append({"run": run, "seq_from": after + 1, "seq_to": new.last.seq, "rows": new.rows,
                         "exported_at": _iso(exported_at), "known_at": _iso(known_at)})
        writers = snapshots.finish()
    except BaseException:
        snapshots.abort()
        for f in new.files:
            (root / f["path"]).unlink(missing_ok=True)
        raise
    head = new.last or previous
    snapshot_files = []
    for name, writer in writers.items():
        writer.commit()
        snapshot_files.append({"path": writer.path.name, "table": name, "rows": writer.count, "snapshot": True})
    manifest = {
        "format": "ledger-parquet-export",
        "schema_version": SCHEMA_VERSION,
        "ledger": {
            "tz": str(ledger.tz),
            "head": None if head is None else {"seq": head.seq, "hash": head.hash,
                                               "recorded_at": _iso(head.recorded_at)},
        },
        "exported_at": _iso(exported_at),
        "known_at": _iso(known_at),
        "snapshot_known_at": _iso(snapshot_known),
        "at": _iso(when),
        "include_pii": include_pii,
        "pseudonym_key_id": pseudo.key_id,
        "events": {"seq_to": head.seq if head is not None else 0, "runs": runs},
        "files": [*old_files, *new.files, *snapshot_files],
        "tables": _describe_tables(include_pii),
    }
    tmp = root / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, root / MANIFEST)
    (root / MARKER).unlink(missing_ok=True)
    return ExportResult(manifest, new.rows, [f["path"] for f in new.files],
                        {name: w.count for name, w in writers.items()})
