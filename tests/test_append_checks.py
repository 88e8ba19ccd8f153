"""Meaning checks of appended lines, driven through the command line (click's CliRunner):
--set given twice in `ledger correct`, absences overlapping within one file, a calendar year
that is built in, extensions (延期) and stand-ins (指派). Each refusal names the line and the
field, exits non-zero and writes nothing (the digest of the ledger is unchanged)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ledger.knowledge import IdInfo, Knowledge
from tests.ledger_helpers import inquiry, jsonl

RECEIPT = "2024-03-04T09:00:00+08:00"  # inquiry()'s default occurred_at
GENERATED = re.compile(r"ev-[0-9a-f]{6}")




def append(run: Any, *events: dict[str, Any]) -> Any:
    return run("append", "-", input="\n".join(jsonl(*events)) + "\n")


def refused(run: Any, args: tuple[str, ...], *, exit_code: int = 1, input: str | None = None) -> str:
    """Run a command that must be refused: its output, after checking that nothing was written."""
    if run("digest").exit_code != 0:  # no ledger yet: made empty (a question of it would be refused)
        assert run("append", "-", input="").exit_code == 0
    digest = run("digest").output
    result = run(*args, input=input)
    assert result.exit_code == exit_code, result.output
    assert run("digest").output == digest
    return str(result.output)


def refused_lines(run: Any, *events: dict[str, Any]) -> str:
    return refused(run, ("append", "-"), input="\n".join(jsonl(*events)) + "\n")


# --- 1. `ledger correct --set`: a field given twice ------------------------------------------


@pytest.fixture
def received(base: Any) -> Any:
    assert append(base, inquiry("C1", requester={"name": "李同学", "contact": "13900000000"})).exit_code == 0
    return base


def test_correct_refuses_a_field_set_twice_naming_it_and_writes_nothing(received: Any) -> None:
    out = refused(received, ("correct", "--target", "in-C1", "--reason", "x",
                             "--set", "occurred_at=2024-03-04T10:00:00+08:00",
                             "--set", "occurred_at=2024-03-04T11:00:00+08:00"), exit_code=2)
    assert "--set" in out and "occurred_at is given more than once" in out
    assert "occurred_at=2024-03-04T10:00:00+08:00" in out and "occurred_at=2024-03-04T11:00:00+08:00" in out
    # also when both give the same value: a field is set once
    out = refused(received, ("correct", "--target", "in-C1", "--reason", "x", "--set", "matter=甲",
                             "--set", "matter=甲"), exit_code=2)
    assert "matter is given more than once" in out


def test_correct_refuses_a_field_of_an_object_set_twice(received: Any) -> None:
    out = refused(received, ("correct", "--target", "in-C1", "--reason", "x", "--set", "requester.name=王同学",
                             "--set", "requester.name=赵同学"), exit_code=2)
    assert "requester.name is given more than once" in out


@pytest.mark.parametrize("order", ["whole first", "field first"])
def test_correct_refuses_an_object_set_whole_and_by_a_field(received: Any, order: str) -> None:
    sets = ['requester={"name": "王同学", "contact": "13900000000"}', "requester.name=赵同学"]
    if order == "field first":
        sets.reverse()
    out = refused(received, ("correct", "--target", "in-C1", "--reason", "x", "--set", sets[0], "--set", sets[1]),
                  exit_code=2)
    assert "requester is given both whole and by one of its fields" in out


def test_correct_takes_two_fields_of_one_object(received: Any) -> None:
    fixed = received("correct", "--target", "in-C1", "--reason", "登记有误", "--set", "requester.name=王同学",
                     "--set", "requester.contact=13800000000")
    assert fixed.exit_code == 0, fixed.output
    rows = json.loads(received("events", "--case", "C1", "--format", "json").output)
    assert rows[-1]["event"]["replacement"]["requester"] == {"name": "王同学", "contact": "13800000000"}


# --- 2. absences overlapping within one file -------------------------------------------------


def absence(kind: str, at: str, staff: str = "s-a", **extra: Any) -> dict[str, Any]:
    event = {"type": kind, "occurred_at": at, "staff": staff, **extra}
    if kind == "AbsenceStarted":
        event.setdefault("reason", "trip")
    return event


def test_an_absence_overlapping_one_earlier_in_the_file_names_that_line(base: Any) -> None:
    out = refused_lines(base, absence("AbsenceStarted", "2024-03-05T09:00:00+08:00"),
                        absence("AbsenceEnded", "2024-03-08T09:00:00+08:00"),
                        absence("AbsenceStarted", "2024-03-06T09:00:00+08:00", reason="sick"))
    assert ("line 3: occurred_at: overlaps another absence of 's-a' "
            "(2024-03-05T09:00:00+08:00 - 2024-03-08T09:00:00+08:00, line 1)") in out
    assert not GENERATED.search(out), out


def test_an_absence_overlapping_a_stored_one_names_its_event(base: Any) -> None:
    assert append(base, absence("AbsenceStarted", "2024-03-05T09:00:00+08:00", id="ab1"),
                  absence("AbsenceEnded", "2024-03-08T09:00:00+08:00")).exit_code == 0
    out = refused_lines(base, absence("AbsenceStarted", "2024-03-06T09:00:00+08:00", reason="sick"))
    assert ("line 1: occurred_at: overlaps another absence of 's-a' "
            "(2024-03-05T09:00:00+08:00 - 2024-03-08T09:00:00+08:00, event ab1)") in out


def test_an_open_absence_before_a_later_one_of_the_file_names_its_line(base: Any) -> None:
    out = refused_lines(base, absence("AbsenceStarted", "2024-03-10T09:00:00+08:00"),
                        absence("AbsenceEnded", "2024-03-12T09:00:00+08:00"),
                        absence("AbsenceStarted", "2024-03-05T09:00:00+08:00", reason="sick"))
    assert "line 3: occurred_at: the absence of 's-a' from 2024-03-05T09:00:00+08:00 never ends" in out
    assert "the absence starting 2024-03-10T09:00:00+08:00 (line 1)" in out
    assert not GENERATED.search(out), out


def test_open_absence_errors_cite_a_line_of_the_batch_and_a_stored_event() -> None:
    """The wording ``finish`` should use: the later absence by its line when the batch adds it,
    by its event id when it is stored; a person in ``skip`` left out."""
    tz = ZoneInfo("Asia/Shanghai")
    know = Knowledge(tz, datetime(2024, 12, 1, tzinfo=UTC), complete=True)

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).astimezone(UTC)

    know.ids["ev-0123456789abcdef0123"] = IdInfo("staff:s-a", "AbsenceStarted", None, line=1)
    know.apply("ev-0123456789abcdef0123", "AbsenceStarted", {"staff": "s-a"}, at("2024-03-10T09:00:00+08:00"))
    know.ids["ev-ffff456789abcdef0123"] = IdInfo("staff:s-a", "AbsenceStarted", None, line=3)
    know.apply("ev-ffff456789abcdef0123", "AbsenceStarted", {"staff": "s-a"}, at("2024-03-05T09:00:00+08:00"))
    know.apply("ab-stored", "AbsenceStarted", {"staff": "s-b"}, at("2024-03-10T09:00:00+08:00"))  # (not in ids)
    know.ids["ev-eeee456789abcdef0123"] = IdInfo("staff:s-b", "AbsenceStarted", None, line=5)
    know.apply("ev-eeee456789abcdef0123", "AbsenceStarted", {"staff": "s-b"}, at("2024-03-06T09:00:00+08:00"))
    errors = {(e.line, e.field, e.message) for e in know.open_absence_errors()}
    assert errors == {
        (3, "occurred_at", "the absence of 's-a' from 2024-03-05T09:00:00+08:00 never ends, so it overlaps the "
         "absence starting 2024-03-10T09:00:00+08:00 (line 1); record its AbsenceEnded"),
        (5, "occurred_at", "the absence of 's-b' from 2024-03-06T09:00:00+08:00 never ends, so it overlaps the "
         "absence starting 2024-03-10T09:00:00+08:00 (event ab-stored); record its AbsenceEnded"),
    }
    assert [e.line for e in know.open_absence_errors(skip={"staff:s-b"})] == [3]


# --- 3. a calendar year the package builds in -------------------------------------------------


def year_file(tmp_path: Path, year: int, source: str = "测试") -> Path:
    path = tmp_path / f"{year}-{source}.json"
    path.write_text(json.dumps({"year": year, "source": source, "holidays": [
        {"name": "元旦", "from": f"{year}-01-01", "to": f"{year}-01-01"}], "workdays": []}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def test_adding_a_built_in_year_says_it_is_built_in_and_cannot_be_replaced(run: Any, tmp_path: Path) -> None:
    out = refused(run, ("calendar", "add", str(year_file(tmp_path, 2024))))
    assert "year: the calendar already knows 2024: it is built in (from the package's own schedule data" in out
    assert "cannot be added again" in out and "no event to replace" in out
    assert "--replacing" not in out
    assert "nothing was written." in out


def test_adding_a_year_added_by_an_event_again_names_that_event(run: Any, tmp_path: Path) -> None:
    first = run("calendar", "add", str(year_file(tmp_path, 2031)))
    assert first.exit_code == 0, first.output
    events = json.loads(run("events", "--format", "json").output)
    added = events[-1]["id"]
    out = refused(run, ("calendar", "add", str(year_file(tmp_path, 2031, "另一个来源"))))
    assert (f"the calendar already knows 2031 (event {added!r}): a wrong year is replaced (`ledger calendar add "
            f"FILE --replacing {added!r} --reason TEXT`)") in out
    assert "built in" not in out
    # the advice works, and the next refusal names the replacing event, not the retracted one
    replaced = run("calendar", "add", str(year_file(tmp_path, 2031, "另一个来源")), "--replacing", added,
                   "--reason", "来源有误")
    assert replaced.exit_code == 0, replaced.output
    now = json.loads(run("events", "--format", "json").output)[-1]["id"]
    assert now != added
    out = refused(run, ("calendar", "add", str(year_file(tmp_path, 2031, "第三个来源"))))
    assert f"(event {now!r})" in out and added not in out


def test_a_calendar_or_policy_file_saved_with_a_bom_is_read_like_one_without(run: Any, tmp_path: Path) -> None:
    # A register with a BOM (as editors on Windows save UTF-8) is read past it; so are these files.
    year = year_file(tmp_path, 2032)
    year.write_bytes(b"\xef\xbb\xbf" + year.read_bytes())
    added = run("calendar", "add", str(year))
    assert added.exit_code == 0, added.output
    assert "2032" in run("calendar", "show", "2032").output
    pack = tmp_path / "pack.json"
    pack.write_bytes(b"\xef\xbb\xbf" + (Path(__file__).parent.parent / "examples" / "zhangye-sections.json")
                     .read_bytes())
    added = run("policy", "add", str(pack))
    assert added.exit_code == 0, added.output
    assert added.output.startswith("added policy zhangye-2021")


def test_a_year_given_twice_in_one_file_names_the_first_line(run: Any) -> None:
    def line(source: str) -> dict[str, Any]:
        return {"type": "CalendarYearAdded", "occurred_at": "2024-03-01T09:00:00+08:00", "year": 2031,
                "schedule": {"year": 2031, "source": source, "holidays": [], "workdays": []}}

    out = refused_lines(run, line("甲"), line("乙"))
    assert "line 2: year: the calendar already knows 2031: line 1 adds it; give each year once" in out
    assert not GENERATED.search(out), out


# --- 4. extensions: a new, later deadline, told no earlier than the receipt ------------------


def extension(at: str = "2024-03-05T09:00:00+08:00", **extra: Any) -> dict[str, Any]:
    return {"type": "DeadlineExtended", "occurred_at": at, "case": "C1", "new_due": "2024-03-15T17:30:00+08:00",
            "approved_by": "s-sup", **extra}


@pytest.mark.parametrize("stored", [True, False], ids=["receipt stored", "receipt in the same file"])
@pytest.mark.parametrize("new_due", ["2024-03-04T09:00:00+08:00", "2024-03-01T09:00:00+08:00"],
                         ids=["at the receipt", "before the receipt"])
def test_an_extension_due_at_or_before_the_receipt_is_refused(base: Any, stored: bool, new_due: str) -> None:
    lines = [extension(new_due=new_due)]
    if stored:
        assert append(base, inquiry("C1")).exit_code == 0
    else:
        lines.insert(0, inquiry("C1"))
    out = refused_lines(base, *lines)
    assert (f"line {len(lines)}: new_due: {new_due} is not after case 'C1' was received ({RECEIPT}): "
            "an extension (延期) sets a new, later deadline") in out
    assert "1 error(s); nothing was written." in out


def test_an_extension_notified_before_the_receipt_is_refused(base: Any) -> None:
    assert append(base, inquiry("C1")).exit_code == 0
    out = refused_lines(base, extension(notified_at="2024-03-04T08:59:59+08:00"))
    assert f"line 1: notified_at: 2024-03-04T08:59:59+08:00 is before case 'C1' was received ({RECEIPT})" in out


def test_an_extension_notified_in_the_future_is_refused(base: Any) -> None:
    assert append(base, inquiry("C1")).exit_code == 0
    out = refused_lines(base, extension(notified_at="2099-01-01T09:00:00+08:00"))
    assert "line 1: notified_at: 2099-01-01T09:00:00+08:00 is in the future (the ledger's clock reads " in out


def test_an_extension_after_the_receipt_notified_at_the_receipt_is_taken(base: Any) -> None:
    assert append(base, inquiry("C1")).exit_code == 0
    result = append(base, extension(new_due="2024-03-04T09:00:01+08:00", notified_at=RECEIPT))
    assert result.exit_code == 0, result.output


def test_the_extend_command_refuses_a_due_before_the_receipt_naming_the_option(base: Any) -> None:
    assert append(base, inquiry("C1")).exit_code == 0
    out = refused(base, ("extend", "--case", "C1", "--new-due", "2024-03-02T17:30:00+08:00", "--approved-by",
                         "s-sup", "--notified-at", "2024-03-03T10:00:00+08:00",
                         "--occurred-at", "2024-03-05T09:00:00+08:00"))
    assert "DeadlineExtended: new_due (--new-due): 2024-03-02T17:30:00+08:00 is not after case 'C1'" in out
    assert "DeadlineExtended: notified_at (--notified-at): 2024-03-03T10:00:00+08:00 is before case 'C1'" in out
    assert "nothing was written." in out


def test_a_correction_cannot_move_an_extension_due_before_the_receipt(base: Any) -> None:
    assert append(base, inquiry("C1"), extension(id="ext1")).exit_code == 0
    out = refused(base, ("correct", "--target", "ext1", "--reason", "x", "--set",
                         "new_due=2024-03-01T17:30:00+08:00"))
    assert "replacement.new_due (--set new_due=...): 2024-03-01T17:30:00+08:00 is not after case 'C1' was received" in out
    out = refused(base, ("correct", "--target", "ext1", "--reason", "x", "--set",
                         "notified_at=2099-01-01T09:00:00+08:00"))
    assert "replacement.notified_at (--set notified_at=...): 2099-01-01T09:00:00+08:00 is in the future" in out
    fixed = base("correct", "--target", "ext1", "--reason", "x", "--set", "new_due=2024-03-20T17:30:00+08:00")
    assert fixed.exit_code == 0, fixed.output


# --- 5. stand-ins: designated by the leader, not by themselves --------------------------------


def stand_in(**extra: Any) -> dict[str, Any]:
    return {"type": "StandInDesignated", "occurred_at": "2024-03-05T09:00:00+08:00", "post": "water",
            "stand_in": "s-c", "by": "s-sup", **extra}


def test_a_stand_in_designating_themselves_is_refused(base: Any) -> None:
    out = refused_lines(base, stand_in(stand_in="s-sup"))
    assert "line 1: stand_in: 's-sup' cannot designate themselves: a stand-in is designated by the supervising " \
           "leader" in out
    assert append(base, stand_in()).exit_code == 0


def test_the_designate_command_refuses_a_self_designation_naming_the_option(base: Any) -> None:
    out = refused(base, ("designate-stand-in", "--post", "water", "--stand-in", "s-c", "--by", "s-c",
                         "--occurred-at", "2024-03-05T09:00:00+08:00"))
    assert "StandInDesignated: stand_in (--stand-in): 's-c' cannot designate themselves" in out


def test_a_correction_cannot_make_a_stand_in_designate_themselves_or_end_before_it_is_made(base: Any) -> None:
    assert append(base, stand_in(id="si1")).exit_code == 0
    out = refused(base, ("correct", "--target", "si1", "--reason", "x", "--set", "by=s-c"))
    assert "replacement.stand_in (--set stand_in=...): 's-c' cannot designate themselves" in out
    out = refused(base, ("correct", "--target", "si1", "--reason", "x", "--set", "until=2024-03-05T08:00:00+08:00"))
    assert "replacement.until (--set until=...): the designation must end after it is made" in out
    fixed = base("correct", "--target", "si1", "--reason", "x", "--set", "until=2024-03-09T18:00:00+08:00")
    assert fixed.exit_code == 0, fixed.output


def test_a_case_received_twice_in_one_file_names_the_first_line(base: Any) -> None:
    # Neither line gives an id: the one the ledger would make up for the first was never seen.
    first, again = ({k: v for k, v in inquiry().items() if k != "id"} for _ in range(2))
    out = refused_lines(base, first, again)
    assert "line 2: case: case 'C1' was already received (line 1)" in out, out
    assert not GENERATED.search(out)


# --- 6. a correction's replacement: the content checks of a line of its type ----------------


def test_a_correction_cannot_hand_over_or_off_to_the_same_person(base: Any) -> None:
    assert append(base, absence("AbsenceStarted", "2024-03-05T09:00:00+08:00", id="ab1", reason="trip",
                                handover_to="s-b"), inquiry("C1"),
                  {"type": "HandedOff", "id": "ho1", "occurred_at": "2024-03-05T10:00:00+08:00", "case": "C1",
                   "from": "s-a", "to": "s-c"}).exit_code == 0
    out = refused(base, ("correct", "--target", "ab1", "--reason", "x", "--set", "handover_to=s-a"))
    assert "replacement.handover_to (--set handover_to=...): a handover goes to someone else" in out
    out = refused(base, ("correct", "--target", "ho1", "--reason", "x", "--set", "to=s-a"))
    assert "replacement.to (--set to=...): a handoff goes to someone else" in out
    out = refused(base, ("correct", "--target", "p-water", "--reason", "x", "--set", "b=s-a"))
    assert "replacement.b (--set b=...): the B role must be someone other than the A role" in out


def test_a_correction_cannot_give_a_case_a_kind_its_pack_sets_no_limit_for(base: Any) -> None:
    # Refused on a line (a kind with no limit cannot be judged); so on a correction, which would
    # otherwise leave the case, and every question over all cases, without a due.
    assert append(base, inquiry("C1")).exit_code == 0
    out = refused(base, ("correct", "--target", "in-C1", "--reason", "x", "--set", "kind=nokind"))
    assert "replacement.kind (--set kind=...): policy 'shihezi-2021'" in out and "sets no time limit for kind 'nokind'" in out
    out = refused(base, ("correct", "--target", "in-C1", "--reason", "x", "--set", "policy=suqian-finance"))
    assert "replacement.kind (--set kind=...): policy 'suqian-finance'" in out
    assert base("findings", "--at", "2024-05-01T00:00:00+08:00").exit_code == 0
