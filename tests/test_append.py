"""Appending: shape and meaning checks, all-or-none, idempotency, both times, corrections.

Every test here runs on SQLite and on PostgreSQL (the ``store_url`` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ledger.interchange import InvalidInput
from tests.ledger_helpers import BASE, T0, inquiry, jsonl


def count(ledger: Any) -> int:
    return sum(1 for _ in ledger.log())


def errors_of(ledger: Any, *events: dict[str, Any]) -> list[str]:
    before = count(ledger)
    with pytest.raises(InvalidInput) as info:
        ledger.append_lines(jsonl(*events))
    assert count(ledger) == before, "nothing may be written when a line is bad"
    return [str(e) for e in info.value.errors]


@pytest.fixture
def ledger(open_ledger: Any) -> Any:
    led = open_ledger()
    led.append_lines(jsonl(*BASE), actor="办公室-王敏")
    return led


def test_base_register_appends_with_both_times_and_recorder(ledger: Any, clock: Any) -> None:
    records = list(ledger.log())
    assert [r.seq for r in records] == list(range(1, len(BASE) + 1))
    assert all(r.recorded_at == clock.now for r in records)
    assert all(r.recorded_by == "办公室-王敏" for r in records)
    assert records[0].content["occurred_at"] == "2024-03-01T08:00:00+08:00"


def test_appending_the_same_file_twice_changes_nothing(ledger: Any) -> None:
    result = ledger.append_lines(jsonl(*BASE))
    assert (result.appended, result.skipped) == (0, len(BASE))
    assert count(ledger) == len(BASE)


def test_same_id_with_different_content_is_an_error(ledger: Any) -> None:
    changed = {**BASE[3], "rank": 3}
    assert errors_of(ledger, changed) == [
        "line 1: id: 'st-a' is already in the ledger with different content"
    ]


def test_same_id_twice_in_one_file_differently_is_an_error(ledger: Any) -> None:
    a = {"type": "StaffRegistered", "id": "x1", "occurred_at": "2024-03-02T08:00:00+08:00",
         "staff": "s-x", "name": "甲", "rank": 1, "unit": "repair"}
    errs = errors_of(ledger, a, {**a, "name": "乙"})
    assert errs == ["line 2: id: 'x1' is already in line 1 of this file with different content"]


def test_a_time_without_offset_is_read_in_the_store_timezone(ledger: Any) -> None:
    ledger.append_lines(jsonl({**inquiry(), "occurred_at": "2024-03-04T09:00:00"}))
    rec = ledger.records(["case:C1"])[0]
    assert rec.content["occurred_at"] == "2024-03-04T09:00:00+08:00"


def test_a_date_alone_is_refused(ledger: Any) -> None:
    errs = errors_of(ledger, {**inquiry(), "occurred_at": "2024-03-04"})
    assert errs == ["line 1: occurred_at: '2024-03-04' is a date alone, not an instant: give a time too, "
                    "e.g. 2024-03-04T09:00:00+08:00"]


def test_recorded_at_in_input_is_refused(ledger: Any) -> None:
    errs = errors_of(ledger, {**inquiry(), "recorded_at": "2024-03-04T09:00:00+08:00"})
    assert errs == ["line 1: recorded_at: recorded_at is set by the ledger when it stores the event; "
                    "remove it from the input"]


def test_every_error_of_the_file_is_reported_at_once(ledger: Any) -> None:
    lines = jsonl(
        inquiry("C1"),
        {"type": "Replied", "occurred_at": "2024-03-05T09:00:00+08:00", "case": "C1", "by": "s-a"},
        {"type": "StaffRegistered", "occurred_at": "2024-03-05T09:00:00+08:00", "staff": "s-y",
         "name": "丙", "rank": "senior", "unit": "repair"},
        {"occurred_at": "2024-03-05T09:00:00+08:00"},
        {"type": "Teleported", "occurred_at": "2024-03-05T09:00:00+08:00"},
    ) + ["{not json"]
    with pytest.raises(InvalidInput) as info:
        ledger.append_lines(lines)
    got = [str(e) for e in info.value.errors]
    assert got == [
        "line 2: outcome: required field is missing",
        "line 3: rank: expected a whole number (a JSON integer), got the string 'senior'",
        "line 4: type: missing: every line needs a 'type'",
        "line 5: type: unknown event type 'Teleported'; expected one of UnitDefined, StaffRegistered, "
        "PostDefined, RolesAssigned, AbsenceStarted, AbsenceEnded, StandInDesignated, InquiryReceived, "
        "HandedOff, HandoffAccepted, MaterialsRequested, MaterialsReceived, ClockSuspended, ClockResumed, "
        "DeadlineExtended, Replied, Reminded, Corrected, Retracted, PolicyAdded, CalendarYearAdded",
        "line 6: not valid JSON: Expecting property name enclosed in double quotes at column 2",
    ]
    assert count(ledger) == len(BASE)


def test_what_python_reads_and_json_does_not_is_named(ledger: Any) -> None:
    """A lone surrogate (half of a UTF-16 pair) at its field, NaN by name, an unterminated string
    at its column (``starting at column``, not ``starting at at column``)."""
    lines = ['{"type": "StaffRegistered", "occurred_at": "2024-03-05T09:00:00+08:00", "staff": "s-\\ud800", '
             '"name": "x", "unit": "repair"}',
             '{"type": "StaffRegistered", "rank": NaN}', '{"type": "StaffRegistered", "name": "abc']
    with pytest.raises(InvalidInput) as info:
        ledger.append_lines(lines)
    assert [str(e) for e in info.value.errors] == [
        "line 1: staff: holds a lone surrogate (\\ud800), half of a UTF-16 pair, which is no character: "
        "write the character itself",
        "line 2: not valid JSON: NaN is not a JSON number",
        "line 3: not valid JSON: Unterminated string starting at column 37"]
    assert count(ledger) == len(BASE)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (inquiry(received_by=["s-nobody"]),
         "line 1: received_by[0]: staff 's-nobody' is not known to the ledger: register them first (StaffRegistered)"),
        (inquiry(post="nopost"),
         "line 1: post: post 'nopost' is not known to the ledger: define it first (PostDefined)"),
        (inquiry(policy="nowhere-2020"),
         "line 1: policy: policy 'nowhere-2020' is not known to the ledger: see `ledger policy list`, "
         "or add the office's own pack with `ledger policy add FILE`"),
        ({"type": "HandedOff", "occurred_at": "2024-03-05T09:00:00+08:00", "case": "C404", "from": "s-a", "to": "s-b"},
         "line 1: case: case 'C404' is not known to the ledger: no InquiryReceived opened it"),
        ({"type": "StaffRegistered", "occurred_at": "2024-03-05T09:00:00+08:00", "staff": "s-z", "name": "丁",
          "rank": 1, "unit": "nounit"},
         "line 1: unit: unit 'nounit' is not known to the ledger: define it first (UnitDefined)"),
        ({"type": "PostDefined", "occurred_at": "2024-03-05T09:00:00+08:00", "post": "p2", "unit": "repair",
          "a": "s-a", "b": "s-a"},
         "line 1: b: the B role must be someone other than the A role"),
        ({"type": "PostDefined", "occurred_at": "2024-03-05T09:00:00+08:00", "post": "water", "unit": "repair",
          "a": "s-a", "b": "s-c"},
         "line 1: post: post 'water' is already defined; use RolesAssigned to change its A and B"),
        ({"type": "AbsenceStarted", "occurred_at": "2024-03-05T09:00:00+08:00", "staff": "s-a", "reason": "trip",
          "handover_to": "s-a"},
         "line 1: handover_to: a handover goes to someone else"),
        ({"type": "AbsenceEnded", "occurred_at": "2024-03-05T09:00:00+08:00", "staff": "s-b"},
         "line 1: staff: 's-b' has no absence in progress at 2024-03-05T09:00:00+08:00"),
        ({"type": "Retracted", "occurred_at": "2024-03-05T09:00:00+08:00", "target": "nope", "reason": "x"},
         "line 1: target: event 'nope' is not known to the ledger: no event with this id is in the ledger"),
        ({"type": "StaffRegistered", "occurred_at": "2099-03-05T09:00:00+08:00", "staff": "s-f", "name": "未来",
          "rank": 1, "unit": "repair"},
         "line 1: occurred_at: 2099-03-05T09:00:00+08:00 is in the future (the ledger's clock reads "
         "2024-12-01T17:00:00+08:00)"),
        ({"type": "StaffRegistered", "occurred_at": "1970-03-05T09:00:00+08:00", "staff": "s-f", "name": "远古",
          "rank": 1, "unit": "repair"},
         "line 1: occurred_at: 1970-03-05T09:00:00+08:00 is outside the years 2000-2099 the ledger accepts"),
    ],
    ids=["unknown-staff", "unknown-post", "unknown-policy", "unknown-case", "unknown-unit", "same-a-b",
         "post-redefined", "handover-to-self", "end-without-start", "unknown-target", "future", "far-past"],
)
def test_meaning_errors_name_line_and_field(ledger: Any, event: dict[str, Any], message: str) -> None:
    assert errors_of(ledger, event) == [message]


def test_the_years_2000_to_2099_are_the_years_as_written(ledger: Any) -> None:
    """New Year's midnight 2000 in Shanghai is in 2000 (16:00 UTC the day before): the year a clerk
    wrote decides, with an offset (the fast reader) or without one (the checked reader, which
    reads it in the store's timezone)."""
    def staff(at: str, sid: str) -> dict[str, Any]:
        return {"type": "StaffRegistered", "occurred_at": at, "staff": sid, "name": "边界", "rank": 1,
                "unit": "repair"}
    assert ledger.append_lines(jsonl(staff("2000-01-01T00:00:00+08:00", "s-y2k"),
                                     staff("2000-01-01T00:00:00", "s-y2k-naive"))).appended == 2
    assert errors_of(ledger, staff("1999-12-31T23:59:59-05:00", "s-old")) == [
        "line 1: occurred_at: 1999-12-31T23:59:59-05:00 is outside the years 2000-2099 the ledger accepts"]
    assert errors_of(ledger, staff("1999-12-31T23:59:59", "s-old")) == [
        "line 1: occurred_at: 1999-12-31T23:59:59+08:00 is outside the years 2000-2099 the ledger accepts"]


def test_a_handoff_goes_to_someone_else(ledger: Any) -> None:
    errs = errors_of(ledger, inquiry(), {"type": "HandedOff", "occurred_at": "2024-03-04T10:00:00+08:00",
                                         "case": "C1", "from": "s-a", "to": "s-a"})
    assert errs == ["line 2: to: a handoff goes to someone else"]


def test_acceptance_needs_a_pending_handoff(ledger: Any) -> None:
    errs = errors_of(ledger, inquiry(), {"type": "HandoffAccepted", "occurred_at": "2024-03-04T10:00:00+08:00",
                                         "case": "C1", "by": "s-b"})
    assert errs == ["line 2: by: no handoff to 's-b' is pending on case 'C1'"]


def test_a_case_is_received_once(ledger: Any) -> None:
    ledger.append_lines(jsonl(inquiry()))
    errs = errors_of(ledger, {**inquiry(), "id": "again"})
    assert errs == ["line 1: case: case 'C1' was already received (event in-C1)"]


def test_case_events_after_the_reply_are_refused_unless_corrections(ledger: Any) -> None:
    reply = {"type": "Replied", "id": "rep-1", "occurred_at": "2024-03-05T16:00:00+08:00", "case": "C1",
             "by": "s-a", "outcome": "resolved"}
    ledger.append_lines(jsonl(inquiry(), reply))
    errs = errors_of(ledger, {"type": "Reminded", "occurred_at": "2024-03-06T09:00:00+08:00", "case": "C1",
                              "by": "s-a"})
    assert errs == ["line 1: case: case 'C1' was replied at 2024-03-05T16:00:00+08:00 (event rep-1); "
                    "a later case event must be a correction (Corrected/Retracted)"]
    fix = {"type": "Corrected", "occurred_at": "2024-12-01T09:00:00+08:00", "target": "rep-1",
           "reason": "登记时间有误", "replacement": {**reply, "occurred_at": "2024-03-05T17:00:00+08:00"}}
    del fix["replacement"]["id"]
    assert ledger.append_lines(jsonl(fix)).appended == 1


def test_absences_must_not_overlap_or_end_before_they_start(ledger: Any) -> None:
    start = {"type": "AbsenceStarted", "id": "ab1", "occurred_at": "2024-03-05T09:00:00+08:00", "staff": "s-a",
             "reason": "trip", "handover_to": "s-b"}
    end = {"type": "AbsenceEnded", "id": "ab2", "occurred_at": "2024-03-08T09:00:00+08:00", "staff": "s-a"}
    ledger.append_lines(jsonl(start, end))
    inside = {"type": "AbsenceStarted", "occurred_at": "2024-03-06T09:00:00+08:00", "staff": "s-a", "reason": "sick"}
    assert errors_of(ledger, inside) == [
        "line 1: occurred_at: overlaps another absence of 's-a' "
        "(2024-03-05T09:00:00+08:00 - 2024-03-08T09:00:00+08:00, event ab1)"
    ]
    later = {"type": "AbsenceStarted", "id": "ab3", "occurred_at": "2024-03-10T09:00:00+08:00", "staff": "s-a",
             "reason": "leave"}
    early_end = {"type": "AbsenceEnded", "occurred_at": "2024-03-09T09:00:00+08:00", "staff": "s-a"}
    assert errors_of(ledger, later, early_end) == [
        "line 2: occurred_at: an absence cannot end (2024-03-09T09:00:00+08:00) before it starts "
        "(2024-03-10T09:00:00+08:00, event ab3)"
    ]
    never_ends = {"type": "AbsenceStarted", "id": "ab4", "occurred_at": "2024-03-01T09:00:00+08:00",
                  "staff": "s-a", "reason": "leave"}
    assert errors_of(ledger, never_ends)[0].startswith(
        "line 1: occurred_at: the absence of 's-a' from 2024-03-01T09:00:00+08:00 never ends")


def test_a_correction_naming_someone_unknown_where_a_line_may_name_them_ahead_is_refused(ledger: Any) -> None:
    """A unit's head and supervisor, and a person's unit, may be registered later in the same file
    (they are checked once the whole file is read); a correction's replacement is held to the
    same: checked at the end of the file, not let through unchecked."""
    unit = {"unit": "repair", "head": "s-ghost", "supervisor": "s-sup", "name": "维修服务中心", "occurred_at": T0}
    fix_unit = {"type": "Corrected", "occurred_at": "2024-12-01T09:00:00+08:00", "target": "u-repair",
                "reason": "科长有误", "replacement": unit}
    assert errors_of(ledger, fix_unit) == [
        "line 1: replacement.head: staff 's-ghost' is not known to the ledger: register them first (StaffRegistered)"]
    person = {"staff": "s-a", "name": "张三", "rank": 2, "unit": "nowhere", "occurred_at": T0}
    fix_person = {"type": "Corrected", "occurred_at": "2024-12-01T09:00:00+08:00", "target": "st-a",
                  "reason": "科室有误", "replacement": person}
    assert errors_of(ledger, fix_person) == [
        "line 1: replacement.unit: unit 'nowhere' is not known to the ledger: define it first (UnitDefined)"]
    # Registered later in the same file: accepted, as a line naming them ahead would be.
    ghost = {"type": "StaffRegistered", "id": "st-ghost", "occurred_at": "2024-12-01T09:00:00+08:00",
             "staff": "s-ghost", "name": "新科长", "rank": 4, "unit": "repair"}
    assert ledger.append_lines(jsonl(fix_unit, ghost)).appended == 2


def test_a_replacement_that_leaves_out_its_type_is_checked_as_one_that_gives_it(ledger: Any) -> None:
    """A replacement may leave out its type (it is the corrected event's). The names it gives are
    read from the ledger all the same: on a ledger that holds them, nothing is reported unknown."""
    post = {"post": "water", "unit": "repair", "a": "s-c", "b": "s-b", "name": "水电维修岗", "occurred_at": T0}
    fix = {"type": "Corrected", "occurred_at": "2024-12-01T09:00:00+08:00", "target": "p-water",
           "reason": "A角有误", "replacement": post}
    assert ledger.append_lines(jsonl(fix)).appended == 1
    wrong = {**fix, "replacement": {**post, "b": "s-nobody"}}
    assert errors_of(ledger, wrong) == [
        "line 1: replacement.b: staff 's-nobody' is not known to the ledger: register them first (StaffRegistered)"]


def test_corrections_point_at_their_target_and_keep_type_and_stream(ledger: Any) -> None:
    ledger.append_lines(jsonl(inquiry(), inquiry("C2")))
    wrong_type = {"type": "Corrected", "occurred_at": "2024-12-01T09:00:00+08:00", "target": "in-C1",
                  "reason": "x", "replacement": {"type": "Replied", "occurred_at": "2024-03-04T09:00:00+08:00"}}
    assert errors_of(ledger, wrong_type) == [
        "line 1: replacement.type: must be InquiryReceived, the type of the corrected event"]
    moved = {**wrong_type, "replacement": {**inquiry("C2"), "type": "InquiryReceived"}}
    del moved["replacement"]["id"]
    assert errors_of(ledger, moved) == [
        "line 1: replacement.case: a correction cannot move the event to another case (it belongs to case:C1)"]
    retract = {"type": "Retracted", "id": "rt1", "occurred_at": "2024-12-01T09:00:00+08:00",
               "target": "in-C2", "reason": "重复登记"}
    ledger.append_lines(jsonl(retract))
    assert errors_of(ledger, {**retract, "id": "rt2"}) == ["line 1: target: 'in-C2' was already retracted"]
    assert errors_of(ledger, {**retract, "id": "rt3", "target": "rt1"}) == [
        "line 1: target: 'rt1' is itself a Retracted; correct the original event instead"]


def test_a_correction_cannot_move_an_event_into_the_future(ledger: Any, clock: Any) -> None:
    """A replacement's occurred-at is checked as a line's is: not after the ledger's clock."""
    ledger.append_lines(jsonl(inquiry()))
    replacement = {k: v for k, v in inquiry().items() if k != "id"}
    ahead = (clock.now + timedelta(days=2)).astimezone(ZoneInfo("Asia/Shanghai")).isoformat()
    fix = {"type": "Corrected", "occurred_at": "2024-12-01T09:00:00+08:00", "target": "in-C1", "reason": "x",
           "replacement": {**replacement, "occurred_at": ahead}}
    errors = errors_of(ledger, fix)
    assert len(errors) == 1 and errors[0].startswith("line 1: replacement.occurred_at: ")
    assert "is in the future" in errors[0]


def test_a_correction_must_leave_the_case_and_the_persons_history_in_order(ledger: Any) -> None:
    """A correction that would move a receipt after its reply, a case event before its receipt,
    or an absence's start after its return is refused naming the events; one that keeps the
    order is taken."""
    reply = {"type": "Replied", "id": "rp1", "occurred_at": "2024-03-06T10:00:00+08:00", "case": "C1",
             "by": "s-a", "outcome": "resolved"}
    away = {"type": "AbsenceStarted", "id": "ab1", "occurred_at": "2024-03-05T09:00:00+08:00", "staff": "s-b",
            "reason": "trip"}
    back = {"type": "AbsenceEnded", "id": "ab2", "occurred_at": "2024-03-06T09:00:00+08:00", "staff": "s-b"}
    ledger.append_lines(jsonl(*BASE, inquiry(), reply, away, back))

    def fix(target: dict[str, Any], **changes: Any) -> dict[str, Any]:
        replacement = {k: v for k, v in {**target, **changes}.items() if k != "id"}
        return {"type": "Corrected", "occurred_at": "2024-12-01T09:00:00+08:00", "target": target["id"],
                "reason": "登记有误", "replacement": replacement}

    late_receipt = errors_of(ledger, fix(inquiry(), occurred_at="2024-03-07T09:00:00+08:00"))
    assert late_receipt and all(e.startswith("line 1: replacement.occurred_at: ") for e in late_receipt)
    assert any("before its receipt" in e for e in late_receipt), late_receipt
    early_reply = errors_of(ledger, fix(reply, occurred_at="2024-03-04T08:00:00+08:00"))
    assert any("before its receipt (in-C1" in e for e in early_reply), early_reply
    start_after_end = errors_of(ledger, fix(away, occurred_at="2024-03-07T09:00:00+08:00"))
    assert any("would end no absence in progress" in e for e in start_after_end), start_after_end
    # In order: taken.
    assert ledger.append_lines(jsonl(fix(reply, occurred_at="2024-03-06T16:00:00+08:00"))).appended == 1
    assert ledger.append_lines(jsonl(fix(away, occurred_at="2024-03-05T08:00:00+08:00"))).appended == 1


def test_no_code_path_edits_a_stored_event(ledger: Any, clock: Any) -> None:
    """A correction adds an event; the original record is unchanged and still in the log."""
    ledger.append_lines(jsonl(inquiry()))
    before = {r.seq: r.state() for r in ledger.log()}
    clock.tick(days=1)
    fix = {"type": "Corrected", "occurred_at": "2024-12-02T09:00:00+08:00", "target": "in-C1",
           "reason": "事项登记有误", "replacement": {**inquiry(), "matter": "宿舍暖气不热"}}
    del fix["replacement"]["id"]
    ledger.append_lines(jsonl(fix))
    after = {r.seq: r.state() for r in ledger.log()}
    assert all(after[seq] == state for seq, state in before.items())
    assert len(after) == len(before) + 1


def test_recorder_from_line_wins_over_actor(ledger: Any) -> None:
    ledger.append_lines(jsonl({**inquiry(), "recorded_by": "前台-小刘"}), actor="办公室-王敏")
    assert ledger.records(["case:C1"])[0].recorded_by == "前台-小刘"


def test_recorded_at_comes_from_the_ledger_clock_and_never_runs_backwards(ledger: Any, clock: Any) -> None:
    clock.now = datetime(2024, 1, 1, tzinfo=UTC)  # a clock set back
    ledger.append_lines(jsonl({**inquiry(), "occurred_at": "2023-12-31T09:00:00+08:00"}))
    head = list(ledger.log())[-1]
    assert head.recorded_at == datetime(2024, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.postgres
def test_a_long_check_inside_the_transaction_is_not_cut_off() -> None:
    """Checking a large register happens inside its transaction; PostgreSQL must not end the
    session as idle (the library's default would after 5 s)."""
    from ledger.application import Ledger
    from tests.conftest import _drop_schema, postgres_url

    url = postgres_url()
    ledger = Ledger(url)
    try:
        with ledger.store.write() as tx:
            tx.execute("SHOW idle_in_transaction_session_timeout")
            row = tx.fetchone()
        assert row is not None and row[0] == "1h"
    finally:
        ledger.close()
        _drop_schema(url)


def test_the_timezone_belongs_to_the_store(store_url: str, clock: Any) -> None:
    """Set when the ledger is created; every clerk after reads naive times in it."""
    from ledger.application import Ledger
    from ledger.store import StoreError

    first = Ledger(store_url, tz="Asia/Urumqi", clock=clock)
    first.append_lines(jsonl(*BASE))
    first.close()
    again = Ledger(store_url, clock=clock)  # no zone given: the store's own
    assert str(again.tz) == "Asia/Urumqi"
    again.append_lines(jsonl({**inquiry(policy="shihezi-2021"), "occurred_at": "2024-03-04T09:00:00"}))
    assert again.records(["case:C1"])[0].content["occurred_at"] == "2024-03-04T09:00:00+06:00"
    again.close()
    with pytest.raises(StoreError, match="this ledger keeps its times in Asia/Urumqi"):
        Ledger(store_url, tz="Asia/Shanghai", clock=clock)


def test_the_cli_refuses_another_timezone_for_an_existing_store(store_url: str) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    runner = CliRunner()
    assert runner.invoke(cli, ["--store", store_url, "append", "-"], input="").exit_code == 0  # made: Asia/Shanghai
    result = runner.invoke(cli, ["--store", store_url, "--tz", "Europe/Berlin", "events"])
    assert result.exit_code == 1
    assert "this ledger keeps its times in Asia/Shanghai" in result.output
    assert runner.invoke(cli, ["--store", store_url, "--tz", "Nowhere/City", "events"]).exit_code == 2


def test_a_register_saved_with_a_byte_order_mark_and_crlf_appends(ledger: Any) -> None:
    data = ("\ufeff" + "\r\n".join(jsonl(inquiry("C8"), inquiry("C9"))) + "\r\n").encode("utf-8")
    result = ledger.append_lines(data.splitlines(keepends=True))
    assert result.appended == 2


OLD_IDS = ("CREATE TABLE ledger_ids (id TEXT PRIMARY KEY, seq BIGINT NOT NULL, stream TEXT NOT NULL,"
           " type TEXT NOT NULL, fingerprint TEXT NOT NULL, retracted INTEGER NOT NULL DEFAULT 0)")


def _make_old_id_index(store_url: str) -> None:
    """The id index as ledgers made before 0.2 have it (stream, type and fingerprint copied)."""
    if store_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(store_url[len("sqlite:///"):]) as conn:
            conn.execute(OLD_IDS)
        return
    import psycopg

    dsn, schema = store_url.split("?")[0], store_url.rsplit("schema=", 1)[1]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(OLD_IDS.replace("ledger_ids", f'"{schema}".ledger_ids'))


def test_a_ledger_with_the_old_id_index_still_appends_skips_and_corrects(store_url: str, open_ledger: Any) -> None:
    _make_old_id_index(store_url)
    ledger = open_ledger()
    assert ledger.ids_copy_events
    ledger.append_lines(jsonl(*BASE, inquiry("C1")))
    assert ledger.append_lines(jsonl(*BASE, inquiry("C1"))).skipped == len(BASE) + 1
    errs = errors_of(ledger, {**BASE[3], "rank": 3})
    assert errs == ["line 1: id: 'st-a' is already in the ledger with different content"]
    ledger.append_lines(jsonl({"type": "Retracted", "occurred_at": "2024-03-05T09:00:00+08:00",
                               "target": "in-C1", "reason": "重复登记"}))
    with ledger.store.read() as tx:
        row = tx.execute("SELECT stream, type, retracted FROM ledger_ids WHERE id = 'in-C1'").fetchone()
    assert row == ("case:C1", "InquiryReceived", 1)
    assert ledger.locate("in-C1") == "case:C1"


def test_a_new_ledger_keeps_only_id_and_position_in_its_id_index(open_ledger: Any) -> None:
    ledger = open_ledger()
    assert not ledger.ids_copy_events
    assert ledger.store.columns("ledger_ids") == ["id", "seq", "retracted"]


def test_a_retraction_or_a_receipt_again_must_leave_the_history_in_order(ledger: Any) -> None:
    """What a correction may not break, a retraction may not either; and a case received again
    after its receipt was retracted must not come after events the case already holds."""
    away = {"type": "AbsenceStarted", "id": "ab1", "occurred_at": "2024-03-05T09:00:00+08:00", "staff": "s-b",
            "reason": "trip"}
    back = {"type": "AbsenceEnded", "id": "ab2", "occurred_at": "2024-03-06T09:00:00+08:00", "staff": "s-b"}
    again = {"type": "AbsenceStarted", "id": "ab3", "occurred_at": "2024-03-08T09:00:00+08:00", "staff": "s-b",
             "reason": "leave"}
    handoff = {"type": "HandedOff", "id": "h1", "occurred_at": "2024-03-04T10:00:00+08:00", "case": "C1",
               "from": "s-a", "to": "s-c"}
    accepted = {"type": "HandoffAccepted", "id": "h2", "occurred_at": "2024-03-04T11:00:00+08:00", "case": "C1",
                "by": "s-c"}
    reply = {"type": "Replied", "id": "rp2", "occurred_at": "2024-03-05T10:00:00+08:00", "case": "C2",
             "by": "s-a", "outcome": "resolved"}
    ledger.append_lines(jsonl(*BASE, inquiry(), inquiry("C2"), away, back, again, handoff, accepted, reply))

    def retract(target: str) -> dict[str, Any]:
        return {"type": "Retracted", "occurred_at": "2024-12-01T09:00:00+08:00", "target": target, "reason": "登记有误"}

    assert errors_of(ledger, retract("ab1")) == [
        "line 1: target: the return ab2 (2024-03-06T09:00:00+08:00) would end no absence in progress; "
        "correct or retract that event too"]
    assert errors_of(ledger, retract("ab2")) == [
        "line 1: target: the absence ab3 (2024-03-08T09:00:00+08:00) would start while ab1 "
        "(2024-03-05T09:00:00+08:00) is still in progress; correct or retract that event too"]
    assert errors_of(ledger, retract("h1")) == [
        "line 1: target: the case's HandoffAccepted (h2, 2024-03-04T11:00:00+08:00) would accept no handoff "
        "pending to 's-c'; correct or retract that event first"]
    elsewhere = {"type": "Corrected", "occurred_at": "2024-12-01T09:00:00+08:00", "target": "h1", "reason": "x",
                 "replacement": {**{k: v for k, v in handoff.items() if k != "id"}, "to": "s-b"}}
    assert errors_of(ledger, elsewhere) == [
        "line 1: replacement.to: the case's HandoffAccepted (h2, 2024-03-04T11:00:00+08:00) would accept "
        "no handoff pending to 's-c'; correct the other event too, or in another order"]  # (the field it changes)
    # The receipt of C2 retracted, and C2 received again after its reply: refused at the receipt.
    assert ledger.append_lines(jsonl(retract("in-C2"))).appended == 1
    late = inquiry("C2", id="in-C2-again", at="2024-03-07T09:00:00+08:00")
    assert errors_of(ledger, late) == [
        "line 1: occurred_at: the case's InquiryReceived (in-C2-again, 2024-03-07T09:00:00+08:00) would come after "
        "its reply (rp2, 2024-03-05T10:00:00+08:00); correct or retract that event first",
        "line 1: occurred_at: the case's Replied (rp2, 2024-03-05T10:00:00+08:00) would come before its receipt "
        "(in-C2-again, 2024-03-07T09:00:00+08:00); correct or retract that event first"]
    assert ledger.append_lines(jsonl(inquiry("C2", id="in-C2-again", at="2024-03-04T09:30:00+08:00"))).appended == 1
    # A person's history as the whole file leaves it: an absence's start and return go in either order.
    assert ledger.append_lines(jsonl(retract("ab1"), retract("ab2"))).appended == 2
    # A case's, line by line (the acceptance, then the handoff): taken.
    assert ledger.append_lines(jsonl(retract("h2"), retract("h1"))).appended == 2


def test_a_definition_is_not_retracted_while_events_name_what_it_defines(ledger: Any) -> None:
    """Retracting a staff member's registration (a unit's, a post's definition) would leave the
    events naming them naming no one: refused, naming one of those events, until they are gone."""
    away = {"type": "AbsenceStarted", "id": "ab1", "occurred_at": "2024-03-05T09:00:00+08:00", "staff": "s-c",
            "reason": "trip"}
    ledger.append_lines(jsonl(*BASE, inquiry(), inquiry("C2", received_by=["s-c"], post=None), away))

    def retract(target: str) -> dict[str, Any]:
        return {"type": "Retracted", "occurred_at": "2024-12-01T09:00:00+08:00", "target": target, "reason": "登记有误"}

    assert errors_of(ledger, retract("st-a")) == [
        "line 1: target: staff 's-a' would no longer be known, but event p-water names them: retract or correct "
        "the events that name 's-a' first, or correct st-a instead"]
    assert errors_of(ledger, retract("p-water")) == [
        "line 1: target: post 'water' would no longer be known, but event in-C1 names them: retract or correct "
        "the events that name 'water' first, or correct p-water instead"]
    assert errors_of(ledger, retract("st-c")) == [  # their own absence first
        "line 1: target: staff 's-c' would no longer be known, but event ab1 names them: retract or correct "
        "the events that name 's-c' first, or correct st-c instead"]
    assert errors_of(ledger, retract("ab1"), retract("st-c")) == [
        "line 2: target: staff 's-c' would no longer be known, but event in-C2 names them: retract or correct "
        "the events that name 's-c' first, or correct st-c instead"]
    # Once nothing that stands names them, the registration may go.
    assert ledger.append_lines(jsonl(retract("ab1"), retract("in-C2"))).appended == 2
    assert ledger.append_lines(jsonl(retract("st-c"))).appended == 1


def test_an_offset_with_seconds_is_refused_not_cut(open_ledger: Any) -> None:
    """ISO 8601 offsets are ±hh:mm; one with seconds was read, then written back without them,
    moving the instant: refused, in occurred_at and in the other instants alike."""
    ledger = open_ledger()
    ledger.append_lines(jsonl(*BASE))
    assert errors_of(ledger, {**BASE[1], "id": "x", "staff": "s-x", "occurred_at": "2024-04-16T10:00:00+08:59:59"}) == [
        "line 1: occurred_at: '2024-04-16T10:00:00+08:59:59' has an offset with seconds: an ISO 8601 offset is "
        "±hh:mm, e.g. +08:00"]
    away = {"type": "AbsenceStarted", "occurred_at": "2024-04-16T10:00:00+08:00", "staff": "s-a", "reason": "trip",
            "expected_return": "2024-04-18T10:00:00+08:00:30"}
    assert [e.split(":", 2)[1].strip() for e in errors_of(ledger, away)] == ["expected_return"]
    assert ledger.append_lines(jsonl({**away, "expected_return": "2024-04-18T10:00:00+08:00"})).appended == 1


def test_a_wall_clock_time_the_stores_timezone_skips_or_repeats_is_refused(open_ledger: Any) -> None:
    """In a store kept in America/New_York, 02:30 on 10 March 2024 never happened and 01:30 on
    3 November happened twice: without an offset either would be a guess, so the line names both."""
    ledger = open_ledger(tz="America/New_York")
    ledger.append_lines(jsonl(*BASE))
    def staff(at: str) -> dict[str, Any]:
        return {"type": "StaffRegistered", "occurred_at": at, "staff": "s-dst", "name": "夏令", "rank": 1,
                "unit": "repair"}
    assert errors_of(ledger, staff("2024-03-10T02:30:00")) == [
        "line 1: occurred_at: 2024-03-10T02:30:00 does not exist in America/New_York (the clocks went forward past "
        "it): give the offset meant, 2024-03-10T02:30:00-05:00 or 2024-03-10T02:30:00-04:00"]
    assert errors_of(ledger, staff("2024-11-03T01:30:00")) == [
        "line 1: occurred_at: 2024-11-03T01:30:00 happens twice in America/New_York (the clocks went back): give "
        "the offset, 2024-11-03T01:30:00-04:00 or 2024-11-03T01:30:00-05:00"]
    ledger.append_lines(jsonl(staff("2024-11-03T01:30:00-05:00")))  # with its offset: taken as written
    assert ledger.append_lines(jsonl({**staff("2024-07-01T10:00:00"), "staff": "s-summer"})).appended == 1
