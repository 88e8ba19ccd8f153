"""The benchmark's synthetic registers are valid ledger input and the same for the same seed."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from itertools import pairwise

from bench.generate import generate
from ledger.application import Ledger
from projections.readmodels import default_projectors


def test_a_generated_register_appends_cleanly(sqlite_url: str) -> None:
    lines = list(generate(2000, 40, seed=7))
    ledger = Ledger(sqlite_url, projectors=default_projectors(None))
    try:
        result = ledger.append_lines(lines, actor="bench")
    finally:
        ledger.close()
    assert result.appended == 2000
    assert result.skipped == 0


def test_the_register_tells_every_kind_of_story() -> None:
    events = [json.loads(line) for line in generate(2000, 40, seed=7)]
    types = Counter(e["type"] for e in events)
    for name in ("UnitDefined", "StaffRegistered", "PostDefined", "InquiryReceived", "HandedOff",
                 "HandoffAccepted", "MaterialsRequested", "MaterialsReceived", "Replied", "Reminded",
                 "AbsenceStarted", "AbsenceEnded", "DeadlineExtended", "ClockSuspended", "ClockResumed"):
        assert types[name] > 0, name
    packs = {(e["policy"], e["kind"]) for e in events if e["type"] == "InquiryReceived"}
    assert {p for p, _ in packs} == {"shihezi-2021", "sdut-logistics", "suqian-finance", "pudong-tobacco"}
    assert len({e["id"] for e in events}) == len(events)
    instants = [datetime.fromisoformat(e["occurred_at"]) for e in events]
    assert all(a < b for a, b in pairwise(instants))
    assert events[0]["occurred_at"] >= "2022-01-01" and events[-1]["occurred_at"] < "2026"
    assert all(e["occurred_at"].endswith("+08:00") for e in events)


def test_the_same_seed_gives_the_same_register() -> None:
    assert list(generate(1500, 30, seed=3)) == list(generate(1500, 30, seed=3))
    assert list(generate(1500, 30, seed=3)) != list(generate(1500, 30, seed=4))


def test_only_inquiries_is_reference_data_and_inquiries() -> None:
    types = {json.loads(line)["type"] for line in generate(800, 30, seed=1, only_inquiries=True)}
    assert types == {"UnitDefined", "StaffRegistered", "PostDefined", "InquiryReceived"}
