"""What the ledger already knows, for checking the meaning of new events.

``Knowledge`` holds the entities a batch touches (staff, units, posts, cases, absences,
policies, calendar years, event ids), derived from the effective facts of their streams,
and checks each new event against them in the order of the file. A check failure is a
``LineError`` naming the line and the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from ledger.events import (
    AbsenceEnded,
    AbsenceStarted,
    CalendarYearAdded,
    CaseEvent,
    Corrected,
    EventModel,
    HandedOff,
    HandoffAccepted,
    InquiryReceived,
    PolicyAdded,
    PostDefined,
    Replied,
    Retracted,
    RolesAssigned,
    StaffRegistered,
    StandInDesignated,
    UnitDefined,
)
from ledger.interchange import LineError, parse_event, validation_errors
from ledger.policy import PolicyCatalogue, PolicyError, PolicyFileError, parse_pack
from ledger.records import Fact, Record, effective
from ledger.schedules import ScheduleFileError, builtin_schedules, parse_schedule

#: How far ahead of the ledger's clock an occurred-at may be (clock skew between PCs).
FUTURE_TOLERANCE = timedelta(minutes=5)

#: References that may point forward within the same file: a unit names its head and
#: supervisor, who are registered as staff of that unit (a cycle in any order).
DEFERRED = {("UnitDefined", "head"), ("UnitDefined", "supervisor"), ("StaffRegistered", "unit")}


@dataclass
class IdInfo:
    """An event id the ledger holds: where it lives and what it says."""

    stream: str
    type: str
    fingerprint: str
    retracted: bool = False
    line: int = 0  # line of this batch that added it (0 = already stored)


@dataclass
class Absence:
    start_id: str
    start: datetime
    end: datetime | None = None


@dataclass
class CaseState:
    received_id: str
    received_at: datetime
    policy: str
    replied_at: datetime | None = None
    replied_id: str | None = None
    pending: set[str] = field(default_factory=set)  # staff a handoff awaits


@dataclass
class Knowledge:
    """Entities touched by a batch, as the ledger knows them now."""

    tz: tzinfo
    now: datetime
    catalogue: PolicyCatalogue
    calendar_years: set[int]
    records: dict[str, list[Record]] = field(default_factory=dict)
    ids: dict[str, IdInfo] = field(default_factory=dict)
    staff: dict[str, StaffRegistered] = field(default_factory=dict)
    units: dict[str, UnitDefined] = field(default_factory=dict)
    posts: dict[str, tuple[str, str]] = field(default_factory=dict)
    cases: dict[str, CaseState] = field(default_factory=dict)
    absences: dict[str, list[Absence]] = field(default_factory=dict)

    # -- building ----------------------------------------------------------------------

    @classmethod
    def from_records(
        cls, records: Iterable[Record], ids: dict[str, IdInfo], tz: tzinfo, now: datetime
    ) -> Knowledge:
        """Knowledge derived from the stored records of the streams a batch touches."""
        know = cls(tz=tz, now=now, catalogue=PolicyCatalogue.builtin(),
                   calendar_years=set(builtin_schedules()), ids=ids)
        for rec in records:
            know.records.setdefault(rec.stream, []).append(rec)
        for stream in list(know.records):
            know.derive(stream)
        return know

    def derive(self, stream: str) -> None:
        """(Re)compute the entity of one stream from its effective facts."""
        kind, _, name = stream.partition(":")
        if kind == "staff":
            self.staff.pop(name, None)
            self.absences.pop(name, None)
        elif kind == "unit":
            self.units.pop(name, None)
        elif kind == "post":
            self.posts.pop(name, None)
        elif kind == "case":
            self.cases.pop(name, None)
        for fact in effective(self.records.get(stream, []), self.tz):
            self.apply(fact)

    def apply(self, fact: Fact) -> None:
        """Fold one fact into the entities (valid-time order within a stream)."""
        ev = fact.event
        if isinstance(ev, UnitDefined):
            self.units[ev.unit] = ev
        elif isinstance(ev, StaffRegistered):
            self.staff[ev.staff] = ev
        elif isinstance(ev, (PostDefined, RolesAssigned)):
            self.posts[ev.post] = (ev.a, ev.b)
        elif isinstance(ev, AbsenceStarted):
            spans = self.absences.setdefault(ev.staff, [])
            spans.append(Absence(fact.event_id, ev.occurred_at))
            spans.sort(key=lambda a: a.start)
        elif isinstance(ev, AbsenceEnded):
            opened = self._open_absence_before(ev.staff, ev.occurred_at)
            if opened is not None:
                opened.end = ev.occurred_at
        elif isinstance(ev, InquiryReceived):
            self.cases[ev.case] = CaseState(fact.event_id, ev.occurred_at, ev.policy)
        elif isinstance(ev, CaseEvent) and ev.case in self.cases:
            state = self.cases[ev.case]
            if isinstance(ev, HandedOff):
                state.pending.add(ev.to)
            elif isinstance(ev, HandoffAccepted):
                state.pending.discard(ev.by)
            elif isinstance(ev, Replied):
                state.replied_at, state.replied_id = ev.occurred_at, fact.event_id
        elif isinstance(ev, PolicyAdded):
            # It was checked when stored; the catalogue resolves it the same way again.
            self.catalogue = self.catalogue.with_added(parse_pack(ev.pack, ev.policy))
        elif isinstance(ev, CalendarYearAdded):
            self.calendar_years.add(ev.year)

    def _open_absence_before(self, staff: str, at: datetime) -> Absence | None:
        for absence in reversed(self.absences.get(staff, [])):
            if absence.start <= at:
                return absence if absence.end is None else None
        return None

    # -- checking -----------------------------------------------------------------------

    def exists(self, kind: str, name: str) -> bool:
        if kind == "staff":
            return name in self.staff
        if kind == "unit":
            return name in self.units
        if kind == "post":
            return name in self.posts
        if kind == "case":
            return name in self.cases
        if kind == "policy":
            return name in self.catalogue.ids()
        if kind == "event":
            return name in self.ids
        return False

    def check(self, line: int, event: EventModel) -> list[LineError]:
        """Every meaning error of one event against what is known (deferred refs excluded)."""
        errors: list[LineError] = []

        def err(field_name: str, message: str) -> None:
            errors.append(LineError(line, field_name, message))

        if event.occurred_at > self.now + FUTURE_TOLERANCE:
            err("occurred_at", f"{event.occurred_at.isoformat()} is in the future "
                f"(the ledger's clock reads {self.now.astimezone(self.tz).isoformat(timespec='seconds')})")
        self._check_references(event, err, "")
        if type(event) is PostDefined and event.post in self.posts:
            err("post", f"post {event.post!r} is already defined; use RolesAssigned to change its A and B")
        if isinstance(event, (PostDefined, RolesAssigned)) and event.a == event.b:
            err("b", "the B role must be someone other than the A role")
        if type(event) is AbsenceStarted:
            self._check_absence_start(event, err)
        if type(event) is AbsenceEnded:
            opened = self._open_absence_before(event.staff, event.occurred_at)
            if opened is not None:
                self._check_absence_end(event, opened, err)
            else:
                later = [a for a in self.absences.get(event.staff, []) if a.start > event.occurred_at and a.end is None]
                if later:
                    err("occurred_at", f"an absence cannot end ({event.occurred_at.isoformat()}) before it "
                        f"starts ({later[0].start.isoformat()}, event {later[0].start_id})")
                else:
                    err("staff", f"{event.staff!r} has no absence in progress at {event.occurred_at.isoformat()}")
        if type(event) is StandInDesignated and event.until is not None and event.until <= event.occurred_at:
            err("until", "the designation must end after it is made")
        if type(event) is InquiryReceived:
            self._check_inquiry(event, err)
        elif isinstance(event, CaseEvent):
            self._check_case_event(event, err)
        if isinstance(event, (Corrected, Retracted)):
            self._check_target(event, err)
        if type(event) is PolicyAdded:
            try:
                self.catalogue.with_added(parse_pack(event.pack, event.policy))
            except PolicyFileError as exc:
                for message in exc.messages:
                    err("pack", message)
            except PolicyError as exc:
                err("pack", str(exc))
        if type(event) is CalendarYearAdded:
            if event.year in self.calendar_years:
                err("year", f"the calendar already knows {event.year}")
            try:
                parse_schedule(event.schedule, f"year {event.year}")
            except ScheduleFileError as exc:
                for message in exc.messages:
                    err("schedule", message)
        return errors

    def _check_references(self, event: EventModel, err: Any, prefix: str) -> None:
        type_name = type(event).__name__
        for ref in event.named():
            if (type_name, ref.field) not in DEFERRED and not self.exists(ref.kind, ref.name):
                err(prefix + ref.where, self._unknown(ref.kind, ref.name))

    @staticmethod
    def _unknown(kind: str, name: str) -> str:
        how = {
            "staff": "register them first (StaffRegistered)",
            "unit": "define it first (UnitDefined)",
            "post": "define it first (PostDefined)",
            "case": "no InquiryReceived opened it",
            "policy": "see `ledger policy list`, or add the office's own pack with `ledger policy add FILE`",
            "event": "no event with this id is in the ledger",
        }[kind]
        return f"{kind} {name!r} is not known to the ledger: {how}"

    def _check_absence_start(self, event: AbsenceStarted, err: Any) -> None:
        if event.handover_to == event.staff:
            err("handover_to", "a handover goes to someone else")
        start = event.occurred_at
        for absence in self.absences.get(event.staff, []):
            end = absence.end
            if absence.start <= start and (end is None or start < end):
                span = f"{absence.start.isoformat()} - {end.isoformat() if end else 'open'}"
                err("occurred_at", f"overlaps another absence of {event.staff!r} ({span}, event {absence.start_id})")
                return

    def _check_absence_end(self, event: AbsenceEnded, opened: Absence, err: Any) -> None:
        for other in self.absences.get(event.staff, []):
            if opened.start < other.start < event.occurred_at:
                err("occurred_at", f"the absence from {opened.start.isoformat()} would overlap another "
                    f"absence of {event.staff!r} starting {other.start.isoformat()} (event {other.start_id})")
                return

    def open_absence_overlaps(self) -> list[tuple[str, Absence, Absence]]:
        """Open absences followed by a later absence of the same person (checked at the end)."""
        found = []
        for staff, spans in self.absences.items():
            for first, second in pairwise(spans):
                if first.end is None:
                    found.append((staff, first, second))
        return found

    def _check_inquiry(self, event: InquiryReceived, err: Any) -> None:
        if event.case in self.cases:
            err("case", f"case {event.case!r} was already received (event {self.cases[event.case].received_id})")
        if event.policy in self.catalogue.ids():
            on = event.occurred_at.astimezone(self.tz).date()
            try:
                self.catalogue.limits_for(event.policy, event.kind, on)
            except PolicyError as exc:
                err("kind" if "kind" in str(exc) else "policy", str(exc))

    def _check_case_event(self, event: CaseEvent, err: Any) -> None:
        state = self.cases.get(event.case)
        if state is None:
            return  # reported as an unknown case by the reference check
        if event.occurred_at < state.received_at:
            err("occurred_at", f"is before case {event.case!r} was received ({state.received_at.isoformat()})")
        if state.replied_at is not None and (isinstance(event, Replied) or event.occurred_at > state.replied_at):
            err("case", f"case {event.case!r} was replied at {state.replied_at.isoformat()} (event "
                f"{state.replied_id}); a later case event must be a correction (Corrected/Retracted)")
        if isinstance(event, HandedOff) and event.from_ == event.to:
            err("to", "a handoff goes to someone else")
        if isinstance(event, HandoffAccepted) and event.by not in state.pending:
            err("by", f"no handoff to {event.by!r} is pending on case {event.case!r}")

    def _check_target(self, event: Corrected | Retracted, err: Any) -> None:
        info = self.ids.get(event.target)
        if info is None:
            return  # reported by the reference check
        if info.type in ("Corrected", "Retracted"):
            err("target", f"{event.target!r} is itself a {info.type}; correct the original event instead")
            return
        if info.retracted:
            err("target", f"{event.target!r} was already retracted")
            return
        if isinstance(event, Corrected):
            replacement = {**event.replacement}
            given_type = replacement.setdefault("type", info.type)
            if given_type != info.type:
                err("replacement.type", f"must be {info.type}, the type of the corrected event")
                return
            if "recorded_at" in replacement:
                err("replacement.recorded_at", "is set by the ledger; remove it")
                return
            model, errs = parse_event(replacement, 0, self.tz, prefix="replacement.")
            for e in errs:
                err(e.field, e.message)
            if model is None:
                return
            if model.id is not None:
                err("replacement.id", "a replacement keeps the id of the event it corrects; remove it")
            if model.stream() != info.stream:
                err(f"replacement.{model.stream_field}",
                    f"a correction cannot move the event to another {model.stream_kind} "
                    f"(it belongs to {info.stream})")
            self._check_references(model, err, "replacement.")


def validate_replacement(event: Corrected, target_type: str, tz: tzinfo) -> EventModel:
    """The normalised replacement of a (checked) correction."""
    data = {**event.replacement, "type": target_type}
    model, _ = parse_event(data, 0, tz)
    assert model is not None
    return model


__all__ = ["DEFERRED", "IdInfo", "Knowledge", "ValidationError", "validation_errors"]
