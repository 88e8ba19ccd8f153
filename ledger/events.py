"""The public event format (CONTRACT.md): one pydantic model per event type.

These models are the single definition of every event and its fields. Validation of
JSON Lines input, the clerk commands' options, the stored form and the documentation
all derive from them; there is no second list of fields to keep in step.

Times: an instant with an offset is kept as given; one without an offset is read in the
store's timezone (passed as validation context ``{"tz": ZoneInfo(...)}``, default
Asia/Shanghai); a date alone is refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from typing import Annotated, Any, ClassVar, Literal, Union
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

DEFAULT_TZ = "Asia/Shanghai"

#: Instants in other years (as written, in their own offset or the store's timezone) are refused
#: as typing mistakes, not guessed at.
FIRST_YEAR, LAST_YEAR = 2000, 2099

_HAS_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def context_tz(info: ValidationInfo | None) -> tzinfo:
    """The store's timezone from the validation context (default Asia/Shanghai)."""
    ctx = info.context if info is not None and info.context else {}
    tz = ctx.get("tz") if isinstance(ctx, dict) else None
    return tz if isinstance(tz, tzinfo) else ZoneInfo(DEFAULT_TZ)


def parse_instant(value: Any, info: ValidationInfo | None = None) -> datetime:
    """Read an ISO 8601 instant; a naive one is placed in the store's timezone."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        raise ValueError("a date alone is not an instant: give a time too, e.g. 2024-03-01T09:00:00+08:00")
    elif isinstance(value, str):
        text = value.strip()
        if not _HAS_TIME.match(text):
            if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
                raise ValueError(
                    f"{text!r} is a date alone, not an instant: give a time too, "
                    f"e.g. {text}T09:00:00+08:00"
                )
            raise ValueError(f"{text[:60]!r} is not an ISO 8601 instant like 2024-03-01T09:00:00+08:00")
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            raise ValueError(f"{text[:60]!r} is not a valid ISO 8601 instant") from None
    else:
        raise ValueError(f"expected an ISO 8601 instant string, got {type(value).__name__}")
    offset = parsed.utcoffset()
    if offset is None:
        parsed = _local(parsed.replace(tzinfo=None), context_tz(info))
    elif offset % timedelta(minutes=1):
        raise ValueError(f"{str(value)[:60]!r} has an offset with seconds: an ISO 8601 offset is ±hh:mm, "
                         "e.g. +08:00")
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise ValueError(f"{parsed.isoformat()} is outside the years 2000-2099 the ledger accepts")
    return parsed


def _local(naive: datetime, tz: tzinfo) -> datetime:
    """A wall-clock time in ``tz``; one the clocks skipped, or show twice, is refused (no guess)."""
    local = naive.replace(tzinfo=tz)
    offset = local.utcoffset()
    if local.replace(fold=1).utcoffset() == offset:
        return local  # (every wall-clock time of a zone without daylight saving)
    text = naive.isoformat()
    either = f"{text}{_offset_text(offset)} or {text}{_offset_text(local.replace(fold=1).utcoffset())}"
    if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise ValueError(f"{text} does not exist in {tz} (the clocks went forward past it): give the offset "
                         f"meant, {either}")
    raise ValueError(f"{text} happens twice in {tz} (the clocks went back): give the offset, {either}")


def _offset_text(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta()).total_seconds()) // 60
    sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _instant_validator(value: Any, info: ValidationInfo) -> datetime:
    # Exactly (value, info): pydantic passes the validation context (the store's timezone)
    # only to a validator whose signature asks for it without a default.
    return parse_instant(value, info)


Instant = Annotated[datetime, BeforeValidator(_instant_validator)]
"""A timezone-aware instant (see module docstring)."""

#: Control characters other than tab and line breaks: never part of free text (PostgreSQL text
#: cannot even hold NUL). Right-to-left marks stay allowed in text: names in Uyghur need them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _character_error(value: str, at: int, what: str) -> ValueError:
    char = value[at]
    name = unicodedata.name(char, "a control character")
    return ValueError(f"contains U+{ord(char):04X} ({name}) at position {at + 1}; {what}")


def _printable_id(value: str) -> str:
    # Invisible characters (bidi overrides, zero-width spaces, BOM, odd spaces) make two ids
    # look alike or display in another order: an id is printable text or it is refused.
    if not value.isprintable():
        at = next(i for i, c in enumerate(value) if not c.isprintable())
        raise _character_error(value, at, "an identifier must be printable text without invisible characters")
    return value


def _no_control(value: str) -> str:
    found = _CONTROL.search(value)
    if found:
        raise _character_error(value, found.start(), "remove it from the text")
    return value


Id = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_printable_id),
]
"""An identifier of staff, unit, post, case, policy or event: 1-128 printable characters."""

Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=4000),
    AfterValidator(_no_control),
]
"""Free text written by a clerk (matter, note, reason)."""

ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_control),
]


WholeNumber = Annotated[int, Strict()]
"""A JSON integer. Lax validation would read true as 1, "2" as 2 and 2.0 as 2: in a register
that is evidence, a value of another JSON type where a number belongs is a mistake to report."""

Flag = Annotated[bool, Strict()]
"""JSON true or false; lax validation would read "no", "off", 0 and "f" as false."""

AbsenceReason = Literal["trip", "meeting", "leave", "sick", "other"]
Channel = Literal["visit", "phone", "letter", "online"]
Outcome = Literal["resolved", "explained_refusal", "referred_outside"]
SuspensionReason = Literal[
    "hearing", "tender", "auction", "inspection", "appraisal", "expert_review", "other"
]


class EventModel(BaseModel):
    """Fields common to every event line."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, str_strip_whitespace=True
    )

    #: Which kind of stream the event belongs to, and which field names it.
    stream_kind: ClassVar[str] = ""
    stream_field: ClassVar[str] = ""
    #: Fields that name things the ledger must already know: field -> kind.
    references: ClassVar[dict[str, str]] = {}
    #: One-line summary for --help and the README.
    summary: ClassVar[str] = ""

    occurred_at: Instant = Field(description="when it happened in the office (ISO 8601)")
    id: Id | None = Field(default=None, description="sender's idempotency key (a retry repeats the event whole)")
    recorded_by: ShortText | None = Field(default=None, description="the clerk who recorded it")
    recorded_at: None = Field(default=None, exclude=True, description="set by the ledger, never by input")

    @field_validator("recorded_at", mode="before")
    @classmethod
    def _refuse_recorded_at(cls, value: Any) -> None:
        raise ValueError("recorded_at is set by the ledger when it stores the event; remove it from the input")

    @property
    def type_name(self) -> str:
        return type(self).__name__

    def names(self, kind: str) -> set[str]:
        """The names of one kind (e.g. ``staff``) this event refers to."""
        found: set[str] = set()
        for _, attr, of_kind in _reference_plan(type(self)):
            if of_kind != kind:
                continue
            value = getattr(self, attr)
            if type(value) is list:
                found.update(value)
            elif value is not None:
                found.add(value)
        return found

    def stream(self) -> str:
        """The stream (aggregate) this event belongs to, e.g. ``case:SHZ-2024-0001``."""
        return f"{self.stream_kind}:{getattr(self, self.stream_field)}"

    def content(self) -> dict[str, Any]:
        """The event as JSON-ready data, public field names, no empty optionals."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def named_in(content: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(where, kind, name) of each name an event's content refers to, e.g. ``("received_by[1]",
    "staff", "s-li")``: the same names as the model's (``EventModel.names``), from its stored form."""
    cls = EVENT_TYPES[content["type"]]
    for field_name, kind in cls.references.items():
        value = content.get(field_name)
        if value is None:
            continue
        if type(value) is list:
            for i, name in enumerate(value):
                yield f"{field_name}[{i}]", kind, name
        else:
            yield field_name, kind, value


@cache
def _reference_plan(cls: type[EventModel]) -> tuple[tuple[str, str, str], ...]:
    """(public field, attribute, kind) of each reference of an event type, worked out once."""
    return tuple((f, "from_" if f == "from" else f, kind) for f, kind in cls.references.items())


# --- reference data -------------------------------------------------------------------


class UnitDefined(EventModel):
    summary: ClassVar[str] = "a unit (科室) with its section head and supervising leader"
    stream_kind, stream_field = "unit", "unit"
    references: ClassVar[dict[str, str]] = {"head": "staff", "supervisor": "staff"}
    type: Literal["UnitDefined"] = "UnitDefined"
    unit: Id = Field(description="unit id")
    head: Id = Field(description="section head (科室负责人), a staff id")
    supervisor: Id = Field(description="supervising leader (分管领导), a staff id")
    name: ShortText | None = Field(default=None, description="the unit's name")


class StaffRegistered(EventModel):
    summary: ClassVar[str] = "a staff member with rank and unit"
    stream_kind, stream_field = "staff", "staff"
    references: ClassVar[dict[str, str]] = {"unit": "unit"}
    type: Literal["StaffRegistered"] = "StaffRegistered"
    staff: Id = Field(description="staff id")
    name: ShortText = Field(description="full name")
    rank: WholeNumber = Field(ge=0, le=100, description="rank, higher = more senior (职位高者)")
    unit: Id = Field(description="unit id")


class PostDefined(EventModel):
    summary: ClassVar[str] = "a post (岗位) with its A and B roles"
    stream_kind, stream_field = "post", "post"
    references: ClassVar[dict[str, str]] = {"unit": "unit", "a": "staff", "b": "staff"}
    type: Literal["PostDefined"] = "PostDefined"
    post: Id = Field(description="post id")
    unit: Id = Field(description="unit id")
    a: Id = Field(description="A role (A角), staff id")
    b: Id = Field(description="B role (B角), staff id")
    name: ShortText | None = Field(default=None, description="the post's name")


class RolesAssigned(EventModel):
    summary: ClassVar[str] = "new A and B for an existing post"
    stream_kind, stream_field = "post", "post"
    references: ClassVar[dict[str, str]] = {"post": "post", "a": "staff", "b": "staff"}
    type: Literal["RolesAssigned"] = "RolesAssigned"
    post: Id = Field(description="post id")
    a: Id = Field(description="A role, staff id")
    b: Id = Field(description="B role, staff id")


# --- A/B cover ------------------------------------------------------------------------


class AbsenceStarted(EventModel):
    summary: ClassVar[str] = "a staff member leaves the post (离岗), with or without handover"
    stream_kind, stream_field = "staff", "staff"
    references: ClassVar[dict[str, str]] = {"staff": "staff", "handover_to": "staff", "notified": "staff"}
    type: Literal["AbsenceStarted"] = "AbsenceStarted"
    staff: Id = Field(description="who leaves")
    reason: AbsenceReason = Field(description="trip, meeting, leave, sick or other")
    handover_to: Id | None = Field(default=None, description="staff handed over to (交接); left out = no handover")
    notified: list[Id] | None = Field(default=None, description="staff told of the absence")
    expected_return: Instant | None = Field(default=None, description="expected return (ISO 8601)")


class AbsenceEnded(EventModel):
    summary: ClassVar[str] = "a staff member is back at the post"
    stream_kind, stream_field = "staff", "staff"
    references: ClassVar[dict[str, str]] = {"staff": "staff"}
    type: Literal["AbsenceEnded"] = "AbsenceEnded"
    staff: Id = Field(description="who is back")
    briefed: Flag | None = Field(default=None, description="B reported back (000 AB art. 6)")


class StandInDesignated(EventModel):
    summary: ClassVar[str] = "a leader designates a stand-in (指派) for a post whose A and B are away"
    stream_kind, stream_field = "post", "post"
    references: ClassVar[dict[str, str]] = {"post": "post", "stand_in": "staff", "by": "staff"}
    type: Literal["StandInDesignated"] = "StandInDesignated"
    post: Id = Field(description="post id")
    stand_in: Id = Field(description="the designated staff member")
    by: Id = Field(description="the designating leader")
    until: Instant | None = Field(default=None, description="end of the designation (ISO 8601)")


# --- cases ------------------------------------------------------------------------------


class Requester(BaseModel):
    """The citizen, student or unit who asked (服务对象). Personal data."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    name: ShortText | None = Field(default=None, description="requester's name (personal data)")
    contact: ShortText | None = Field(default=None, description="phone or address (personal data)")
    unit: ShortText | None = Field(default=None, description="requester's unit or organisation")


class CaseEvent(EventModel):
    stream_kind, stream_field = "case", "case"
    case: Id = Field(description="case id")


class InquiryReceived(CaseEvent):
    summary: ClassVar[str] = "a new case: the first-asked staff (首问) receive an inquiry"
    references: ClassVar[dict[str, str]] = {"received_by": "staff", "post": "post", "policy": "policy"}
    type: Literal["InquiryReceived"] = "InquiryReceived"
    policy: Id = Field(description="policy pack id, e.g. shihezi-2021")
    received_by: list[Id] = Field(min_length=1, max_length=20, description="staff asked (several = joint inquiry)")
    channel: Channel = Field(description="visit, phone, letter or online")
    matter: Text = Field(description="what was asked (事项)")
    kind: Id = Field(description="kind of matter; selects the time limit in the pack")
    post: Id | None = Field(default=None, description="the post that owns the matter")
    in_remit: Flag = Field(default=True, description="within the first-asked staff's remit")
    requester: Requester | None = Field(default=None, description='{"name", "contact", "unit"}')

    @field_validator("received_by")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("names the same staff member twice")
        return value


class HandedOff(CaseEvent):
    summary: ClassVar[str] = "the case is handed (移交) from one staff member to another"
    references: ClassVar[dict[str, str]] = {"case": "case", "from": "staff", "to": "staff"}
    type: Literal["HandedOff"] = "HandedOff"
    from_: Id = Field(alias="from", description="staff handing over")
    to: Id = Field(description="staff receiving")
    receipt: Flag | None = Field(default=None, description="a receipt (接收单) was given")
    note: Text | None = Field(default=None, description="free note")


class HandoffAccepted(CaseEvent):
    summary: ClassVar[str] = "the receiver accepts a handoff and becomes the handler (首办)"
    references: ClassVar[dict[str, str]] = {"case": "case", "by": "staff"}
    type: Literal["HandoffAccepted"] = "HandoffAccepted"
    by: Id = Field(description="the accepting staff member")


class MaterialsRequested(CaseEvent):
    summary: ClassVar[str] = "missing materials listed to the requester (一次性告知)"
    references: ClassVar[dict[str, str]] = {"case": "case", "by": "staff"}
    type: Literal["MaterialsRequested"] = "MaterialsRequested"
    by: Id = Field(description="staff making the request")
    items: list[ShortText] = Field(min_length=1, max_length=100, description="missing items")


class MaterialsReceived(CaseEvent):
    summary: ClassVar[str] = "supplements received from the requester"
    references: ClassVar[dict[str, str]] = {"case": "case"}
    type: Literal["MaterialsReceived"] = "MaterialsReceived"
    items: list[ShortText] = Field(min_length=1, max_length=100, description="items received")


class ClockSuspended(CaseEvent):
    summary: ClassVar[str] = "the clock stops (不计入时限): hearing, tender, appraisal, ..."
    references: ClassVar[dict[str, str]] = {"case": "case"}
    type: Literal["ClockSuspended"] = "ClockSuspended"
    reason: SuspensionReason = Field(
        description="hearing, tender, auction, inspection, appraisal, expert_review, other"
    )


class ClockResumed(CaseEvent):
    summary: ClassVar[str] = "the clock runs again"
    references: ClassVar[dict[str, str]] = {"case": "case"}
    type: Literal["ClockResumed"] = "ClockResumed"


class DeadlineExtended(CaseEvent):
    summary: ClassVar[str] = "a leader approves a new deadline (延期)"
    references: ClassVar[dict[str, str]] = {"case": "case", "approved_by": "staff"}
    type: Literal["DeadlineExtended"] = "DeadlineExtended"
    new_due: Instant = Field(description="the new due instant (ISO 8601)")
    approved_by: Id = Field(description="approving leader")
    notified_at: Instant | None = Field(default=None, description="when the requester was told")
    reason: Text | None = Field(default=None, description="why")


class Replied(CaseEvent):
    summary: ClassVar[str] = "the case is answered and closed (办结)"
    references: ClassVar[dict[str, str]] = {"case": "case", "by": "staff"}
    type: Literal["Replied"] = "Replied"
    by: Id = Field(description="staff replying")
    outcome: Outcome = Field(description="resolved, explained_refusal or referred_outside")
    note: Text | None = Field(default=None, description="free note")


class Reminded(CaseEvent):
    summary: ClassVar[str] = "a reminder to a requester who must act (001 限时 art. 3)"
    references: ClassVar[dict[str, str]] = {"case": "case", "by": "staff"}
    type: Literal["Reminded"] = "Reminded"
    by: Id = Field(description="staff reminding")


# --- corrections ----------------------------------------------------------------------


class Corrected(EventModel):
    summary: ClassVar[str] = "replaces an earlier event with a corrected copy (nothing is edited)"
    references: ClassVar[dict[str, str]] = {"target": "event"}
    type: Literal["Corrected"] = "Corrected"
    target: Id = Field(description="id of the event corrected")
    replacement: dict[str, Any] = Field(description="a full event object of the same type")
    reason: Text = Field(description="why")


class Retracted(EventModel):
    summary: ClassVar[str] = "withdraws an earlier event recorded in error"
    references: ClassVar[dict[str, str]] = {"target": "event"}
    type: Literal["Retracted"] = "Retracted"
    target: Id = Field(description="id of the event withdrawn")
    reason: Text = Field(description="why")


# --- configuration recorded in the ledger ----------------------------------------------


class PolicyAdded(EventModel):
    summary: ClassVar[str] = "an office's own policy pack version (ledger policy add)"
    stream_kind, stream_field = "policy", "policy"
    type: Literal["PolicyAdded"] = "PolicyAdded"
    policy: Id = Field(description="pack id")
    pack: dict[str, Any] = Field(description="the pack version, as in a pack file")


class CalendarYearAdded(EventModel):
    summary: ClassVar[str] = "a year's official holiday schedule (ledger calendar add)"
    stream_kind, stream_field = "calendar", "year"
    type: Literal["CalendarYearAdded"] = "CalendarYearAdded"
    year: WholeNumber = Field(ge=2000, le=2099, description="the year")
    schedule: dict[str, Any] = Field(description="the schedule, as in a calendar file")


EVENT_CLASSES: tuple[type[EventModel], ...] = (
    UnitDefined, StaffRegistered, PostDefined, RolesAssigned,
    AbsenceStarted, AbsenceEnded, StandInDesignated,
    InquiryReceived, HandedOff, HandoffAccepted, MaterialsRequested, MaterialsReceived,
    ClockSuspended, ClockResumed, DeadlineExtended, Replied, Reminded,
    Corrected, Retracted, PolicyAdded, CalendarYearAdded,
)
EVENT_TYPES: dict[str, type[EventModel]] = {cls.__name__: cls for cls in EVENT_CLASSES}
CASE_TYPES = frozenset(n for n, c in EVENT_TYPES.items() if issubclass(c, CaseEvent))

Event = Annotated[
    Union[  # noqa: UP007 - a discriminated union needs Union here
        UnitDefined, StaffRegistered, PostDefined, RolesAssigned,
        AbsenceStarted, AbsenceEnded, StandInDesignated,
        InquiryReceived, HandedOff, HandoffAccepted, MaterialsRequested, MaterialsReceived,
        ClockSuspended, ClockResumed, DeadlineExtended, Replied, Reminded,
        Corrected, Retracted, PolicyAdded, CalendarYearAdded,
    ],
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[EventModel] = TypeAdapter(Event)


def reference_markdown() -> str:
    """The event reference table for the README, generated from the models themselves."""
    rows = ["| type | what | required fields | optional fields |", "| --- | --- | --- | --- |"]
    for cls in EVENT_CLASSES:
        required: list[str] = []
        optional: list[str] = []
        for name, info in cls.model_fields.items():
            if name in ("type", "recorded_at", "id", "recorded_by", "occurred_at"):
                continue
            label = f"`{info.alias or name}`"
            (required if info.is_required() else optional).append(label)
        rows.append(f"| `{cls.__name__}` | {cls.summary} | {', '.join(required) or '-'} | "
                    f"{', '.join(optional) or '-'} |")
    return "\n".join(rows)
