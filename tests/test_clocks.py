"""The case clock (限时办结): start, working or calendar days, restarts, suspension, extensions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.policy import PolicyCatalogue
from projections.calendar import UnknownCalendarYear
from projections.clocks import CaseClock, deadline
from tests.rules_helpers import CAL, CAT, TZ, ZHANGYE, ev, facts, inquiry, t, with_limits


def eod(day: str) -> datetime:
    return t(f"{day} 23:59:59.999")


def clock(events: list[dict[str, Any]], at: str, which: str = "reply",
          catalogue: PolicyCatalogue = CAT) -> CaseClock:
    return deadline(facts(*events), t(at), catalogue, CAL, TZ, which)  # type: ignore[arg-type]


def sdut(at: str = "2024-03-04 09:00", **extra: Any) -> dict[str, Any]:
    return inquiry("S1", at, policy="sdut-logistics", kind="leader_approval", **extra)


# --- counting days ------------------------------------------------------------------------------


def test_shihezi_replies_within_4_calendar_days_of_receipt() -> None:
    # 000 首问 art. 5(5): 最迟应在4日内 — days, not working days; the day of receipt never counts.
    c = clock([inquiry()], "2024-03-20 09:00")
    assert c.due == eod("2024-03-08") and c.state == "running" and c.limit is not None
    assert c.start == t("2024-03-04 09:00") and c.evidence == ("in-C1",)
    assert any("000 首问 art. 5(5)" in str(s) for s in c.basis)
    over_new_year = clock([inquiry(at="2024-02-08 16:00")], "2024-03-01 09:00")  # 春节: days still count
    assert over_new_year.due == eod("2024-02-12")


def test_working_days_skip_the_national_day_holiday_and_count_the_make_up_sunday() -> None:
    # 001 限时 art. 7: 5 working days. Fri 27 Sep; Sun 29 Sep is worked (调休); 1-7 Oct are off.
    c = clock([sdut("2024-09-27 10:00")], "2024-10-20 09:00")
    assert c.due == eod("2024-10-10")


def test_a_due_beyond_the_years_the_calendar_knows_is_not_due_yet_within_them() -> None:
    # A petition (30 working days) received in the calendar's last known December runs into the
    # next year: asked in December, it is not due yet (every day to 31 Dec is known and counted);
    # asked in the next year, the answer would be a guess, so the unknown year is an error.
    last = CAL.known_years()[-1]
    petition = [inquiry("Q1", f"{last}-12-01 09:00", policy="suqian-finance", kind="petition")]
    c = clock(petition, f"{last}-12-20 09:00")
    assert (c.state, c.due, c.breached()) == ("beyond_calendar", None, False)
    assert any(f"falls in {last + 1}" in s.text for s in c.basis)
    with pytest.raises(UnknownCalendarYear):
        clock(petition, f"{last + 1}-02-01 09:00")


def test_a_packs_own_closure_days_are_not_working_days() -> None:
    # README "Calendar": working days are the national schedule's, minus the pack's ``closures``.
    from ledger.policy import parse_pack

    closed = CAT.with_added(parse_pack({"id": "sdut-logistics", "effective_from": "2024-01-01",
                                        "extends": "sdut-logistics", "closures": ["2024-03-07"]}, "closures.json"))
    assert clock([sdut()], "2024-03-20 09:00").due == eod("2024-03-11")  # Mon 4 Mar + 5 working days
    assert clock([sdut()], "2024-03-20 09:00", catalogue=closed).due == eod("2024-03-12")  # Thu 7 Mar closed
    from projections.status import case_status
    from projections.world import World

    late = case_status(facts(sdut()), World.from_facts([]), t("2024-03-15 09:00"), closed, CAL, TZ)
    assert (late.due, late.working_days_overdue) == (eod("2024-03-12"), 3)  # 13, 14, 15 Mar


def test_pudong_two_five_rule_counts_the_reply_from_the_handlers_acceptance() -> None:
    base = [inquiry("P1", policy="pudong-tobacco", in_remit=False)]
    handoff = [ev("HandedOff", "2024-03-05 10:00", case="P1", from_="s-a", to="s-c"),
               ev("HandoffAccepted", "2024-03-05 11:00", case="P1", by="s-c")]
    assert clock(base, "2024-03-20 09:00", "transfer").due == eod("2024-03-06")  # 2 working days
    assert clock(base, "2024-03-20 09:00").due == eod("2024-03-11")  # no handoff: from receipt
    assert clock(base + handoff, "2024-03-20 09:00").due == eod("2024-03-12")  # 5 from acceptance
    assert clock(base + handoff[:1], "2024-03-20 09:00").due == eod("2024-03-11")  # pending: receipt
    too_late = [ev("HandedOff", "2024-03-12 09:00", case="P1", from_="s-a", to="s-c"),
                ev("HandoffAccepted", "2024-03-12 10:00", case="P1", by="s-c")]
    assert clock(base + too_late, "2024-03-20 09:00").due == eod("2024-03-11")  # cannot cure a breach


def test_pudong_a_handoff_counts_from_its_acceptance_if_accepted_by_the_receipts_due() -> None:
    # 首问人在2个工作日内将问题转交…承办人阅知后…最长时效为5个工作日: the handler's 5 days run from
    # reading it (阅知), if that comes by the 5 days counted from receipt (due 11 Mar).
    base = [inquiry("P1", policy="pudong-tobacco", in_remit=False),
            ev("HandedOff", "2024-03-06 10:00", id="h", case="P1", from_="s-a", to="s-c")]
    accepted = ev("HandoffAccepted", "2024-03-08 09:00", id="acc", case="P1", by="s-c")
    c = clock([*base, accepted], "2024-03-20 09:00")
    assert c.due == eod("2024-03-15") and c.start == t("2024-03-08 09:00")
    assert any("h" in s.evidence and "acc" in s.evidence for s in c.basis)
    # Awaiting acceptance, the receipt's due holds meanwhile (the sender still holds the case:
    # 003 篇二 (一) 首问责任人全程参与): an acceptance after it finds it breached, and cannot move it,
    # so the answer at 12 Mar stays the answer once s-c accepts on 13 Mar.
    assert clock(base, "2024-03-12 08:00").due == eod("2024-03-11")
    late = clock([*base, ev("HandoffAccepted", "2024-03-13 09:00", id="acc", case="P1", by="s-c")],
                 "2024-03-20 09:00")
    assert late.due == eod("2024-03-11") and late.breached()
    assert any("accepted (接收) only" in s.text and "acc" in s.evidence for s in late.basis)
    # A handoff to someone else that was never accepted does not count: the accepted one does.
    offered_late = [base[0], ev("HandedOff", "2024-03-06 10:00", case="P1", from_="s-a", to="s-d"),
                    ev("HandedOff", "2024-03-12 08:00", case="P1", from_="s-a", to="s-c"), accepted]
    assert clock(offered_late, "2024-03-20 09:00").due == eod("2024-03-11")


def test_a_kind_without_a_transfer_limit_has_no_transfer_clock() -> None:
    c = clock([inquiry()], "2024-03-20 09:00", "transfer")
    assert c.state == "no_limit" and c.due is None and not c.breached()


# --- suspension (不计入时限) ------------------------------------------------------------------------


def test_suspension_moves_the_due_by_the_working_days_suspended() -> None:
    # 001 限时 art. 11: hearing, tender, appraisal, expert review time does not count.
    events = [sdut(), ev("ClockSuspended", "2024-03-06 10:00", case="S1", reason="expert_review"),
              ev("ClockResumed", "2024-03-08 15:00", case="S1")]
    during = clock(events[:2], "2024-03-07 09:00")
    assert during.state == "suspended" and during.due is None and not during.breached()
    assert during.is_suspended_at(t("2024-03-07 09:00")) and not during.is_suspended_at(t("2024-03-05 09:00"))
    after = clock(events, "2024-03-20 09:00")
    assert after.due == eod("2024-03-13")  # [6 Mar, 8 Mar) = 2 working days: 11 Mar -> 13 Mar
    assert not after.is_suspended_at(t("2024-03-08 15:00")) and after.is_suspended_at(t("2024-03-08 14:59"))
    assert {"in-S1", *[e for s in after.basis for e in s.evidence]} == set(after.evidence)
    assert len(after.evidence) == 3 and any("001 限时 art. 11" in str(s) for s in after.basis)


def test_a_weekend_inside_a_suspension_is_not_a_working_day() -> None:
    events = [sdut(), ev("ClockSuspended", "2024-03-08 10:00", case="S1", reason="hearing"),
              ev("ClockResumed", "2024-03-11 09:00", case="S1")]
    assert clock(events, "2024-03-20 09:00").due == eod("2024-03-12")  # only Fri 8 Mar is added


def test_suspension_after_the_due_cannot_cure_a_breach() -> None:
    events = [sdut(), ev("ClockSuspended", "2024-03-12 10:00", case="S1", reason="hearing")]
    c = clock(events, "2024-03-20 09:00")
    assert c.due == eod("2024-03-11") and c.state == "running" and c.breached()


def test_calendar_day_limits_move_by_calendar_days() -> None:
    catalogue = with_limits("sdut-logistics", "2024-01-01", {
        "repair": {"reply": {"days": 4, "count": "calendar", "from": "receipt", "clause": "001 限时 art. 7"}}})
    events = [inquiry("S1", policy="sdut-logistics", kind="repair"),
              ev("ClockSuspended", "2024-03-05 10:00", case="S1", reason="inspection"),
              ev("ClockResumed", "2024-03-07 10:00", case="S1")]
    assert clock(events, "2024-03-20 09:00", catalogue=catalogue).due == eod("2024-03-10")


def test_a_pack_without_suspension_ignores_it() -> None:
    events = [inquiry(), ev("ClockSuspended", "2024-03-05 10:00", case="C1", reason="hearing")]
    assert clock(events, "2024-03-20 09:00").due == eod("2024-03-08")


# --- extensions (延期) ------------------------------------------------------------------------------


def extension(notified: str | None, new_due: str = "2024-03-15T17:30:00+08:00") -> dict[str, Any]:
    return ev("DeadlineExtended", "2024-03-08 09:00", id="ext", case="S1", new_due=new_due,
              approved_by="s-sup", notified_at=None if notified is None else t(notified).isoformat())


def test_an_extension_notified_before_the_due_replaces_it() -> None:
    c = clock([sdut(), extension("2024-03-08 10:00")], "2024-03-20 09:00")
    assert c.due == t("2024-03-15 17:30") and c.invalid_extensions == () and c.stood is None
    assert "ext" in c.evidence
    assert any("approved by s-sup" in s.text for s in c.basis)  # who approved it, for the committee to judge


def test_an_extension_notified_after_the_due_is_invalid_and_the_old_due_stands() -> None:
    c = clock([sdut(), extension("2024-03-12 10:00")], "2024-03-20 09:00")
    assert c.due == eod("2024-03-11") and c.breached()
    assert c.stood is not None and c.stood.fact.event_id == "ext" and c.stood.old_due == eod("2024-03-11")
    assert c.to_json()["invalid_extensions"] == ["ext"]


def test_an_extension_approved_after_the_due_is_invalid_whatever_its_notice_says() -> None:
    # 002 限时 §7: 由受理事项的单位负责人签署意见,并在时限届满前告知服务对象 — approved and told by
    # the due. Approved on 12 Mar (the due was 11 Mar), "notified" on 8 Mar: too late, the breach stays.
    late = ev("DeadlineExtended", "2024-03-12 09:00", id="ext", case="S1", new_due="2024-03-15T17:30:00+08:00",
              approved_by="s-sup", notified_at=t("2024-03-08 10:00").isoformat())
    for at in ("2024-03-12 08:00", "2024-03-13 09:00", "2024-03-20 09:00"):
        c = clock([sdut(), late], at)
        assert c.due == eod("2024-03-11") and c.breached(), at
    c = clock([sdut(), late], "2024-03-20 09:00")
    assert c.stood is not None and c.stood.fact.event_id == "ext"
    assert any("approved" in s.text and "invalid" in s.text for s in c.basis)


def test_an_extension_never_notified_is_pending_until_the_due_passes() -> None:
    pending = clock([sdut(), extension(None)], "2024-03-09 09:00")
    assert pending.due == eod("2024-03-11") and pending.invalid_extensions == ()
    late = clock([sdut(), extension(None)], "2024-03-20 09:00")
    assert late.stood is not None and late.stood.notified_at is None


def test_extensions_chain_while_each_is_notified_in_time() -> None:
    second = ev("DeadlineExtended", "2024-03-14 09:00", case="S1", new_due="2024-03-22T17:30:00+08:00",
                approved_by="s-sup", notified_at="2024-03-14T10:00:00+08:00")
    assert clock([sdut(), extension("2024-03-08 10:00"), second], "2024-04-01 09:00").due == t("2024-03-22 17:30")


def test_a_suspension_after_an_extension_moves_the_new_due_keeping_its_time_of_day() -> None:
    events = [sdut(), extension("2024-03-08 10:00"),
              ev("ClockSuspended", "2024-03-13 10:00", case="S1", reason="hearing"),
              ev("ClockResumed", "2024-03-14 10:00", case="S1")]
    assert clock(events, "2024-04-01 09:00").due == t("2024-03-18 17:30")


def test_an_extension_to_a_deadline_no_later_than_the_due_is_not_an_extension() -> None:
    # 延期 sets a later deadline (002 限时 §7: 明确办结时限; DOMAIN: "a new deadline"): one to 1 Mar on a
    # case received on 4 Mar, or to the due itself, leaves the due as it was, notified or not.
    for new_due in ("2024-03-01T17:30:00+08:00", "2024-03-05T17:30:00+08:00", eod("2024-03-11").isoformat()):
        for notified in (t("2024-03-08 10:00").isoformat(), None):
            earlier = ev("DeadlineExtended", "2024-03-08 09:00", id="ext", case="S1", new_due=new_due,
                         approved_by="s-sup", notified_at=notified)
            for at in ("2024-03-08 12:00", "2024-03-20 09:00"):
                c = clock([sdut(), earlier], at)
                assert c.due == eod("2024-03-11") and c.invalid_extensions == () and c.stood is None, (new_due, at)
                assert any("not an extension" in s.text and "ext" in s.evidence for s in c.basis)
    assert not clock([sdut(), extension("2024-03-08 10:00"), ev(
        "DeadlineExtended", "2024-03-12 09:00", case="S1", new_due="2024-03-13T17:30:00+08:00", approved_by="s-sup",
        notified_at="2024-03-12T10:00:00+08:00")], "2024-03-14 09:00").breached()  # a second one, shorter


def test_a_pack_without_extensions_keeps_its_limit() -> None:
    c = clock([inquiry(), ev("DeadlineExtended", "2024-03-05 09:00", case="C1", approved_by="s-sup",
                             new_due="2024-03-15T17:30:00+08:00", notified_at="2024-03-05T10:00:00+08:00")],
              "2024-03-20 09:00")
    assert c.due == eod("2024-03-08") and c.invalid_extensions == ()


# --- missing materials (补正) --------------------------------------------------------------------------


def zy(at: str = "2024-03-04 09:00") -> dict[str, Any]:
    return inquiry("Z1", at, policy="zhangye-2021", kind="registration")


def asked(at: str, *items: str) -> dict[str, Any]:
    return ev("MaterialsRequested", at, case="Z1", by="s-a", items=list(items))


def got(at: str, *items: str) -> dict[str, Any]:
    return ev("MaterialsReceived", at, case="Z1", items=list(items))


def test_the_clock_restarts_at_the_supplements_that_complete_the_request() -> None:
    # 004 限时 §4: 其办理时限从收到补充文件、资料之日起计算.
    events = [zy(), asked("2024-03-05 10:00", "营业执照", "授权委托书"), got("2024-03-07 10:00", "营业执照"),
              got("2024-03-12 10:00", "授权委托书")]
    assert clock(events, "2024-03-30 09:00", catalogue=ZHANGYE).due == eod("2024-03-19")
    waiting = clock(events[:3], "2024-03-30 09:00", catalogue=ZHANGYE)
    assert waiting.state == "awaiting_supplements" and waiting.due is None and not waiting.breached()


def test_a_notice_that_missed_items_restarts_at_the_first_supplements() -> None:
    # 004 限时 §4: 告知…有遗漏的，其办理时限从其第一次收到补充文件、资料之日起计算.
    events = [zy(), asked("2024-03-05 10:00", "营业执照"), got("2024-03-07 10:00", "营业执照"),
              asked("2024-03-08 10:00", "授权委托书"), got("2024-03-12 10:00", "授权委托书")]
    assert clock(events, "2024-03-30 09:00", catalogue=ZHANGYE).due == eod("2024-03-14")


def test_a_materials_request_after_the_due_restarts_nothing() -> None:
    events = [zy(), asked("2024-03-12 10:00", "营业执照"), got("2024-03-13 10:00", "营业执照")]
    assert clock(events, "2024-03-30 09:00", catalogue=ZHANGYE).due == eod("2024-03-11")


def test_a_suspension_running_when_the_clock_restarts_stops_the_new_count_from_its_start() -> None:
    # 002 限时 §2: suspended time does not count, and the clock starts on complete supplements;
    # a suspension begun while the supplements were awaited still stops the count they start.
    def q(at: str, type_name: str, **fields: Any) -> dict[str, Any]:
        return ev(type_name, at, case="Q2", **fields)

    events = [inquiry("Q2", "2024-03-04 09:00", policy="suqian-finance", kind="misdirected_document"),
              q("2024-03-04 10:00", "MaterialsRequested", by="s-b", items=["原件"]),
              q("2024-03-05 10:00", "ClockSuspended", reason="appraisal"),
              q("2024-03-06 10:00", "MaterialsReceived", items=["原件"])]
    still = clock(events, "2024-03-12 10:00")
    assert still.state == "suspended" and still.due is None and not still.breached()
    assert still.is_suspended_at(t("2024-03-07 09:00"))
    resumed = clock([*events, q("2024-03-11 10:00", "ClockResumed")], "2024-03-20 10:00")
    # restarted 6 Mar: due 8 Mar; [6 Mar, 11 Mar) = 3 working days stopped: 13 Mar
    assert resumed.due == eod("2024-03-13")
    assert any("before the count began" in str(s) for s in resumed.basis)
    over = [*events[:3], q("2024-03-05 15:00", "ClockResumed"), events[3]]
    assert clock(over, "2024-03-20 10:00").due == eod("2024-03-08")  # ended before the restart: nothing to stop


def test_suqian_petitions_take_30_working_days_from_complete_supplements() -> None:
    # 002 限时 §6 (30 working days) and §2 (the clock starts on complete supplements).
    base = inquiry("Q1", "2024-09-20 09:00", policy="suqian-finance", kind="petition")
    assert clock([base], "2024-12-01 09:00").due == eod("2024-11-06")  # across National Day
    events = [base, ev("MaterialsRequested", "2024-09-23 10:00", case="Q1", by="s-b", items=["身份证复印件"]),
              ev("MaterialsReceived", "2024-09-25 10:00", case="Q1", items=["身份证复印件"])]
    assert clock(events, "2024-12-01 09:00").due == eod("2024-11-11")


# --- the calendar, reminders ----------------------------------------------------------------------------


def test_an_unknown_calendar_year_is_an_error_never_a_guess() -> None:
    with pytest.raises(UnknownCalendarYear, match="2027"):
        clock([sdut("2027-03-01 09:00")], "2027-04-01 09:00")
    with pytest.raises(UnknownCalendarYear, match="2027"):  # 2026 is known, the count runs into 2027
        clock([sdut("2026-12-30 09:00")], "2027-04-01 09:00")
    assert clock([inquiry(at="2027-03-01 09:00")], "2027-04-01 09:00").due == eod("2027-03-05")  # calendar days


def test_reminders_before_the_due_are_counted() -> None:
    # 001 限时 art. 3 (DOMAIN: "two or more Reminded events before the due instant"): one at the due
    # instant itself, 23:59:59.999 on 11 Mar, is not before it.
    events = [sdut(), ev("Reminded", "2024-03-05 10:00", case="S1", by="s-a"),
              ev("Reminded", eod("2024-03-11").isoformat(), case="S1", by="s-a"),
              ev("Reminded", "2024-03-12 10:00", case="S1", by="s-a")]
    assert [f.event.occurred_at for f in clock(events, "2024-03-20 09:00").reminders] == [t("2024-03-05 10:00")]


# --- properties -----------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 12)), max_size=3), st.integers(0, 12))
def test_more_suspended_time_never_brings_the_due_earlier(gaps: list[tuple[int, int]], extra: int) -> None:
    """Adding a suspension, or lengthening the last one, never moves the due instant earlier."""
    start = t("2024-03-04 09:00")
    events, cursor = [sdut()], start
    for wait, length in gaps:
        begin = cursor + timedelta(days=wait, hours=1)
        end = begin + timedelta(days=length, hours=1)
        events += [ev("ClockSuspended", begin.isoformat(), case="S1", reason="hearing"),
                   ev("ClockResumed", end.isoformat(), case="S1")]
        cursor = end
    at = "2024-12-01 09:00"
    without = [e for e in events if e["type"] == "InquiryReceived"]
    base, with_gaps = clock(without, at).due, clock(events, at).due
    assert base is not None and with_gaps is not None and base <= with_gaps
    if len(events) > 1:
        longer = [*events[:-1], {**events[-1], "occurred_at": (cursor + timedelta(days=extra)).isoformat()}]
        assert clock(longer, at).due >= with_gaps  # type: ignore[operator]
