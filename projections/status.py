"""A case's status at instant T: open or replied, its due instant, who answers for it now.

The rows of ``ledger overdue`` and ``ledger caseload`` (CONTRACT.md) are made from these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from ledger.policy import NoLimitConfigured, PolicyCatalogue
from ledger.records import Fact
from projections.calendar import UnknownCalendarYear, WorkingCalendar
from projections.clocks import case_clock
from projections.responsibility import CaseNotFoundAt, assess, case_file
from projections.world import World


@dataclass(frozen=True)
class CaseStatus:
    """One case at ``at``. ``state``: not_received, open or replied."""

    case: str
    at: datetime
    state: str
    due: datetime | None  # None: no limit, or the clock is stopped (suspended, awaiting supplements)
    clock_state: str
    responsible: str | None  # the primary responsible person at ``at``
    responsible_name: str | None
    replied_at: datetime | None
    working_days_overdue: int | None
    limit_problem: str | None = None  # why there is no due (a kind with no limit configured)

    def is_open(self, at: datetime | None = None) -> bool:
        return self.state == "open"

    def is_overdue(self, at: datetime | None = None) -> bool:
        """Past the due instant with no reply (CONTRACT.md "Deadlines")."""
        return self.state == "open" and self.due is not None and self.at > self.due

    def overdue_json(self, at: datetime | None = None) -> dict[str, Any]:
        return {"case": self.case, "due": None if self.due is None else self.due.isoformat(),
                "responsible": self.responsible, "responsible_name": self.responsible_name,
                "working_days_overdue": self.working_days_overdue}

    def to_json(self) -> dict[str, Any]:
        return {**self.overdue_json(), "state": self.state, "clock": self.clock_state,
                "replied_at": None if self.replied_at is None else self.replied_at.isoformat(),
                "limit_problem": self.limit_problem}


def case_status(
    case_facts: Iterable[Fact], world: World, at: datetime, catalogue: PolicyCatalogue,
    calendar: WorkingCalendar, tz: tzinfo, due_needed: bool = True,
) -> CaseStatus:
    """The status of one case at ``at``; raises ``UnknownCalendarYear`` for an unknown year.

    ``due_needed=False`` (``caseload``: who holds which open case needs no working days): a
    clock running into a year the calendar does not know leaves the due unknown instead, and
    ``limit_problem`` says why; whether the case is open and who answers for it are still exact.
    """
    facts = list(case_facts)
    try:
        file = case_file(facts, at)
    except CaseNotFoundAt:
        case = next((str(getattr(f.event, "case", "")) for f in facts), "")
        return CaseStatus(case, at, "not_received", None, "not_received", None, None, None, None)
    pack = catalogue.in_force(file.inquiry.policy, at.astimezone(tz).date())
    primary = assess(file, world, at, pack, tz, explain=False).primary
    problem = None
    clock_state: str
    counting = calendar  # the days counted overdue: the clock's own, with its pack's closures
    try:
        clock = case_clock(file, at, catalogue, calendar, tz, "reply", world.leads)
        due, clock_state, reply = clock.due, clock.state, clock.reply
        counting = calendar.with_closures(clock.pack.closures)
    except NoLimitConfigured as e:  # caseload still counts the case; overdue cannot
        due, clock_state, problem = None, "no_limit", str(e)
        reply = next((f for f in file.upto(at) if f.event.type_name == "Replied"), None)
    except UnknownCalendarYear as e:
        if due_needed:
            raise
        due, clock_state, problem = None, "unknown_year", str(e)
        reply = next((f for f in file.upto(at) if f.event.type_name == "Replied"), None)
    late = None
    if reply is None and due is not None and at > due:
        first = (due.astimezone(tz) + timedelta(days=1)).date()
        try:
            late = counting.working_days_in(first, at.astimezone(tz).date() + timedelta(days=1))
        except UnknownCalendarYear as e:
            if due_needed:
                raise
            problem = str(e)
    return CaseStatus(
        case=file.case, at=at, state="open" if reply is None else "replied", due=due,
        clock_state=clock_state, responsible=primary.staff, responsible_name=primary.name,
        replied_at=None if reply is None else reply.occurred_at, working_days_overdue=late,
        limit_problem=problem,
    )


def overdue(statuses: Iterable[CaseStatus]) -> list[dict[str, Any]]:
    """``ledger overdue`` rows: open cases past their due, earliest due first."""
    rows = [s.overdue_json() for s in statuses if s.is_overdue()]
    return sorted(rows, key=lambda r: (r["due"], r["case"]))


def caseload(statuses: Iterable[CaseStatus], staff: str | None = None) -> list[dict[str, Any]]:
    """``ledger caseload`` rows: open cases per primary responsible person."""
    load: dict[str, list[str]] = {}
    for s in statuses:
        if s.is_open() and s.responsible is not None:
            load.setdefault(s.responsible, []).append(s.case)
    if staff is not None:
        return [{"staff": staff, "open_cases": sorted(load.get(staff, []))}]
    return [{"staff": k, "open_cases": sorted(v)} for k, v in sorted(load.items())]
