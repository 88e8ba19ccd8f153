"""Materialised read models, kept current from the notification log with tracking.

Each projector folds the stored records it wants (``wants``: by stream kind and type; the
ledger hands it no others) into its tables inside the append transaction, and the
ledger records the projector's position with the library's tracking recorder; on opening,
any records beyond that position are projected (a crash between storing and projecting
heals itself). ``ledger rebuild`` drops them and projects the whole log again.
The tables are caches: the rules always agree with a full replay of the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from itertools import islice
from typing import Any

from ledger.events import EVENT_TYPES, named_in
from ledger.records import Logged
from ledger.store import Tx

_CASE_INDEX_TYPES = frozenset({"InquiryReceived", "Replied", "Corrected", "Retracted"})

#: Read-model tables of earlier versions, dropped by ``ledger rebuild``.
OBSOLETE_TABLES = ("rm_cases", "rm_case_life", "rm_times")


class CaseIndex:
    """Each case: its receipt (the stream's first record, 立案) and its reply (办结), with when the
    ledger learnt of each.

    ``overdue`` and ``caseload`` judge only the cases that may be open at T as known at K:
    received by T and known by K, and not replied by T as known at K. A case whose stream holds
    a correction (or, against the checks, a second reply) is marked and always judged in full,
    so nothing a correction changed can be missed. One row per case: a question over all cases
    reads as many rows as there are cases, not as many as there are events; the cases known at
    K come from it in the order the ledger heard of them.
    """

    name = "case_index.2"
    #: Only a record's type and its occurred-at are read: the ledger need not decode the rest.
    content_fields = frozenset({"occurred_at"})

    def wants(self, kind: str, topic: str) -> bool:
        return kind == "case" and topic in _CASE_INDEX_TYPES

    def schema(self, dialect: str) -> list[str]:
        # SQLite: the row lives in its key's B-tree (one write per case, not two).
        table = " WITHOUT ROWID" if dialect == "sqlite" else ""
        return [
            "CREATE TABLE IF NOT EXISTS rm_case_index ("
            " case_id TEXT PRIMARY KEY, received_seq BIGINT NOT NULL, received_at TEXT NOT NULL,"
            " received_recorded_at TEXT NOT NULL, replied_at TEXT, replied_recorded_at TEXT,"
            f" judge_in_full INTEGER NOT NULL DEFAULT 0){table}",
        ]

    #: While a batch is appended, how long (in positions of the log) a new case's row is held
    #: back so that its reply, if it comes soon after, is folded into it instead of updating it:
    #: about ten weeks of a busy office's register, far longer than the time limits. The rows
    #: still held when the batch ends are written then, and a reply that comes later updates its
    #: row. (Were every new case held to the end, a million-line batch would write 290k rows
    #: after its last line, ~0.8 s the clerk waits for, measured; the writer has the time while
    #: the clerk's process checks the lines.) Catching up and rebuilding hold every row to the
    #: end, where one process does all the work anyway: writing early cost a rebuild 12% more.
    hold = 50_000

    def __init__(self) -> None:
        self._new: dict[str, list[Any]] = {}  # new cases held back (in log order), replies folded in
        self._hold: int | None = None

    def begin(self, appending: bool) -> None:
        self._new = {}
        self._hold = self.hold if appending else None

    def project(self, tx: Tx, records: Sequence[Logged]) -> None:
        # The ledger hands a read model only the records it wants (``wants``). A new case's row
        # is held back for a while (``hold``): its reply, if it comes by then, is folded into it.
        new = self._new
        replied, corrected = [], []
        for r in records:
            case = r.stream[5:]  # "case:..."
            if r.type == "InquiryReceived":
                held = new.get(case)
                if held is None:
                    new[case] = [case, r.seq, _utc_text(str(r.content["occurred_at"])), r.recorded_at, None, None, 0]
                else:  # received again after a retraction: the case was known from its first receipt
                    held[6] = 1
            elif r.type == "Replied":
                row = new.get(case)
                if row is None:
                    replied.append((_utc_text(str(r.content["occurred_at"])), r.recorded_at, case))
                else:
                    row[6] = 1 if row[4] is not None else row[6]
                    row[4], row[5] = _utc_text(str(r.content["occurred_at"])), r.recorded_at
            elif case in new:
                new[case][6] = 1
            else:
                corrected.append((case,))
        tx.executemany(
            "UPDATE rm_case_index SET judge_in_full = CASE WHEN replied_at IS NULL THEN judge_in_full ELSE 1 END,"
            " replied_at = ?, replied_recorded_at = ? WHERE case_id = ?", replied)
        tx.executemany("UPDATE rm_case_index SET judge_in_full = 1 WHERE case_id = ?", corrected)
        if records and self._hold is not None:
            self._write(tx, records[-1].seq - self._hold)

    def finish(self, tx: Tx) -> None:
        self._write(tx, None)

    def _write(self, tx: Tx, upto: int | None) -> None:
        """Write the held rows of the cases received at or before ``upto`` (None: all of them)."""
        new = self._new
        if upto is None:
            rows, self._new = list(new.values()), {}
        else:
            rows = []
            for row in new.values():  # in the order the cases were received
                if row[1] > upto:
                    break
                rows.append(row)
            if not rows:
                return
            self._new = dict(islice(new.items(), len(rows), None))
        rows.sort()  # by case id (the first item, never equal): each row lands next to the one before
        tx.executemany(
            "INSERT INTO rm_case_index (case_id, received_seq, received_at, received_recorded_at, replied_at,"
            " replied_recorded_at, judge_in_full) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (case_id) DO NOTHING",
            rows)

    def reset(self, tx: Tx) -> None:
        tx.execute("DELETE FROM rm_case_index")
        if tx.dialect == "sqlite":  # (on PostgreSQL only the owner may drop a table)
            for table in OBSOLETE_TABLES:
                tx.execute(f"DROP TABLE IF EXISTS {table}")


HISTORY_COLUMNS = ("stream", "seq", "event_id", "type", "occurred_at", "recorded_at", "target", "until")


class History:
    """When each record of a staff or post stream happened and was recorded, and what it corrects.

    A question about a case loads only the part of each person's and post's history around
    the instants the rules consult (absences, role changes and stand-in designations pile up
    over the years): the absence covering each instant, the roles and designation in force
    then. A correction's row carries the corrected event's id and its replacement's times, so
    that a stream with corrections is windowed on its facts as known at K, not read whole.
    """

    name = "history"
    content_fields = None  # every field (what the content names)

    def wants(self, kind: str, topic: str) -> bool:
        return kind in ("staff", "post")

    def schema(self, dialect: str) -> list[str]:
        return [
            # One row per record, appended in log order (the tracking position, moved in the
            # same transaction, guarantees each record is projected once); one index serves
            # every question: a stream's records of some types in a time range.
            "CREATE TABLE IF NOT EXISTS rm_history ("
            " stream TEXT NOT NULL, seq BIGINT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL,"
            " occurred_at TEXT, recorded_at TEXT NOT NULL, target TEXT, until TEXT)",
            # Covering: "the latest of a type by T, known by K" walks it back and stops at once.
            "CREATE INDEX IF NOT EXISTS rm_history_kind"
            " ON rm_history (stream, type, occurred_at, recorded_at, until, seq)",
            # The events that corrections target, found by id (a ledger made before this index
            # gets it when its owner next opens it).
            "CREATE INDEX IF NOT EXISTS rm_history_event ON rm_history (event_id)",
        ]

    def begin(self, appending: bool) -> None:
        pass

    def finish(self, tx: Tx) -> None:
        pass

    def project(self, tx: Tx, records: Sequence[Logged]) -> None:
        rows = []
        for r in records:
            content, target = r.content, None
            if r.type == "Corrected":
                target = str(content["target"])
                content = content["replacement"] if isinstance(content.get("replacement"), dict) else {}
            elif r.type == "Retracted":
                target, content = str(content["target"]), {}
            occurred, until = content.get("occurred_at"), content.get("until")
            rows.append((r.stream, r.seq, r.event_id, r.type, None if occurred is None else _utc_text(str(occurred)),
                         r.recorded_at, target, None if until is None else _utc_text(str(until))))
        tx.bulk_insert("rm_history", HISTORY_COLUMNS, rows)

    def reset(self, tx: Tx) -> None:
        tx.execute("DELETE FROM rm_history")
        if tx.dialect == "sqlite":
            # A rebuild fills the table first and builds its indexes once at the end (the ledger
            # runs ``schema()`` again after projecting): much cheaper than growing it row by row.
            tx.execute("DROP INDEX IF EXISTS rm_history_kind")
            tx.execute("DROP INDEX IF EXISTS rm_history_event")


class Membership:
    """Which staff each unit and post stream names, in any event and any corrected version.

    A question about a case reads only the posts that name the people of the case and the
    units concerned, instead of the whole organisation; a superset (any time, any version)
    is safe, because the rules still judge those streams' facts as of T and as known at K.
    """

    name = "membership"
    content_fields = None  # every field (what the content names)

    def wants(self, kind: str, topic: str) -> bool:
        return kind in ("unit", "post")

    def schema(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS rm_members ("
            " staff TEXT NOT NULL, stream TEXT NOT NULL, PRIMARY KEY (staff, stream))",
        ]

    def begin(self, appending: bool) -> None:
        pass

    def finish(self, tx: Tx) -> None:
        pass

    def project(self, tx: Tx, records: Sequence[Logged]) -> None:
        rows = {
            (name, r.stream)
            for r in records
            for name in staff_named(r.content)
        }
        tx.executemany(
            "INSERT INTO rm_members (staff, stream) VALUES (?, ?) ON CONFLICT (staff, stream) DO NOTHING",
            sorted(rows),
        )

    def reset(self, tx: Tx) -> None:
        tx.execute("DELETE FROM rm_members")


def staff_named(content: dict[str, Any]) -> set[str]:
    """The staff ids a stored event's content names (a correction: its replacement's)."""
    if content.get("type") == "Corrected" and isinstance(content.get("replacement"), dict):
        return staff_named(content["replacement"])
    if content.get("type") not in EVENT_TYPES:
        return set()
    return {str(name) for _, kind, name in named_in(content) if kind == "staff"}


_HOURS: dict[str, str] = {}  # local "YYYY-MM-DDTHH" + offset -> UTC "YYYY-MM-DDTHH"


def _utc_text(instant: str) -> str:
    """A stored instant as UTC ISO text (which sorts in time order)."""
    # Most instants are written "YYYY-MM-DDTHH:MM:SS+HH:MM" with a whole-hour offset: only the
    # date and hour change, so each local hour is converted once.
    if len(instant) == 25 and instant[22:] == ":00":
        key = instant[:13] + instant[19:]
        hour = _HOURS.get(key)
        if hour is None:
            if len(_HOURS) > 100_000:
                _HOURS.clear()
            hour = _HOURS[key] = _utc_slow(instant[:13] + ":00:00" + instant[19:])[:13]
        return hour + instant[13:19] + "+00:00"
    return _utc_slow(instant)


def _utc_slow(instant: str) -> str:
    return datetime.fromisoformat(instant).astimezone(UTC).isoformat()


def default_projectors(tz: tzinfo | None) -> list[CaseIndex | History | Membership]:
    """The read models every ledger keeps."""
    del tz
    return [CaseIndex(), History(), Membership()]
