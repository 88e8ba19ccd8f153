"""The case clock (限时办结): the due instant of a case's reply or transfer limit at instant T.

"Within N working days of X" ends at 23:59:59.999 local on the Nth working day after the
day of X (the day of X never counts); "within N days" counts calendar days the same way
(CONTRACT.md "Deadlines"). Then, as far as the pack adopts them (DOMAIN.md "Clocks"):

- restart_on_supplements (补正): the clock restarts at the receipt of the supplements that
  complete every requested item; if the notice missed items (a later request lists items
  not on the first), at the FIRST receipt of supplements (004 限时 §4);
- suspension (不计入时限): the due moves later by the working (or, for a calendar-day limit,
  calendar) days in [day suspended, day resumed); an open suspension stops the clock;
- extension (延期): approved by a leader (a unit's head or supervisor, ``leads``) and notified to
  the requester by the current due, ``new_due`` replaces it; approved by anyone else, or notified
  later or never, the old due stands (the breach is then ``invalid_extension``).

A limit counted ``from: acceptance`` (Pudong's 5 days) starts at the first accepted handoff,
the handler's (首办人) reading of it (阅知), or at receipt while there is none: a handoff awaiting
acceptance keeps the receipt's due meanwhile, the sender still holding the case (the first-asked
takes part until the matter is settled, 003 篇二 (一) 首问责任人全程参与, 直至问题处理完毕). So
an acceptance moves the due only if it comes by the due counted from receipt: one after it finds
that due already breached (by the sender, who held the case then), and cannot cure the breach.

Otherwise nothing that happens after the due instant can move it: a breach, once made, stays made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, Literal

from ledger.events import (
    ClockResumed,
    ClockSuspended,
    DeadlineExtended,
    HandedOff,
    HandoffAccepted,
    MaterialsReceived,
    MaterialsRequested,
    Reminded,
    Replied,
)
from ledger.policy import Limit, NoLimitConfigured, PolicyCatalogue, PolicyPack
from ledger.records import Fact
from projections.calendar import UnknownCalendarYear, WorkingCalendar, end_of_day
from projections.responsibility import CaseFile, case_file, rule_clauses, when
from projections.world import pair_intervals

Which = Literal["reply", "transfer"]
#: running; suspended (不计入时限); awaiting_supplements (待补正); no_limit (none configured);
#: beyond_calendar (the due falls in a later year than the calendar knows: not due yet)
State = Literal["running", "suspended", "awaiting_supplements", "no_limit", "beyond_calendar"]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of how the due instant was reached, with its clause and evidence."""

    text: str
    clause: str | None = None
    evidence: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.text} [{self.clause}]" if self.clause else self.text


@dataclass(frozen=True, slots=True)
class InvalidExtension:
    """An extension approved or notified after the due it was to replace, never notified, or
    approved by someone who is not a leader (``by_leader`` False): that due stands."""

    fact: Fact
    old_due: datetime
    notified_at: datetime | None
    by_leader: bool = True


#: Whether a staff member may approve an extension at an instant (a leader: ``World.leads``); the
#: rules pass it in, so that the clock stays a function of data.
Leads = Callable[[str, datetime], bool]


@dataclass(frozen=True)
class CaseClock:
    """A case's deadline of one kind (reply or transfer) as of instant ``at``."""

    case: str
    which: Which
    at: datetime
    pack: PolicyPack  # the version in force on the day of receipt
    limit: Limit | None
    start: datetime | None
    due: datetime | None  # None while the clock is stopped, or with no limit
    state: State
    basis: tuple[Step, ...]
    suspensions: tuple[tuple[datetime, datetime | None], ...]
    invalid_extensions: tuple[InvalidExtension, ...]
    stood: InvalidExtension | None  # the due is one an invalid extension failed to replace
    reply: Fact | None
    reminders: tuple[Fact, ...]  # Reminded before the due

    @property
    def evidence(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e for step in self.basis for e in step.evidence))

    def is_suspended_at(self, t: datetime) -> bool:
        """Whether the clock was stopped by a suspension at ``t``."""
        return any(s <= t and (e is None or t < e) for s, e in self.suspensions)

    def replied_by(self, t: datetime) -> bool:
        return self.reply is not None and self.reply.occurred_at <= t

    def breached(self) -> bool:
        """The due passed before ``at`` and no reply came by it."""
        return self.due is not None and self.due < self.at and not self.replied_by(self.due)

    def overdue_at(self, t: datetime) -> bool:
        """CONTRACT: T is past the due instant and the case has no reply by T."""
        return self.due is not None and t > self.due and not self.replied_by(t)

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case, "which": self.which, "state": self.state,
            "limit": None if self.limit is None else self.limit.describe(),
            "start": None if self.start is None else self.start.isoformat(),
            "due": None if self.due is None else self.due.isoformat(),
            "basis": [str(s) for s in self.basis], "evidence": list(self.evidence),
            "invalid_extensions": [x.fact.event_id for x in self.invalid_extensions],
            "policy": self.pack.id, "policy_version": self.pack.effective_from.isoformat(),
        }


def case_clock(
    file: CaseFile, at: datetime, catalogue: PolicyCatalogue, calendar: WorkingCalendar,
    tz: tzinfo, which: Which = "reply", leads: Leads | None = None,
) -> CaseClock:
    """The clock of ``file`` as of ``at``; raises ``NoLimitConfigured``, ``UnknownCalendarYear``.

    ``leads`` says who may approve an extension (None: anyone, for a clock asked without the
    organisation, e.g. to find the instants at which the rules will look at it)."""
    received = file.receipt
    on = received.occurred_at.astimezone(tz).date()
    pack = catalogue.in_force(file.inquiry.policy, on)
    kinds = pack.limits.get(file.inquiry.kind)
    if kinds is None:
        raise NoLimitConfigured(pack, file.inquiry.kind, on)
    limit = kinds.reply if which == "reply" else kinds.transfer
    facts = file.upto(at)
    reply = next((f for f in facts if isinstance(f.event, Replied)), None)
    clock = _Clock(pack, limit, calendar.with_closures(pack.closures), tz, at, leads)  # (the office's own closures)
    if limit is None:
        clock.step(f"the pack sets no {which} limit for kind {file.inquiry.kind!r}")
        return clock.result(file, which, None, "no_limit", reply, facts)
    try:
        return _counted(file, at, pack, limit, facts, reply, clock, tz, which)
    except UnknownCalendarYear as exc:
        if exc.year <= at.astimezone(tz).year:
            raise  # the year asked about itself: the answer would be a guess
        # Every day up to the end of ``at``'s year is known and the count ran past them: the due
        # is later than ``at``, so the case is not due yet, whenever exactly it falls.
        clock.step(f"the due falls in {exc.year} or later, which the working-day calendar does not know "
                   f"yet: not due by {when(at, tz)} (add {exc.year} with `ledger calendar add` to know it)")
        return clock.result(file, which, None, "beyond_calendar", reply, facts)


def _counted(
    file: CaseFile, at: datetime, pack: PolicyPack, limit: Limit, facts: tuple[Fact, ...], reply: Fact | None,
    clock: _Clock, tz: tzinfo, which: Which,
) -> CaseClock:
    """``case_clock`` once its limit is known: the count from receipt or acceptance."""
    received = file.receipt
    start = received
    clock.step(f"received (受理) {when(received.occurred_at, tz)}", None, received.evidence)
    if which == "reply" and limit.from_ == "acceptance":
        found = _first_acceptance(facts)
        if found is not None:
            offered, accepted = found
            due = clock.run(start, facts, accepted.occurred_at, record=False)
            if accepted.occurred_at <= due:
                start = accepted
                clock.step(f"handed over {when(offered.occurred_at, tz)} and accepted (接收) by the handler "
                           f"{when(accepted.occurred_at, tz)}, by the due counted from receipt ({when(due, tz)}): "
                           "the clock counts from the acceptance", limit.clause,
                           (*offered.evidence, *accepted.evidence))
            elif offered.occurred_at <= due:
                clock.step(f"handed over {when(offered.occurred_at, tz)}, but accepted (接收) only "
                           f"{when(accepted.occurred_at, tz)}, after the due counted from receipt ({when(due, tz)}), "
                           "which the sender held the case at: the acceptance cannot move it", limit.clause,
                           (*offered.evidence, *accepted.evidence))
            else:
                clock.step(f"handed over {when(offered.occurred_at, tz)}, after the due counted from receipt "
                           f"({when(due, tz)}): the handler's acceptance cannot move it", limit.clause,
                           offered.evidence)
    if which == "reply" and pack.adopts("restart_on_supplements"):
        restart, waiting = _restart(clock, start, facts)
        if waiting is not None:
            return clock.result(file, which, None, waiting, reply, facts)
        start = restart
    if which == "transfer":
        clock.run(start, (), at)
    else:
        clock.run(start, facts, at)
    state: State = "suspended" if clock.open_suspension else "running"
    return clock.result(file, which, start.occurred_at, state, reply, facts)


class _Clock:
    """The fold that computes a due instant; keeps the basis steps as it goes."""

    def __init__(self, pack: PolicyPack, limit: Limit | None, calendar: WorkingCalendar,
                 tz: tzinfo, at: datetime, leads: Leads | None = None) -> None:
        self.pack, self.limit, self.calendar, self.tz, self.at = pack, limit, calendar, tz, at
        self.leads = leads
        self.basis: list[Step] = []
        self.suspensions: list[tuple[datetime, datetime | None]] = []
        self.invalid: list[InvalidExtension] = []
        self.open_suspension = False
        self.due: datetime | None = None

    def step(self, text: str, clause: str | None = None, evidence: tuple[str, ...] = ()) -> None:
        self.basis.append(Step(text, clause, evidence))

    def day(self, t: datetime) -> date:
        return t.astimezone(self.tz).date()

    def _shift(self, due: datetime, first: date, end: date) -> datetime:
        """``due`` moved by the days of [first, end), keeping its time of day (an extension's 17:30)."""
        assert self.limit is not None
        if self.limit.count == "working":
            day = self.calendar.add_working_days(self.day(due), self.calendar.working_days_in(first, end))
        else:
            day = self.calendar.add_calendar_days(self.day(due), (end - first).days)
        return datetime.combine(day, due.astimezone(self.tz).time(), tzinfo=self.tz)

    def run(self, start: Fact, facts: tuple[Fact, ...] | list[Fact], until: datetime,
            record: bool = True) -> datetime:
        """The due instant counting from ``start`` with the events up to ``until``."""
        assert self.limit is not None
        limit, tz = self.limit, self.tz
        due = end_of_day(self.calendar.add_days(self.day(start.occurred_at), limit.days, limit.count), tz)
        basis_mark, susp_mark, inv_mark = len(self.basis), len(self.suspensions), len(self.invalid)
        self.step(f"{limit.describe()} (from {when(start.occurred_at, tz)}): due {when(due, tz)}",
                  limit.clause, start.evidence)
        later = [f for f in facts if start.occurred_at <= f.occurred_at <= until]
        effects: list[tuple[datetime, int, Fact | tuple[Fact, Fact | None]]] = []
        unnotified: list[Fact] = []
        if self.pack.adopts("suspension"):
            # A suspension still running when the count starts (the clock restarting at the
            # supplements, or at the handler's acceptance, while it is stopped) stops the new
            # count too, from its start: it counts from there.
            marks = [f for f in facts if isinstance(f.event, ClockSuspended | ClockResumed) and f.occurred_at <= until]
            for i, pair in enumerate(pair_intervals(marks, lambda f: isinstance(f.event, ClockSuspended))):
                if pair[1] is None or pair[1].occurred_at > start.occurred_at:
                    effects.append((max(pair[0].occurred_at, start.occurred_at), i, pair))
        if self.pack.adopts("extension"):
            for i, f in enumerate(later):
                e = f.event
                if isinstance(e, DeadlineExtended):
                    if e.notified_at is not None and e.notified_at <= until:
                        effects.append((max(e.notified_at, e.occurred_at), 10_000 + i, f))
                    else:
                        unnotified.append(f)
        open_since: datetime | None = None
        for instant, _, item in sorted(effects, key=lambda x: (x[0], x[1])):
            if isinstance(item, tuple):
                begun, ended = item
                if open_since is not None:
                    continue
                if begun.occurred_at > due:
                    self.step(f"suspended {when(begun.occurred_at, tz)} after the due: no effect")
                    continue
                keys = rule_clauses(self.pack, "suspension")
                since = "" if instant == begun.occurred_at else ", before the count began; stopped from its start"
                if ended is None or ended.occurred_at > until:
                    open_since = instant
                    self.suspensions.append((instant, None))
                    self.step(f"suspended (不计入时限) since {when(begun.occurred_at, tz)}{since}: "
                              "the clock is stopped", keys[0] if keys else None, begun.evidence)
                    continue
                old = due
                due = self._shift(due, self.day(instant), self.day(ended.occurred_at))
                self.suspensions.append((instant, ended.occurred_at))
                unit = "working days" if limit.count == "working" else "days"
                self.step(f"suspended {when(begun.occurred_at, tz)} to {when(ended.occurred_at, tz)}{since}: "
                          f"{unit} in [{self.day(instant)}, {self.day(ended.occurred_at)}) added, "
                          f"due {when(old, tz)} -> {when(due, tz)}",
                          keys[0] if keys else None, (*begun.evidence, *ended.evidence))
            else:
                e = item.event
                assert isinstance(e, DeadlineExtended)
                keys = rule_clauses(self.pack, "extension")
                # Approved and told by the due (002 限时 §7: 签署意见,并在时限届满前告知): ``instant`` is
                # the later of the two, so an approval after the due is too late whatever the
                # notice says (the requester cannot have been told of an extension not yet made).
                if e.new_due <= due:  # (an extension sets a later deadline: 002 限时 §7, 明确办结时限)
                    self.step(f"extension to {when(e.new_due, tz)} approved {when(e.occurred_at, tz)} is not "
                              f"later than the due {when(due, tz)}: not an extension (延期), the due stands",
                              keys[0] if keys else None, item.evidence)
                elif not self._by_leader(e):
                    self._not_by_leader(item, due, until)
                elif instant <= due or open_since is not None:  # a stopped clock cannot run out
                    self.step(f"extension (延期) approved by {e.approved_by} {when(e.occurred_at, tz)} and notified "
                              f"{when(e.notified_at or instant, tz)}, by the due {when(due, tz)}: "
                              f"new due {when(e.new_due, tz)}", keys[0] if keys else None, item.evidence)
                    due = e.new_due
                else:
                    self._invalid(item, due, e.notified_at)
        for f in unnotified:
            e = f.event
            assert isinstance(e, DeadlineExtended)
            if e.new_due <= due:
                self.step(f"extension to {when(e.new_due, tz)} approved {when(e.occurred_at, tz)} is not "
                          f"later than the due {when(due, tz)}: not an extension (延期), the due stands",
                          None, f.evidence)
            elif not self._by_leader(e):
                self._not_by_leader(f, due, until)
            elif due < until:
                self._invalid(f, due, None)
            else:
                self.step(f"extension to {when(e.new_due, tz)} not yet notified to the requester: "
                          f"the due {when(due, tz)} stands for now", None, f.evidence)
        if not record:
            del self.basis[basis_mark:], self.suspensions[susp_mark:], self.invalid[inv_mark:]
        else:
            self.open_suspension = open_since is not None
            self.due = due
        return due

    def _by_leader(self, e: DeadlineExtended) -> bool:
        return self.leads is None or self.leads(e.approved_by, e.occurred_at)

    def _not_by_leader(self, fact: Fact, due: datetime, until: datetime) -> None:
        """An extension approved by someone who is not a leader (a unit's head or supervisor) is no extension
        (002 限时 §7 由受理事项的单位负责人签署意见; 004 限时 §5 请示有关领导审批): the due stands,
        and a breach of it is this extension's (``invalid_extension``)."""
        e = fact.event
        assert isinstance(e, DeadlineExtended)
        keys = rule_clauses(self.pack, "extension")
        self.step(f"extension to {when(e.new_due, self.tz)} approved by {e.approved_by}, who is neither a section "
                  f"head nor a supervising leader: invalid, the due {when(due, self.tz)} stands",
                  keys[0] if keys else None, fact.evidence)
        if due < until:
            self.invalid.append(InvalidExtension(fact, due, e.notified_at, by_leader=False))

    def _invalid(self, fact: Fact, due: datetime, notified: datetime | None) -> None:
        e = fact.event
        assert isinstance(e, DeadlineExtended)
        keys = rule_clauses(self.pack, "extension")
        if fact.occurred_at > due:
            told = f"approved by {e.approved_by} {when(fact.occurred_at, self.tz)}"
        else:
            told = "never notified" if notified is None else f"notified {when(notified, self.tz)}"
        self.step(f"extension to {when(e.new_due, self.tz)} {told}, after the due {when(due, self.tz)}: "
                  f"invalid, the due stands", keys[0] if keys else None, fact.evidence)
        self.invalid.append(InvalidExtension(fact, due, notified))

    def result(self, file: CaseFile, which: Which, start: datetime | None, state: State,
               reply: Fact | None, facts: tuple[Fact, ...]) -> CaseClock:
        due = self.due if state == "running" else None
        stood = next((x for x in reversed(self.invalid) if x.old_due == due), None)
        reminders = tuple(f for f in facts if isinstance(f.event, Reminded)
                          and due is not None and f.occurred_at < due)  # before the due (001 限时 art. 3)
        return CaseClock(
            case=file.case, which=which, at=self.at, pack=self.pack, limit=self.limit, start=start,
            due=due, state=state, basis=tuple(self.basis), suspensions=tuple(self.suspensions),
            invalid_extensions=tuple(self.invalid), stood=stood, reply=reply, reminders=reminders,
        )


def _first_acceptance(facts: tuple[Fact, ...]) -> tuple[Fact, Fact] | None:
    """The first accepted handoff, (the handoff, its acceptance): the handler (首办人) starts the
    clock, once. The handoff accepted is the latest one to the accepter before the acceptance."""
    offered: dict[str, Fact] = {}
    for f in facts:
        if isinstance(f.event, HandedOff):
            offered[f.event.to] = f
        elif isinstance(f.event, HandoffAccepted) and f.event.by in offered:
            return offered[f.event.by], f
    return None


def _restart(clock: _Clock, start: Fact, facts: tuple[Fact, ...]) -> tuple[Fact, State | None]:
    """Where the clock restarts after a materials request (补正), or that it awaits them."""
    requests = [f for f in facts if isinstance(f.event, MaterialsRequested)
                and f.occurred_at >= start.occurred_at]
    if not requests:
        return start, None
    first = requests[0]
    assert isinstance(first.event, MaterialsRequested)
    keys = rule_clauses(clock.pack, "restart_on_supplements")
    clause = keys[0] if keys else None
    due = clock.run(start, facts, first.occurred_at, record=False)
    if first.occurred_at > due:
        clock.step(f"materials requested {when(first.occurred_at, clock.tz)} after the due: no restart",
                   clause, first.evidence)
        return start, None
    asked = set(first.event.items)
    missed = any(not set(r.event.items) <= asked for r in requests[1:])  # type: ignore[attr-defined]
    receipts = [f for f in facts if isinstance(f.event, MaterialsReceived)
                and f.occurred_at >= first.occurred_at]
    restart: Fact | None = None
    if missed:
        restart = receipts[0] if receipts else None
        why = "the notice missed items, so from the FIRST receipt of supplements"
    else:
        got: set[str] = set()
        for f in receipts:
            got |= set(f.event.items)  # type: ignore[attr-defined]
            if asked <= got:
                restart = f
                break
        why = "from the receipt that completes every requested item"
    clock.step(f"materials requested (一次性告知) {when(first.occurred_at, clock.tz)}: "
               f"the clock restarts at the supplements, {why}", clause, first.evidence)
    if restart is None:
        clock.step("awaiting supplements (待补正): the clock is stopped", clause)
        return start, "awaiting_supplements"
    clock.step(f"supplements received {when(restart.occurred_at, clock.tz)}: the clock restarts",
               clause, restart.evidence)
    return restart, None


def deadline(
    case_facts: Iterable[Fact], at: datetime, catalogue: PolicyCatalogue, calendar: WorkingCalendar,
    tz: tzinfo, which: Which = "reply", leads: Leads | None = None,
) -> CaseClock:
    """:func:`case_clock` from a case's facts; raises ``CaseNotFoundAt`` before its receipt."""
    return case_clock(case_file(case_facts, at), at, catalogue, calendar, tz, which, leads)
