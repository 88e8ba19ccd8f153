"""Answering a committee's questions: load the facts a question needs, then ask the pure rules.

This is the read side's only I/O. For one case it reads the case's stream, the units and
posts, and the streams of the staff that can bear on the case (everyone the case names,
the A and B of the posts, the units' heads and supervisors, stand-ins), plus the policy
and calendar configuration: a bounded set, so the cost of a question does not grow with
the ledger. "As known at K" is applied to every stream the same way (``effective``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple

from ledger.application import Ledger, collector_paused
from ledger.events import (
    DeadlineExtended,
    PostDefined,
    RolesAssigned,
    StaffRegistered,
    StandInDesignated,
    UnitDefined,
)
from ledger.policy import PolicyCatalogue, PolicyError
from ledger.records import (
    Fact,
    Record,
    Withdrawal,
    effective,
    effective_and_withdrawn,
    read_instant,
    record_from_state,
    shared_zone,
)
from ledger.store import Tx, padded
from projections.calendar import UnknownCalendarYear, WorkingCalendar
from projections.clocks import Leads, deadline
from projections.configuration import CONFIG_PREFIXES, calendar_from, catalogue_from
from projections.findings import Finding, findings
from projections.readmodels import HISTORY_COLUMNS
from projections.responsibility import CaseNotFoundAt, who
from projections.status import CaseStatus, case_status, caseload, overdue
from projections.world import World

#: Records a ``Queries`` keeps decoded (a few hundred MB at most).
RECORD_CACHE = 200_000


class CaseNotFound(Exception):
    """The case is not in the ledger (as known at K)."""


class StaffNotFound(Exception):
    """No staff member of this id was ever registered in the ledger."""


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
        post = vars(fact.event).get("post")  # (a field or absent; getattr's miss is slow on models)
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


def _posts_to_read_whole(posts: Sequence[Fact], units: Sequence[Fact], instants: Sequence[datetime]) -> set[str]:
    """The posts whose window (``_windowed``: the latest designation in force at each instant)
    does not decide who stands in: there the latest was not made by a leader of the post's unit,
    so it is no designation and an earlier one may stand (``World.stand_in_at``). Those posts
    are read whole; any other answers exactly as from its whole history."""
    designated = {f.event.post for f in posts if isinstance(f.event, StandInDesignated)}
    if not designated:
        return set()
    world = World.from_facts([*posts, *units])
    return {post for post in designated for at in instants
            if (d := world.designation_at(post, at)) is not None and world.lapse_of(d, at) == "not_by_leader"}


def _leaders(structure: Sequence[Fact], units: set[str]) -> set[str]:
    """The section heads and supervising leaders of these units (any time)."""
    return {n for f in structure if isinstance(f.event, UnitDefined) and f.event.unit in units
            for n in f.event.names("staff")}


class HistoryRow(NamedTuple):
    """One row of the history read model (times as UTC ISO text, which sorts in time order)."""

    seq: int
    event_id: str
    type: str
    occurred_at: str | None
    recorded_at: str
    target: str | None  # a correction's or retraction's target event id
    until: str | None


def window(kind: str, rows: Sequence[HistoryRow], points: Sequence[str], known: str) -> set[int]:
    """The sequence numbers of the records of one staff or post stream that decide what the
    rules see at ``points`` as known at ``known``, the stream's corrections applied.

    The same selection as the SQL over a stream without corrections (``_plain_window``), made
    on the facts as corrected: each original with its latest correction recorded by K, minus
    the retracted; the selected originals come with every correction of theirs (``effective``
    then applies those recorded by K).
    """
    facts: dict[str, HistoryRow] = {}
    for row in sorted(rows, key=lambda r: r.seq):
        if row.recorded_at > known:
            continue
        if row.type == "Corrected" and row.target in facts:
            old = facts[row.target]
            facts[row.target] = old._replace(occurred_at=row.occurred_at, until=row.until)
        elif row.type == "Retracted":
            facts.pop(row.target or "", None)
        elif row.type not in ("Corrected", "Retracted"):
            facts[row.event_id] = row

    def of(*types: str) -> list[HistoryRow]:
        return [f for f in facts.values() if f.type in types and f.occurred_at is not None]

    chosen = {f.event_id for f in of("StaffRegistered", "PostDefined")}
    for point in points:
        if kind == "staff":
            starts = [f.occurred_at for f in of("AbsenceStarted") if f.occurred_at and f.occurred_at <= point]
            if starts:
                began = max(starts)
                later = [f.occurred_at for f in of("AbsenceStarted", "AbsenceEnded")
                         if f.occurred_at and f.occurred_at > began]
                after = min(later) if later else None
                if after is None or after > point:
                    end = after or point
                    chosen |= {f.event_id for f in of("AbsenceStarted", "AbsenceEnded")
                               if f.occurred_at and began <= f.occurred_at <= end}
        else:
            for kind_of in ("RolesAssigned", "StandInDesignated"):
                times = [f.occurred_at for f in of(kind_of) if f.occurred_at and f.occurred_at <= point
                         and (kind_of == "RolesAssigned" or f.until is None or f.until >= point)]
                if times:
                    latest = max(times)
                    chosen |= {f.event_id for f in of(kind_of) if f.occurred_at == latest}
    return {r.seq for r in rows if r.event_id in chosen or r.target in chosen}


def _units_of(people: Sequence[Fact]) -> set[str]:
    return {f.event.unit for f in people if isinstance(f.event, StaffRegistered)}


class Queries:
    """The questions of CONTRACT.md over one ledger."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.store = ledger.store
        self.tz = ledger.tz
        self._tx: Tx | None = None
        self._record_cache: dict[int, Record] = {}
        self._config_cache: tuple[tuple[int, Any], list[Record]] | None = None
        # per question (one snapshot): the configuration as known at K, read once
        self._question_configuration: dict[datetime | None, tuple[PolicyCatalogue, WorkingCalendar]] = {}
        self._configurations: dict[tuple[Any, ...], tuple[PolicyCatalogue, WorkingCalendar]] = {}

    # -- loading -------------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[Tx]:
        """The question's read transaction: everything one question reads comes from one
        snapshot of the ledger (a clerk appending meanwhile cannot split an answer), and
        opening one transaction per question instead of one per read is cheaper."""
        if self._tx is not None:
            yield self._tx
            return
        with self.store.read() as tx:
            self._tx = tx
            try:
                yield tx
            finally:
                self._tx = None
                self._question_configuration.clear()

    def _records(self, streams: Iterable[str]) -> list[Record]:
        with self.reading() as tx:
            return self._decoded(self.store.stream_rows(tx, sorted(set(streams))))

    def _decoded(self, rows: Iterable[tuple[int, str, int, bytes]]) -> list[Record]:
        """Records from stored rows, each decoded once per ``Queries``: a stored record never
        changes, so a process answering many questions (a committee's session, an export)
        keeps the records it has read, up to ``RECORD_CACHE`` of them."""
        cache = self._record_cache
        out = []
        for row in rows:
            record = cache.get(row[0])
            if record is None:
                if len(cache) >= RECORD_CACHE:
                    cache.clear()
                record = cache[row[0]] = record_from_state(*row)
            out.append(record)
        return out

    def _facts(self, streams: Iterable[str], known_at: datetime | None) -> list[Fact]:
        return effective(self._records(streams), self.tz, known_at)

    def _prefixed(self, *prefixes: str) -> list[str]:
        with self.reading() as tx:
            return [s for p in prefixes for s in self.store.streams_like(tx, p)]

    def context(
        self, case_facts: Sequence[Fact], known_at: datetime | None, all_staff: bool = False,
        instants: Sequence[datetime] | None = None,
    ) -> Context:
        """The world a set of cases needs, as known at ``known_at``.

        With ``instants`` (those at which the rules consult the world: the instant asked
        about and the case's due instants), each person's history is read only around them
        (see ``_windowed``): the cost of a question does not grow with the ledger.
        """
        catalogue, calendar = self._configuration(known_at)
        if all_staff:
            structure = self._facts(self._prefixed("unit:", "post:"), known_at)
            people = self._facts(self._prefixed("staff:"), known_at)
        else:
            # Only the posts that name a party of the cases (the membership read model), and
            # the units concerned: the organisation around the case, not all of it.
            parties: set[str] = set()
            for fact in case_facts:
                parties |= fact.event.names("staff")
            own_posts = {f"post:{p}" for f in case_facts if isinstance(p := vars(f.event).get("post"), str)}
            structure = self._streams_around(sorted(own_posts | self._streams_naming(parties, "post:")),
                                             instants, known_at)
            names, units = _people_concerned(case_facts, structure)
            unit_facts = self._facts({f"unit:{u}" for u in units}, known_at)
            if instants is not None and (whole := _posts_to_read_whole(structure, unit_facts, instants)):
                structure = [f for f in structure if getattr(f.event, "post", None) not in whole]
                structure += self._facts({f"post:{p}" for p in whole}, known_at)
                names, more = _people_concerned(case_facts, structure)
                unit_facts += self._facts({f"unit:{u}" for u in more - units}, known_at)
                units |= more
            people = self._people(names, instants, known_at)
            # their own units' leaders too (leadership tiers name them), read the same way
            more = _units_of(people) - units
            units |= more
            structure += unit_facts + self._facts({f"unit:{u}" for u in more}, known_at)
            leaders = self._people(_leaders(structure, units) - names, instants, known_at)
            structure += self._facts({f"unit:{u}" for u in _units_of(leaders) - units}, known_at)
            people += leaders
            if any(isinstance(f.event, DeadlineExtended) for f in case_facts):
                # An extension counts if a leader of any unit approved it (World.leads): every unit.
                loaded = {f.event.unit for f in structure if isinstance(f.event, UnitDefined)}
                rest = {s.partition(":")[2] for s in self._prefixed("unit:")} - loaded
                structure += self._facts({f"unit:{u}" for u in rest}, known_at)
        return Context(
            world=World.from_facts([*structure, *people]),
            catalogue=catalogue,
            calendar=calendar,
            known_at=known_at,
        )

    def _configuration(self, known_at: datetime | None) -> tuple[PolicyCatalogue, WorkingCalendar]:
        """The policy catalogue and calendar as known at K.

        Built once per distinct set of configuration facts (they are immutable records, and
        an office adds a pack or a year a few times a year), not once per question.
        """
        in_question = self._tx is not None  # the memo lives as long as the question's snapshot
        memo = self._question_configuration.get(known_at) if in_question else None
        if memo is not None:
            return memo
        config = effective(self._configuration_records(), self.tz, known_at)
        key = tuple((f.seq, f.evidence) for f in config)
        built = self._configurations.get(key)
        if built is None:
            built = (catalogue_from(config), calendar_from(config))
            if len(self._configurations) >= 8:
                self._configurations.clear()
            self._configurations[key] = built
        if in_question:
            self._question_configuration[known_at] = built
        return built

    def _configuration_records(self) -> list[Record]:
        """Every record of the policy and calendar streams: one small indexed look to see
        whether any was added since they were last read, else the records read before."""
        with self.reading() as tx:
            seq, events = self.store.seq_column, self.store.events_table
            ranges = " OR ".join(["(originator_id >= ? AND originator_id < ?)"] * len(CONFIG_PREFIXES))
            bounds = [value for prefix in CONFIG_PREFIXES for value in (prefix, prefix + "\uffff")]
            tx.execute(f"SELECT COUNT(*), MAX({seq}) FROM {events} WHERE {ranges}", bounds)
            row = tx.fetchone()
            key = (int(row[0]), row[1]) if row else (0, None)
            if self._config_cache is None or self._config_cache[0] != key:
                rows = self.store.stream_rows(tx, [s for p in CONFIG_PREFIXES for s in self.store.streams_like(tx, p)])
                self._config_cache = (key, self._decoded(rows))
            return self._config_cache[1]

    def _streams_naming(self, staff: set[str], prefix: str) -> set[str]:
        """The unit or post streams that ever named any of these staff (membership read model)."""
        found: set[str] = set()
        names = sorted(staff)
        with self.reading() as tx:
            for i in range(0, len(names), 512):
                chunk = padded(names[i:i + 512], "")
                tx.execute(f"SELECT stream FROM rm_members WHERE staff IN ({','.join('?' * len(chunk))})", chunk)
                found.update(str(r[0]) for r in tx.fetchall() if str(r[0]).startswith(prefix))
        return found

    def _people(self, names: set[str], instants: Sequence[datetime] | None, known_at: datetime | None) -> list[Fact]:
        return self._streams_around(sorted(f"staff:{n}" for n in names), instants, known_at)

    def _streams_around(
        self, streams: Sequence[str], instants: Sequence[datetime] | None, known_at: datetime | None
    ) -> list[Fact]:
        """The facts of staff or post streams as known at K: whole without ``instants``, else
        only what decides what the rules see at those instants (``_windowed``)."""
        if instants is None:
            return self._facts(streams, known_at)
        return effective(self._windowed(streams, instants, known_at), self.tz, known_at)

    def _windowed(
        self, streams: Sequence[str], instants: Sequence[datetime], known_at: datetime | None
    ) -> list[Record]:
        """The records of staff and post streams that decide what the rules see at ``instants``.

        A person: registrations, and for each instant the absence covering it, whole (from its
        start through what followed it). A post: its definition, and for each instant the roles
        and the stand-in designation in force then. As known at K throughout. A stream with
        corrections known at K is windowed the same way on its corrected facts (``window``),
        from the few history rows that decide it (``_deciding_rows``), without decoding its records.
        """
        known = known_at.astimezone(UTC).isoformat() if known_at else "9999"
        points = sorted({t.astimezone(UTC).isoformat() for t in instants})
        spans: set[tuple[str, str, str, str]] = set()
        corrected: set[str] = set()
        seqs: set[int] = set()
        with self.reading() as tx:
            for i in range(0, len(streams), 500):
                found, fixed = self._plain_window(tx, list(streams[i:i + 500]), points, known)
                spans |= {span for span in found if span[0] not in fixed}
                corrected |= fixed
            names = sorted(corrected)
            for i in range(0, len(names), 200):
                for stream, rows_of in self._deciding_rows(tx, names[i:i + 200], points, known).items():
                    seqs |= window(stream.partition(":")[0], rows_of, points, known)
            rows = self._rows_in(tx, sorted(spans))
            if seqs:
                rows += self.store.rows_by_seq(tx, sorted(seqs))
        return self._decoded(rows)

    @staticmethod
    def _deciding_rows(
        tx: Tx, streams: Sequence[str], points: Sequence[str], known: str
    ) -> dict[str, list[HistoryRow]]:
        """The history rows of streams with corrections that ``window`` needs to decide them: the
        same selection as from their whole histories, from a few rows each instead of all.

        Read: every correction and retraction, every event one of them targets (the *touched*),
        the registrations; and per instant, of the untouched events (whose times are as stored),
        a staff stream's absences from its last start by then through its first start or end
        after it, and a post stream's roles and designations at the latest by then, at each
        time a correction gives and at each touched role change's or designation's own time
        (``window`` takes every designation made at the latest time, lapsed or not). The
        corrected facts are all among these rows, so whatever ``window`` picks (its absence
        starts at or after that last untouched start, and ends by the first untouched start or
        end after the instant) is among them too: ``window`` on these rows gives what it gives
        on the whole history (a property test compares).
        """
        part = padded(list(streams), "")
        marks = ",".join("?" * len(part))
        columns = ", ".join(HISTORY_COLUMNS)
        found: dict[int, tuple[Any, ...]] = {}
        tx.execute(
            f"SELECT {columns} FROM rm_history WHERE stream IN ({marks})"
            " AND type IN ('Corrected', 'Retracted', 'StaffRegistered', 'PostDefined')"
            f" UNION ALL SELECT {columns} FROM rm_history WHERE event_id IN (SELECT target FROM rm_history"
            f" WHERE stream IN ({marks}) AND type IN ('Corrected', 'Retracted'))", [*part, *part])
        for row in tx.fetchall():
            found[int(row[1])] = row
        fixes = [row for row in found.values() if row[3] in ("Corrected", "Retracted")]
        touched = padded(sorted({str(row[6]) for row in fixes if row[6] is not None}), "")
        untouched = f"recorded_at <= ? AND event_id NOT IN ({','.join('?' * len(touched))})"

        def latest(kind: str, extra: str = "") -> str:
            return (f"(SELECT occurred_at FROM rm_history WHERE stream = s.stream AND type = '{kind}'"
                    f" AND occurred_at <= p.point{extra} AND {untouched} ORDER BY occurred_at DESC LIMIT 1)")

        def following(kind: str) -> str:
            return (f"(SELECT occurred_at FROM rm_history WHERE stream = s.stream AND type = '{kind}'"
                    f" AND occurred_at > p.point AND {untouched} ORDER BY occurred_at LIMIT 1)")

        tx.execute(
            f"WITH s(stream) AS (VALUES {','.join(['(?)'] * len(part))}),"
            f" p(point) AS (VALUES {','.join(['(?)'] * len(points))})"
            f" SELECT s.stream, {latest('AbsenceStarted')} AS began, {following('AbsenceStarted')} AS next_start,"
            f" {following('AbsenceEnded')} AS next_end, {latest('RolesAssigned')} AS roles,"
            f" {latest('StandInDesignated', ' AND (until IS NULL OR until >= p.point)')} AS designated"
            " FROM s, p",
            [*part, *points, *[value for _ in range(5) for value in (known, *touched)]])
        spans: set[tuple[str, str, str, str]] = set()
        for stream, began, next_start, next_end, roles, designated in tx.fetchall():
            if not stream:
                continue
            after = min((str(t) for t in (next_start, next_end) if t is not None), default="~")
            for kind in ("AbsenceStarted", "AbsenceEnded"):
                spans.add((str(stream), kind, "" if began is None else str(began), after))
            for kind, at in (("RolesAssigned", roles), ("StandInDesignated", designated)):
                if at is not None:
                    spans.add((str(stream), kind, str(at), str(at)))
        for row in fixes:  # an untouched event at the time a correction gives ties with it
            if row[3] == "Corrected" and row[4] is not None:
                for kind in ("RolesAssigned", "StandInDesignated"):
                    spans.add((str(row[0]), kind, str(row[4]), str(row[4])))
        targets = set(touched)
        for row in found.values():  # and at a touched event's own time (its fix may be unknown at K)
            if row[2] in targets and row[3] in ("RolesAssigned", "StandInDesignated") and row[4] is not None:
                spans.add((str(row[0]), str(row[3]), str(row[4]), str(row[4])))
        for row in Queries._in_spans(tx, sorted(spans), ", ".join(f"h.{c}" for c in HISTORY_COLUMNS)):
            found[int(row[1])] = row

        def text(value: Any) -> str | None:
            return None if value is None else str(value)

        out: dict[str, list[HistoryRow]] = {}
        for row in found.values():
            out.setdefault(str(row[0]), []).append(HistoryRow(
                int(row[1]), str(row[2]), str(row[3]), text(row[4]), str(row[5]), text(row[6]), text(row[7])))
        return out

    def _rows_in(self, tx: Tx, spans: Sequence[tuple[str, str, str, str]]) -> list[tuple[int, str, int, bytes]]:
        """The stored rows of the records in (stream, type, from, to) spans of the history."""
        seq, events = self.store.seq_column, self.store.events_table
        columns = f"e.{seq}, e.originator_id, e.originator_version, {self.store.state_of('e.')}"
        found = self._in_spans(tx, spans, columns, f" JOIN {events} e ON e.{seq} = h.seq")
        return [(int(q), str(o), int(v), bytes(st)) for q, o, v, st in found]

    @staticmethod
    def _in_spans(tx: Tx, spans: Sequence[tuple[str, str, str, str]], select: str, join: str = "") -> list[Any]:
        """What ``select`` picks (distinct) from the history rows ``h`` in (stream, type, from, to)
        spans, and from what ``join`` adds: one statement joins the spans to the history index."""
        rows: list[Any] = []
        for j in range(0, len(spans), 256):
            part = padded(list(spans[j:j + 256]), ("", "", "", ""))
            tx.execute(
                f"WITH sp(stream, type, lo, hi) AS (VALUES {','.join(['(?, ?, ?, ?)'] * len(part))})"
                f" SELECT DISTINCT {select} FROM sp"
                " JOIN rm_history h ON h.stream = sp.stream AND h.type = sp.type"
                f" AND h.occurred_at >= sp.lo AND h.occurred_at <= sp.hi{join}",
                [value for span in part for value in span])
            rows.extend(tx.fetchall())
        return rows

    @staticmethod
    def _plain_window(
        tx: Tx, streams: Sequence[str], points: Sequence[str], known: str
    ) -> tuple[set[tuple[str, str, str, str]], set[str]]:
        """``window`` in SQL over the history index, as (stream, type, from, to) spans; and which
        of the streams have corrections known at K (their spans are worked out by ``window``)."""
        # (stream, type, from, to): the records of that type in [from, to] are read.
        spans = {(stream, kind, "", "~") for stream in streams for kind in ("StaffRegistered", "PostDefined")}
        corrected: set[str] = set()
        streams = padded(streams, "")  # (the stream "" has no rows)
        values = ",".join(["(?)"] * len(streams))

        def latest(kind: str, extra: str = "") -> str:  # walks the index back from the instant, stops at once
            return (f"(SELECT occurred_at FROM rm_history WHERE stream = s.stream AND type = '{kind}'"
                    f" AND occurred_at <= ?{extra} AND recorded_at <= ? ORDER BY occurred_at DESC LIMIT 1)")

        def following(kind: str) -> str:
            return (f"(SELECT occurred_at FROM rm_history WHERE stream = b.stream AND type = '{kind}'"
                    " AND occurred_at > b.began AND recorded_at <= ? ORDER BY occurred_at LIMIT 1)")

        for point in points:
            # Per stream: the last absence start by then and the first start or end after it (the
            # absence is read if it still covers the instant); the roles and the stand-in
            # designation in force then (the latest of each). As known at K.
            tx.execute(
                f"WITH s(stream) AS (VALUES {values}), b AS (SELECT s.stream, {latest('AbsenceStarted')} AS began,"
                f" {latest('RolesAssigned')} AS roles,"
                f" {latest('StandInDesignated', ' AND (until IS NULL OR until >= ?)')} AS designated,"
                " (SELECT MIN(type) FROM rm_history WHERE stream = s.stream AND type IN ('Corrected', 'Retracted')"
                " AND recorded_at <= ?) AS fixed FROM s)"
                f" SELECT stream, began, {following('AbsenceStarted')} AS next_start,"
                f" {following('AbsenceEnded')} AS next_end, roles, designated, fixed"
                " FROM b",
                (*streams, point, known, point, known, point, point, known, known, known, known))
            for stream, began, next_start, next_end, roles, designated, fixed in tx.fetchall():
                stream = str(stream)
                if not stream:
                    continue
                if fixed is not None:
                    corrected.add(stream)
                if began is not None:
                    after = min((str(t) for t in (next_start, next_end) if t is not None), default=None)
                    if after is None or after > point:
                        end = after or point
                        spans.add((stream, "AbsenceStarted", str(began), end))
                        spans.add((stream, "AbsenceEnded", str(began), end))
                if roles is not None:
                    spans.add((stream, "RolesAssigned", str(roles), str(roles)))
                if designated is not None:
                    spans.add((stream, "StandInDesignated", str(designated), str(designated)))
        return spans, corrected

    def _case_context(self, facts: Sequence[Fact], at: datetime, known_at: datetime | None) -> Context:
        """The world one case's findings need, read around the instants the rules look at it.

        The clocks depend on the case alone, but for who may approve an extension (a leader of a
        unit as it stood then, ``World.leads``; every unit is read for such a case): when the dues
        counted with the case's own approvers are not among the instants read (those counted with
        every extension standing), the world is read around those dues as well."""
        instants = self._instants(facts, at, known_at)
        ctx = self.context(facts, known_at, instants=instants)
        if any(isinstance(f.event, DeadlineExtended) for f in facts):
            more = set(self._instants(facts, at, known_at, ctx.world.leads)) - set(instants)
            if more:
                ctx = self.context(facts, known_at, instants=[*instants, *sorted(more)])
        return ctx

    def _instants(self, facts: Sequence[Fact], at: datetime, known_at: datetime | None,
                  leads: Leads | None = None) -> list[datetime]:
        """When the rules look at the world for this case: ``at`` and its due instants up to ``at``
        (counted with ``leads`` approving extensions: None, anyone)."""
        catalogue, calendar = self._configuration(known_at)
        found = [at]
        for which in ("reply", "transfer"):
            try:
                clock = deadline(facts, at, catalogue, calendar, self.tz, which, leads)
            except (CaseNotFoundAt, PolicyError, UnknownCalendarYear):
                # The rules stop at the same point (no findings before receipt, or the same
                # error): they can only have looked at the world at the instants found so far.
                return found
            found += [t for t in (clock.due, *(x.old_due for x in clock.invalid_extensions)) if t and t <= at]
        return found

    def case_facts(self, case: str, known_at: datetime | None,
                   withdrawals: dict[str, list[Withdrawal]] | None = None) -> list[Fact]:
        """The case's facts as known at ``known_at``; with ``withdrawals``, also the events of the
        case retracted by then (``withdrawn``), read from the same records."""
        facts, gone = effective_and_withdrawn(self._records([f"case:{case}"]), self.tz, known_at)
        if withdrawals is not None and facts:
            withdrawals[case] = gone
        if not facts:
            when = f" as known at {known_at.isoformat()}" if known_at else ""
            why = _receipt_retracted([_withdrawal_json(w, self.tz) for w in gone])
            raise CaseNotFound(f"case {case!r} is not in the ledger{when}"
                               + ("" if why is None else f": every event of it was retracted; {why}"))
        return facts

    def cases_known(self, known_at: datetime | None) -> list[str]:
        """Ids of the cases the ledger knew at ``known_at`` (from the case index read model)."""
        with self.reading() as tx:
            if known_at is None:
                tx.execute("SELECT case_id FROM rm_case_index ORDER BY received_seq")
            else:
                tx.execute("SELECT case_id FROM rm_case_index WHERE received_recorded_at <= ? ORDER BY received_seq",
                           (known_at.astimezone(UTC).isoformat(),))
            return [str(r[0]) for r in tx.fetchall()]

    def all_case_facts(self, known_at: datetime | None, cases: Sequence[str] | None = None,
                       withdrawals: dict[str, list[Withdrawal]] | None = None) -> dict[str, list[Fact]]:
        ids = list(cases) if cases is not None else self.cases_known(known_at)
        records = self._records(f"case:{c}" for c in ids)
        by_stream: dict[str, list[Record]] = {}
        for rec in records:
            by_stream.setdefault(rec.stream, []).append(rec)
        out: dict[str, list[Fact]] = {}
        for case in ids:
            facts, gone = effective_and_withdrawn(by_stream.get(f"case:{case}", []), self.tz, known_at)
            if facts:
                out[case] = facts
                if withdrawals is not None:
                    withdrawals[case] = gone
        return out

    # -- questions -----------------------------------------------------------------------

    def who(self, case: str, at: datetime, known_at: datetime | None = None) -> dict[str, Any]:
        at = shared_zone(at)  # (compared with the facts' instants again and again: ``shared_zone``)
        withdrawals: dict[str, list[Withdrawal]] = {}
        with collector_paused():  # (a question makes thousands of objects and keeps them)
            with self.reading():
                facts = self.case_facts(case, known_at, withdrawals)
                ctx = self.context(facts, known_at, instants=[at])
            gone = withdrawals.get(case, [])
            try:
                answer = who(facts, ctx.world, at, ctx.catalogue, self.tz, known_at=known_at).to_json()
            except CaseNotFoundAt as exc:
                why = _receipt_retracted(_withdrawn_by(gone, at, self.tz))
                if why is None:
                    raise
                raise CaseNotFoundAt(f"{exc}: {why}") from None
            answer["withdrawn"] = _withdrawn_by(gone, at, self.tz)
            return answer

    def findings(self, case: str | None, at: datetime, known_at: datetime | None = None,
                 staff: str | None = None, since: datetime | None = None) -> list[dict[str, Any]]:
        """Each finding as JSON; ``withdrawn`` lists the case's events up to ``at`` that were
        retracted as known at ``known_at`` (the facts it rests on leave them out: a committee
        asking about a reply it remembers sees which retraction took it out, and why). With
        ``staff``, only the findings naming them: liable, or answerable as a leader; with
        ``since``, only the breaches at or after it."""
        if staff is not None:
            self._known_staff(staff)
        at = shared_zone(at)
        withdrawals: dict[str, list[Withdrawal]] = {}
        with collector_paused():
            with self.reading():
                if case is not None:
                    per_case = {case: self.case_facts(case, known_at, withdrawals)}
                    ctx = self._case_context(per_case[case], at, known_at)
                else:
                    per_case = self.all_case_facts(known_at, withdrawals=withdrawals)
                    ctx = self.context([], known_at, all_staff=True)
            out: list[Finding] = []
            for name, facts in per_case.items():
                with _naming_the_case(name):
                    out.extend(findings(facts, ctx.world, at, ctx.catalogue, ctx.calendar, self.tz))
            answers = []
            for finding in sorted(out, key=lambda f: (f.breached_at, f.case)):
                if staff is not None and staff != finding.liable and all(a.staff != staff for a in finding.also_liable):
                    continue
                if since is not None and finding.breached_at < since:
                    continue
                answer = finding.to_json()
                answer["withdrawn"] = _withdrawn_by(withdrawals.get(finding.case, []), at, self.tz)
                answers.append(answer)
            return answers

    def _known_staff(self, staff: str) -> None:
        """A mistyped id must not read as "nothing found": refused unless the ledger has them."""
        if f"staff:{staff}" not in self.ledger.streams(f"staff:{staff}"):
            raise StaffNotFound(f"staff {staff!r} is not in the ledger: see the StaffRegistered events "
                                "(`ledger events`)")

    def open_cases(self, at: datetime, known_at: datetime | None = None) -> list[str]:
        """Cases that may be open at ``at`` as known at ``known_at``: received by then and not
        replied by then, plus every case whose stream holds corrections (judged in full)."""
        when = at.astimezone(UTC).isoformat()
        known = known_at.astimezone(UTC).isoformat() if known_at else "9999"
        with self.reading() as tx:
            tx.execute(
                "SELECT case_id FROM rm_case_index WHERE judge_in_full = 1 OR ("
                " received_at <= ? AND received_recorded_at <= ? AND NOT ("
                " replied_at IS NOT NULL AND replied_at <= ? AND replied_recorded_at <= ?))",
                (when, known, when, known),
            )
            return sorted(str(r[0]) for r in tx.fetchall())

    def statuses(self, at: datetime, known_at: datetime | None = None, due_needed: bool = True) -> list[CaseStatus]:
        """The status at ``at`` of every case that may be open then (others are replied);
        ``due_needed=False``: see ``case_status``."""
        at = shared_zone(at)
        with collector_paused():
            with self.reading():
                per_case = self.all_case_facts(known_at, self.open_cases(at, known_at))
                everyone = [f for facts in per_case.values() for f in facts]
                ctx = self.context(everyone, known_at, instants=[at])
            out = []
            for name, facts in per_case.items():
                with _naming_the_case(name):
                    out.append(case_status(facts, ctx.world, at, ctx.catalogue, ctx.calendar, self.tz, due_needed))
            return out

    def overdue(self, at: datetime, known_at: datetime | None = None) -> list[dict[str, Any]]:
        return overdue(self.statuses(at, known_at))

    def caseload(
        self, at: datetime, known_at: datetime | None = None, staff: str | None = None
    ) -> list[dict[str, Any]]:
        if staff is not None:
            self._known_staff(staff)
        return caseload(self.statuses(at, known_at, due_needed=False), staff)  # (no working days needed)


@contextmanager
def _naming_the_case(case: str) -> Iterator[None]:
    """A question over many cases that one case cannot answer names that case."""
    try:
        yield
    except UnknownCalendarYear as exc:
        if exc.case is not None:
            raise
        raise exc.about(case) from None
    except PolicyError as exc:  # (a ledger whose packs leave a case without a version or limit)
        raise PolicyError(f"case {case!r}: {exc}") from None


def _receipt_retracted(withdrawn: Sequence[dict[str, str]]) -> str | None:
    """Which retraction took a case's receipt out, and why (None: no receipt was retracted)."""
    receipts = [w for w in withdrawn if w["type"] == "InquiryReceived"]
    if not receipts:
        return None
    w = receipts[-1]
    return (f"its receipt (event {w['event']}, received {w['occurred_at']}) was retracted by event "
            f"{w['retracted_by']}, recorded {w['recorded_at']}: {w['reason']}")


def _withdrawn_by(withdrawals: Sequence[Withdrawal], at: datetime, tz: tzinfo) -> list[dict[str, str]]:
    """The retracted events that had occurred by ``at`` (those later could not bear on it), with
    when each retraction was recorded in the store's timezone (as ``ledger events`` shows it)."""
    return [_withdrawal_json(w, tz) for w in withdrawals if read_instant(w.occurred_at) <= at]


def _withdrawal_json(w: Withdrawal, tz: tzinfo) -> dict[str, str]:
    """A withdrawn event as answers show it: the retraction's recorded-at in the store's timezone."""
    return {**w.to_json(), "recorded_at": w.recorded_at.astimezone(tz).isoformat()}
