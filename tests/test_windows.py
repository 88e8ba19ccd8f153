"""Reading only the window of a person's or a post's history gives the world the whole history gives.

A person's absences and two posts' roles and stand-in designations, then corrections that move,
stretch and withdraw some of them (so that the windows must be chosen on the corrected
facts): at every instant in a fortnight, as known before and after the corrections, the
world built from the windowed reads answers absence, post and stand-in questions exactly as
the world built from every record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from projections.queries import Queries, window
from projections.readmodels import default_projectors
from tests.conftest import FakeClock

D = "2024-03-{:02d}T{:02d}:00:00+08:00"


def at(day: int, hour: int) -> str:
    return D.format(day, hour)


REFERENCE: list[dict[str, Any]] = [
    {"type": "UnitDefined", "unit": "u1", "head": "s-h", "supervisor": "s-v", "occurred_at": at(1, 8)},
    *({"type": "StaffRegistered", "staff": s, "name": s, "rank": r, "unit": "u1", "occurred_at": at(1, 8)}
      for s, r in (("s-a", 3), ("s-b", 3), ("s-c", 3), ("s-h", 6), ("s-v", 8))),
    {"type": "PostDefined", "post": "p1", "unit": "u1", "a": "s-a", "b": "s-b", "occurred_at": at(1, 9)},
    {"type": "PostDefined", "post": "p2", "unit": "u1", "a": "s-a", "b": "s-c", "occurred_at": at(1, 9)},
    {"type": "InquiryReceived", "case": "C1", "policy": "shihezi-2021", "kind": "general", "received_by": ["s-a"],
     "channel": "visit", "matter": "报修", "post": "p1", "occurred_at": at(1, 10)},
]
FIRST: list[dict[str, Any]] = [
    {"id": "a1", "type": "AbsenceStarted", "staff": "s-a", "reason": "leave", "occurred_at": at(4, 9)},
    {"id": "a1e", "type": "AbsenceEnded", "staff": "s-a", "occurred_at": at(4, 17)},
    {"id": "r1", "type": "RolesAssigned", "post": "p1", "a": "s-b", "b": "s-a", "occurred_at": at(5, 9)},
    {"id": "a2", "type": "AbsenceStarted", "staff": "s-a", "reason": "trip", "occurred_at": at(6, 9)},
    {"id": "d1", "type": "StandInDesignated", "post": "p1", "stand_in": "s-c", "by": "s-v",
     "until": at(6, 18), "occurred_at": at(6, 10)},
    {"id": "a2e", "type": "AbsenceEnded", "staff": "s-a", "occurred_at": at(7, 9)},
    {"id": "d2", "type": "StandInDesignated", "post": "p1", "stand_in": "s-h", "by": "s-v", "occurred_at": at(8, 9)},
    {"id": "r2", "type": "RolesAssigned", "post": "p1", "a": "s-a", "b": "s-b", "occurred_at": at(9, 9)},
    {"id": "a3", "type": "AbsenceStarted", "staff": "s-a", "reason": "sick", "occurred_at": at(10, 9)},
    {"id": "a3e", "type": "AbsenceEnded", "staff": "s-a", "occurred_at": at(11, 12)},
    {"id": "a4", "type": "AbsenceStarted", "staff": "s-a", "reason": "leave", "occurred_at": at(13, 9)},
    # p2 is never corrected: its windows come from SQL; a lasting designation outlives a short later one
    {"type": "StandInDesignated", "post": "p2", "stand_in": "s-b", "by": "s-v", "occurred_at": at(3, 9)},
    {"type": "StandInDesignated", "post": "p2", "stand_in": "s-h", "by": "s-v", "until": at(6, 18),
     "occurred_at": at(6, 10)},
    {"type": "RolesAssigned", "post": "p2", "a": "s-c", "b": "s-a", "occurred_at": at(8, 9)},
]


def fix(target: str, replacement: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Corrected", "target": target, "reason": "登记有误", "replacement": replacement,
            "occurred_at": at(14, 9)}


SECOND: list[dict[str, Any]] = [
    # the trip started a day earlier; the sick leave ended a day later; the first leave never happened
    fix("a2", {**FIRST[3], "occurred_at": at(5, 14)} | {"id": None}),
    fix("a3e", {**FIRST[9], "occurred_at": at(12, 10)} | {"id": None}),
    {"type": "Retracted", "target": "a1", "reason": "重复登记", "occurred_at": at(14, 9)},
    {"type": "Retracted", "target": "a1e", "reason": "重复登记", "occurred_at": at(14, 9)},
    # the first designation ran until the next noon; the second role change never happened
    fix("d1", {**FIRST[4], "until": at(7, 12)} | {"id": None}),
    {"type": "Retracted", "target": "r2", "reason": "未执行", "occurred_at": at(14, 9)},
    # and a designation moved later than the instant it used to cover
    fix("d2", {**FIRST[6], "occurred_at": at(8, 15)} | {"id": None}),
]


def _lines(events: list[dict[str, Any]]) -> list[str]:
    return [json.dumps({k: v for k, v in e.items() if v is not None}, ensure_ascii=False) for e in events]


@pytest.fixture
def ledger(tmp_path: Path) -> tuple[Ledger, list[datetime | None]]:
    clock = FakeClock(datetime(2024, 3, 15, 9, tzinfo=UTC))
    led = Ledger(f"sqlite:///{tmp_path / 'w.db'}", clock=clock, projectors=default_projectors(None))
    led.append_lines(_lines(REFERENCE + FIRST))
    before = clock.now
    clock.tick(days=1)
    led.append_lines(_lines(SECOND))
    return led, [before, None]


def test_windowed_worlds_equal_the_whole_world_at_every_instant(ledger: tuple[Ledger, list[datetime | None]]) -> None:
    led, knowns = ledger
    q = Queries(led)
    facts = q.case_facts("C1", None)
    instants = [datetime(2024, 3, 3, tzinfo=UTC) + timedelta(hours=h) for h in range(0, 12 * 24, 1)]
    checked = 0
    for known_at in knowns:
        whole = q.context(facts, known_at, all_staff=True).world
        for t in instants:
            part = q.context(facts, known_at, instants=[t]).world
            for staff in ("s-a", "s-b", "s-c"):
                assert part.absence_at(staff, t) == whole.absence_at(staff, t), (staff, t, known_at)
            for post in ("p1", "p2"):
                assert part.post(post, t) == whole.post(post, t), (post, t, known_at)
                assert part.stand_in_at(post, t) == whole.stand_in_at(post, t), (post, t, known_at)
            assert part.a_posts("s-a", t) == whole.a_posts("s-a", t), (t, known_at)
            checked += 1
    assert checked == 2 * len(instants)


def test_the_corrections_change_what_is_seen(ledger: tuple[Ledger, list[datetime | None]]) -> None:
    """(So that the test above compares two different histories.)"""
    led, (before, now) = ledger
    q = Queries(led)
    facts = q.case_facts("C1", None)
    t = datetime.fromisoformat(at(5, 16))
    assert q.context(facts, before, all_staff=True).world.absence_at("s-a", t) is None
    assert q.context(facts, now, all_staff=True).world.absence_at("s-a", t) is not None
    t = datetime.fromisoformat(at(7, 10))
    assert q.context(facts, before, all_staff=True).world.stand_in_at("p1", t) is None
    assert q.context(facts, now, all_staff=True).world.stand_in_at("p1", t) is not None


def test_window_picks_the_absence_covering_an_instant_on_corrected_times() -> None:
    from projections.queries import HistoryRow as R

    rows = [
        R(1, "s1", "StaffRegistered", "2024-03-01T00:00:00+00:00", "2024-03-01", None, None),
        R(2, "x", "AbsenceStarted", "2024-03-04T01:00:00+00:00", "2024-03-05", None, None),
        R(3, "x-end", "AbsenceEnded", "2024-03-04T09:00:00+00:00", "2024-03-05", None, None),
        R(4, "y", "AbsenceStarted", "2024-03-06T01:00:00+00:00", "2024-03-07", None, None),
        # y really started before the instant asked about, and x is withdrawn
        R(5, "fix-y", "Corrected", "2024-03-04T05:00:00+00:00", "2024-03-09", "y", None),
        R(6, "no-x", "Retracted", None, "2024-03-09", "x", None),
    ]
    point = "2024-03-04T06:00:00+00:00"
    # before the fixes, x covers (its later retraction comes along; ``effective`` ignores it as of then)
    assert window("staff", rows, [point], "2024-03-08") == {1, 2, 3, 6}
    # after: y (with its fix) covers, ended by the end recorded at 09:00
    assert window("staff", rows, [point], "2024-03-10") == {1, 3, 4, 5}


# --- the rows that decide a corrected stream ------------------------------------------------

_TIMES = [f"2024-03-{d:02d}T{h:02d}:00:00+00:00" for d in range(1, 8) for h in (0, 12)]  # few: ties happen
_KINDS = {"staff": ("StaffRegistered", "AbsenceStarted", "AbsenceEnded"),
          "post": ("PostDefined", "RolesAssigned", "StandInDesignated")}


class _Cursor:
    """A bare sqlite3 cursor as ``Tx`` takes the library's."""

    def __init__(self, conn: Any):
        self.sqlite_cursor = conn.cursor()

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self.sqlite_cursor.execute(sql, params)

    def fetchall(self) -> list[Any]:
        return self.sqlite_cursor.fetchall()


def _deciding(rows_by_stream: dict[str, list[Any]], points: list[str], known: str) -> dict[str, list[Any]]:
    """``Queries._deciding_rows`` of the first stream, over a history table holding these rows."""
    import sqlite3

    from ledger.store import Tx
    from projections.readmodels import History

    conn = sqlite3.connect(":memory:")
    for statement in History().schema("sqlite"):
        conn.execute(statement)
    conn.executemany("INSERT INTO rm_history VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [(stream, *r) for stream, rows in rows_by_stream.items() for r in rows])
    return Queries._deciding_rows(Tx(_Cursor(conn), "sqlite"), [next(iter(rows_by_stream))], points, known)


@st.composite
def _histories(draw: Any) -> tuple[str, list[Any], list[str], str]:
    """A stream's history rows in log order: events at times on a coarse grid, then corrections
    and retractions of any of them (or of each other) recorded later, in batches."""
    from projections.queries import HistoryRow as R

    kind = draw(st.sampled_from(sorted(_KINDS)))
    registered, *types = _KINDS[kind]
    time = st.sampled_from(_TIMES)
    rows: list[R] = [R(1, "e1", registered, _TIMES[0], _TIMES[0], None, None)]
    batch = 0
    for seq in range(2, draw(st.integers(2, 16)) + 2):
        batch += draw(st.integers(0, 1))
        recorded = _TIMES[min(batch, len(_TIMES) - 1)]
        if seq > 3 and draw(st.integers(0, 3)) == 0:  # a correction or retraction of an earlier row
            target = draw(st.sampled_from([r.event_id for r in rows]))
            if draw(st.booleans()):
                rows.append(R(seq, f"e{seq}", "Corrected", draw(time), recorded, target,
                              draw(st.none() | time) if kind == "post" else None))
            else:
                rows.append(R(seq, f"e{seq}", "Retracted", None, recorded, target, None))
        else:
            type_name = draw(st.sampled_from(types))
            until = draw(st.none() | time) if type_name == "StandInDesignated" else None
            rows.append(R(seq, f"e{seq}", type_name, draw(time), recorded, None, until))
    points = sorted(set(draw(st.lists(time, min_size=1, max_size=3))))
    known = draw(st.sampled_from([*_TIMES[:8], "9999"]))
    return kind, rows, points, known


@settings(max_examples=300, deadline=None)
@given(history=_histories())
def test_the_deciding_rows_of_a_corrected_stream_decide_it_as_its_whole_history(
        history: tuple[str, list[Any], list[str], str]) -> None:
    """``window`` on the few rows read for a stream with corrections picks what it picks on all of them."""
    from projections.queries import HistoryRow as R

    kind, rows, points, known = history
    stream = f"{kind}:x"
    # (another stream's rows must not leak in)
    other = [R(99, "y1", "AbsenceStarted", _TIMES[3], _TIMES[0], None, None)]
    deciding = _deciding({stream: rows, "staff:y": other}, points, known)
    assert set(deciding) <= {stream}
    assert window(kind, deciding.get(stream, []), points, known) == window(kind, rows, points, known)


def test_the_deciding_rows_keep_an_event_tied_with_a_corrected_time() -> None:
    """A designation moved by its correction to the time of another, lapsed one: ``window`` picks
    both (every designation at the latest time), so both must be read."""
    from projections.queries import HistoryRow as R

    t = _TIMES
    rows = [R(1, "p", "PostDefined", t[0], t[0], None, None),
            R(2, "d1", "StandInDesignated", t[3], t[0], None, t[4]),  # lapsed by the instant asked about
            R(3, "d2", "StandInDesignated", t[1], t[0], None, None),
            R(4, "fix", "Corrected", t[3], t[1], "d2", None)]  # d2 really began with d1
    deciding = _deciding({"post:x": rows}, [t[5]], "9999")
    assert window("post", rows, [t[5]], "9999") == {1, 2, 3, 4}
    assert window("post", deciding["post:x"], [t[5]], "9999") == {1, 2, 3, 4}


def test_the_deciding_rows_keep_a_lapsed_designation_tied_with_a_touched_one() -> None:
    """Found by the property test above: a designation later retracted, asked about as known
    before its retraction, keeps its own time; a lapsed designation made at that same time
    ties with it, so ``window`` picks it, and it must be read although no untouched
    designation in force then leads to it."""
    from projections.queries import HistoryRow as R

    t = _TIMES
    rows = [R(1, "p", "PostDefined", t[0], t[0], None, None),
            R(2, "d1", "StandInDesignated", t[1], t[0], None, None),  # in force at t[1]...
            R(3, "d2", "StandInDesignated", t[1], t[0], None, t[0]),  # made then, lapsed before
            R(4, "x", "Retracted", None, t[1], "d1", None)]  # ...until this, recorded at t[1]
    known = t[0]
    deciding = _deciding({"post:x": rows}, [t[1]], known)
    assert window("post", rows, [t[1]], known) == {1, 2, 3, 4}
    assert window("post", deciding["post:x"], [t[1]], known) == {1, 2, 3, 4}


def test_a_corrected_stream_is_read_around_the_instant_not_whole() -> None:
    """One old correction in a person's history: a question reads the same few rows of it
    however many absences follow (the cost of a question does not grow with the ledger)."""
    from datetime import date

    from projections.queries import HistoryRow as R

    def day(n: int, hour: int) -> str:
        return f"{date(2022, 1, 1) + timedelta(days=n)}T{hour:02d}:00:00+00:00"

    def read(absences: int) -> int:
        rows = [R(1, "reg", "StaffRegistered", day(0, 0), day(0, 0), None, None)]
        for i in range(absences):
            rows += [R(2 * i + 2, f"s{i}", "AbsenceStarted", day(2 * i + 1, 1), day(2 * i + 1, 1), None, None),
                     R(2 * i + 3, f"e{i}", "AbsenceEnded", day(2 * i + 1, 9), day(2 * i + 1, 9), None, None)]
        rows.append(R(10_000, "fix", "Corrected", day(1, 2), day(2 * absences, 0), "s0", None))
        deciding = _deciding({"staff:x": rows}, [day(21, 5)], "9999")
        assert window("staff", deciding["staff:x"], [day(21, 5)], "9999") == window("staff", rows, [day(21, 5)],
                                                                                     "9999")
        return len(deciding["staff:x"])

    assert read(40) == read(400) <= 8


def test_a_designation_by_someone_else_after_a_leaders_is_read_past(store_url: str) -> None:
    """The window of a post holds the latest designation in force at each instant; when that one
    was not made by a leader it is no designation, and the leader's earlier one decides: the
    question reads the post whole there and answers as from its whole history."""
    from projections.findings import findings
    from projections.responsibility import who
    from tests.ledger_helpers import BASE, inquiry, jsonl

    clock = FakeClock(datetime(2024, 12, 10, 9, 0, tzinfo=UTC))
    ledger = Ledger(store_url, clock=clock, projectors=default_projectors(None))
    colleague = {"type": "StaffRegistered", "id": "st-d", "occurred_at": "2024-03-01T08:00:00+08:00",
                 "staff": "s-d", "name": "钱七", "rank": 2, "unit": "repair"}
    ledger.append_lines(jsonl(*BASE, colleague, inquiry("C1", policy="suqian-finance", kind="petition"),
        {"type": "AbsenceStarted", "id": "ab-a", "occurred_at": "2024-03-05T09:00:00+08:00", "staff": "s-a",
         "reason": "trip", "handover_to": "s-b", "notified": ["s-b", "s-sup"]},
        {"type": "AbsenceStarted", "id": "ab-b", "occurred_at": "2024-03-05T10:00:00+08:00", "staff": "s-b",
         "reason": "sick"},
        {"type": "StandInDesignated", "id": "si-leader", "occurred_at": "2024-03-05T11:00:00+08:00",
         "post": "water", "stand_in": "s-c", "by": "s-sup", "until": "2024-03-08T18:00:00+08:00"},
        {"type": "StandInDesignated", "id": "si-colleague", "occurred_at": "2024-03-06T09:00:00+08:00",
         "post": "water", "stand_in": "s-d", "by": "s-c", "until": "2024-03-08T18:00:00+08:00"}))
    q = Queries(ledger)
    answer = q.who("C1", datetime(2024, 3, 6, 4, tzinfo=UTC))
    assert (answer["primary"]["staff"], answer["primary"]["basis"]) == ("s-c", "stand_in")
    assert "si-leader" in answer["evidence"] and "si-colleague" not in answer["evidence"]
    facts = q.case_facts("C1", None)
    for t in (datetime(2024, 3, 5, 4, tzinfo=UTC), datetime(2024, 3, 6, 4, tzinfo=UTC),
              datetime(2024, 3, 9, 4, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)):
        whole = q.context(facts, None, all_staff=True)
        windowed = q.context(facts, None, instants=q._instants(facts, t, None))
        assert (who(facts, windowed.world, t, windowed.catalogue, q.tz).to_json()
                == who(facts, whole.world, t, whole.catalogue, q.tz).to_json()), t
        assert (findings(facts, windowed.world, t, windowed.catalogue, windowed.calendar, q.tz)
                == findings(facts, whole.world, t, whole.catalogue, whole.calendar, q.tz)), t
    ledger.close()


def test_an_extension_is_judged_with_every_unit_read_whatever_the_window(store_url: str) -> None:
    """Who may approve an extension is a leader of any unit as it stood then (World.leads): a
    question about one case reads every unit for it, and answers as the question over all cases."""
    from tests.ledger_helpers import BASE, jsonl

    clock = FakeClock(datetime(2024, 12, 10, 9, 0, tzinfo=UTC))
    ledger = Ledger(store_url, clock=clock, projectors=default_projectors(None))
    # s-os supervises the other unit, though registered in repair: only reading every unit shows it.
    other = [{"type": "StaffRegistered", "id": "st-os", "occurred_at": "2024-03-01T08:00:00+08:00", "staff": "s-os",
              "name": "孙处长", "rank": 5, "unit": "repair"},
             {"type": "UnitDefined", "id": "u-other", "occurred_at": "2024-03-01T08:00:00+08:00", "unit": "other",
              "head": "s-head", "supervisor": "s-os", "name": "综合科"}]

    def case(c: str, approver: str) -> list[dict[str, Any]]:
        return [{"type": "InquiryReceived", "id": f"in-{c}", "occurred_at": "2024-03-04T09:00:00+08:00", "case": c,
                 "policy": "sdut-logistics", "received_by": ["s-a"], "channel": "visit", "matter": "报修",
                 "kind": "leader_approval", "post": "water"},
                {"type": "DeadlineExtended", "id": f"ext-{c}", "occurred_at": "2024-03-08T09:00:00+08:00", "case": c,
                 "new_due": "2024-03-15T17:30:00+08:00", "approved_by": approver,
                 "notified_at": "2024-03-08T10:00:00+08:00"},
                {"type": "Replied", "id": f"rp-{c}", "occurred_at": "2024-03-14T10:00:00+08:00", "case": c,
                 "by": "s-a", "outcome": "resolved"}]

    # A away over the old due (handed over to B): the breach of the due the handler's own extension
    # left standing is B's, which only a world read around that due shows.
    away = [{"type": "AbsenceStarted", "id": "ab-a", "occurred_at": "2024-03-11T08:00:00+08:00", "staff": "s-a",
             "reason": "trip", "handover_to": "s-b", "notified": ["s-b"]},
            {"type": "AbsenceEnded", "id": "ae-a", "occurred_at": "2024-03-12T18:00:00+08:00", "staff": "s-a"}]
    ledger.append_lines(jsonl(*BASE, *other, *case("C1", "s-a"), *case("C2", "s-os"), *away))
    q = Queries(ledger)
    t = datetime(2024, 3, 20, tzinfo=UTC)
    by_case = {c: q.findings(c, t) for c in ("C1", "C2")}
    assert [(f["rule"], f["liable"]) for f in by_case["C1"]] == [("invalid_extension", "s-b")]  # the handler approved it
    assert by_case["C2"] == []  # the supervisor of another unit did: a leader
    every = q.findings(None, t)
    assert [f for f in every if f["case"] == "C1"] == by_case["C1"] and not [f for f in every if f["case"] == "C2"]
    ledger.close()
