"""Materialised read models, kept current from the notification log with tracking.

Each projector folds stored records into its tables inside the append transaction, and the
ledger records the projector's position with the library's tracking recorder; on opening,
any records beyond that position are projected (a crash between storing and projecting
heals itself). ``ledger rebuild`` drops them and projects the whole log again.
The tables are caches: the rules always agree with a full replay of the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from ledger.events import EVENT_TYPES
from ledger.records import Logged
from ledger.store import Tx


class CaseIndex:
    """Every case with where its stream is and when the ledger first knew of it.

    Queries over many cases (overdue, caseload) use it to find the cases known at K
    without reading the whole log.
    """

    name = "case_index"

    def wants(self, kind: str, topic: str) -> bool:
        return topic == "InquiryReceived"  # a case's first record (nothing comes before receipt)

    def schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS rm_cases ("
            " case_id TEXT PRIMARY KEY, stream TEXT NOT NULL, first_seq BIGINT NOT NULL,"
            " first_recorded_at TEXT NOT NULL)",
        ]

    def project(self, tx: Tx, records: Sequence[Logged]) -> None:
        rows = [(r.stream.removeprefix("case:"), r.stream, r.seq, r.recorded_at)
                for r in records if r.type == "InquiryReceived"]
        tx.executemany(
            "INSERT INTO rm_cases (case_id, stream, first_seq, first_recorded_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (case_id) DO NOTHING",
            rows,
        )

    def reset(self, tx: Tx) -> None:
        tx.execute("DELETE FROM rm_cases")


_CASE_LIFE_TYPES = frozenset({"InquiryReceived", "Replied", "Corrected", "Retracted"})


class CaseLife:
    """Each case's receipt and reply, with when the ledger learnt of each.

    ``overdue`` and ``caseload`` judge only the cases that may be open at T as known at K:
    received by T and known by K, and not replied by T as known at K. A case whose stream holds
    a correction (or, against the checks, a second reply) is marked and always judged in full,
    so nothing a correction changed can be missed. One row per case: the question reads as
    many rows as there are cases, not as many as there are events.
    """

    name = "case_life"

    def wants(self, kind: str, topic: str) -> bool:
        return kind == "case" and topic in _CASE_LIFE_TYPES

    def schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS rm_case_life ("
            " case_id TEXT PRIMARY KEY, received_at TEXT NOT NULL, received_recorded_at TEXT NOT NULL,"
            " replied_at TEXT, replied_recorded_at TEXT, judge_in_full INTEGER NOT NULL DEFAULT 0)",
        ]

    def project(self, tx: Tx, records: Sequence[Logged]) -> None:
        received, replied, corrected = [], [], []
        for r in records:
            if not r.stream.startswith("case:"):
                continue
            case = r.stream.removeprefix("case:")
            if r.type == "InquiryReceived":
                received.append((case, _utc_text(str(r.content["occurred_at"])), r.recorded_at))
            elif r.type == "Replied":
                replied.append((_utc_text(str(r.content["occurred_at"])), r.recorded_at, case))
            elif r.type in ("Corrected", "Retracted"):
                corrected.append((case,))
        # In this order: a batch's inquiries come before their replies and corrections.
        tx.executemany(
            "INSERT INTO rm_case_life (case_id, received_at, received_recorded_at) VALUES (?, ?, ?)"
            " ON CONFLICT (case_id) DO NOTHING", received)
        tx.executemany(
            "UPDATE rm_case_life SET judge_in_full = CASE WHEN replied_at IS NULL THEN judge_in_full ELSE 1 END,"
            " replied_at = ?, replied_recorded_at = ? WHERE case_id = ?", replied)
        tx.executemany("UPDATE rm_case_life SET judge_in_full = 1 WHERE case_id = ?", corrected)

    def reset(self, tx: Tx) -> None:
        tx.execute("DELETE FROM rm_case_life")


class History:
    """When each record of a staff or post stream happened and was recorded, and what it corrects.

    A question about a case loads only the part of each person's and post's history around
    the instants the rules consult (absences, role changes and stand-in designations pile up
    over the years): the absence covering each instant, the roles and designation in force
    then. A correction's row carries the corrected event's id and its replacement's times, so
    that a stream with corrections is windowed on its facts as known at K, not read whole.
    """

    name = "history"

    def wants(self, kind: str, topic: str) -> bool:
        return kind in ("staff", "post")

    def schema(self) -> list[str]:
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
        ]

    def project(self, tx: Tx, records: Sequence[Logged]) -> None:
        rows = []
        for r in records:
            if not r.stream.startswith(("staff:", "post:")):
                continue
            content, target = r.content, None
            if r.type == "Corrected":
                target = str(content["target"])
                content = content["replacement"] if isinstance(content.get("replacement"), dict) else {}
            elif r.type == "Retracted":
                target, content = str(content["target"]), {}
            occurred, until = content.get("occurred_at"), content.get("until")
            rows.append((r.stream, r.seq, r.event_id, r.type, None if occurred is None else _utc_text(str(occurred)),
                         r.recorded_at, target, None if until is None else _utc_text(str(until))))
        tx.executemany(
            "INSERT INTO rm_history (stream, seq, event_id, type, occurred_at, recorded_at, target, until)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows,
        )

    def reset(self, tx: Tx) -> None:
        tx.execute("DELETE FROM rm_history")
        if tx.dialect == "sqlite":
            # A rebuild fills the table first and builds its index once at the end (the ledger
            # runs ``schema()`` again after projecting): much cheaper than growing it row by row.
            tx.execute("DROP INDEX IF EXISTS rm_history_kind")
            # rm_times: the timeline of earlier versions, no longer kept.
            tx.execute("DROP TABLE IF EXISTS rm_times")


class Membership:
    """Which staff each unit and post stream names, in any event and any corrected version.

    A question about a case reads only the posts that name the people of the case and the
    units concerned, instead of the whole organisation; a superset (any time, any version)
    is safe, because the rules still judge those streams' facts as of T and as known at K.
    """

    name = "membership"

    def wants(self, kind: str, topic: str) -> bool:
        return kind in ("unit", "post")

    def schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS rm_members ("
            " staff TEXT NOT NULL, stream TEXT NOT NULL, PRIMARY KEY (staff, stream))",
        ]

    def project(self, tx: Tx, records: Sequence[Logged]) -> None:
        rows = {
            (name, r.stream)
            for r in records if r.stream.startswith(("unit:", "post:"))
            for name in staff_named(r.content)
        }
        tx.executemany(
            "INSERT INTO rm_members (staff, stream) VALUES (?, ?) ON CONFLICT (staff, stream) DO NOTHING",
            sorted(rows),
        )

    def reset(self, tx: Tx) -> None:
        tx.execute("DELETE FROM rm_members")


def staff_named(content: dict[str, object]) -> set[str]:
    """The staff ids a stored event's content names (a correction: its replacement's)."""
    if content.get("type") == "Corrected" and isinstance(content.get("replacement"), dict):
        replacement = content["replacement"]
        assert isinstance(replacement, dict)
        return staff_named(replacement)
    cls = EVENT_TYPES.get(str(content.get("type")))
    if cls is None:
        return set()
    names: set[str] = set()
    for field_name, kind in cls.references.items():
        value = content.get(field_name)
        if kind != "staff" or value is None:
            continue
        names.update(str(v) for v in value) if isinstance(value, list) else names.add(str(value))
    return names


def _utc_text(instant: str) -> str:
    return datetime.fromisoformat(instant).astimezone(UTC).isoformat()


def default_projectors(tz: tzinfo | None) -> list[CaseIndex | CaseLife | History | Membership]:
    """The read models every ledger keeps."""
    del tz
    return [CaseIndex(), CaseLife(), History(), Membership()]
