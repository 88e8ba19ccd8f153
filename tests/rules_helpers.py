"""Builders for the pure-rule tests: event dicts -> ``Fact``s through the real event models."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ledger.events import EVENT_TYPES
from ledger.policy import PolicyCatalogue, parse_pack
from ledger.records import Fact
from projections.calendar import WorkingCalendar
from projections.world import World

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar.builtin()
CAT = PolicyCatalogue.builtin()
T0 = "2024-01-02T08:00:00+08:00"

_ids = itertools.count(1)


def t(text: str) -> datetime:
    """``'2024-03-04 09:00'`` (or full ISO) as an instant in Asia/Shanghai."""
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=TZ)


def fact(event: dict[str, Any], seq: int | None = None) -> Fact:
    """One ``Fact`` from an event dict; ``id`` (else an automatic one) becomes its event id."""
    data = dict(event)
    event_id = str(data.pop("id", None) or f"e{next(_ids)}")
    if isinstance(data.get("occurred_at"), str) and " " in data["occurred_at"]:
        data["occurred_at"] = t(data["occurred_at"]).isoformat()
    model = EVENT_TYPES[data["type"]].model_validate(data, context={"tz": TZ})
    number = seq if seq is not None else next(_ids)
    return Fact(event_id, model, number, model.occurred_at)


def facts(*events: dict[str, Any]) -> list[Fact]:
    return [fact(e) for e in events]


def ev(type_: str, at: str, **fields: Any) -> dict[str, Any]:
    """An event dict: ``ev("Replied", "2024-03-06 10:00", case="C1", by="s-a", outcome="resolved")``."""
    if "from_" in fields:
        fields["from"] = fields.pop("from_")
    return {"type": type_, "occurred_at": at, **fields}


# --- an office: one unit, a leader, a section head, A/B staff and one post ------------------

STAFF = {
    "s-sup": ("王处长", 5), "s-head": ("李科长", 4), "s-c": ("赵六", 3),
    "s-a": ("张三", 2), "s-b": ("李四", 2), "s-d": ("钱七", 1),
}


def office_events() -> list[dict[str, Any]]:
    out = [ev("UnitDefined", T0, id="u-repair", unit="repair", head="s-head", supervisor="s-sup",
              name="维修服务中心")]
    out += [ev("StaffRegistered", T0, id=f"st-{s}", staff=s, name=n, rank=r, unit="repair")
            for s, (n, r) in STAFF.items()]
    out.append(ev("PostDefined", T0, id="p-water", post="water", unit="repair", a="s-a", b="s-b",
                  name="水电维修岗"))
    return out


def world(*extra: dict[str, Any]) -> World:
    """The office plus ``extra`` cover events (absences, stand-ins, role changes)."""
    return World.from_facts(facts(*office_events(), *extra))


def inquiry(case: str = "C1", at: str = "2024-03-04 09:00", policy: str = "shihezi-2021",
            **extra: Any) -> dict[str, Any]:
    event = ev("InquiryReceived", at, id=f"in-{case}", case=case, policy=policy, received_by=["s-a"],
               channel="visit", matter="宿舍热水器不出热水", kind="general", post="water")
    event.update(extra)
    return event


def away(staff: str, at: str, handover_to: str | None = None, notified: list[str] | None = None,
         id: str | None = None) -> dict[str, Any]:
    return ev("AbsenceStarted", at, id=id or f"abs-{staff}", staff=staff, reason="trip",
              handover_to=handover_to, notified=notified)


def back(staff: str, at: str) -> dict[str, Any]:
    return ev("AbsenceEnded", at, id=f"back-{staff}", staff=staff)


def with_limits(pack_id: str, effective_from: str, limits: dict[str, Any]) -> PolicyCatalogue:
    """The built-in catalogue plus a version of ``pack_id`` that adds ``limits``."""
    pack = parse_pack({"id": pack_id, "extends": pack_id, "effective_from": effective_from,
                       "limits": limits}, "test")
    return CAT.with_added(pack)


#: Zhangye ships no limits (限时 §§2-3: each section sets its own): a section's 5 working days.
ZHANGYE = with_limits("zhangye-2021", "2024-01-01", {
    "registration": {"reply": {"days": 5, "count": "working", "from": "receipt", "clause": "004 限时 §3"}},
})


def ids(items: Iterable[Fact]) -> list[str]:
    return [f.event_id for f in items]
