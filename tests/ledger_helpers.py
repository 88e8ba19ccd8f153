"""Small builders for tests that append through the ledger."""

from __future__ import annotations

import json
from typing import Any

T0 = "2024-03-01T08:00:00+08:00"

BASE: list[dict[str, Any]] = [
    {"type": "UnitDefined", "id": "u-repair", "occurred_at": T0, "unit": "repair", "head": "s-head",
     "supervisor": "s-sup", "name": "维修服务中心"},
    {"type": "StaffRegistered", "id": "st-head", "occurred_at": T0, "staff": "s-head", "name": "李科长",
     "rank": 4, "unit": "repair"},
    {"type": "StaffRegistered", "id": "st-sup", "occurred_at": T0, "staff": "s-sup", "name": "王处长",
     "rank": 5, "unit": "repair"},
    {"type": "StaffRegistered", "id": "st-a", "occurred_at": T0, "staff": "s-a", "name": "张三", "rank": 2,
     "unit": "repair"},
    {"type": "StaffRegistered", "id": "st-b", "occurred_at": T0, "staff": "s-b", "name": "李四", "rank": 2,
     "unit": "repair"},
    {"type": "StaffRegistered", "id": "st-c", "occurred_at": T0, "staff": "s-c", "name": "赵六", "rank": 3,
     "unit": "repair"},
    {"type": "PostDefined", "id": "p-water", "occurred_at": T0, "post": "water", "unit": "repair", "a": "s-a",
     "b": "s-b", "name": "水电维修岗"},
]


def inquiry(case: str = "C1", at: str = "2024-03-04T09:00:00+08:00", **extra: Any) -> dict[str, Any]:
    event = {"type": "InquiryReceived", "id": f"in-{case}", "occurred_at": at, "case": case,
             "policy": "shihezi-2021", "received_by": ["s-a"], "channel": "visit",
             "matter": "宿舍热水器不出热水", "kind": "general", "post": "water",
             "requester": {"name": "李同学", "contact": "13912345678", "unit": "3号宿舍楼"}}
    event.update(extra)
    return event


def jsonl(*events: dict[str, Any]) -> list[str]:
    return [json.dumps(e, ensure_ascii=False) for e in events]
