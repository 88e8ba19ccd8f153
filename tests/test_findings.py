"""Liability findings (问责认定), one scenario per rule and per clause, from the regulation texts."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.policy import PolicyCatalogue, parse_pack
from ledger.records import Fact
from projections.findings import Finding, findings
from projections.responsibility import who
from projections.status import case_status, caseload, overdue
from projections.world import World
from tests.rules_helpers import (
    CAL,
    CAT,
    TZ,
    ZHANGYE,
    away,
    back,
    ev,
    fact,
    facts,
    inquiry,
    office_events,
    t,
    with_limits,
    world,
)

LATER = "2024-03-20 09:00"


def judge(events: list[dict[str, Any]], w: World, at: str = LATER,
          catalogue: PolicyCatalogue = CAT) -> list[Finding]:
    return findings(facts(*events), w, t(at), catalogue, CAL, TZ)


def only(found: list[Finding]) -> Finding:
    assert len(found) == 1, [f.rule for f in found]
    return found[0]


def reply(case: str, at: str, by: str = "s-a", outcome: str = "resolved", **extra: Any) -> dict[str, Any]:
    return ev("Replied", at, case=case, by=by, outcome=outcome, **extra)


# --- Shihezi: A/B cover (000 AB arts. 7, 8) and the 4-day reply (首问 art. 5(5)) ------------------------


def test_shihezi_a_leaves_without_telling_b_and_the_case_falls_due_no_handover() -> None:
    # 000 AB art. 7: A角责任人离开工作岗位未通知B角或未交代…由A角承担相应责任.
    f = only(judge([inquiry()], world(away("s-a", "2024-03-05 09:00"))))
    assert (f.rule, f.liable, f.clause) == ("no_handover", "s-a", "000 AB art. 7")
    assert f.due == f.breached_at == t("2024-03-08 23:59:59.999")
    assert {"in-C1", "abs-s-a"} <= set(f.evidence)
    assert "张三" in f.explanation_zh and "石河子大学后勤管理处《AB角补位制度》第七条" in f.explanation_zh
    assert "由A角张三承担责任" in f.explanation_zh and "000 AB art. 7" in f.explanation_en
    assert "A (张三) left the post" in f.explanation_en and f.also_liable == ()
    data = f.to_json()
    assert {"case", "rule", "liable", "clause", "due", "breached_at", "explanation", "evidence"} <= set(data)
    assert data["clause_text"]["zh"].startswith("A角责任人离开工作岗位") and data["also_liable"] == []
    assert data["explanation"]["zh"] and data["explanation"]["en"] and data["policy"] == "shihezi-2021"


def test_shihezi_a_hands_over_and_b_lets_it_lapse_cover_failure() -> None:
    # 000 AB art. 8: B角责任人在代行A角责任期间，不履行…由B角承担相应责任.
    f = only(judge([inquiry()], world(away("s-a", "2024-03-05 09:00", handover_to="s-b"))))
    assert (f.rule, f.liable, f.clause) == ("cover_failure", "s-b", "000 AB art. 8")
    assert "由B角李四承担责任" in f.explanation_zh
    told = only(judge([inquiry()], world(away("s-a", "2024-03-05 09:00", notified=["s-b"]))))
    assert (told.rule, told.liable) == ("cover_failure", "s-b")


def test_shihezi_a_at_the_post_misses_the_4_days_handler_late() -> None:
    # 000 首问 art. 5(5): 最迟应在4日内将办理情况回复本人; art. 7(2).
    w = world(away("s-a", "2024-03-05 09:00"), back("s-a", "2024-03-07 09:00"))
    f = only(judge([inquiry()], w))
    assert (f.rule, f.liable, f.clause) == ("handler_late", "s-a", "000 首问 art. 5(5)")
    assert f.clauses == ("000 首问 art. 5(5)", "000 首问 art. 7(2)")


def test_a_reply_by_the_due_is_no_breach_and_a_late_reply_still_is() -> None:
    assert judge([inquiry(), reply("C1", "2024-03-08 17:00")], world()) == []
    late = only(judge([inquiry(), reply("C1", "2024-03-09 10:00", id="r1")], world()))
    assert late.rule == "handler_late" and late.breached_at == t("2024-03-08 23:59:59.999") and "r1" in late.evidence
    assert "迟至2024-03-09 10:00才答复" in late.explanation_zh


def test_nothing_is_breached_before_the_due_has_passed_or_before_receipt() -> None:
    assert judge([inquiry()], world(), "2024-03-08 23:59:59.999") == []
    assert judge([inquiry()], world(), "2024-03-01 09:00") == []


# --- Zhangye and Suqian: both away, stand-in or vacancy --------------------------------------------------


def test_zhangye_a_and_b_both_away_with_no_stand_in_vacancy_falls_on_the_supervising_leader() -> None:
    # 004 AB §4: 同时外出的，由分管领导指定相关人员代理代办; §7: 不得…空岗缺位.
    w = world(away("s-a", "2024-03-05 09:00", handover_to="s-b"), away("s-b", "2024-03-06 09:00"))
    f = only(judge([inquiry(policy="zhangye-2021", kind="registration")], w, catalogue=ZHANGYE))
    assert (f.rule, f.liable, f.clause) == ("vacancy", "s-sup", "004 AB §4")
    assert set(f.clauses) == {"004 AB §2", "004 AB §4", "004 AB §7"}
    assert {"abs-s-a", "abs-s-b", "u-repair"} <= set(f.evidence) and "王处长" in f.explanation_zh
    assert "张掖市公共资源交易中心《AB岗工作制度(试行)》" in f.explanation_zh


def test_zhangye_with_a_stand_in_the_stand_in_answers_for_the_late_reply() -> None:
    w = world(away("s-a", "2024-03-05 09:00", handover_to="s-b"), away("s-b", "2024-03-06 09:00"),
              ev("StandInDesignated", "2024-03-06 10:00", id="si", post="water", stand_in="s-c", by="s-sup"))
    f = only(judge([inquiry(policy="zhangye-2021", kind="registration")], w, catalogue=ZHANGYE))
    assert (f.rule, f.liable) == ("handler_late", "s-c") and "si" in f.evidence


def test_a_designation_made_for_an_earlier_absence_leaves_a_later_one_vacant() -> None:
    # The March designation of 赵六 (without an end) does not cover A and B's June absence.
    w = world(away("s-a", "2024-03-05 09:00"), away("s-b", "2024-03-05 09:10"),
              ev("StandInDesignated", "2024-03-05 09:20", id="si", post="water", stand_in="s-c", by="s-sup"),
              back("s-a", "2024-03-06 18:00"), back("s-b", "2024-03-06 18:00"),
              away("s-a", "2024-06-04 09:00", handover_to="s-b", id="a2"), away("s-b", "2024-06-04 09:10", id="b2"))
    case = [inquiry(at="2024-06-03 09:00", policy="suqian-finance", kind="misdirected_document")]
    f = only(judge(case, w, "2024-07-01 09:00"))
    assert (f.rule, f.liable) == ("vacancy", "s-sup") and "si" in f.evidence
    assert "no longer stood" in f.explanation_en and "赵六" in f.explanation_zh
    answer = who(facts(*case), w, t("2024-06-05 10:00"), CAT, TZ)
    assert (answer.primary.staff, answer.primary.basis) == ("s-sup", "supervisor")
    assert "does not stand now" in " ".join(answer.explanation)


def test_a_handover_to_someone_other_than_b_does_not_tell_b_no_handover() -> None:
    # 000 AB art. 7: 未通知B角或未交代 — handing the work to 赵六 (not B) tells B (李四) nothing.
    f = only(judge([inquiry()], world(away("s-a", "2024-03-05 09:00", handover_to="s-c"))))
    assert (f.rule, f.liable, f.clause) == ("no_handover", "s-a", "000 AB art. 7")
    assert "赵六" in f.explanation_zh and "who is not B" in f.explanation_en
    also_told = only(judge([inquiry()], world(away("s-a", "2024-03-05 09:00", handover_to="s-c",
                                                   notified=["s-b"]))))
    assert (also_told.rule, also_told.liable) == ("cover_failure", "s-b")
    assert "已向B角李四通知" in also_told.explanation_zh  # told, not handed over to


def test_suqian_a_must_notify_both_b_and_the_supervising_leader_when_not_handing_over() -> None:
    # 002 AB art. 5(1): 来不及移交的,应电告分管领导和B角 — telling B alone is not enough there.
    case = [inquiry(policy="suqian-finance", kind="misdirected_document")]
    only_b = only(judge(case, world(away("s-a", "2024-03-05 09:00", notified=["s-b"]))))
    assert (only_b.rule, only_b.liable, only_b.clause) == ("no_handover", "s-a", "002 AB art. 5(1)")
    assert "分管领导王处长" in only_b.explanation_zh and "supervising leader (王处长)" in only_b.explanation_en
    both = only(judge(case, world(away("s-a", "2024-03-05 09:00", notified=["s-b", "s-sup"]))))
    assert (both.rule, both.liable) == ("cover_failure", "s-b")
    handed = only(judge(case, world(away("s-a", "2024-03-05 09:00", handover_to="s-b"))))
    assert (handed.rule, handed.liable) == ("cover_failure", "s-b")
    # Shihezi asks only that B be told (000 AB art. 7).
    shihezi = only(judge([inquiry()], world(away("s-a", "2024-03-05 09:00", notified=["s-b"]))))
    assert (shihezi.rule, shihezi.liable) == ("cover_failure", "s-b")


def test_suqian_both_away_vacancy_under_002_ab_5_4() -> None:
    # 002 AB art. 5(4): A角和B角同时离岗期间，由分管领导指派其他人做好相应事务; 6(3): 绝不能出现空岗.
    w = world(away("s-a", "2024-03-05 09:00"), away("s-b", "2024-03-05 09:30"))
    f = only(judge([inquiry(policy="suqian-finance", kind="misdirected_document")], w))
    assert (f.rule, f.liable, f.clause) == ("vacancy", "s-sup", "002 AB art. 5(4)")
    assert f.due == t("2024-03-06 23:59:59.999")  # 002 限时 §4: 2 working days


def test_suqian_explained_refusal_in_time_closes_the_case() -> None:
    # 002 社区首问 §6: 解释清楚后，视为完成答复.
    events = [inquiry(policy="suqian-finance", kind="misdirected_document"),
              reply("C1", "2024-03-06 16:00", outcome="explained_refusal")]
    assert judge(events, world()) == []


# --- Pudong's 2-5 rule (003 篇二) ------------------------------------------------------------------------


def pudong(**extra: Any) -> dict[str, Any]:
    return inquiry("P1", policy="pudong-tobacco", in_remit=False, post=None, **extra)


def test_pudong_first_asked_hands_over_late_late_transfer_on_its_own() -> None:
    # 二五原则: 首问人在2个工作日内将问题转交给有关承办人.
    events = [pudong(), ev("HandedOff", "2024-03-07 10:00", id="h", case="P1", from_="s-a", to="s-c"),
              ev("HandoffAccepted", "2024-03-07 11:00", case="P1", by="s-c"), reply("P1", "2024-03-13 10:00", "s-c")]
    f = only(judge(events, world()))
    assert (f.rule, f.liable, f.clause) == ("late_transfer", "s-a", "003 篇二")
    assert f.due == t("2024-03-06 23:59:59.999") and "h" in f.evidence


def test_pudong_handler_resolves_within_5_working_days_of_acceptance() -> None:
    # 承办人阅知后…最多不超过5个工作日: from acceptance on 5 Mar, due 12 Mar.
    events = [pudong(), ev("HandedOff", "2024-03-05 10:00", case="P1", from_="s-a", to="s-c"),
              ev("HandoffAccepted", "2024-03-05 11:00", case="P1", by="s-c")]
    f = only(judge(events, world()))
    assert (f.rule, f.liable, f.due) == ("handler_late", "s-c", t("2024-03-12 23:59:59.999"))
    assert judge([*events, reply("P1", "2024-03-12 17:00", "s-c")], world()) == []


def test_pudong_a_handoff_in_time_gives_the_handler_5_days_from_an_acceptance_by_the_receipts_due() -> None:
    # s-a hands over on day 2 (in time); s-c reads it on 8 Mar, by the 5 days counted from receipt
    # (11 Mar): s-c's 5 days run to 15 Mar, and s-a is not liable for s-c's lateness.
    events = [pudong(at="2024-03-04 10:00"),
              ev("HandedOff", "2024-03-06 10:00", case="P1", from_="s-a", to="s-c"),
              ev("HandoffAccepted", "2024-03-08 09:00", case="P1", by="s-c")]
    assert judge([*events, reply("P1", "2024-03-15 10:00", "s-c")], world()) == []
    f = only(judge([*events, reply("P1", "2024-03-18 10:00", "s-c")], world()))
    assert (f.rule, f.liable, f.due) == ("handler_late", "s-c", t("2024-03-15 23:59:59.999"))


def test_pudong_a_breach_made_while_a_handoff_awaited_acceptance_stays_made() -> None:
    # s-c reads it only on 13 Mar, after the receipt's due (11 Mar), which the sender held the case at
    # (003 篇二 (一) 首问责任人全程参与): the finding asked on 12 Mar is the finding asked on 20 Mar.
    events = [pudong(at="2024-03-04 10:00"),
              ev("HandedOff", "2024-03-06 10:00", case="P1", from_="s-a", to="s-c"),
              ev("HandoffAccepted", "2024-03-13 10:00", case="P1", by="s-c")]
    before = only(judge(events[:2], world(), "2024-03-12 08:00"))
    after = only(judge([*events, reply("P1", "2024-03-19 10:00", "s-c")], world(), "2024-03-20 09:00"))
    for f in (before, after):
        assert (f.rule, f.liable, f.due) == ("handler_late", "s-a", t("2024-03-11 23:59:59.999"))


def test_a_case_in_remit_has_no_transfer_duty() -> None:
    events = [inquiry("P1", policy="pudong-tobacco", post=None), reply("P1", "2024-03-08 10:00")]
    assert judge(events, world()) == []


# --- Suqian petitions: 30 working days, one-time notice -----------------------------------------------------


def test_suqian_petition_with_a_piecemeal_notice() -> None:
    # 002 限时 §2 / 一次性告知 §§1-2: list every missing item at once; 限时 §6: 30 working days.
    events = [inquiry("Q1", "2024-09-20 09:00", policy="suqian-finance", kind="petition"),
              ev("MaterialsRequested", "2024-09-23 10:00", id="m1", case="Q1", by="s-b", items=["身份证复印件"]),
              ev("MaterialsReceived", "2024-09-25 10:00", case="Q1", items=["身份证复印件"]),
              ev("MaterialsRequested", "2024-09-26 10:00", id="m2", case="Q1", by="s-c",
                 items=["身份证复印件", "信访事项说明"]),
              ev("MaterialsReceived", "2024-10-14 10:00", case="Q1", items=["信访事项说明"])]
    found = judge(events, world(), "2024-11-12 09:00")
    assert [f.rule for f in found] == ["piecemeal_notice", "handler_late"]
    notice, late = found
    assert (notice.liable, notice.clause, notice.due) == ("s-b", "002 一次性告知 §1", None)
    assert late.clause == "002 限时 §6"  # the petition's 30 working days
    assert notice.breached_at == t("2024-09-26 10:00") and {"m1", "m2"} <= set(notice.evidence)
    assert "信访事项说明" in notice.explanation_zh and "身份证复印件）" in notice.explanation_zh
    # the notice missed an item, so the clock ran from the FIRST supplements (25 Sep), not 14 Oct
    assert late.due == t("2024-11-11 23:59:59.999") and late.liable == "s-a"


def test_a_pack_without_the_one_time_notice_rule_finds_nothing_piecemeal() -> None:
    events = [inquiry(), ev("MaterialsRequested", "2024-03-04 10:00", case="C1", by="s-a", items=["a"]),
              ev("MaterialsRequested", "2024-03-05 10:00", case="C1", by="s-a", items=["b"]),
              reply("C1", "2024-03-06 10:00")]
    assert judge(events, world()) == []


# --- SDUT: suspension, extensions, reminders, leadership tiers -------------------------------------------


def sdut() -> dict[str, Any]:
    return inquiry("S1", policy="sdut-logistics", kind="leader_approval")


def test_sdut_suspended_time_does_not_count() -> None:
    # 001 限时 art. 11: 听证、招标、鉴定或专家评审…所需时间不计算在承诺办结的时限内.
    events = [sdut(), ev("ClockSuspended", "2024-03-06 10:00", case="S1", reason="expert_review"),
              ev("ClockResumed", "2024-03-08 15:00", case="S1"), reply("S1", "2024-03-13 10:00")]
    assert judge(events, world()) == []
    assert judge(events[:2], world()) == []  # still suspended at T: the clock is stopped


def extended(notified: str | None) -> dict[str, Any]:
    return ev("DeadlineExtended", "2024-03-08 09:00", id="ext", case="S1", approved_by="s-sup",
              new_due="2024-03-15T17:30:00+08:00", notified_at=None if notified is None else t(notified).isoformat())


def test_sdut_extension_notified_in_time_moves_the_due() -> None:
    # 001 服务承诺 art. 5(2)3: 应在规定时限内…告知原因，同时明确新的办结时限.
    assert judge([sdut(), extended("2024-03-08 10:00"), reply("S1", "2024-03-15 10:00")], world()) == []


def test_sdut_extension_notified_after_the_due_is_an_invalid_extension() -> None:
    f = only(judge([sdut(), extended("2024-03-12 10:00"), reply("S1", "2024-03-15 10:00")], world()))
    assert (f.rule, f.liable, f.clause) == ("invalid_extension", "s-a", "001 限时 art. 3")
    assert f.due == t("2024-03-11 23:59:59.999") and "ext" in f.evidence and "延期无效" in f.explanation_zh
    never = only(judge([sdut(), extended(None)], world()))
    assert never.rule == "invalid_extension" and "never notified" in never.explanation_en


def test_an_extension_approved_by_someone_who_is_no_leader_is_an_invalid_extension() -> None:
    # DOMAIN: an extension is approved by a leader; 002 限时 §7 由受理事项的单位负责人签署意见.
    # The handler approving their own, notified in time: no extension, the old due stands.
    own = {**extended("2024-03-08 10:00"), "approved_by": "s-a"}
    f = only(judge([sdut(), own, reply("S1", "2024-03-15 10:00")], world()))
    assert (f.rule, f.liable, f.due) == ("invalid_extension", "s-a", t("2024-03-11 23:59:59.999"))
    assert "neither a section head nor a supervising leader" in f.explanation_en
    assert "其并非科室负责人或分管领导" in f.explanation_zh and "ext" in f.evidence
    # A section head approving counts; so does a supervising leader (extended() has s-sup).
    head = {**extended("2024-03-08 10:00"), "approved_by": "s-head"}
    assert judge([sdut(), head, reply("S1", "2024-03-15 10:00")], world()) == []
    # A leader is one as the units stood at the approval: s-c heads the unit only from 12 Mar.
    later_head = ev("UnitDefined", "2024-03-12 09:00", id="u-repair-2", unit="repair", head="s-c",
                    supervisor="s-sup", name="维修服务中心")
    by_c = {**extended("2024-03-08 10:00"), "approved_by": "s-c"}
    assert only(judge([sdut(), by_c, reply("S1", "2024-03-15 10:00")], world(later_head))).rule == "invalid_extension"
    # Before the old due, nothing is breached yet, and nothing is found.
    assert judge([sdut(), own], world(), "2024-03-11 12:00") == []


def test_sdut_leadership_tiers_name_the_head_and_the_supervisor_inside_the_finding() -> None:
    # 001 责任追究 art. 3: 谁主管、谁负责.
    f = only(judge([sdut()], world()))
    assert f.rule == "handler_late"
    assert [(a.staff, a.tier, a.clause) for a in f.also_liable] == [
        ("s-head", "head", "001 责任追究 art. 3"), ("s-sup", "supervisor", "001 责任追究 art. 3")]
    assert f.to_json()["also_liable"][0]["tier_zh"] == "主要领导责任"


def test_a_case_dated_before_the_register_still_names_its_leaders() -> None:
    """Staff and units registered on 2 Jan; a case of 2023 found late: its leaders are those of the
    unit the handler was first registered in (as their name is), not dropped from the finding."""
    f = only(judge([inquiry("S1", at="2023-12-18 09:00", policy="sdut-logistics", kind="leader_approval")],
                   world(), "2023-12-29 09:00"))
    assert f.rule == "handler_late" and [a.staff for a in f.also_liable] == ["s-head", "s-sup"]
    # and its leaders' extension counts, as they are named leaders in it
    ext = ev("DeadlineExtended", "2023-12-20 09:00", id="ext", case="S1", approved_by="s-head",
             new_due="2024-01-10T17:30:00+08:00", notified_at=t("2023-12-20 10:00").isoformat())
    assert judge([inquiry("S1", at="2023-12-18 09:00", policy="sdut-logistics", kind="leader_approval"), ext],
                 world(), "2023-12-29 09:00") == []


def test_leadership_tiers_name_only_leaders_above_the_liable() -> None:
    # 003 篇三 §5(1): 首问责任人负直接责任,其所在股室的主要负责人负主要领导责任,分管领导负重要领导责任:
    # the section head answers for the supervising leader's own breach no more than for their own.
    def by(staff: str) -> dict[str, Any]:
        return inquiry("S1", policy="sdut-logistics", kind="leader_approval", received_by=[staff])

    by_head = only(judge([by("s-head")], world()))
    assert (by_head.liable, [(a.staff, a.tier) for a in by_head.also_liable]) == ("s-head", [("s-sup", "supervisor")])
    by_sup = only(judge([by("s-sup")], world()))
    assert (by_sup.liable, by_sup.also_liable) == ("s-sup", ())


def test_sdut_two_reminders_before_the_due_excuse_the_delay() -> None:
    # 001 限时 art. 3: 经反复催促仍未…的，视为按时办结.
    one = [sdut(), ev("Reminded", "2024-03-05 10:00", case="S1", by="s-a")]
    assert only(judge(one, world())).rule == "handler_late"
    two = [*one, ev("Reminded", "2024-03-07 10:00", case="S1", by="s-a")]
    assert judge(two, world()) == []
    late_second = [*one, ev("Reminded", "2024-03-12 10:00", case="S1", by="s-a")]
    assert only(judge(late_second, world())).rule == "handler_late"


def test_a_rule_the_pack_does_not_adopt_falls_to_the_next() -> None:
    # SDUT adopts A/B cover but not no_handover: B, acting for A, answers as the handler at the deadline.
    f = only(judge([sdut()], world(away("s-a", "2024-03-05 09:00"))))
    assert (f.rule, f.liable) == ("handler_late", "s-b")


# --- the pack version in force on the day of receipt -----------------------------------------------------------


def test_each_case_is_judged_by_the_pack_version_in_force() -> None:
    catalogue = with_limits("shihezi-2021", "2024-06-01", {
        "general": {"reply": {"days": 7, "count": "calendar", "from": "receipt", "clause": "000 首问 art. 5(5)"}}})
    old = only(judge([inquiry(at="2024-05-31 09:00")], world(), "2024-07-01 09:00", catalogue))
    new = only(judge([inquiry(at="2024-06-03 09:00")], world(), "2024-07-01 09:00", catalogue))
    assert old.due == t("2024-06-04 23:59:59.999") and new.due == t("2024-06-10 23:59:59.999")


def test_a_finding_quotes_the_limit_it_missed_from_the_version_that_set_it() -> None:
    """Received under the 2021 version (4 days, art. 5(5)); breached under a later one that quotes
    that clause shorter and lets a different clause set a 7-day limit: the limit cited is the one missed."""
    later = parse_pack({
        "id": "shihezi-2021", "extends": "shihezi-2021", "effective_from": "2024-06-01",
        "limits": {"general": {"reply": {"days": 7, "count": "calendar", "from": "receipt",
                                         "clause": "X 办法 art. 1"}}},
        "rules": {"handler_late": {"clauses": ["X 办法 art. 1"]}},
        "clauses": {"X 办法 art. 1": {"file": "office-rules.txt", "section": "办事时限办法", "article": "第一条",
                                      "zh": "七日内答复。", "en": "Reply within seven days."},
                    "000 首问 art. 5(5)": {"file": "000_a1a78aef9bd31309.txt", "section": "首问负责制 (附件1)",
                                           "article": "第五条第5项", "zh": "最迟应在4日内将办理情况回复本人",
                                           "en": "Reply within 4 days at the latest."}},
    }, "test")
    catalogue = CAT.with_added(later)
    old = only(judge([inquiry(at="2024-05-31 09:00")], world(), "2024-07-01 09:00", catalogue))
    assert old.due == t("2024-06-04 23:59:59.999")
    assert old.clauses == ("000 首问 art. 5(5)", "X 办法 art. 1")
    assert old.clause_zh == CAT.in_force("shihezi-2021", t("2024-05-31 09:00").date()).clauses[
        "000 首问 art. 5(5)"].zh
    assert old.policy_version == "2024-06-01"
    assert "（时限按受理当日施行的2021-12-28版计算，责任按2024-06-01版认定）" in old.explanation_zh
    assert "the limit is that of the version in force from 2021-12-28, on the day of receipt" in old.explanation_en
    new = only(judge([inquiry(at="2024-06-03 09:00")], world(), "2024-07-01 09:00", catalogue))
    assert (new.clause, new.clause_zh, new.due) == ("X 办法 art. 1", "七日内答复。", t("2024-06-10 23:59:59.999"))
    assert "版计算" not in new.explanation_zh


# --- status: overdue and caseload -------------------------------------------------------------------------


def test_status_overdue_and_caseload() -> None:
    w = world()
    cases = {
        "C1": facts(inquiry("C1")),
        "C2": facts(inquiry("C2", "2024-03-05 09:00"), reply("C2", "2024-03-06 09:00")),
        "C3": facts(inquiry("C3", "2024-03-11 09:00", received_by=["s-c"], post=None)),
        "C4": facts(inquiry("C4", "2024-04-01 09:00")),
    }
    at = t("2024-03-12 10:00")
    statuses = [case_status(fs, w, at, CAT, CAL, TZ) for fs in cases.values()]
    assert [s.state for s in statuses] == ["open", "replied", "open", "not_received"]
    assert overdue(statuses) == [{"case": "C1", "due": "2024-03-08T23:59:59.999000+08:00", "responsible": "s-a",
                                  "responsible_name": "张三", "working_days_overdue": 2}]
    assert caseload(statuses) == [{"staff": "s-a", "open_cases": ["C1"]}, {"staff": "s-c", "open_cases": ["C3"]}]
    assert caseload(statuses, staff="s-b") == [{"staff": "s-b", "open_cases": []}]


# --- property: the order facts were recorded in does not matter ---------------------------------------------

SAME = "2024-03-05 10:00"
CASE_EVENTS: list[dict[str, Any]] = [
    ev("HandedOff", SAME, id="k1", case="S1", from_="s-a", to="s-c"),
    ev("HandoffAccepted", SAME, id="k2", case="S1", by="s-c"),
    ev("ClockSuspended", SAME, id="k3", case="S1", reason="hearing"),
    ev("ClockResumed", SAME, id="k4", case="S1"),
    ev("MaterialsRequested", SAME, id="k5", case="S1", by="s-a", items=["a"]),
    ev("MaterialsRequested", SAME, id="k6", case="S1", by="s-c", items=["b"]),
    ev("Reminded", SAME, id="k7", case="S1", by="s-a"),
    ev("Reminded", SAME, id="k8", case="S1", by="s-c"),
    ev("DeadlineExtended", SAME, id="k9", case="S1", approved_by="s-sup", new_due="2024-03-14T17:00:00+08:00",
       notified_at="2024-03-05T10:00:00+08:00"),
]
COVER: list[dict[str, Any]] = [
    away("s-a", SAME, id="w1"), back("s-a", SAME), away("s-b", SAME, id="w2", notified=["s-a"]),
    ev("StandInDesignated", SAME, id="w3", post="water", stand_in="s-c", by="s-sup"),
]


def reseq(items: list[Fact], rng: random.Random) -> list[Fact]:
    numbers = rng.sample(range(1000), len(items))
    out = [Fact(f.event_id, f.event, n, f.recorded_at) for f, n in zip(items, numbers, strict=True)]
    return sorted(out, key=lambda f: (f.occurred_at, f.seq))


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["sdut-logistics", "suqian-finance", "zhangye-2021"]),
       st.sets(st.integers(0, len(CASE_EVENTS) - 1)), st.sets(st.integers(0, len(COVER) - 1)),
       st.randoms(use_true_random=False))
def test_findings_do_not_depend_on_the_recording_order_of_simultaneous_facts(
    policy: str, case_picks: set[int], cover_picks: set[int], rng: random.Random,
) -> None:
    kind = {"sdut-logistics": "leader_approval", "suqian-finance": "petition", "zhangye-2021": "registration"}
    case = [fact(inquiry("S1", policy=policy, kind=kind[policy]))]
    case += [fact(CASE_EVENTS[i]) for i in sorted(case_picks)]
    cover = [fact(e) for e in [*office_events(), *(COVER[i] for i in sorted(cover_picks))]]
    answers = set()
    for _ in range(3):
        w = World.from_facts(reseq(cover, rng))
        found = findings(reseq(case, rng), w, t("2024-06-01 09:00"), ZHANGYE, CAL, TZ)
        answers.add(repr([f.to_json() for f in found]))
    assert len(answers) == 1


#: Each finding's clause (its first citation) as DOMAIN.md's table of liability rules names it.
DOMAIN_CLAUSES = {
    ("shihezi-2021", "no_handover"): "000 AB art. 7", ("shihezi-2021", "cover_failure"): "000 AB art. 8",
    ("shihezi-2021", "handler_late"): "000 首问 art. 5(5)",
    ("zhangye-2021", "no_handover"): "004 AB §3.1", ("zhangye-2021", "cover_failure"): "004 AB §3.2",
    ("zhangye-2021", "piecemeal_notice"): "004 一次性告知 §7", ("zhangye-2021", "vacancy"): "004 AB §4",
    ("zhangye-2021", "invalid_extension"): "004 限时 §5",
    ("suqian-finance", "piecemeal_notice"): "002 一次性告知 §1", ("suqian-finance", "handler_late"): "002 限时 §6",
    ("suqian-finance", "invalid_extension"): "002 限时 §7", ("suqian-finance", "vacancy"): "002 AB art. 5(4)",
    ("pudong-tobacco", "late_transfer"): "003 篇二", ("pudong-tobacco", "handler_late"): "003 篇二",
}


def test_each_finding_cites_first_the_clause_domain_names_for_its_rule() -> None:
    from projections.responsibility import rule_clauses

    for (pack_id, rule), clause in DOMAIN_CLAUSES.items():
        pack = CAT.in_force(pack_id, t("2024-06-01 09:00").date())
        assert rule_clauses(pack, rule)[0] == clause, (pack_id, rule)


def test_an_extension_approved_after_the_due_is_an_invalid_extension_not_a_cure() -> None:
    # A breach, once made, stays made: an approval after the due cannot move it, even if the
    # register says the requester was told before (002 限时 §7).
    events = [inquiry("Q1", "2024-03-04 09:00", policy="suqian-finance", kind="misdirected_document"),
              ev("DeadlineExtended", "2024-03-08 09:00", id="ext", case="Q1", new_due="2024-03-20T17:30:00+08:00",
                 approved_by="s-sup", notified_at="2024-03-06T10:00:00+08:00")]
    for at in ("2024-03-09 09:00", "2024-04-01 09:00"):
        f = only(judge(events, world(), at))
        assert (f.rule, f.due, f.liable) == ("invalid_extension", t("2024-03-06 23:59:59.999"), "s-a"), at
        assert "ext" in f.evidence and "2024-03-08" in f.explanation_en and "approved only" in f.explanation_en


def test_a_late_reply_cites_first_the_clause_of_the_kind_s_own_limit() -> None:
    # Suqian's misdirected documents (限时 §4, 2 working days) and petitions (限时 §6, 30) are two
    # limits of one pack: each late reply is cited under its own, then the rule's clauses.
    late_doc = only(judge([inquiry("Q1", "2024-03-04 09:00", policy="suqian-finance", kind="misdirected_document")],
                          world(), "2024-04-01 09:00"))
    assert (late_doc.rule, late_doc.clause) == ("handler_late", "002 限时 §4")
    assert late_doc.clauses == ("002 限时 §4", "002 限时 §6", "002 限时 §1")
    assert "2个工作日" in late_doc.clause_zh or "两个工作日" in late_doc.clause_zh
    late_petition = only(judge([inquiry("Q2", "2024-03-04 09:00", policy="suqian-finance", kind="petition")],
                               world(), "2024-06-01 09:00"))
    assert (late_petition.clause, late_petition.clauses[0]) == ("002 限时 §6", "002 限时 §6")


def test_a_question_over_many_cases_names_the_case_a_pack_cannot_judge() -> None:
    """A case its pack leaves without a limit (a ledger written before such versions were refused)
    stops `ledger findings` with a message that says which case."""
    import pytest

    from ledger.policy import NoLimitConfigured, PolicyError
    from projections.queries import _naming_the_case

    pack = PolicyCatalogue.builtin().in_force("zhangye-2021", date(2024, 3, 4))
    named = r"^case 'ZY-1': policy 'zhangye-2021' \(in force on 2024-03-04\) sets no"
    with pytest.raises(PolicyError, match=named), _naming_the_case("ZY-1"):
        raise NoLimitConfigured(pack, "registration", date(2024, 3, 4))
