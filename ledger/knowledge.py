"""What the ledger already knows, for checking the meaning of new events.

``Knowledge`` holds the entities a batch touches (staff, units, posts, cases, absences,
policies, calendar years, event ids) and checks each new line against them in the order of
the file. It works on the lines' content (public field names, JSON values): the same form
the ledger stores, so an entity is derived the same way from a stored record and from a new
line. A check failure is a ``LineError`` naming the line and the field.

Entities are loaded on demand: before a chunk of lines is checked, ``wanted`` names the
streams and ids the chunk touches that are not known yet, the ledger reads them, and ``learn``
derives the entities (a ledger that was empty when the batch began has nothing to read).

Instants are kept in UTC (one tzinfo, so comparing them is cheap) and written in the store's
timezone when an error names them.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from itertools import pairwise
from typing import Any

from ledger.events import CASE_TYPES, EVENT_TYPES, named_in
from ledger.interchange import Line, LineError, parse_event
from ledger.policy import NEITHER_LIMIT, KindLimits, PolicyCatalogue, PolicyError, PolicyFileError, parse_pack
from ledger.records import Record, Stated, effective_content
from ledger.schedules import ScheduleFileError, builtin_schedules, parse_schedule

#: How far ahead of the ledger's clock an occurred-at may be (clock skew between PCs).
FUTURE_TOLERANCE = timedelta(minutes=5)

#: References that may point forward within the same file: a unit names its head and
#: supervisor, who are registered as staff of that unit (a cycle in any order).
DEFERRED = {("UnitDefined", "head"), ("UnitDefined", "supervisor"), ("StaffRegistered", "unit")}
#: The event types with such references.
FORWARD_TYPES = frozenset(type_name for type_name, _ in DEFERRED)

#: The streams whose entities the checks consult, by the kind of name that points at them.
ENTITY_KINDS = ("staff", "unit", "post", "case")

_fromiso = datetime.fromisoformat


@dataclass(slots=True)
class IdInfo:
    """An event id the ledger holds: where it lives and what it says."""

    stream: str
    type: str
    fingerprint: str | None  # of its content (None: not worked out yet, for a line of this batch)
    retracted: bool = False
    line: int = 0  # line of this batch that added it (0 = already stored)


@dataclass(slots=True)
class Absence:
    start_id: str
    start: datetime
    end: datetime | None = None


@dataclass(slots=True)
class CaseState:
    received_id: str
    received_at: datetime
    policy: str
    kind: str
    replied_at: datetime | None = None
    replied_id: str | None = None
    pending: set[str] = field(default_factory=set)  # staff a handoff awaits


@cache
def reference_plan(type_name: str) -> tuple[tuple[str, str, bool], ...]:
    """(field, kind, may point forward) of each name an event type refers to."""
    cls = EVENT_TYPES[type_name]
    return tuple((f, kind, (type_name, f) in DEFERRED) for f, kind in cls.references.items())


#: Each event type's references checked line by line (``reference_plan`` less the forward ones).
_CHECKED_NOW = {name: tuple((f, kind) for f, kind, deferred in reference_plan(name) if not deferred)
                for name in EVENT_TYPES}


Err = Callable[[str, str], None]

#: The configuration's event types, and the command that adds each.
CONFIGURATION_TYPES = {"PolicyAdded": "policy", "CalendarYearAdded": "calendar"}

#: Stream kinds of the configuration (packs, calendar years), learnt in the order recorded.
_CONFIGURATION = frozenset({"policy", "calendar"})


@dataclass
class Knowledge:
    """Entities touched by a batch, as the ledger knows them now."""

    tz: tzinfo
    now: datetime
    catalogue: PolicyCatalogue = field(default_factory=PolicyCatalogue.builtin)
    calendar_years: set[int] = field(default_factory=lambda: set(builtin_schedules()))
    #: The years of ``calendar_years`` a CalendarYearAdded standing added (year -> its event id);
    #: the others are built in (the ``chinesecalendar`` package's schedules): no event to replace.
    calendar_added: dict[int, str] = field(default_factory=dict)
    #: True when every stream is already known (the ledger was empty when the batch began).
    complete: bool = False
    loaded: set[str] = field(default_factory=set)  # streams read from the ledger (or absent)
    stored: dict[str, list[Record]] = field(default_factory=dict)  # their stored records
    ids: dict[str, IdInfo] = field(default_factory=dict)
    staff: set[str] = field(default_factory=set)
    units: set[str] = field(default_factory=set)
    posts: dict[str, tuple[str, str]] = field(default_factory=dict)
    cases: dict[str, CaseState] = field(default_factory=dict)
    absences: dict[str, list[Absence]] = field(default_factory=dict)
    _limits: dict[tuple[str, str, date], KindLimits | PolicyError] = field(default_factory=dict)
    #: Each pack version applied, in the order recorded: (event id, policy, pack as in its file).
    packs: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    #: Versions that stand but no longer resolve once a retraction took away what they extended
    #: (event id -> why): the catalogue leaves them out, as the read side would fail on them.
    unresolved: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.latest = (self.now + FUTURE_TOLERANCE).astimezone(UTC)
        #: What each kind of name is checked against (``exists``).
        self._known: dict[str, Any] = {"staff": self.staff, "unit": self.units, "post": self.posts,
                                       "case": self.cases, "policy": self.catalogue, "event": self.ids}
    # -- loading -----------------------------------------------------------------------

    def wanted(self, lines: Sequence[Line], replacements: Iterable[Line]) -> tuple[set[str], set[str]]:
        """The streams and ids these lines touch that are not known yet.

        ``replacements`` are the corrections' replacements (their names need loading too).
        Streams of correction targets are found from their ids, once those are loaded; a named
        id already known brings its stream if that is not read yet (an id can be known from a
        line skipped on its id alone, whose stream was not read).
        """
        streams: set[str] = set()
        ids: set[str] = set()
        for line in (*lines, *replacements):
            cls = EVENT_TYPES[line.type]
            if cls.stream_kind in ENTITY_KINDS:
                streams.add(f"{cls.stream_kind}:{line.data[cls.stream_field]}")
            if line.id is not None and line.id not in self.ids:
                ids.add(line.id)
            for _, kind, name in named_in(line.data):
                if kind == "event":
                    known = self.ids.get(name)
                    if known is None:
                        ids.add(name)
                    elif known.stream[:known.stream.find(":")] in ENTITY_KINDS:
                        streams.add(known.stream)
                elif kind in ENTITY_KINDS:
                    streams.add(f"{kind}:{name}")
        return streams - self.loaded, ids

    def learn(self, streams: Iterable[str], records: Iterable[Record], ids: dict[str, IdInfo]) -> None:
        """Take in stored records of ``streams`` (every record of each) and stored ids."""
        self.ids.update(ids)
        by_stream: dict[str, list[Record]] = {}
        for rec in records:
            by_stream.setdefault(rec.stream, []).append(rec)
        configuration: list[Stated] = []
        for stream in streams:
            self.loaded.add(stream)
            if stream in by_stream:
                self.stored[stream] = by_stream[stream]
                if stream.partition(":")[0] in _CONFIGURATION:
                    configuration += effective_content(by_stream[stream])
                else:
                    self.derive(stream, by_stream[stream])
        # Packs and years across their streams in the order they were recorded, as the read side
        # builds them (``projections/configuration.py``): a version may extend a pack added in
        # another stream before it, whatever the streams' names.
        for fact in sorted(configuration, key=lambda f: f.record.seq):
            self.apply(fact.record.event_id, fact.content["type"], fact.content, fact.occurred_at.astimezone(UTC))

    def derive(self, stream: str, records: Sequence[Record]) -> None:
        """(Re)compute the entity of one stream from its records, corrections applied."""
        kind, _, name = stream.partition(":")
        if kind == "staff":
            self.staff.discard(name)
            self.absences.pop(name, None)
        elif kind == "unit":
            self.units.discard(name)
        elif kind == "post":
            self.posts.pop(name, None)
        elif kind == "case":
            self.cases.pop(name, None)
        for fact in effective_content(records):
            self.apply(fact.record.event_id, fact.content["type"], fact.content, fact.occurred_at.astimezone(UTC))

    def apply(self, event_id: str, type_name: str, data: dict[str, Any], at: datetime) -> None:
        """Fold one fact into the entities (valid-time order within a stream); ``at`` in UTC."""
        if type_name in CASE_TYPES:
            if type_name == "InquiryReceived":
                self.cases[data["case"]] = CaseState(event_id, at, data["policy"], data["kind"])
                return
            state = self.cases.get(data["case"])
            if state is None:
                return
            if type_name == "HandedOff":
                state.pending.add(data["to"])
            elif type_name == "HandoffAccepted":
                state.pending.discard(data["by"])
            elif type_name == "Replied":
                state.replied_at, state.replied_id = at, event_id
        elif type_name == "AbsenceStarted":
            spans = self.absences.setdefault(data["staff"], [])
            if spans and spans[-1].start > at:
                insort(spans, Absence(event_id, at), key=lambda a: a.start)
            else:
                spans.append(Absence(event_id, at))
        elif type_name == "AbsenceEnded":
            opened = self._open_absence_before(data["staff"], at)
            if opened is not None:
                opened.end = at
        elif type_name == "StaffRegistered":
            self.staff.add(data["staff"])
        elif type_name == "UnitDefined":
            self.units.add(data["unit"])
        elif type_name in ("PostDefined", "RolesAssigned"):
            self.posts[data["post"]] = (data["a"], data["b"])
        elif type_name == "PolicyAdded":
            # It was checked when stored; the catalogue resolves it the same way again.
            self.catalogue = self.catalogue.with_added(parse_pack(data["pack"], data["policy"]))
            self._known["policy"] = self.catalogue
            self._limits.clear()
            self.packs.append((event_id, data["policy"], data["pack"]))
        elif type_name == "CalendarYearAdded":
            self.calendar_years.add(data["year"])
            self.calendar_added[data["year"]] = event_id

    def forget_configuration(self, event_id: str) -> None:
        """A pack version or calendar year retracted by this batch: known no more, so the file may
        add its corrected version after it. The catalogue is built again from the versions that
        stand, in the order recorded, as the read side builds it."""
        info = self.ids[event_id]
        if info.type == "CalendarYearAdded":
            year = int(info.stream.partition(":")[2])
            self.calendar_years.discard(year)
            self.calendar_added.pop(year, None)
            return
        self.packs = [p for p in self.packs if p[0] != event_id]
        catalogue, self.unresolved = PolicyCatalogue.builtin(), {}
        for standing, policy, pack in self.packs:
            try:
                catalogue = catalogue.with_added(parse_pack(pack, policy))
            except PolicyFileError as exc:
                self.unresolved[standing] = exc.messages[0]
        self.catalogue = catalogue
        self._known["policy"] = catalogue
        self._limits.clear()

    def _open_absence_before(self, staff: str, at: datetime) -> Absence | None:
        for absence in reversed(self.absences.get(staff, [])):
            if absence.start <= at:
                return absence if absence.end is None else None
        return None

    # -- checking -----------------------------------------------------------------------

    def exists(self, kind: str, name: str) -> bool:
        return name in self._known[kind]

    def when(self, instant: datetime) -> str:
        """A stored instant as an error names it: in the store's timezone."""
        return instant.astimezone(self.tz).isoformat()

    def cite(self, event_id: str) -> str:
        """An event as an error names it: ``event ID``, or ``line N`` for a line of this batch
        that gave no id (the one the ledger made up for it, ``ev-`` and 20 hex digits, is
        written nowhere yet and the sender never saw it). A line that gave its id is named by
        it, as it would be once stored: the same register reads the same whatever is stored."""
        info = self.ids.get(event_id)
        if info is not None and info.line and event_id.startswith("ev-") and len(event_id) == 23:
            return f"line {info.line}"
        return f"event {event_id}"

    def clock_reads(self) -> str:
        return f"the ledger's clock reads {self.now.astimezone(self.tz).isoformat(timespec='seconds')}"

    def check(self, line: Line, at: datetime) -> list[LineError]:
        """Every meaning error of one line against what is known (forward references excluded);
        ``at`` is its occurred-at in UTC."""
        errors: list[LineError] = []

        def err(field_name: str, message: str) -> None:
            errors.append(LineError(line.number, field_name, message))

        if at > self.latest:
            err("occurred_at", f"{line.at.isoformat()} is in the future ({self.clock_reads()})")
        known, data = self._known, line.data
        for field_name, kind in _CHECKED_NOW[line.type]:
            if (value := data.get(field_name)) is None:
                continue
            table = known[kind]
            if type(value) is list:
                for i, name in enumerate(value):
                    if name not in table:
                        err(f"{field_name}[{i}]", self.unknown(kind, name))
            elif value not in table:
                err(field_name, self.unknown(kind, value))
        check = _CHECKS.get(line.type)
        if check is not None:
            check(self, line, at, err)
        return errors

    def check_references(self, type_name: str, data: dict[str, Any], err: Err, prefix: str) -> None:
        for field_name, kind in _CHECKED_NOW[type_name]:
            value = data.get(field_name)
            if value is None:
                continue
            if type(value) is list:
                for i, name in enumerate(value):
                    if not self.exists(kind, name):
                        err(f"{prefix}{field_name}[{i}]", self.unknown(kind, name))
            elif not self.exists(kind, value):
                err(prefix + field_name, self.unknown(kind, value))  # (the same as ``check``, prefixed)

    def deferred_errors(
        self, line_number: int, type_name: str, data: dict[str, Any], prefix: str = ""
    ) -> list[LineError]:
        """The forward references of an accepted line (or of a correction's replacement, its
        fields named with ``prefix``), checked once the whole file is known."""
        return [
            LineError(line_number, prefix + field_name, self.unknown(kind, data[field_name]))
            for field_name, kind, deferred in reference_plan(type_name)
            if deferred and data.get(field_name) is not None and not self.exists(kind, data[field_name])
        ]

    @staticmethod
    def unknown(kind: str, name: str) -> str:
        how = {
            "staff": "register them first (StaffRegistered)",
            "unit": "define it first (UnitDefined)",
            "post": "define it first (PostDefined)",
            "case": "no InquiryReceived opened it",
            "policy": "see `ledger policy list`, or add the office's own pack with `ledger policy add FILE`",
            "event": "no event with this id is in the ledger",
        }[kind]
        return f"{kind} {name!r} is not known to the ledger: {how}"

    def _check_post(self, line: Line, at: datetime, err: Err) -> None:
        if line.data["post"] in self.posts:
            err("post", f"post {line.data['post']!r} is already defined; use RolesAssigned to change its A and B")
        self._check_roles(line, at, err)

    def _check_roles(self, line: Line, at: datetime, err: Err) -> None:
        self._content_errors(line.type, line.data, line.at, err, "")

    def _content_errors(self, type_name: str, data: dict[str, Any], at: datetime, err: Err, prefix: str) -> None:
        """What a line's content alone must satisfy, beyond its shape: checked on a line of its
        type and on a correction's replacement (with ``prefix``) alike; ``at`` is its occurred-at."""
        if type_name in ("PostDefined", "RolesAssigned") and data["a"] == data["b"]:
            err(prefix + "b", "the B role must be someone other than the A role")
        elif type_name == "AbsenceStarted" and data.get("handover_to") == data["staff"]:
            err(prefix + "handover_to", "a handover goes to someone else")
        elif type_name == "HandedOff" and data["from"] == data["to"]:
            err(prefix + "to", "a handoff goes to someone else")
        elif type_name == "InquiryReceived" and data["policy"] in self.catalogue:
            key = (data["policy"], data["kind"], at.astimezone(self.tz).date())
            found = self._limits.get(key)
            if found is None:
                try:
                    found = self.catalogue.limits_for(*key)
                except PolicyError as exc:
                    found = exc
                self._limits[key] = found
            if isinstance(found, PolicyError):
                err(prefix + ("kind" if "kind" in str(found) else "policy"), str(found))
        elif type_name == "DeadlineExtended":
            self._extension_content(data, err, prefix)
        elif type_name == "StandInDesignated":
            self._stand_in_content(data, at, err, prefix)

    def _check_absence_start(self, line: Line, at: datetime, err: Err) -> None:
        staff = line.data["staff"]
        self._content_errors(line.type, line.data, line.at, err, "")
        for absence in self.absences.get(staff, []):
            end = absence.end
            if absence.start <= at and (end is None or at < end):
                span = f"{self.when(absence.start)} - {self.when(end) if end else 'open'}"
                err("occurred_at", f"overlaps another absence of {staff!r} ({span}, {self.cite(absence.start_id)})")
                return

    def _check_absence_end(self, line: Line, at: datetime, err: Err) -> None:
        staff = line.data["staff"]
        if self._open_absence_before(staff, at) is not None:
            # It ends the absence in progress. (No other absence can start between the two: the
            # spans are in order of start, ``apply`` keeps them so, and the one in progress is
            # the last to start by then.)
            return
        later = [a for a in self.absences.get(staff, []) if a.start > at and a.end is None]
        if later:
            err("occurred_at", f"an absence cannot end ({line.at.isoformat()}) before it "
                f"starts ({self.when(later[0].start)}, event {later[0].start_id})")
        else:
            err("staff", f"{staff!r} has no absence in progress at {line.at.isoformat()}")

    def _check_stand_in(self, line: Line, at: datetime, err: Err) -> None:
        self._content_errors(line.type, line.data, line.at, err, "")

    def _stand_in_content(self, data: dict[str, Any], at: datetime, err: Err, prefix: str) -> None:
        """A designation (a line's, or a correction's replacement with ``prefix``) made at ``at``."""
        until = data.get("until")
        if until is not None and _fromiso(until) <= at:
            err(prefix + "until", "the designation must end after it is made")
        if data["stand_in"] == data["by"]:
            err(prefix + "stand_in", f"{data['by']!r} cannot designate themselves: a stand-in is designated by "
                "the supervising leader (002 AB art. 5(4); 004 AB §4), so `by` names the leader and `stand_in` "
                "someone else")

    def open_absence_overlaps(self) -> list[tuple[str, Absence, Absence]]:
        """Open absences followed by a later absence of the same person (checked at the end)."""
        found = []
        for staff, spans in self.absences.items():
            for first, second in pairwise(spans):
                if first.end is None:
                    found.append((staff, first, second))
        return found

    def open_absence_errors(self, skip: Container[str] = ()) -> list[LineError]:
        """``open_absence_overlaps`` as errors, at the line of the open absence, naming the later
        absence by ``cite`` (its line when this batch adds it); a person whose stream is in
        ``skip`` is left out (reported by the history check of a correction)."""
        out = []
        for staff, first, second in self.open_absence_overlaps():
            if f"staff:{staff}" in skip:
                continue
            info = self.ids.get(first.start_id)
            out.append(LineError(
                info.line if info is not None else 0, "occurred_at",
                f"the absence of {staff!r} from {self.when(first.start)} never ends, so it overlaps "
                f"the absence starting {self.when(second.start)} ({self.cite(second.start_id)}); "
                "record its AbsenceEnded"))
        return out

    def _check_inquiry(self, line: Line, at: datetime, err: Err) -> None:
        data = line.data
        case = data["case"]
        if case in self.cases:
            err("case", f"case {case!r} was already received ({self.cite(self.cases[case].received_id)})")
        self._content_errors(line.type, data, line.at, err, "")

    def _check_case_event(self, line: Line, at: datetime, err: Err) -> None:
        data = line.data
        case = data["case"]
        state = self.cases.get(case)
        if state is None:
            return  # reported as an unknown case by the reference check
        if at < state.received_at:
            err("occurred_at", f"is before case {case!r} was received ({self.when(state.received_at)})")
        if state.replied_at is not None and (line.type == "Replied" or at > state.replied_at):
            err("case", f"case {case!r} was replied at {self.when(state.replied_at)} (event "
                f"{state.replied_id}); a later case event must be a correction (Corrected/Retracted)")
        if line.type == "HandedOff":
            self._content_errors(line.type, data, line.at, err, "")
        if line.type == "HandoffAccepted" and data["by"] not in state.pending:
            err("by", f"no handoff to {data['by']!r} is pending on case {case!r}")

    def _check_extension(self, line: Line, at: datetime, err: Err) -> None:
        self._check_case_event(line, at, err)
        self._content_errors(line.type, line.data, line.at, err, "")

    def _extension_content(self, data: dict[str, Any], err: Err, prefix: str) -> None:
        """An extension (a line's, or a correction's replacement with ``prefix``) is a new deadline
        after the case's receipt, told to the requester no earlier than the receipt and not in
        the future."""
        state = self.cases.get(data["case"])
        if state is not None and _fromiso(data["new_due"]) <= state.received_at:
            err(prefix + "new_due", f"{data['new_due']} is not after case {data['case']!r} was received "
                f"({self.when(state.received_at)}): an extension (延期) sets a new, later deadline")
        notified = data.get("notified_at")
        if notified is None:
            return
        told = _fromiso(notified)
        if state is not None and told < state.received_at:
            err(prefix + "notified_at", f"{notified} is before case {data['case']!r} was received "
                f"({self.when(state.received_at)})")
        if told > self.latest:
            err(prefix + "notified_at", f"{notified} is in the future ({self.clock_reads()})")

    def _check_target(self, line: Line, at: datetime, err: Err) -> None:
        target = line.data["target"]
        info = self.ids.get(target)
        if info is None:
            return  # reported by the reference check
        if info.type in ("Corrected", "Retracted"):
            err("target", f"{target!r} is itself a {info.type}; correct the original event instead")
            return
        if info.retracted:
            err("target", f"{target!r} was already retracted")
            return
        if line.type != "Corrected":
            return
        if info.type in CONFIGURATION_TYPES:  # (a pack or a year is checked whole, against all the others)
            err("target", f"a {info.type} is not corrected: add the corrected file in its place (`ledger "
                f"{CONFIGURATION_TYPES[info.type]} add FILE --replacing {target!r} --reason TEXT`)")
            return
        replacement = {**line.data["replacement"]}
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
        if model.occurred_at.astimezone(UTC) > self.latest:  # as a line's own (``check``)
            err("replacement.occurred_at", f"{model.occurred_at.isoformat()} is in the future ({self.clock_reads()})")
        if model.stream() != info.stream:
            err(f"replacement.{model.stream_field}",
                f"a correction cannot move the event to another {model.stream_kind} "
                f"(it belongs to {info.stream})")
        content = Line.of(0, model).data
        self.check_references(model.type_name, content, err, "replacement.")
        self._content_errors(model.type_name, content, model.occurred_at, err, "replacement.")  # as a line's

    def _check_policy(self, line: Line, at: datetime, err: Err) -> None:
        pack = line.data["pack"]
        if isinstance(pack, dict) and pack.get("id") != line.data["policy"]:
            err("pack.id", f"must be {line.data['policy']!r}, the pack this event adds a version of "
                f"(`policy`), not {pack.get('id')!r}")
            return
        try:
            version = parse_pack(line.data["pack"], line.data["policy"])
            self.catalogue.with_added(version)
            for kind, limits in version.limits.items():
                if limits.reply is None and limits.transfer is None:
                    err(f"pack.limits.{kind}", NEITHER_LIMIT)
        except PolicyFileError as exc:
            for message in exc.messages:
                if message.startswith("effective_from: a version of") and isinstance(pack, dict):
                    added = [e for e, policy, p in self.packs
                             if policy == line.data["policy"] and p.get("effective_from") == pack.get("effective_from")]
                    if added:
                        message += (f" (event {added[0]!r}); to correct that version, add this file with "
                                    f"--replacing {added[0]!r} --reason TEXT (`ledger policy add`)")
                err("pack", message)
        except PolicyError as exc:
            err("pack", str(exc))

    def _check_calendar_year(self, line: Line, at: datetime, err: Err) -> None:
        year = line.data["year"]
        schedule = line.data["schedule"]
        if isinstance(schedule, dict) and schedule.get("year") != year:
            err("schedule.year", f"must be {year}, the year this event adds (`year`), not {schedule.get('year')!r}")
            return
        if year in self.calendar_years:
            added = self.calendar_added.get(year)
            if added is None:
                err("year", f"the calendar already knows {year}: it is built in (from the package's own schedule "
                    "data, chinesecalendar's transcription of the State Council's notices), so it has no event to "
                    "replace and cannot be added again; an office's own closure days go in its policy pack "
                    "(`closures`)")
            elif (info := self.ids.get(added)) is not None and info.line:
                err("year", f"the calendar already knows {year}: line {info.line} adds it; give each year once")
            else:
                err("year", f"the calendar already knows {year} (event {added!r}): a wrong year is replaced "
                    f"(`ledger calendar add FILE --replacing {added!r} --reason TEXT`)")
        try:
            parse_schedule(line.data["schedule"], f"year {year}")
        except ScheduleFileError as exc:
            for message in exc.messages:
                err("schedule", message)


#: The checks of each event type beyond its references (functions, not bound methods: a
#: Knowledge holding its own bound methods would be a cycle, freed only by a full collection).
_CHECKS: dict[str, Callable[[Knowledge, Line, datetime, Err], None]] = {
    "PostDefined": Knowledge._check_post, "RolesAssigned": Knowledge._check_roles,
    "AbsenceStarted": Knowledge._check_absence_start, "AbsenceEnded": Knowledge._check_absence_end,
    "StandInDesignated": Knowledge._check_stand_in, "InquiryReceived": Knowledge._check_inquiry,
    "Corrected": Knowledge._check_target, "Retracted": Knowledge._check_target,
    "PolicyAdded": Knowledge._check_policy, "CalendarYearAdded": Knowledge._check_calendar_year,
    **dict.fromkeys(CASE_TYPES - {"InquiryReceived"}, Knowledge._check_case_event),
    "DeadlineExtended": Knowledge._check_extension,
}


def stream_problems(stream: str, records: Sequence[Record], tz: tzinfo) -> set[str]:
    """What is inconsistent in a case's or a person's history as its records now stand,
    corrections applied: the checks a line gets in file order, made again on the whole stream
    (a correction can move an event past another). A case: nothing before its receipt, and
    nothing but corrections after its reply, and each acceptance of a handoff pending to its
    acceptor; a person: absences that start, then end, in turn."""
    kind = stream.partition(":")[0]
    facts = effective_content(records)
    out: set[str] = set()

    def when(f: Stated) -> str:
        return f.occurred_at.astimezone(tz).isoformat()

    if kind == "case":
        receipt = next((f for f in facts if f.content["type"] == "InquiryReceived"), None)
        replies = [f for f in facts if f.content["type"] == "Replied"]
        pending: set[str] = set()
        for f in facts:
            if f.content["type"] == "HandedOff":
                pending.add(f.content["to"])
            elif f.content["type"] == "HandoffAccepted":
                if f.content["by"] not in pending:
                    out.add(f"the case's HandoffAccepted ({f.record.event_id}, {when(f)}) would accept no handoff "
                            f"pending to {f.content['by']!r}")
                pending.discard(f.content["by"])
            if receipt is not None and f is not receipt and f.occurred_at < receipt.occurred_at:
                out.add(f"the case's {f.content['type']} ({f.record.event_id}, {when(f)}) would come before "
                        f"its receipt ({receipt.record.event_id}, {when(receipt)})")
            if replies and f is not replies[0] and f.occurred_at > replies[0].occurred_at:
                out.add(f"the case's {f.content['type']} ({f.record.event_id}, {when(f)}) would come after "
                        f"its reply ({replies[0].record.event_id}, {when(replies[0])})")
    elif kind == "staff":
        started: Stated | None = None
        for f in facts:
            if f.content["type"] == "AbsenceStarted":
                if started is not None:
                    out.add(f"the absence {f.record.event_id} ({when(f)}) would start while "
                            f"{started.record.event_id} ({when(started)}) is still in progress")
                started = f
            elif f.content["type"] == "AbsenceEnded":
                if started is None:
                    out.add(f"the return {f.record.event_id} ({when(f)}) would end no absence in progress")
                started = None
    return out


def normalised_replacement(line: Line, target_type: str, tz: tzinfo) -> dict[str, Any]:
    """The replacement of a (checked) correction, normalised like any other event content."""
    model, _ = parse_event({**line.data["replacement"], "type": target_type}, line.number, tz)
    assert model is not None
    return model.content()


def replacement_of(line: Line, tz: tzinfo, target_type: str | None = None) -> Line | None:
    """A correction's replacement as given, for loading its names: of the type it gives, else of
    ``target_type`` (the corrected event's, once known), else None."""
    replacement = line.data.get("replacement")
    if not isinstance(replacement, dict):
        return None
    if "type" not in replacement:
        if target_type is None:
            return None
        replacement = {**replacement, "type": target_type}
    model, _ = parse_event(replacement, line.number, tz)
    return None if model is None else Line.of(line.number, model)


__all__ = ["DEFERRED", "FORWARD_TYPES", "IdInfo", "Knowledge", "normalised_replacement", "replacement_of",
           "stream_problems"]
