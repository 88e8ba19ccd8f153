"""A question about one case reads the same records however large the ledger grows.

The demo register is appended, a case question asked and the stored records it decodes
counted; then the office grows around it (another unit with its staff, posts and a year of
cases, and the case's own people away many times after the question's instants) and the
same question must decode exactly as many records and give the same answer.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from projections.queries import Queries
from projections.readmodels import staff_named
from tests.conftest import FakeClock
from tests.test_bitemporal import _ledger as demo_ledger

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REGISTER = (EXAMPLES / "demo-register-2024.jsonl").read_text(encoding="utf-8").splitlines()
CASE, AT = "SHZ-2024-0001", datetime(2024, 4, 30, 9, tzinfo=UTC)


def _growth(n_staff: int = 40, n_cases: int = 300) -> list[str]:
    """Another unit's year of work, and the case's own people away often in 2025."""
    t0 = datetime(2025, 1, 6, 0, 30, tzinfo=UTC)
    lines: list[dict[str, Any]] = [
        {"type": "UnitDefined", "occurred_at": t0.isoformat(), "unit": "grow-unit", "head": "grow-0",
         "supervisor": "grow-1"}]
    lines += [{"type": "StaffRegistered", "occurred_at": t0.isoformat(), "staff": f"grow-{i}", "name": f"员工{i}",
               "rank": 3, "unit": "grow-unit"} for i in range(n_staff)]
    lines += [{"type": "PostDefined", "occurred_at": t0.isoformat(), "post": f"grow-post-{i}", "unit": "grow-unit",
               "a": f"grow-{i}", "b": f"grow-{(i + 1) % n_staff}"} for i in range(n_staff)]
    for i in range(n_cases):
        t = t0 + timedelta(hours=1 + i)
        lines.append({"type": "InquiryReceived", "occurred_at": t.isoformat(), "case": f"GROW-{i}",
                      "policy": "shihezi-2021", "kind": "general", "received_by": [f"grow-{i % n_staff}"],
                      "channel": "phone", "matter": "报修"})
        lines.append({"type": "Replied", "occurred_at": (t + timedelta(minutes=30)).isoformat(), "case": f"GROW-{i}",
                      "by": f"grow-{i % n_staff}", "outcome": "resolved"})
    for person in ("shz-wangqiang", "shz-liuyang", "shz-zhaomin", "shz-liuguoqiang"):
        for week in range(20):
            start = t0 + timedelta(days=7 * week, hours=1)
            lines.append({"type": "AbsenceStarted", "occurred_at": start.isoformat(), "staff": person,
                          "reason": "leave"})
            lines.append({"type": "AbsenceEnded", "occurred_at": (start + timedelta(days=1)).isoformat(),
                          "staff": person})
    lines.sort(key=lambda d: d["occurred_at"])
    return [json.dumps(d, ensure_ascii=False) for d in lines]


def _count_reads(monkeypatch: pytest.MonkeyPatch, store: Any, ask: Any) -> tuple[Any, Counter[str]]:
    """The answer, and how many stored records of each kind of stream the question read."""
    seen: Counter[str] = Counter()

    def counting(method: Any) -> Any:
        def read(*args: Any, **kwargs: Any) -> Any:
            rows = method(*args, **kwargs)
            seen.update(str(row[1]).partition(":")[0] for row in rows)
            return rows
        return read

    with monkeypatch.context() as patch:
        for name in ("stream_rows", "rows_by_seq", "rows_between"):
            patch.setattr(store, name, counting(getattr(store, name)))
        answer = ask()
    return answer, seen


def test_a_case_question_reads_the_same_records_on_a_larger_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(datetime(2026, 1, 10, 9, tzinfo=UTC))
    ledger = demo_ledger(tmp_path / "l.db", clock)  # with the office's section limits
    ledger.append_lines(REGISTER)
    known = clock.now
    questions = {
        "who": lambda q: q.who(CASE, AT),
        "findings": lambda q: q.findings(CASE, AT),
        "who as known before the growth": lambda q: q.who(CASE, AT, known_at=known),
    }
    # Each question from a fresh Queries (nothing kept from an earlier question).
    before = {name: _count_reads(monkeypatch, ledger.store, lambda ask=ask: ask(Queries(ledger)))
              for name, ask in questions.items()}
    clock.tick(days=1)
    grown = ledger.append_lines(_growth())
    assert grown.appended > 800  # more than twice the demo register
    after = {name: _count_reads(monkeypatch, ledger.store, lambda ask=ask: ask(Queries(ledger)))
             for name, ask in questions.items()}
    for name in questions:
        answer_before, reads_before = before[name]
        answer_after, reads_after = after[name]
        assert reads_after == reads_before, name
        if name != "who":  # "who" reports when it was asked as known (now): equal apart from that
            assert answer_after == answer_before, name
    assert sum(before["findings"][1].values()) < 60


def test_membership_names_every_version_of_a_post() -> None:
    post = {"type": "PostDefined", "post": "p", "unit": "u", "a": "x", "b": "y"}
    stand_in = {"type": "StandInDesignated", "post": "p", "stand_in": "z", "by": "boss"}
    fix = {"type": "Corrected", "target": "e1", "replacement": {**post, "b": "w"}}
    assert staff_named(post) == {"x", "y"}
    assert staff_named(stand_in) == {"z", "boss"}
    assert staff_named(fix) == {"x", "w"}


def test_a_rebuild_leaves_the_timeline_indexed(tmp_path: Path) -> None:
    """A SQLite rebuild drops the timeline's indexes to fill the table fast: they must be back after."""
    import sqlite3

    ledger = demo_ledger(tmp_path / "l.db", FakeClock(datetime(2026, 1, 10, 9, tzinfo=UTC)))
    ledger.append_lines(REGISTER)
    assert ledger.rebuild() > 300
    ledger.close()
    with sqlite3.connect(tmp_path / "l.db") as conn:
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        plan = " ".join(str(r) for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT seq FROM rm_history WHERE stream = 'staff:x' AND type = 'AbsenceStarted'"))
        by_id = " ".join(str(r) for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT seq FROM rm_history WHERE event_id IN ('a', 'b')"))
    assert {"rm_history_kind", "rm_history_event"} <= indexes
    assert "rm_history_kind" in plan
    assert "rm_history_event" in by_id  # (the events that corrections target)


def test_a_pack_added_after_a_question_counts_in_the_next(tmp_path: Path) -> None:
    """Questions keep the configuration records they read; a pack added since is read again."""
    from ledger.application import Ledger
    from projections.readmodels import default_projectors

    pack = json.loads((EXAMPLES / "zhangye-sections.json").read_text(encoding="utf-8"))
    ledger = Ledger(f"sqlite:///{tmp_path / 'c.db'}", clock=FakeClock(datetime(2026, 1, 10, 9, tzinfo=UTC)),
                    projectors=default_projectors(None))
    q = Queries(ledger)
    before = len(q._configuration(None)[0].versions("zhangye-2021"))
    ledger.append_lines([json.dumps({"type": "PolicyAdded", "id": "zy", "occurred_at": "2024-01-01T00:00:00+08:00",
                                     "policy": "zhangye-2021", "pack": pack}, ensure_ascii=False)])
    assert len(q._configuration(None)[0].versions("zhangye-2021")) == before + 1
