"""Materialised read models, kept current from the notification log with tracking.

Each projector folds stored records into its tables inside the append transaction, and the
ledger records the projector's position with the library's tracking recorder; on opening,
any records beyond that position are projected (a crash between storing and projecting
heals itself). ``ledger rebuild`` drops them and projects the whole log again.
The tables are caches: the rules always agree with a full replay of the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from ledger.records import Record
from ledger.store import Tx


class CaseIndex:
    """Every case with where its stream is and when the ledger first knew of it.

    Queries over many cases (overdue, caseload) use it to find the cases known at K
    without reading the whole log.
    """

    name = "case_index"

    def schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS rm_cases ("
            " case_id TEXT PRIMARY KEY, stream TEXT NOT NULL, first_seq BIGINT NOT NULL,"
            " first_recorded_at TEXT NOT NULL)",
        ]

    def project(self, tx: Tx, records: Sequence[Record]) -> None:
        rows = [
            (r.stream.removeprefix("case:"), r.stream, r.seq, _utc(r))
            for r in records if r.stream.startswith("case:")
        ]
        tx.executemany(
            "INSERT INTO rm_cases (case_id, stream, first_seq, first_recorded_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (case_id) DO NOTHING",
            rows,
        )

    def reset(self, tx: Tx) -> None:
        tx.execute("DELETE FROM rm_cases")


def _utc(record: Record) -> str:
    # ISO strings in UTC compare in time order.
    from datetime import UTC

    return record.recorded_at.astimezone(UTC).isoformat()


def default_projectors(tz: tzinfo) -> list[CaseIndex]:
    del tz
    return [CaseIndex()]
