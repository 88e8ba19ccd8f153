"""Every built-in pack, every rule it adopts: a scenario through the CLI's JSON output.

Each scenario is a small register written from the regulation's own situation, appended
with `ledger append -`, then judged with `ledger findings --format json` / `ledger who`.
Expected due instants come from an oracle independent of the project's calendar code
(chinese_calendar directly), so a wrong clock fails here.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
from click.testing import CliRunner

from cli.main import cli
from ledger.policy import PolicyCatalogue, parse_pack

TZ = "+08:00"
RECEIPT = datetime.fromisoformat(f"2024-03-04T09:00:00{TZ}")  # a Monday
PACKS = ["shihezi-2021", "sdut-logistics", "suqian-finance", "zhangye-2021", "pudong-tobacco"]
KIND = {"shihezi-2021": "general", "sdut-logistics": "leader_approval", "suqian-finance": "misdirected_document",
        "zhangye-2021": "registration", "pudong-tobacco": "general"}
# The reply limit of each pack's kind, as the regulations set it (zhangye: the office's own pack below).
LIMIT = {"shihezi-2021": (4, "calendar"), "sdut-logistics": (5, "working"), "suqian-finance": (2, "working"),
         "zhangye-2021": (3, "working"), "pudong-tobacco": (5, "working")}
ZHANGYE_SECTION = {"id": "zhangye-2021", "effective_from": "2024-01-01", "extends": "zhangye-2021",
                   "limits": {"registration": {"reply": {"days": 3, "count": "working", "from": "receipt",
                                                         "clause": "004 限时 §2"}, "transfer": None}}}

BASE = [
    {"type": "UnitDefined", "unit": "u1", "head": "s-head", "supervisor": "s-sup", "name": "综合科"},
    {"type": "StaffRegistered", "staff": "s-head", "name": "周科长", "rank": 4, "unit": "u1"},
    {"type": "StaffRegistered", "staff": "s-sup", "name": "孙处长", "rank": 5, "unit": "u1"},
    {"type": "StaffRegistered", "staff": "s-a", "name": "张三", "rank": 2, "unit": "u1"},
    {"type": "StaffRegistered", "staff": "s-b", "name": "李四", "rank": 2, "unit": "u1"},
    {"type": "StaffRegistered", "staff": "s-c", "name": "王五", "rank": 3, "unit": "u1"},
    {"type": "PostDefined", "post": "p1", "unit": "u1", "a": "s-a", "b": "s-b", "name": "综合受理岗"},
]


def nth_day_after(start: date, n: int, count: str) -> date:
    """Oracle: the Nth (working) day after ``start``, straight from chinese_calendar."""
    day = start
    while n:
        day += timedelta(days=1)
        if count == "calendar" or chinese_calendar.is_workday(day):
            n -= 1
    return day


def end_of(day: date) -> str:
    return f"{day.isoformat()}T23:59:59.999000{TZ}"


def due_of(pack: str, start: date = RECEIPT.date()) -> date:
    days, count = LIMIT[pack]
    return nth_day_after(start, days, count)


def at(day: date, hm: str = "10:00") -> str:
    return f"{day.isoformat()}T{hm}:00{TZ}"


def adopting(rule: str) -> list[str]:
    catalogue = PolicyCatalogue.builtin()
    return [p for p in PACKS if catalogue.in_force(p, RECEIPT.date()).adopts(rule)]


class Office:
    """A store with the base register; appends and asks through the CLI."""

    def __init__(self, url: str, tmp: Path):
        self.url = url
        self.runner = CliRunner()
        pack = tmp / "zhangye-section.json"
        pack.write_text(json.dumps(ZHANGYE_SECTION, ensure_ascii=False), encoding="utf-8")
        assert self.run("policy", "add", str(pack)).exit_code == 0
        self.append(*(dict(e, occurred_at=f"2024-03-01T08:00:00{TZ}") for e in BASE))

    def run(self, *args: str, input: str | None = None) -> Any:
        return self.runner.invoke(cli, ["--store", self.url, *args], input=input, catch_exceptions=False)

    def append(self, *events: dict[str, Any]) -> None:
        lines = "\n".join(json.dumps(e, ensure_ascii=False) for e in events)
        result = self.run("append", "-", input=lines)
        assert result.exit_code == 0, result.output

    def findings(self, case: str, when: str = "2024-06-01T00:00:00+08:00") -> list[dict[str, Any]]:
        result = self.run("findings", "--case", case, "--at", when, "--format", "json")
        assert result.exit_code == 0, result.output
        return list(json.loads(result.output))

    def who(self, case: str, when: str) -> dict[str, Any]:
        result = self.run("who", case, "--at", when, "--format", "json")
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.output))


@pytest.fixture
def office(store_url: str, tmp_path: Path) -> Office:
    return Office(store_url, tmp_path)


def inquiry(pack: str, case: str = "C1", **extra: Any) -> dict[str, Any]:
    return {"type": "InquiryReceived", "id": f"{case}-in", "occurred_at": RECEIPT.isoformat(), "case": case,
            "policy": pack, "kind": KIND[pack], "received_by": ["s-a"], "channel": "visit",
            "matter": "申请开具证明", "post": "p1", **extra}


def reply(case: str, when: str, by: str = "s-a", outcome: str = "resolved") -> dict[str, Any]:
    return {"type": "Replied", "occurred_at": when, "case": case, "by": by, "outcome": outcome}


def one(findings: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(findings) == 1, findings
    return findings[0]


@pytest.mark.parametrize("pack", adopting("handler_late"))
def test_handler_late(office: Office, pack: str) -> None:
    due = due_of(pack)
    office.append(inquiry(pack), reply("C1", at(due + timedelta(days=3))))
    f = one(office.findings("C1"))
    assert (f["rule"], f["liable"], f["due"], f["breached_at"]) == ("handler_late", "s-a", end_of(due), end_of(due))
    # The clause of the limit missed first (each kind has its own), then the rule's.
    catalogue = PolicyCatalogue.builtin().with_added(parse_pack(ZHANGYE_SECTION, "zhangye-section.json"))
    version = catalogue.in_force(pack, RECEIPT.date())
    limit = version.limits[KIND[pack]].reply
    assert limit is not None and f["clause"] == limit.clause
    assert set(version.rules["handler_late"].clauses) <= set(f["clauses"])
    assert "in-" not in f["evidence"] and "C1-in" in f["evidence"]
    assert f["explanation"]


@pytest.mark.parametrize("pack", adopting("handler_late"))
def test_a_reply_in_time_is_no_finding(office: Office, pack: str) -> None:
    office.append(inquiry(pack), reply("C1", at(due_of(pack), "16:00")))
    assert office.findings("C1") == []


@pytest.mark.parametrize("pack", adopting("handler_late"))
def test_an_open_case_past_due_is_a_breach_and_overdue(office: Office, pack: str) -> None:
    due = due_of(pack)
    office.append(inquiry(pack))
    assert office.findings("C1", at(due, "12:00")) == []  # not yet due
    f = one(office.findings("C1", at(due + timedelta(days=1))))
    assert f["rule"] == "handler_late" and f["breached_at"] == end_of(due)
    rows = json.loads(office.run("overdue", "--at", at(due + timedelta(days=1)), "--format", "json").output)
    assert [(r["case"], r["due"], r["responsible"]) for r in rows] == [("C1", end_of(due), "s-a")]


def _absent(staff: str, start: str, end: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"type": "AbsenceStarted", "occurred_at": start, "staff": staff, "reason": "trip", **extra},
            {"type": "AbsenceEnded", "occurred_at": end, "staff": staff}]


@pytest.mark.parametrize("pack", adopting("no_handover"))
def test_no_handover_a_left_without_handing_over(office: Office, pack: str) -> None:
    due = due_of(pack)
    office.append(inquiry(pack), *_absent("s-a", at(RECEIPT.date(), "14:00"), at(due + timedelta(days=2))),
                  reply("C1", at(due + timedelta(days=3))))
    f = one(office.findings("C1"))
    assert (f["rule"], f["liable"], f["due"]) == ("no_handover", "s-a", end_of(due))
    assert "A" in f["explanation"]["en"] if isinstance(f["explanation"], dict) else True


@pytest.mark.parametrize("pack", adopting("cover_failure"))
def test_cover_failure_b_was_acting(office: Office, pack: str) -> None:
    due = due_of(pack)
    office.append(inquiry(pack),
                  *_absent("s-a", at(RECEIPT.date(), "14:00"), at(due + timedelta(days=2)),
                           handover_to="s-b", notified=["s-b"]),
                  reply("C1", at(due + timedelta(days=3)), by="s-b"))
    f = one(office.findings("C1"))
    assert (f["rule"], f["liable"], f["due"]) == ("cover_failure", "s-b", end_of(due))


@pytest.mark.parametrize("pack", adopting("ab_cover"))
def test_who_while_a_is_away_is_b_acting(office: Office, pack: str) -> None:
    due = due_of(pack)
    office.append(inquiry(pack), *_absent("s-a", at(RECEIPT.date(), "14:00"), at(due + timedelta(days=2)),
                                          handover_to="s-b"))
    answer = office.who("C1", at(RECEIPT.date(), "15:00"))
    assert answer["primary"]["staff"] == "s-b" and answer["primary"]["basis"] == "acting_b"
    assert answer["secondary"]["staff"] == "s-a"
    before = office.who("C1", at(RECEIPT.date(), "10:00"))
    assert before["primary"] == {**before["primary"], "staff": "s-a", "basis": "holder"}


@pytest.mark.parametrize("pack", adopting("vacancy"))
def test_vacancy_a_and_b_away_without_stand_in(office: Office, pack: str) -> None:
    due = due_of(pack)
    office.append(inquiry(pack),
                  *_absent("s-a", at(RECEIPT.date(), "14:00"), at(due + timedelta(days=2)), handover_to="s-b"),
                  *_absent("s-b", at(RECEIPT.date(), "15:00"), at(due + timedelta(days=2))),
                  reply("C1", at(due + timedelta(days=3))))
    f = one(office.findings("C1"))
    assert (f["rule"], f["liable"], f["due"]) == ("vacancy", "s-sup", end_of(due))
    who = office.who("C1", at(RECEIPT.date(), "16:00"))
    assert (who["primary"]["staff"], who["primary"]["basis"]) == ("s-sup", "supervisor")


@pytest.mark.parametrize("pack", adopting("stand_in"))
def test_stand_in_designated_when_a_and_b_are_away(office: Office, pack: str) -> None:
    due = due_of(pack)
    office.append(inquiry(pack),
                  *_absent("s-a", at(RECEIPT.date(), "14:00"), at(due + timedelta(days=2)), handover_to="s-b"),
                  *_absent("s-b", at(RECEIPT.date(), "15:00"), at(due + timedelta(days=2))),
                  {"type": "StandInDesignated", "occurred_at": at(RECEIPT.date(), "15:30"), "post": "p1",
                   "stand_in": "s-c", "by": "s-sup"},
                  reply("C1", at(due, "11:00"), by="s-c"))
    who = office.who("C1", at(RECEIPT.date(), "16:00"))
    assert (who["primary"]["staff"], who["primary"]["basis"]) == ("s-c", "stand_in")
    assert office.findings("C1") == []


def _extension(due: date, notified: str | None) -> dict[str, Any]:
    event = {"type": "DeadlineExtended", "occurred_at": at(due, "09:00"), "case": "C1",
             "new_due": end_of(due + timedelta(days=14)), "approved_by": "s-sup", "reason": "需现场核实"}
    if notified:
        event["notified_at"] = notified
    return event


@pytest.mark.parametrize("pack", adopting("invalid_extension"))
@pytest.mark.parametrize("notified", ["late", "never"])
def test_invalid_extension_old_deadline_stands(office: Office, pack: str, notified: str) -> None:
    due = due_of(pack)
    told = at(due + timedelta(days=1)) if notified == "late" else None
    office.append(inquiry(pack), _extension(due, told), reply("C1", at(due + timedelta(days=3))))
    f = one(office.findings("C1"))
    assert (f["rule"], f["liable"], f["due"]) == ("invalid_extension", "s-a", end_of(due))


@pytest.mark.parametrize("pack", adopting("extension"))
def test_extension_notified_in_time_moves_the_deadline(office: Office, pack: str) -> None:
    due = due_of(pack)
    office.append(inquiry(pack), _extension(due, at(due, "09:30")), reply("C1", at(due + timedelta(days=3))))
    assert office.findings("C1") == []


@pytest.mark.parametrize("pack", adopting("late_transfer"))
def test_late_transfer_outside_remit(office: Office, pack: str) -> None:
    transfer_due = nth_day_after(RECEIPT.date(), 2, "working")
    handed = transfer_due + timedelta(days=1)
    office.append(inquiry(pack, in_remit=False),
                  {"type": "HandedOff", "occurred_at": at(handed), "case": "C1", "from": "s-a", "to": "s-c",
                   "receipt": True},
                  {"type": "HandoffAccepted", "occurred_at": at(handed, "11:00"), "case": "C1", "by": "s-c"},
                  reply("C1", at(handed, "15:00"), by="s-c"))
    f = one(office.findings("C1"))
    assert (f["rule"], f["liable"], f["due"]) == ("late_transfer", "s-a", end_of(transfer_due))


@pytest.mark.parametrize("pack", adopting("late_transfer"))
def test_pudong_reply_counts_from_the_handlers_acceptance(office: Office, pack: str) -> None:
    accepted = nth_day_after(RECEIPT.date(), 1, "working")
    office.append(inquiry(pack, in_remit=False),
                  {"type": "HandedOff", "occurred_at": at(accepted, "09:00"), "case": "C1", "from": "s-a",
                   "to": "s-c"},
                  {"type": "HandoffAccepted", "occurred_at": at(accepted), "case": "C1", "by": "s-c"})
    reply_due = nth_day_after(accepted, 5, "working")
    f = one(office.findings("C1", at(reply_due + timedelta(days=1))))
    assert (f["rule"], f["liable"], f["due"]) == ("handler_late", "s-c", end_of(reply_due))


@pytest.mark.parametrize("pack", adopting("piecemeal_notice"))
def test_piecemeal_notice_second_request_with_new_items(office: Office, pack: str) -> None:
    office.append(inquiry(pack),
                  {"type": "MaterialsRequested", "occurred_at": at(RECEIPT.date(), "11:00"), "case": "C1",
                   "by": "s-a", "items": ["身份证复印件", "申请表"]},
                  {"type": "MaterialsRequested", "occurred_at": at(RECEIPT.date() + timedelta(days=1)),
                   "case": "C1", "by": "s-a", "items": ["营业执照副本"]},
                  {"type": "MaterialsReceived", "occurred_at": at(RECEIPT.date() + timedelta(days=1), "15:00"),
                   "case": "C1", "items": ["身份证复印件", "申请表", "营业执照副本"]},
                  reply("C1", at(RECEIPT.date() + timedelta(days=2))))
    found = [f for f in office.findings("C1") if f["rule"] == "piecemeal_notice"]
    assert len(found) == 1 and found[0]["liable"] == "s-a"
    assert found[0]["breached_at"] == at(RECEIPT.date() + timedelta(days=1))


@pytest.mark.parametrize("pack", adopting("restart_on_supplements"))
def test_clock_restarts_at_complete_supplements(office: Office, pack: str) -> None:
    supplied = RECEIPT.date() + timedelta(days=2)
    new_due = due_of(pack, supplied)
    office.append(inquiry(pack),
                  {"type": "MaterialsRequested", "occurred_at": at(RECEIPT.date(), "11:00"), "case": "C1",
                   "by": "s-a", "items": ["申请表"]},
                  {"type": "MaterialsReceived", "occurred_at": at(supplied), "case": "C1", "items": ["申请表"]},
                  reply("C1", at(new_due, "16:00")))
    assert new_due > due_of(pack)
    assert office.findings("C1") == []
    office.append(inquiry(pack, "C2"),
                  {"type": "MaterialsRequested", "occurred_at": at(RECEIPT.date(), "11:00"), "case": "C2",
                   "by": "s-a", "items": ["申请表"]},
                  {"type": "MaterialsReceived", "occurred_at": at(supplied), "case": "C2", "items": ["申请表"]})
    f = one(office.findings("C2", at(new_due + timedelta(days=1))))
    assert f["due"] == end_of(new_due)


@pytest.mark.parametrize("pack", adopting("suspension"))
def test_suspended_time_does_not_count(office: Office, pack: str) -> None:
    stop, go = RECEIPT.date() + timedelta(days=1), RECEIPT.date() + timedelta(days=4)  # Tue .. Fri
    stopped = sum(1 for i in range((go - stop).days) if chinese_calendar.is_workday(stop + timedelta(days=i)))
    days, count = LIMIT[pack]
    if count == "calendar":
        stopped = (go - stop).days
    new_due = nth_day_after(due_of(pack), stopped, count)
    office.append(inquiry(pack),
                  {"type": "ClockSuspended", "occurred_at": at(stop), "case": "C1", "reason": "expert_review"},
                  {"type": "ClockResumed", "occurred_at": at(go), "case": "C1"})
    assert office.findings("C1", at(new_due, "12:00")) == []
    f = one(office.findings("C1", at(new_due + timedelta(days=1))))
    assert f["due"] == end_of(new_due)


@pytest.mark.parametrize("pack", adopting("reminders"))
def test_two_reminders_before_due_excuse_a_late_reply(office: Office, pack: str) -> None:
    due = due_of(pack)
    reminders = [{"type": "Reminded", "occurred_at": at(RECEIPT.date() + timedelta(days=d)), "case": "C1",
                  "by": "s-a"} for d in (1, 2)]
    office.append(inquiry(pack), *reminders, reply("C1", at(due + timedelta(days=3))))
    assert office.findings("C1") == []
    office.append(inquiry(pack, "C2"), {**reminders[0], "case": "C2"}, reply("C2", at(due + timedelta(days=3))))
    assert one(office.findings("C2"))["rule"] == "handler_late"  # one reminder is not "repeated"


@pytest.mark.parametrize("pack", adopting("rank_rule"))
def test_joint_inquiry_the_higher_rank_is_first_asked(office: Office, pack: str) -> None:
    office.append(inquiry(pack, received_by=["s-a", "s-c"]))
    answer = office.who("C1", at(RECEIPT.date(), "10:00"))
    assert (answer["primary"]["staff"], answer["primary"]["basis"]) == ("s-c", "holder")
    assert any(c in answer["clauses"] for c in
               PolicyCatalogue.builtin().in_force(pack, RECEIPT.date()).rules["rank_rule"].clauses)


@pytest.mark.parametrize("pack", adopting("first_inquiry"))
def test_first_asked_holds_until_an_accepted_handoff(office: Office, pack: str) -> None:
    day = RECEIPT.date()
    office.append(inquiry(pack),
                  {"type": "HandedOff", "occurred_at": at(day, "11:00"), "case": "C1", "from": "s-a", "to": "s-c"},
                  {"type": "HandoffAccepted", "occurred_at": at(day, "14:00"), "case": "C1", "by": "s-c"})
    assert office.who("C1", at(day, "12:00"))["primary"]["staff"] == "s-a"  # pending: still the sender
    assert office.who("C1", at(day, "15:00"))["primary"]["staff"] == "s-c"


def test_leadership_tiers_are_inside_the_finding(office: Office) -> None:
    pack = "sdut-logistics"
    due = due_of(pack)
    office.append(inquiry(pack), reply("C1", at(due + timedelta(days=3))))
    f = one(office.findings("C1"))
    assert [(a["staff"], a["tier"]) for a in f["also_liable"]] == [("s-head", "head"), ("s-sup", "supervisor")]


def test_a_rule_a_pack_does_not_adopt_is_not_applied(office: Office) -> None:
    """Pudong adopts no A/B rules: a breach while A is away stays the handler's."""
    pack = "pudong-tobacco"
    due = due_of(pack)
    office.append(inquiry(pack), *_absent("s-a", at(RECEIPT.date(), "14:00"), at(due + timedelta(days=2))),
                  reply("C1", at(due + timedelta(days=3))))
    f = one(office.findings("C1"))
    assert (f["rule"], f["liable"]) == ("handler_late", "s-a")


def test_zhangye_refuses_a_kind_without_a_limit(office: Office) -> None:
    result = office.run("append", "-", input=json.dumps(inquiry("zhangye-2021", kind="bid_inquiry")))
    assert result.exit_code == 1
    assert "line 1: kind: policy 'zhangye-2021'" in result.output
    assert "sets no time limit for kind 'bid_inquiry'" in result.output
    assert "ledger policy add FILE" in result.output


@pytest.mark.parametrize("pack", adopting("explained_refusal"))
def test_closing_with_a_documented_refusal_in_time_is_no_violation(office: Office, pack: str) -> None:
    """002 社区首问 §6: a matter law or policy does not allow, explained and closed in time, is no breach."""
    due = due_of(pack)
    office.append(inquiry(pack), reply("C1", at(due, "15:00"), outcome="explained_refusal"))
    assert office.findings("C1") == []
    later = at(due + timedelta(days=5))
    assert json.loads(office.run("overdue", "--at", later, "--format", "json").output) == []
    caseload = json.loads(office.run("caseload", "--at", later, "--format", "json").output)
    assert all("C1" not in row["open_cases"] for row in caseload)
