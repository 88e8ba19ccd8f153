"""Two times: "as known at K" equals a replay of only what was recorded by K, and a past
answer never changes when later events are appended. Also: read models equal a full replay.

The demo register is cut into batches at random places and appended batch by batch with
the ledger's clock moving on; for each K between batches, the answers of the full ledger
as known at K must equal those of a fresh ledger holding only the batches recorded by K.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from projections.queries import Queries
from projections.readmodels import default_projectors
from tests.conftest import FakeClock

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REGISTER = (EXAMPLES / "demo-register-2024.jsonl").read_text(encoding="utf-8").splitlines()
CORRECTIONS = (EXAMPLES / "demo-corrections-2024.jsonl").read_text(encoding="utf-8").splitlines()
SECTION_PACK = json.loads((EXAMPLES / "zhangye-sections.json").read_text(encoding="utf-8"))
REFERENCE = 47  # units, staff and posts: a unit names staff registered after it, so they go together
LINES = REGISTER + CORRECTIONS
ASK_AT = [datetime(2024, m, 1, tzinfo=UTC) for m in (5, 8, 12)]
WHO_AT = [("SHZ-2024-0001", datetime(2024, 4, 19, 9, tzinfo=UTC)), ("SHZ-2024-0001", ASK_AT[2]),
          ("SQ-2024-0012", datetime(2024, 8, 14, 9, tzinfo=UTC)), ("SQ-2024-0012", ASK_AT[2])]


def _ledger(path: Path | str, clock: FakeClock) -> Ledger:
    url = path if isinstance(path, str) else f"sqlite:///{path}"
    ledger = Ledger(url, clock=clock, projectors=default_projectors(None))
    pack = {"type": "PolicyAdded", "id": "zy-sections", "occurred_at": "2024-01-01T00:00:00+08:00",
            "policy": "zhangye-2021", "pack": SECTION_PACK}
    ledger.append_lines([json.dumps(pack, ensure_ascii=False)])
    return ledger


def _answers(ledger: Ledger, known_at: datetime | None) -> dict[str, Any]:
    q = Queries(ledger)
    return {
        "findings": [q.findings(None, at, known_at) for at in ASK_AT],
        "overdue": [q.overdue(at, known_at) for at in ASK_AT],
        "caseload": [q.caseload(at, known_at) for at in ASK_AT],
        "who": [q.who(case, at, known_at) for case, at in WHO_AT if _known(q, case, known_at)],
    }


def _known(q: Queries, case: str, known_at: datetime | None) -> bool:
    return case in q.cases_known(known_at)


def _strip_known_at(answers: dict[str, Any]) -> dict[str, Any]:
    for who in answers["who"]:
        who.pop("known_at", None)
    return answers


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=REFERENCE + 1, max_value=len(LINES) - 1), min_size=1, max_size=3,
                     unique=True))
def test_known_at_equals_a_replay_of_what_was_recorded_by_then(tmp_path_factory: Any, cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(LINES)]
    batches = [LINES[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    work = tmp_path_factory.mktemp("bt")
    clock = FakeClock(datetime(2024, 12, 10, 9, 0, tzinfo=UTC))
    full = _ledger(work / "full.db", clock)
    knowns: list[datetime] = []
    for batch in batches:
        clock.tick(hours=1)
        full.append_lines(batch)
        knowns.append(clock.now)
    before_more = {k: _strip_known_at(_answers(full, k)) for k in knowns[:-1]}
    # later events do not change a past K's answer
    clock.tick(hours=1)
    full.append_lines([json.dumps({"type": "Reminded", "occurred_at": "2024-11-28T09:00:00+08:00",
                                   "case": "SQ-2024-0013", "by": "sq-zhuwei"})])
    for i, known_at in enumerate(knowns[:-1]):
        answers = _strip_known_at(_answers(full, known_at))
        assert answers == before_more[known_at]
        replay_clock = FakeClock(datetime(2024, 12, 10, 9, 0, tzinfo=UTC))
        replay = _ledger(work / f"replay{i}.db", replay_clock)
        for batch in batches[: i + 1]:
            replay_clock.tick(hours=1)
            replay.append_lines(batch)
        assert _strip_known_at(_answers(replay, None)) == answers
        replay.close()
    full.close()


def _read_models(ledger: Ledger) -> dict[str, list[tuple[object, ...]]]:
    with ledger.store.read() as tx:
        return {table: tx.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
                for table, key in (("rm_case_index", "case_id"), ("rm_history", "seq"),
                                   ("rm_members", "staff, stream"))}


def test_rebuilt_read_models_give_the_same_answers(store_url: str) -> None:
    clock = FakeClock(datetime(2024, 12, 10, 9, 0, tzinfo=UTC))
    ledger = _ledger(store_url, clock)
    ledger.append_lines(REGISTER)
    clock.tick(days=1)
    ledger.append_lines(CORRECTIONS)
    before = _answers(ledger, None), _answers(ledger, clock.now - timedelta(hours=12))
    tables_before = _read_models(ledger)
    assert ledger.rebuild() == len(REGISTER) + len(CORRECTIONS) + 1
    assert _read_models(ledger) == tables_before  # every table, row for row
    assert (_answers(ledger, None), _answers(ledger, clock.now - timedelta(hours=12))) == before


def test_a_crash_between_storing_and_projecting_heals_on_open(store_url: str) -> None:
    """Events in the log beyond the read model's tracking position are projected on open."""
    clock = FakeClock(datetime(2024, 12, 10, 9, 0, tzinfo=UTC))
    ledger = _ledger(store_url, clock)
    ledger.append_lines(REGISTER)
    with ledger.store.write() as tx:  # simulate a projection that never ran for the last cases
        tx.execute("DELETE FROM rm_case_index WHERE received_seq > 200")
        tx.execute(f"UPDATE {ledger.store.tracking_table} SET notification_id = 200")
    ledger.close()
    reopened = Ledger(store_url, clock=clock, projectors=default_projectors(None))
    assert len(Queries(reopened).cases_known(None)) == 68
    reopened.close()


def test_reading_only_the_window_of_each_history_gives_the_same_answers(store_url: str) -> None:
    """A case question reads each person's history only around the case: same answers as reading it all."""
    from projections.findings import findings
    from projections.responsibility import who

    clock = FakeClock(datetime(2024, 12, 10, 9, 0, tzinfo=UTC))
    ledger = _ledger(store_url, clock)
    ledger.append_lines(REGISTER)
    known_before_fixes = clock.now
    clock.tick(days=1)
    ledger.append_lines(CORRECTIONS)
    q = Queries(ledger)
    for known_at in (None, known_before_fixes):
        for case, facts in q.all_case_facts(known_at).items():  # (a retracted case has no facts)
            for at in (facts[0].occurred_at + timedelta(days=d) for d in (0, 3, 9, 40)):
                whole = q.context(facts, known_at, all_staff=True)
                window = q.context(facts, known_at, instants=q._instants(facts, at, known_at))
                assert (findings(facts, window.world, at, window.catalogue, window.calendar, q.tz)
                        == findings(facts, whole.world, at, whole.catalogue, whole.calendar, q.tz)), (case, at)
                assert (who(facts, window.world, at, window.catalogue, q.tz).to_json()
                        == who(facts, whole.world, at, whole.catalogue, q.tz).to_json()), (case, at)


def test_overdue_and_caseload_from_the_open_case_index_equal_judging_every_case(store_url: str) -> None:
    """`overdue`/`caseload` judge only the cases the timeline says may be open: same answers as judging all."""
    from projections.status import case_status, caseload, overdue

    clock = FakeClock(datetime(2024, 12, 10, 9, 0, tzinfo=UTC))
    ledger = _ledger(store_url, clock)
    ledger.append_lines(REGISTER)
    known_before_fixes = clock.now
    clock.tick(days=1)
    ledger.append_lines(CORRECTIONS)
    q = Queries(ledger)
    for known_at in (None, known_before_fixes):
        everything = q.all_case_facts(known_at)
        ctx = q.context([], known_at, all_staff=True)
        for at in [datetime(2024, m, d, 10, tzinfo=UTC) for m in range(3, 13) for d in (1, 15)]:
            every = [case_status(f, ctx.world, at, ctx.catalogue, ctx.calendar, q.tz) for f in everything.values()]
            assert q.overdue(at, known_at) == overdue(every), at
            assert q.caseload(at, known_at) == caseload(every), at


def test_a_receipt_retracted_and_recorded_again_is_indexed_the_same_by_a_rebuild(store_url: str) -> None:
    """The case index keeps the case's first receipt (and judges it in full) however the records are
    projected: line by line as they are appended, or all in one pass by a rebuild."""
    from tests.ledger_helpers import BASE, inquiry, jsonl

    clock = FakeClock(datetime(2024, 12, 10, 9, 0, tzinfo=UTC))
    ledger = Ledger(store_url, clock=clock, projectors=default_projectors(None))
    ledger.append_lines(jsonl(*BASE, inquiry("C1", at="2024-04-15T10:00:00+08:00")))
    known = clock.now
    clock.tick(hours=1)
    ledger.append_lines(jsonl(
        {"type": "Retracted", "id": "x1", "occurred_at": "2024-12-01T09:00:00+08:00", "target": "in-C1",
         "reason": "recorded twice"},
        inquiry("C1", id="in-C1-again", at="2024-04-15T10:30:00+08:00", channel="phone")))
    at = datetime(2024, 4, 22, 4, tzinfo=UTC)

    def answers() -> tuple[Any, ...]:
        q = Queries(ledger)
        return (q.overdue(at, known), q.caseload(at, known), q.findings(None, at, known),
                q.overdue(at, None), q.cases_known(known))

    before, tables = answers(), _read_models(ledger)
    assert [row["case"] for row in before[0]] == ["C1"]
    ledger.rebuild()
    assert _read_models(ledger) == tables
    assert answers() == before
    ledger.close()


def _record(seq: int, content: dict[str, Any], recorded: str) -> Any:
    from ledger.records import Record

    return Record(seq, "case:C1", seq, f"e{seq}", datetime.fromisoformat(recorded), "clerk", content, "", "")


def test_withdrawn_lists_what_retractions_took_out_as_known_at_k() -> None:
    from ledger.records import effective_content, withdrawn

    reply = {"type": "Replied", "occurred_at": "2024-03-07T10:00:00+08:00", "case": "C1", "by": "s-a",
             "outcome": "resolved"}
    records = [
        _record(1, {"type": "InquiryReceived", "occurred_at": "2024-03-04T09:00:00+08:00", "case": "C1"},
                "2024-03-04T09:05:00+08:00"),
        _record(2, reply, "2024-03-07T10:05:00+08:00"),
        _record(3, {"type": "Corrected", "occurred_at": "2024-03-08T09:00:00+08:00", "target": "e2",
                    "replacement": {**reply, "occurred_at": "2024-03-07T11:00:00+08:00"}, "reason": "时间有误"},
                "2024-03-08T09:05:00+08:00"),
        _record(4, {"type": "Retracted", "occurred_at": "2024-03-09T09:00:00+08:00", "target": "e2",
                    "reason": "答复未送达"}, "2024-03-09T09:05:00+08:00"),
        # retracting what no longer stands (again, or a correction) takes nothing out
        _record(5, {"type": "Retracted", "occurred_at": "2024-03-10T09:00:00+08:00", "target": "e2",
                    "reason": "重复"}, "2024-03-10T09:05:00+08:00"),
        _record(6, {"type": "Retracted", "occurred_at": "2024-03-10T09:00:00+08:00", "target": "e3",
                    "reason": "重复"}, "2024-03-10T09:06:00+08:00"),
    ]
    [gone] = withdrawn(records)
    assert gone.to_json() == {"event": "e2", "type": "Replied", "occurred_at": "2024-03-07T11:00:00+08:00",
                              "retracted_by": "e4", "reason": "答复未送达",
                              "recorded_at": "2024-03-09T09:05:00+08:00"}
    assert withdrawn(records, datetime.fromisoformat("2024-03-09T09:00:00+08:00")) == []
    # exactly what the facts leave out
    standing = {s.record.event_id for s in effective_content(records)}
    assert standing == {"e1"} and {"e1", "e2"} - standing == {gone.event_id}
