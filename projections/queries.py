"""Answering a committee's questions: load the facts a question needs, then ask the pure rules.

This is the read side's only I/O. For one case it reads the case's stream, the units and
posts, and the streams of the staff that can bear on the case (everyone the case names,
the A and B of the posts, the units' heads and supervisors, stand-ins), plus the policy
and calendar configuration: a bounded set, so the cost of a question does not grow with
the ledger. "As known at K" is applied to every stream the same way (``effective``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.application import Ledger
from ledger.events import PostDefined, RolesAssigned, StaffRegistered, StandInDesignated, UnitDefined
from ledger.policy import PolicyCatalogue, PolicyError
from ledger.records import Fact, Record, effective, record_from_state
from projections.calendar import UnknownCalendarYear, WorkingCalendar
from projections.clocks import deadline
from projections.configuration import calendar_from, catalogue_from
from projections.findings import Finding, findings
from projections.responsibility import CaseNotFoundAt, who
from projections.status import CaseStatus, case_status, caseload, overdue
from projections.world import World


class CaseNotFound(Exception):
    """The case is not in the ledger (as known at K)."""


@dataclass(frozen=True)
class Context:
    """Everything but the case: world, policies and calendar, as known at K."""

    world: World
    catalogue: PolicyCatalogue
    calendar: WorkingCalendar
    known_at: datetime | None


def _people_concerned(case_facts: Sequence[Fact], structure: Sequence[Fact]) -> tuple[set[str], set[str]]:
    """Whose whereabouts can bear on these cases: the parties and the A/B and stand-ins of the
    posts concerned (the cases' own, and any post a party holds); and those posts' units."""
    names: set[str] = set()
    posts: set[str] = set()
    for fact in case_facts:
        names |= fact.event.names("staff")
        post = getattr(fact.event, "post", None)
        if isinstance(post, str):
            posts.add(post)
    post_facts = [f for f in structure if isinstance(f.event, PostDefined | RolesAssigned | StandInDesignated)]
    posts |= {f.event.post for f in post_facts
              if isinstance(f.event, PostDefined | RolesAssigned) and {f.event.a, f.event.b} & names}
    units: set[str] = set()
    for fact in post_facts:
        if getattr(fact.event, "post", None) in posts:
            names |= fact.event.names("staff")
            if isinstance(fact.event, PostDefined):
                units.add(fact.event.unit)
    return names, units


def _leaders(structure: Sequence[Fact], units: set[str]) -> set[str]:
    """The section heads and supervising leaders of these units (any time)."""
    return {n for f in structure if isinstance(f.event, UnitDefined) and f.event.unit in units
            for n in f.event.names("staff")}


class Queries:
    """The questions of CONTRACT.md over one ledger."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.store = ledger.store
        self.tz = ledger.tz

    # -- loading -------------------------------------------------------------------------

    def _records(self, streams: Iterable[str]) -> list[Record]:
        return self.ledger.records(sorted(set(streams)))

    def _facts(self, streams: Iterable[str], known_at: datetime | None) -> list[Fact]:
        return effective(self._records(streams), self.tz, known_at)

    def _prefixed(self, *prefixes: str) -> list[str]:
        return [s for p in prefixes for s in self.ledger.streams(p)]

    def context(
        self, case_facts: Sequence[Fact], known_at: datetime | None, all_staff: bool = False,
        instants: Sequence[datetime] | None = None,
    ) -> Context:
        """The world a set of cases needs, as known at ``known_at``.

        With ``instants`` (those at which the rules consult the world: the instant asked
        about and the case's due instants), each person's history is read only around them
        (see ``_staff_records``): the cost of a question does not grow with the ledger.
        """
        config = self._facts(self._prefixed("policy:", "calendar:"), known_at)
        structure = self._facts(self._prefixed("unit:", "post:"), known_at)
        if all_staff:
            people = self._facts(self._prefixed("staff:"), known_at)
        else:
            names, units = _people_concerned(case_facts, structure)
            people = self._people(names, instants, known_at)
            # their own units' leaders too (leadership tiers name them), read the same way
            units |= {f.event.unit for f in people if isinstance(f.event, StaffRegistered)}
            people += self._people(_leaders(structure, units) - names, instants, known_at)
        return Context(
            world=World.from_facts([*structure, *people]),
            catalogue=catalogue_from(config),
            calendar=calendar_from(config),
            known_at=known_at,
        )

    def _people(self, names: set[str], instants: Sequence[datetime] | None, known_at: datetime | None) -> list[Fact]:
        streams = sorted(f"staff:{n}" for n in names)
        if instants is None:
            return self._facts(streams, known_at)
        return effective(self._staff_records(streams, instants, known_at), self.tz, known_at)

    def _staff_records(
        self, streams: Sequence[str], instants: Sequence[datetime], known_at: datetime | None
    ) -> list[Record]:
        """The records of staff streams that decide where each person was at ``instants``.

        Registrations always; and for each instant, the whole absence interval covering it
        (the last start at or before it, known at K, through its end), so that every absence
        read is complete. A stream holding corrections is read whole.
        """
        known = known_at.astimezone(UTC).isoformat() if known_at else "9999"
        points = sorted({t.astimezone(UTC).isoformat() for t in instants})
        seqs: set[int] = set()
        whole: list[str] = []
        with self.store.read() as tx:
            for stream in streams:
                tx.execute("SELECT COUNT(*) FROM rm_times WHERE stream = ? AND occurred_at IS NULL", (stream,))
                row = tx.fetchone()
                if row and row[0]:
                    whole.append(stream)
                    continue
                tx.execute("SELECT seq FROM rm_times WHERE stream = ? AND type = 'StaffRegistered'", (stream,))
                seqs.update(int(r[0]) for r in tx.fetchall())
                for point in points:
                    tx.execute(
                        "SELECT MAX(occurred_at) FROM rm_times WHERE stream = ? AND type = 'AbsenceStarted'"
                        " AND occurred_at <= ? AND recorded_at <= ?", (stream, point, known))
                    row = tx.fetchone()
                    if not row or row[0] is None:
                        continue
                    start = row[0]
                    tx.execute(
                        "SELECT MIN(occurred_at) FROM rm_times WHERE stream = ? AND occurred_at > ?"
                        " AND type IN ('AbsenceEnded', 'AbsenceStarted') AND recorded_at <= ?", (stream, start, known))
                    row = tx.fetchone()
                    end = row[0] if row and row[0] is not None else point
                    tx.execute("SELECT seq FROM rm_times WHERE stream = ? AND occurred_at >= ?"
                               " AND occurred_at <= ?", (stream, start, max(end, point)))
                    seqs.update(int(r[0]) for r in tx.fetchall())
            rows = self.store.rows_by_seq(tx, sorted(seqs)) + self.store.stream_rows(tx, whole)
        return [record_from_state(*row) for row in rows]

    def _instants(self, facts: Sequence[Fact], at: datetime, known_at: datetime | None) -> list[datetime] | None:
        """When the rules look at the world for this case: ``at`` and its due instants up to ``at``.

        The clocks depend on the case alone; None (read whole histories) when they cannot be
        computed, so the rules report the reason themselves.
        """
        config = self._facts(self._prefixed("policy:", "calendar:"), known_at)
        catalogue, calendar = catalogue_from(config), calendar_from(config)
        found = [at]
        for which in ("reply", "transfer"):
            try:
                clock = deadline(facts, at, catalogue, calendar, self.tz, which)
            except (CaseNotFoundAt, PolicyError, UnknownCalendarYear):
                return None
            found += [t for t in (clock.due, *(x.old_due for x in clock.invalid_extensions)) if t and t <= at]
        return found

    def case_facts(self, case: str, known_at: datetime | None) -> list[Fact]:
        facts = self._facts([f"case:{case}"], known_at)
        if not facts:
            when = f" as known at {known_at.isoformat()}" if known_at else ""
            raise CaseNotFound(f"case {case!r} is not in the ledger{when}")
        return facts

    def cases_known(self, known_at: datetime | None) -> list[str]:
        """Ids of the cases the ledger knew at ``known_at`` (from the case index read model)."""
        with self.store.read() as tx:
            if known_at is None:
                tx.execute("SELECT case_id FROM rm_cases ORDER BY first_seq")
            else:
                tx.execute("SELECT case_id FROM rm_cases WHERE first_recorded_at <= ? ORDER BY first_seq",
                           (known_at.astimezone(UTC).isoformat(),))
            return [str(r[0]) for r in tx.fetchall()]

    def all_case_facts(self, known_at: datetime | None, cases: Sequence[str] | None = None) -> dict[str, list[Fact]]:
        ids = list(cases) if cases is not None else self.cases_known(known_at)
        records = self._records(f"case:{c}" for c in ids)
        by_stream: dict[str, list[Record]] = {}
        for rec in records:
            by_stream.setdefault(rec.stream, []).append(rec)
        out: dict[str, list[Fact]] = {}
        for case in ids:
            facts = effective(by_stream.get(f"case:{case}", []), self.tz, known_at)
            if facts:
                out[case] = facts
        return out

    # -- questions -----------------------------------------------------------------------

    def who(self, case: str, at: datetime, known_at: datetime | None = None) -> dict[str, Any]:
        facts = self.case_facts(case, known_at)
        ctx = self.context(facts, known_at, instants=[at])
        return who(facts, ctx.world, at, ctx.catalogue, self.tz, known_at=known_at).to_json()

    def findings(self, case: str | None, at: datetime, known_at: datetime | None = None) -> list[dict[str, Any]]:
        if case is not None:
            per_case = {case: self.case_facts(case, known_at)}
            ctx = self.context(per_case[case], known_at, instants=self._instants(per_case[case], at, known_at))
        else:
            per_case = self.all_case_facts(known_at)
            ctx = self.context([], known_at, all_staff=True)
        out: list[Finding] = []
        for facts in per_case.values():
            out.extend(findings(facts, ctx.world, at, ctx.catalogue, ctx.calendar, self.tz))
        return [f.to_json() for f in sorted(out, key=lambda f: (f.breached_at, f.case))]

    def open_cases(self, at: datetime, known_at: datetime | None = None) -> list[str]:
        """Cases that may be open at ``at`` as known at ``known_at``: received by then and not
        replied by then, plus every case whose stream holds corrections (judged in full)."""
        when = at.astimezone(UTC).isoformat()
        known = known_at.astimezone(UTC).isoformat() if known_at else "9999"
        with self.store.read() as tx:
            # One linear pass over the case rows (a correlated NOT EXISTS can go quadratic).
            tx.execute(
                "SELECT stream FROM rm_times WHERE stream >= 'case:' AND stream < 'case;' AND recorded_at <= ?"
                " GROUP BY stream HAVING"
                " SUM(CASE WHEN occurred_at IS NULL THEN 1 ELSE 0 END) > 0 OR ("
                " SUM(CASE WHEN type = 'InquiryReceived' AND occurred_at <= ? THEN 1 ELSE 0 END) > 0 AND"
                " SUM(CASE WHEN type = 'Replied' AND occurred_at <= ? THEN 1 ELSE 0 END) = 0)",
                (known, when, when),
            )
            return sorted(str(r[0]).removeprefix("case:") for r in tx.fetchall())

    def statuses(self, at: datetime, known_at: datetime | None = None) -> list[CaseStatus]:
        """The status at ``at`` of every case that may be open then (others are replied)."""
        per_case = self.all_case_facts(known_at, self.open_cases(at, known_at))
        everyone = [f for facts in per_case.values() for f in facts]
        ctx = self.context(everyone, known_at, instants=[at])
        return [case_status(facts, ctx.world, at, ctx.catalogue, ctx.calendar, self.tz)
                for facts in per_case.values()]

    def overdue(self, at: datetime, known_at: datetime | None = None) -> list[dict[str, Any]]:
        return overdue(self.statuses(at, known_at))

    def caseload(
        self, at: datetime, known_at: datetime | None = None, staff: str | None = None
    ) -> list[dict[str, Any]]:
        return caseload(self.statuses(at, known_at), staff)
