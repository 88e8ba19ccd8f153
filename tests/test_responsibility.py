"""Who is responsible for a case at instant T (DOMAIN.md), told from the regulations' own cases."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.records import Fact
from projections.responsibility import CaseNotFoundAt, WhoAnswer, who
from projections.world import World
from tests.rules_helpers import CAT, TZ, ZHANGYE, away, back, ev, fact, facts, inquiry, t, world

AT = "2024-03-06 09:00"


def ask(events: list[dict[str, Any]], w: World, at: str = AT, catalogue: Any = CAT) -> WhoAnswer:
    return who(facts(*events), w, t(at), catalogue, TZ)


def test_the_first_asked_staff_holds_the_case_and_b_is_secondary_while_a_is_at_the_post() -> None:
    # 000 首问 art. 2; 000 AB art. 3: A角在岗时，由A角负主要责任，B角负次要责任.
    answer = ask([inquiry()], world())
    assert (answer.primary.staff, answer.primary.basis, answer.primary.role) == ("s-a", "holder", "A")
    assert answer.secondary is not None and (answer.secondary.staff, answer.secondary.role) == ("s-b", "B")
    assert "000 首问 art. 2" in answer.clauses and "000 AB art. 3" in answer.clauses
    text = " ".join(answer.explanation)
    assert "张三" in text and "A角在岗时，由A角负主要责任" in text and "at the post, so A is primary" in text
    assert answer.policy == "shihezi-2021" and answer.evidence[:2] == ("in-C1", "p-water")


def test_the_json_has_the_contract_shape() -> None:
    data = who(facts(inquiry()), world(), t(AT), CAT, TZ, known_at=t("2024-06-30 18:00")).to_json()
    assert {"case", "at", "known_at", "primary", "secondary", "explanation", "clauses"} <= set(data)
    assert data["case"] == "C1" and data["known_at"] == "2024-06-30T18:00:00+08:00"
    assert {"staff", "basis"} <= set(data["primary"]) and data["primary"]["name"] == "张三"
    assert data["secondary"]["staff"] == "s-b"
    assert all(isinstance(s, str) for s in data["explanation"]) and data["evidence"][0] == "in-C1"


def test_joint_inquiry_goes_to_the_higher_rank() -> None:
    # 000 首问 art. 3: 当两位以上工作人员一起被询问时，职位高者为首问责任人.
    answer = ask([inquiry(received_by=["s-a", "s-c"])], world())
    assert answer.primary.staff == "s-c" and "000 首问 art. 3" in answer.clauses
    assert "职位高者" in " ".join(answer.explanation)
    tie = ask([inquiry(received_by=["s-b", "s-a"])], world())
    assert tie.primary.staff == "s-b"  # equal rank: the first listed, and said so (not "higher-ranked")
    said = " ".join(tie.explanation)
    assert "职位高者李四" not in said and "share the highest rank" in said and "制度未规定同级者的先后" in said
    # Pudong's pack has no rank rule: the first listed.
    pudong = ask([inquiry(policy="pudong-tobacco", received_by=["s-a", "s-c"])], world())
    assert pudong.primary.staff == "s-a" and "000 首问 art. 3" not in pudong.clauses


def test_responsibility_passes_on_acceptance_not_on_handoff() -> None:
    # 002 社区首问 §4: 被移交人担负首办责任 — once the receiver accepts.
    events = [inquiry(post=None), ev("HandedOff", "2024-03-05 10:00", id="h1", case="C1", from_="s-a", to="s-c")]
    pending = ask(events, world())
    assert pending.primary.staff == "s-a" and pending.pending_handoff is not None
    assert pending.pending_handoff["to"] == "s-c" and "pending" in " ".join(pending.explanation)
    accepted = ask([*events, ev("HandoffAccepted", "2024-03-05 11:00", id="h2", case="C1", by="s-c")], world())
    assert (accepted.primary.staff, accepted.primary.role, accepted.holder) == ("s-c", "handler", "s-c")
    assert accepted.pending_handoff is None and {"h1", "h2"} <= set(accepted.evidence)
    # before the acceptance happened, the sender still held it
    assert ask(accepted_events(events), world(), "2024-03-05 10:30").primary.staff == "s-a"


def accepted_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*events, ev("HandoffAccepted", "2024-03-05 11:00", case="C1", by="s-c")]


def test_a_absent_makes_b_primary_and_a_secondary() -> None:
    # 000 AB art. 3: 当A角因工作等原因不在岗时，则由B角负主要责任，A角负次要责任.
    w = world(away("s-a", "2024-03-05 09:00", handover_to="s-b"), back("s-a", "2024-03-08 09:00"))
    answer = ask([inquiry()], w)
    assert (answer.primary.staff, answer.primary.basis) == ("s-b", "acting_b")
    assert answer.secondary is not None and (answer.secondary.staff, answer.secondary.basis) == ("s-a", "holder")
    assert "abs-s-a" in answer.evidence and "B角负主要责任" in " ".join(answer.explanation)
    assert ask([inquiry()], w, "2024-03-08 09:00").primary.staff == "s-a"  # back at the post


def test_without_a_given_post_the_one_post_where_the_holder_is_a_is_used() -> None:
    w = world(away("s-a", "2024-03-05 09:00"))
    assert ask([inquiry(post=None)], w).primary.staff == "s-b"
    two_posts = world(away("s-a", "2024-03-05 09:00"),
                      ev("PostDefined", "2024-01-02 08:00", post="heat", unit="repair", a="s-a", b="s-d"))
    ambiguous = ask([inquiry(post=None)], two_posts)
    assert ambiguous.primary.staff == "s-a" and ambiguous.secondary is None
    assert "no A/B cover applies" in " ".join(ambiguous.explanation)


def test_a_holder_who_is_not_a_of_the_post_gets_no_cover() -> None:
    w = world(away("s-c", "2024-03-05 09:00"))
    answer = ask([inquiry(received_by=["s-c"])], w)
    assert answer.primary.staff == "s-c" and answer.secondary is None


def test_a_pack_without_ab_cover_leaves_the_absent_holder_responsible() -> None:
    w = world(away("s-a", "2024-03-05 09:00"))
    answer = ask([inquiry(policy="pudong-tobacco")], w)
    assert answer.primary.staff == "s-a" and answer.secondary is None


@pytest.mark.parametrize("policy,kind,stand_in_clause,vacancy_clause", [
    ("zhangye-2021", "registration", "004 AB §4", "004 AB §7"),
    ("suqian-finance", "petition", "002 AB art. 5(4)", "002 AB art. 6(3)"),
])
def test_a_and_b_both_away_the_stand_in_or_else_the_supervising_leader(
    policy: str, kind: str, stand_in_clause: str, vacancy_clause: str,
) -> None:
    # 004 AB §4 / 002 AB art. 5(4): 同时外出的，由分管领导指定相关人员代理; 004 AB §7, 002 AB 6(3): 空岗.
    both = [away("s-a", "2024-03-05 09:00"), away("s-b", "2024-03-05 10:00")]
    case = [inquiry(policy=policy, kind=kind)]
    vacant = ask(case, world(*both), catalogue=ZHANGYE)
    assert (vacant.primary.staff, vacant.primary.basis) == ("s-sup", "supervisor")
    assert vacant.secondary is not None and vacant.secondary.staff == "s-a"
    assert vacancy_clause in vacant.clauses and "u-repair" in vacant.evidence
    designated = ev("StandInDesignated", "2024-03-05 11:00", id="si", post="water", stand_in="s-c", by="s-sup",
                    until="2024-03-07T18:00:00+08:00")
    covered = ask(case, world(*both, designated), catalogue=ZHANGYE)
    assert (covered.primary.staff, covered.primary.basis) == ("s-c", "stand_in")
    assert stand_in_clause in covered.clauses and "si" in covered.evidence
    expired = ask(case, world(*both, designated), "2024-03-08 09:00", catalogue=ZHANGYE)
    assert expired.primary.basis == "supervisor"


@pytest.mark.parametrize("by,stands", [("s-sup", True), ("s-head", True), ("s-c", False), ("s-d", False)])
def test_only_a_leader_of_the_posts_unit_designates_a_stand_in(by: str, stands: bool) -> None:
    # 002 AB art. 5(4): 由分管领导指派; 004 AB §4: 由分管领导指定 — the supervising leader (or the section
    # head above the post); a colleague, or the stand-in naming themselves (s-c by s-c), designates nobody.
    both = [away("s-a", "2024-03-05 09:00"), away("s-b", "2024-03-05 10:00")]
    designated = ev("StandInDesignated", "2024-03-05 11:00", id="si", post="water", stand_in="s-c", by=by,
                    until="2024-03-07T18:00:00+08:00")
    case = [inquiry(policy="zhangye-2021", kind="registration")]
    answer = ask(case, world(*both, designated), catalogue=ZHANGYE)
    if stands:
        assert (answer.primary.staff, answer.primary.basis) == ("s-c", "stand_in")
    else:
        assert (answer.primary.staff, answer.primary.basis) == ("s-sup", "supervisor")
        assert any("not made by the supervising leader or the section head" in line for line in answer.explanation)
        assert any("分管领导或科室负责人" in line for line in answer.explanation)
        assert "si" in answer.evidence


def test_a_designation_by_someone_else_does_not_replace_a_leaders() -> None:
    # "anyone else's is no designation" (002 AB art. 5(4), 004 AB §4): a section clerk naming
    # another stand-in the next day leaves the supervising leader's designation standing; a
    # leader's later designation does replace it.
    both = [away("s-a", "2024-03-05 09:00"), away("s-b", "2024-03-05 10:00")]
    leaders = ev("StandInDesignated", "2024-03-05 11:00", id="si", post="water", stand_in="s-c", by="s-sup",
                 until="2024-03-07T18:00:00+08:00")
    colleagues = ev("StandInDesignated", "2024-03-06 09:00", id="si2", post="water", stand_in="s-d", by="s-c",
                    until="2024-03-07T18:00:00+08:00")
    case = [inquiry(policy="zhangye-2021", kind="registration")]
    answer = ask(case, world(*both, leaders, colleagues), "2024-03-06 12:00", catalogue=ZHANGYE)
    assert (answer.primary.staff, answer.primary.basis) == ("s-c", "stand_in")
    assert "si" in answer.evidence and "si2" not in answer.evidence
    heads = ev("StandInDesignated", "2024-03-06 10:00", id="si3", post="water", stand_in="s-d", by="s-head",
               until="2024-03-07T18:00:00+08:00")
    answer = ask(case, world(*both, leaders, colleagues, heads), "2024-03-06 12:00", catalogue=ZHANGYE)
    assert (answer.primary.staff, answer.primary.basis) == ("s-d", "stand_in")


def test_shihezi_has_no_stand_in_rule_so_b_stays_primary_when_both_are_away() -> None:
    w = world(away("s-a", "2024-03-05 09:00"), away("s-b", "2024-03-05 10:00"),
              ev("StandInDesignated", "2024-03-05 11:00", post="water", stand_in="s-c", by="s-sup"))
    answer = ask([inquiry()], w)
    assert (answer.primary.staff, answer.primary.basis) == ("s-b", "acting_b")


def test_a_case_not_yet_received_is_an_error() -> None:
    with pytest.raises(CaseNotFoundAt, match="C1"):
        ask([inquiry(at="2024-03-07 09:00")], world())
    with pytest.raises(CaseNotFoundAt):
        ask([], world())


def test_later_facts_are_ignored() -> None:
    events = [inquiry(), ev("HandedOff", "2024-03-07 10:00", case="C1", from_="s-a", to="s-c"),
              ev("HandoffAccepted", "2024-03-07 11:00", case="C1", by="s-c")]
    assert ask(events, world()).primary.staff == "s-a"


# --- property: the order facts were recorded in does not matter -------------------------------------

SAME = "2024-03-05 10:00"
CANDIDATES: list[dict[str, Any]] = [
    ev("HandedOff", SAME, id="k1", case="C1", from_="s-a", to="s-c"),
    ev("HandoffAccepted", SAME, id="k2", case="C1", by="s-c"),
    ev("HandedOff", SAME, id="k3", case="C1", from_="s-a", to="s-d"),
    ev("HandoffAccepted", SAME, id="k4", case="C1", by="s-d"),
    ev("Replied", SAME, id="k5", case="C1", by="s-c", outcome="resolved"),
]
COVER: list[dict[str, Any]] = [
    away("s-a", SAME, id="w1"), back("s-a", SAME), away("s-b", SAME, id="w2", handover_to="s-a"),
    ev("StandInDesignated", SAME, id="w3", post="water", stand_in="s-c", by="s-sup"),
    ev("StandInDesignated", SAME, id="w4", post="water", stand_in="s-d", by="s-sup"),
]


def reseq(items: list[Fact], rng: random.Random) -> list[Fact]:
    numbers = rng.sample(range(1000), len(items))
    out = [Fact(f.event_id, f.event, n, f.recorded_at) for f, n in zip(items, numbers, strict=True)]
    return sorted(out, key=lambda f: (f.occurred_at, f.seq))  # as ``effective`` hands them over


@settings(max_examples=80, deadline=None)
@given(st.sets(st.integers(0, len(CANDIDATES) - 1)), st.sets(st.integers(0, len(COVER) - 1)),
       st.randoms(use_true_random=False))
def test_who_does_not_depend_on_the_recording_order_of_simultaneous_facts(
    case_picks: set[int], cover_picks: set[int], rng: random.Random,
) -> None:
    case = [fact(inquiry(policy="suqian-finance", kind="petition"))] + [
        fact(CANDIDATES[i]) for i in sorted(case_picks)]
    cover = [fact(e) for e in [*_office(), *(COVER[i] for i in sorted(cover_picks))]]
    answers = set()
    for _ in range(3):
        w = World.from_facts(reseq(cover, rng))
        for at in ("2024-03-05 10:00", "2024-03-06 09:00"):
            data = who(reseq(case, rng), w, t(at), CAT, TZ).to_json()
            answers.add((at, repr(data)))
    assert len(answers) == 2


def _office() -> list[dict[str, Any]]:
    from tests.rules_helpers import office_events

    return office_events()


def test_assessing_without_the_explanation_decides_the_same(tmp_path: Any) -> None:
    """``assess(explain=False)`` (the overdue list) leaves out the sentences and nothing else."""
    import dataclasses
    from datetime import timedelta
    from pathlib import Path

    from ledger.application import Ledger
    from projections.queries import Queries
    from projections.readmodels import default_projectors
    from projections.responsibility import assess, case_file

    examples = Path(__file__).resolve().parent.parent / "examples"
    from click.testing import CliRunner

    from cli.main import cli

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    added = CliRunner().invoke(cli, ["--store", url, "policy", "add", str(examples / "zhangye-sections.json")])
    assert added.exit_code == 0, added.output
    ledger = Ledger(url, TZ, projectors=default_projectors(TZ))
    try:
        for name in ("demo-register-2024.jsonl", "demo-corrections-2024.jsonl"):
            ledger.append_lines((examples / name).read_bytes().splitlines())
        queries = Queries(ledger)
        per_case = queries.all_case_facts(None)
        ctx = queries.context([], None, all_staff=True)
        compared = 0
        for case_facts in per_case.values():
            start = min(f.occurred_at for f in case_facts)
            for hours in range(0, 24 * 40, 7):
                at = start + timedelta(hours=hours)
                file = case_file(case_facts, at)
                pack = ctx.catalogue.in_force(file.inquiry.policy, at.astimezone(TZ).date())
                full = assess(file, ctx.world, at, pack, TZ)
                bare = assess(file, ctx.world, at, pack, TZ, explain=False)
                assert full.steps and not bare.steps
                assert dataclasses.replace(full, steps=()) == bare
                compared += 1
        assert compared > 1000
    finally:
        ledger.close()
