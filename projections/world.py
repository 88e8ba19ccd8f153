"""The world around the cases: units, staff, posts and A/B cover (AB角补位), by valid time.

A :class:`World` is built once from the effective facts of the reference-data and cover
streams and then answers "as of instant T" questions with a binary search, so the rules
that ask it many times per case stay cheap. Nothing here reads a clock or a database.

Facts that occurred at the same instant are put in a canonical order (:func:`canonical`)
so that an answer never depends on which of them the clerk happened to record first.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from ledger.events import (
    AbsenceEnded,
    AbsenceStarted,
    PostDefined,
    RolesAssigned,
    StaffRegistered,
    StandInDesignated,
    UnitDefined,
)
from ledger.records import Fact

#: Within one instant: definitions before assignments, a case's receipt before what follows.
_TYPE_RANK = {
    "UnitDefined": 0, "StaffRegistered": 1, "PostDefined": 2, "RolesAssigned": 3,
    "StandInDesignated": 4, "AbsenceStarted": 5, "AbsenceEnded": 6,
    "InquiryReceived": 10, "HandedOff": 11, "HandoffAccepted": 12, "MaterialsRequested": 13,
    "MaterialsReceived": 14, "ClockSuspended": 15, "ClockResumed": 16, "DeadlineExtended": 17,
    "Reminded": 18, "Replied": 19,
}
T = TypeVar("T")
_NOT_CONTENT = frozenset({"id", "recorded_by", "recorded_at"})


def _order_key(fact: Fact) -> tuple[Any, ...]:
    # Content, not the log sequence, breaks ties: the same facts give the same answer
    # whatever order they were recorded in; the event id settles exact duplicates.
    event = fact.event
    content = tuple(sorted((k, repr(v)) for k, v in event.__dict__.items() if k not in _NOT_CONTENT))
    return (event.occurred_at, _TYPE_RANK.get(event.type_name, 99), content, fact.event_id)


def canonical(facts: Iterable[Fact]) -> list[Fact]:
    """``facts`` by occurred-at, ties broken by type and content (never by log order).

    Exactly ``sorted(facts, key=_order_key)``; the content part of the key is only worked
    out for facts that tie on instant and type (they are few).
    """
    out = sorted(facts, key=_time_and_type)
    i = 0
    while i < len(out):
        j = i + 1
        here = _time_and_type(out[i])
        while j < len(out) and _time_and_type(out[j]) == here:
            j += 1
        if j - i > 1:
            out[i:j] = sorted(out[i:j], key=_order_key)
        i = j
    return out


def _time_and_type(fact: Fact) -> tuple[datetime, int]:
    return fact.event.occurred_at, _TYPE_RANK.get(fact.event.type_name, 99)


def pair_intervals(
    facts: Sequence[Fact], opens: Callable[[Fact], bool]
) -> list[tuple[Fact, Fact | None]]:
    """Pair opening and closing facts (canonical order) into [open, close) intervals.

    At one instant a close applies first when an interval is already open (back and away
    again), otherwise opens apply first (an empty interval, dropped). A second open while
    one is open, or a close with none open, changes nothing: the write side refuses both.
    """
    out: list[tuple[Fact, Fact | None]] = []
    current: Fact | None = None
    i = 0
    while i < len(facts):
        j = i
        while j < len(facts) and facts[j].occurred_at == facts[i].occurred_at:
            j += 1
        group = facts[i:j]
        starts = [f for f in group if opens(f)]
        ends = [f for f in group if not opens(f)]
        if current is not None and ends:
            out.append((current, ends.pop(0)))
            current = None
        if starts and current is None:
            current = starts[0]
            if ends:  # opened and closed at the same instant: covers nothing
                current = None
        i = j
    if current is not None:
        out.append((current, None))
    return out


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit (科室) with its section head (科室负责人) and supervising leader (分管领导)."""

    unit: str
    head: str
    supervisor: str
    name: str | None
    fact: Fact


@dataclass(frozen=True, slots=True)
class Staff:
    """A staff member as registered: rank (higher = more senior) and unit."""

    staff: str
    name: str
    rank: int
    unit: str
    fact: Fact


@dataclass(frozen=True, slots=True)
class Post:
    """A post (岗位) with its A role (A角, primary) and B role (B角, backup)."""

    post: str
    unit: str
    a: str
    b: str
    name: str | None
    facts: tuple[Fact, ...]  # the definition and the latest roles assignment

    @property
    def evidence(self) -> tuple[str, ...]:
        return tuple(e for f in self.facts for e in f.evidence)


@dataclass(frozen=True, slots=True)
class Absence:
    """A staff member away from the post (离岗) over [start, end)."""

    staff: str
    start: Fact
    end: Fact | None
    handover_to: str | None  # 交接: None = left without handing over
    notified: tuple[str, ...]
    reason: str

    @property
    def started_at(self) -> datetime:
        return self.start.occurred_at

    @property
    def ended_at(self) -> datetime | None:
        return None if self.end is None else self.end.occurred_at

    def covers(self, at: datetime) -> bool:
        return self.started_at <= at and (self.end is None or at < self.end.occurred_at)

    def told(self, b: str, also: Iterable[str] = ()) -> bool:
        """Whether A handed over to B (交接) or at least notified B, and ``also`` those a pack
        requires (Suqian: the supervising leader, 002 AB art. 5(1)), before leaving (000 AB
        art. 7: 未通知B角或未交代). A handover to someone else tells B nothing."""
        return self.handover_to == b or (b in self.notified and all(x in self.notified for x in also))

    @property
    def evidence(self) -> tuple[str, ...]:
        return self.start.evidence


@dataclass(frozen=True, slots=True)
class StandIn:
    """A stand-in (指派) designated by the supervising leader while A and B are both away."""

    post: str
    stand_in: str
    by: str
    until: datetime | None
    fact: Fact

    def in_force(self, at: datetime) -> bool:
        return self.fact.occurred_at <= at and (self.until is None or at <= self.until)


class _Timeline(Generic[T]):
    """Versions of one thing by valid time; ``at(t)`` is the latest version at or before t."""

    __slots__ = ("instants", "values")

    def __init__(self) -> None:
        self.instants: list[datetime] = []
        self.values: list[T] = []

    def add(self, at: datetime, value: T) -> None:
        self.instants.append(at)  # facts arrive in canonical order: stays sorted
        self.values.append(value)

    def at(self, at: datetime) -> T | None:
        i = bisect_right(self.instants, at)
        return self.values[i - 1] if i else None

    def last(self) -> T | None:
        return self.values[-1] if self.values else None


class World:
    """Reference data and A/B cover as of any instant. Immutable once built."""

    def __init__(
        self,
        units: dict[str, _Timeline[Unit]],
        staff: dict[str, _Timeline[Staff]],
        posts: dict[str, _Timeline[Post]],
        absences: dict[str, list[Absence]],
        stand_ins: dict[str, list[StandIn]],
        a_index: dict[str, set[str]],
    ) -> None:
        self._units = units
        self._staff = staff
        self._posts = posts
        self._absences = absences
        self._absence_starts = {s: [a.started_at for a in v] for s, v in absences.items()}
        self._stand_ins = stand_ins
        self._a_index = a_index

    @classmethod
    def from_facts(cls, facts: Iterable[Fact]) -> World:
        """Build from effective facts; case events and other types are ignored."""
        units: dict[str, _Timeline[Unit]] = defaultdict(_Timeline)
        staff: dict[str, _Timeline[Staff]] = defaultdict(_Timeline)
        posts: dict[str, _Timeline[Post]] = defaultdict(_Timeline)
        cover: dict[str, list[Fact]] = defaultdict(list)
        stand_ins: dict[str, list[StandIn]] = defaultdict(list)
        a_index: dict[str, set[str]] = defaultdict(set)
        for fact in canonical(f for f in facts if f.event.type_name in _WORLD_TYPES):
            e = fact.event
            if isinstance(e, UnitDefined):
                units[e.unit].add(e.occurred_at, Unit(e.unit, e.head, e.supervisor, e.name, fact))
            elif isinstance(e, StaffRegistered):
                staff[e.staff].add(e.occurred_at, Staff(e.staff, e.name, e.rank, e.unit, fact))
            elif isinstance(e, PostDefined):
                posts[e.post].add(e.occurred_at, Post(e.post, e.unit, e.a, e.b, e.name, (fact,)))
                a_index[e.a].add(e.post)
            elif isinstance(e, RolesAssigned):
                before = posts[e.post].last() if e.post in posts else None
                if before is not None:  # roles of an undefined post mean nothing yet
                    posts[e.post].add(e.occurred_at, Post(
                        e.post, before.unit, e.a, e.b, before.name, (before.facts[0], fact)))
                    a_index[e.a].add(e.post)
            elif isinstance(e, AbsenceStarted | AbsenceEnded):
                cover[e.staff].append(fact)
            elif isinstance(e, StandInDesignated):
                stand_ins[e.post].append(StandIn(e.post, e.stand_in, e.by, e.until, fact))
        absences = {s: [_absence(s, a, b) for a, b in pair_intervals(fs, _is_start)]
                    for s, fs in cover.items()}
        return cls(dict(units), dict(staff), dict(posts), absences, dict(stand_ins), dict(a_index))

    # --- reference data -------------------------------------------------------------------

    def unit(self, unit_id: str, at: datetime) -> Unit | None:
        line = self._units.get(unit_id)
        return None if line is None else line.at(at)

    def staff(self, staff_id: str, at: datetime) -> Staff | None:
        line = self._staff.get(staff_id)
        return None if line is None else line.at(at)

    def post(self, post_id: str, at: datetime) -> Post | None:
        """The post with its A and B as of ``at`` (PostDefined, then each RolesAssigned)."""
        line = self._posts.get(post_id)
        return None if line is None else line.at(at)

    def leads(self, staff_id: str, at: datetime) -> bool:
        """Whether ``staff_id`` is a leader at ``at``, who may approve an extension (延期): the
        section head or the supervising leader of a unit as it stands then (002 限时 §7 由受理事项的
        单位负责人签署意见; 004 限时 §5 请示有关领导审批). Of any unit: a case handed to another unit is
        handled there, and which unit handles it is not the clock's to decide."""
        # (before a unit's definition, as first defined: ``_unit_of`` reads a unit the same way)
        return any(u is not None and staff_id in (u.head, u.supervisor)
                   for u in (line.at(at) or line.values[0] for line in self._units.values()))

    def name_of(self, staff_id: str, at: datetime) -> str:
        """The staff member's name as of ``at`` (else as first registered; else the id)."""
        line = self._staff.get(staff_id)
        if line is None:
            return staff_id
        found = line.at(at) or line.values[0]
        return found.name if found is not None else staff_id

    def a_posts(self, staff_id: str, at: datetime) -> list[Post]:
        """The posts where ``staff_id`` holds the A role as of ``at``, by post id."""
        out = []
        for post_id in sorted(self._a_index.get(staff_id, ())):
            post = self.post(post_id, at)
            if post is not None and post.a == staff_id:
                out.append(post)
        return out

    def supervisor_of(self, staff_id: str, at: datetime) -> str | None:
        """The supervising leader (分管领导) of the staff member's unit as of ``at``."""
        unit = self._unit_of(staff_id, at)
        return None if unit is None else unit.supervisor

    def head_of(self, staff_id: str, at: datetime) -> str | None:
        """The section head (科室负责人) of the staff member's unit as of ``at``."""
        unit = self._unit_of(staff_id, at)
        return None if unit is None else unit.head

    def _unit_of(self, staff_id: str, at: datetime) -> Unit | None:
        """The staff member's unit as of ``at``; before their registration (a case dated earlier
        than the register's reference data), the unit they were first registered in, as it was first
        defined, as ``name_of`` names them: leaders are not dropped from a finding unsaid."""
        line = self._staff.get(staff_id)
        person = None if line is None else (line.at(at) or line.values[0])
        if person is None:
            return None
        units = self._units.get(person.unit)
        return None if units is None else (units.at(at) or units.values[0])

    # --- A/B cover -------------------------------------------------------------------------

    def absence_at(self, staff_id: str, at: datetime) -> Absence | None:
        """The absence covering ``at`` ([start, end)), if the staff member is away then."""
        starts = self._absence_starts.get(staff_id)
        if not starts:
            return None
        i = bisect_right(starts, at)
        if not i:
            return None
        absence = self._absences[staff_id][i - 1]
        return absence if absence.covers(at) else None

    def stand_in_at(self, post_id: str, at: datetime) -> StandIn | None:
        """The designation standing in for the post at ``at``, if one does: the latest made by
        then, by a leader of the post's unit, and not past its ``until`` (a later designation
        replaces an earlier one), unless
        - it has no ``until`` and was made for another absence: a designation is made while A
          and B are away (002 AB art. 5(4): A角和B角同时离岗期间，由分管领导指派其他人; 004 AB §4),
          so without an end of its own it lasts while the absence of A or B it was made in
          does, and lapses once both are back; or
        - the stand-in is away then too: nobody stands in (the post is vacant).
        A designation not made by a leader of the post's unit (its supervising leader, 分管领导,
        or its section head) as the unit stood when it was made is no designation: it stands
        for nobody and replaces none.
        """
        designation = self.designation_at(post_id, at)
        return designation if designation is not None and self.lapse_of(designation, at) is None else None

    def designation_at(self, post_id: str, at: datetime) -> StandIn | None:
        """The designation for the post that decides who stands in at ``at``: the latest made by
        then, not past its ``until``, by a leader (``stand_in_at``); when none was made by a
        leader, the latest made by anyone, whose ``lapse_of`` says why it is no designation."""
        latest = None
        for designation in reversed(self._stand_ins.get(post_id, ())):
            if designation.in_force(at):
                if not self._not_by_leader(designation, at):
                    return designation
                latest = latest or designation
        return latest

    def _not_by_leader(self, designation: StandIn, at: datetime) -> bool:
        post = self.post(designation.post, at)
        unit = None if post is None else self.unit(post.unit, designation.fact.occurred_at)
        return unit is not None and designation.by not in (unit.supervisor, unit.head)

    def lapse_of(self, designation: StandIn, at: datetime) -> Lapse | None:
        """Why a designation in force by its dates stands in for nobody at ``at`` (None: it
        stands); ``LAPSES`` says it in Chinese and English."""
        made = designation.fact.occurred_at
        post = self.post(designation.post, at)
        if self._not_by_leader(designation, at):
            return "not_by_leader"  # 002 AB art. 5(4) 由分管领导指派; 004 AB §4 由分管领导指定
        if designation.until is None and post is not None:
            ongoing = [a for a in (self.absence_at(post.a, at), self.absence_at(post.b, at))
                       if a is not None and a.started_at <= made]
            if not ongoing:
                return "made_before"
        if self.absence_at(designation.stand_in, at) is not None:
            return "stand_in_away"
        return None


Lapse = Literal["not_by_leader", "made_before", "stand_in_away"]
#: Why a designation does not stand (``World.lapse_of``): (Chinese, English).
LAPSES: dict[str, tuple[str, str]] = {
    "not_by_leader": ("指派人不是该岗位所在科室的分管领导或科室负责人",
                      "it was not made by the supervising leader or the section head of the post's unit"),
    "made_before": ("该指派早于本次A、B离岗，且未定期限",
                    "it was made before this absence of A and B, with no end of its own"),
    "stand_in_away": ("受指派人亦不在岗", "the stand-in is away too"),
}


_WORLD_TYPES = frozenset({
    "UnitDefined", "StaffRegistered", "PostDefined", "RolesAssigned",
    "AbsenceStarted", "AbsenceEnded", "StandInDesignated",
})


def _is_start(fact: Fact) -> bool:
    return isinstance(fact.event, AbsenceStarted)


def _absence(staff_id: str, start: Fact, end: Fact | None) -> Absence:
    e = start.event
    assert isinstance(e, AbsenceStarted)
    return Absence(staff_id, start, end, e.handover_to, tuple(e.notified or ()), e.reason)
