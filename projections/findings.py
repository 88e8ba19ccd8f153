"""Liability findings (问责认定): DOMAIN.md "Liability rules", one breach = one finding.

A missed reply deadline gets exactly one finding, by the first rule that fits and that the
pack in force on the day of the breach adopts: ``vacancy`` (空岗), ``no_handover`` (未交接),
``cover_failure`` (B角顶岗不力), ``invalid_extension`` (延期未按时告知), ``handler_late``
(承办超时). A late transfer (``late_transfer``) and each piecemeal materials request
(``piecemeal_notice``, 未一次性告知) are breaches of their own. Leaders answerable under a
pack's leadership tiers are listed inside the finding (``also_liable``), never as findings.

Not violations: a reply by the due (any outcome, including an explained refusal); a delay
after two or more reminders to the requester by the due (001 限时 art. 3, when adopted);
suspended time (the clock already leaves it out).

Two pack versions may meet in one finding, each for its own part: the clock (the limit, how it is
counted, suspensions, extensions, the reminders excuse) is the version in force on the day of
receipt, what the requester was told; the rule that fits, the leadership tiers and the rule's
clauses are the version in force on the day of the breach. The limit's own clause is quoted from
the version that set it, and the explanation names both versions where they differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from ledger.events import HandedOff, MaterialsRequested
from ledger.policy import PolicyCatalogue, PolicyPack
from ledger.records import Fact
from projections.calendar import WorkingCalendar
from projections.clocks import CaseClock, case_clock
from projections.responsibility import (
    Assessment,
    CaseFile,
    CaseNotFoundAt,
    assess,
    case_file,
    case_post,
    rule_clauses,
    when,
)
from projections.world import LAPSES, Absence, Post, World

#: A missed reply deadline: the first rule of this chain that fits gives the one finding.
REPLY_CHAIN = ("vacancy", "no_handover", "cover_failure", "invalid_extension", "handler_late")
_TIERS = (("head", "主要领导责任"), ("supervisor", "重要领导责任"))


@dataclass(frozen=True, slots=True)
class AlsoLiable:
    """A leader answerable under the pack's leadership tiers (领导责任)."""

    staff: str
    name: str
    tier: str  # head (主要领导责任) or supervisor (重要领导责任)
    clause: str

    def to_json(self) -> dict[str, str]:
        return {"staff": self.staff, "name": self.name, "tier": self.tier,
                "tier_zh": dict(_TIERS)[self.tier], "clause": self.clause}


@dataclass(frozen=True)
class Finding:
    """Who is liable for one breach, under which clause, with the evidence events."""

    case: str
    rule: str
    liable: str
    liable_name: str
    clause: str
    clauses: tuple[str, ...]
    clause_zh: str
    clause_en: str
    due: datetime | None
    breached_at: datetime
    explanation_zh: str
    explanation_en: str
    evidence: tuple[str, ...]
    also_liable: tuple[AlsoLiable, ...]
    policy: str
    policy_version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case, "rule": self.rule, "liable": self.liable,
            "liable_name": self.liable_name, "clause": self.clause, "clauses": list(self.clauses),
            "clause_text": {"zh": self.clause_zh, "en": self.clause_en},
            "due": None if self.due is None else self.due.isoformat(),
            "breached_at": self.breached_at.isoformat(),
            "explanation": {"zh": self.explanation_zh, "en": self.explanation_en},
            "evidence": list(self.evidence),
            "also_liable": [a.to_json() for a in self.also_liable],
            "policy": self.policy, "policy_version": self.policy_version,
        }


def findings(
    case_facts: Iterable[Fact], world: World, at: datetime, catalogue: PolicyCatalogue,
    calendar: WorkingCalendar, tz: tzinfo,
) -> list[Finding]:
    """The findings on one case as of ``at`` ([] for a case not yet received by then)."""
    try:
        file = case_file(case_facts, at)
    except CaseNotFoundAt:
        return []
    judge = _Judge(file, world, catalogue, tz)
    out: list[Finding] = []
    reply = case_clock(file, at, catalogue, calendar, tz, "reply", world.leads)
    found = judge.reply_breach(reply)
    if found is not None:
        out.append(found)
    if not file.inquiry.in_remit:
        found = judge.late_transfer(case_clock(file, at, catalogue, calendar, tz, "transfer"))
        if found is not None:
            out.append(found)
    out += judge.piecemeal(at)
    return sorted(out, key=lambda f: (f.breached_at, f.rule))


class _Judge:
    """Applies the liability rules to one case file."""

    def __init__(self, file: CaseFile, world: World, catalogue: PolicyCatalogue, tz: tzinfo) -> None:
        self.file, self.world, self.catalogue, self.tz = file, world, catalogue, tz

    def pack_on(self, t: datetime) -> PolicyPack:
        """The pack version in force on the day of the judged act."""
        return self.catalogue.in_force(self.file.inquiry.policy, t.astimezone(self.tz).date())

    # --- the reply deadline ----------------------------------------------------------------

    def reply_breach(self, clock: CaseClock) -> Finding | None:
        if not clock.breached() or clock.due is None:
            return None
        due = clock.due
        if clock.pack.adopts("reminders") and len(clock.reminders) >= 2:
            return None  # the requester was reminded repeatedly (001 限时 art. 3): excused
        pack = self.pack_on(due)
        at_due = assess(self.file, self.world, due, pack, self.tz)
        late = clock.reply
        evidence = [*self.file.receipt.evidence, *clock.evidence, *at_due.evidence]
        if late is not None:
            evidence += late.evidence
        if clock.stood is not None:
            evidence += clock.stood.fact.evidence
        tz, name = self.tz, (lambda s: self.world.name_of(s, due))
        missed_zh = (f"事项{self.file.case}应于{when(due, tz)}前答复，"
                     + ("未按时答复" if late is None else f"迟至{when(late.occurred_at, tz)}才答复"))
        missed_en = (f"case {self.file.case} was due by {when(due, tz)} and "
                     + ("had no reply" if late is None else f"was answered only on {when(late.occurred_at, tz)}"))
        for rule in REPLY_CHAIN:
            if not pack.adopts(rule):
                continue
            fit = self._fits(rule, at_due, clock, due, name, missed_zh, missed_en)
            if fit is not None:
                liable, zh, en, more = fit
                # A late reply cites first the clause of the limit it missed (a pack's kinds may
                # each have their own), then the rule's; the other rules cite their own clauses.
                limit_clause = clock.limit.clause if rule == "handler_late" and clock.limit else None
                return self._finding(rule, pack, liable, due, due, zh, en, [*evidence, *more], limit_clause,
                                     clock.pack)
        return None

    def _fits(
        self, rule: str, at_due: Assessment, clock: CaseClock, due: datetime, name: Any,
        missed_zh: str, missed_en: str,
    ) -> tuple[str, str, str, list[str]] | None:
        """(liable, Chinese, English, evidence) if ``rule`` fits the breach, else None."""
        tz, world = self.tz, self.world
        post = case_post(self.file, world, at_due.holder, due)
        a_abs = world.absence_at(at_due.holder, due) if post and post.a == at_due.holder else None
        if rule in ("vacancy", "no_handover", "cover_failure"):
            if post is None or a_abs is None:
                return None
            a, b = post.a, post.b
            b_abs = world.absence_at(b, due)
            left_zh = f"A角{name(a)}于{when(a_abs.started_at, tz)}离岗"
            left_en = f"A ({name(a)}) left the post on {when(a_abs.started_at, tz)}"
            ev = [*post.evidence, *a_abs.evidence]
            if rule == "vacancy":
                unit = world.unit(post.unit, due)
                if b_abs is None or world.stand_in_at(post.post, due) is not None or unit is None:
                    return None
                s = unit.supervisor
                lapsed = world.designation_at(post.post, due)
                if lapsed is not None:  # designated, but it does not stand then (``World.stand_in_at``)
                    why_zh, why_en = LAPSES[world.lapse_of(lapsed, due) or "stand_in_away"]
                    return s, (f"{left_zh}，B角{name(b)}亦不在岗，{when(lapsed.fact.occurred_at, tz)}对"
                               f"{name(lapsed.stand_in)}的指派届时已不再有效（{why_zh}），分管领导未另行指派，"
                               f"岗位空缺；{missed_zh}"), (
                        f"{left_en} and B ({name(b)}) was away too; the designation of {name(lapsed.stand_in)} "
                        f"on {when(lapsed.fact.occurred_at, tz)} no longer stood ({why_en}) and no other was made, "
                        f"so the post was vacant; {missed_en}"), [
                        *ev, *b_abs.evidence, *unit.fact.evidence, *lapsed.fact.evidence]
                return s, (f"{left_zh}，B角{name(b)}亦不在岗，分管领导未指派他人代理，岗位空缺；{missed_zh}"), (
                    f"{left_en} and B ({name(b)}) was away too, with no stand-in designated, so the post "
                    f"was vacant; {missed_en}"), [*ev, *b_abs.evidence, *unit.fact.evidence]
            also = _also_notified(at_due.pack, world, post, a_abs)
            if rule == "no_handover":
                if a_abs.told(b, also):
                    return None
                to_other_zh = to_other_en = ""
                if a_abs.handover_to is not None:  # to someone who is not B: B was not told
                    to_other_zh = f"（交接给了非B角的{name(a_abs.handover_to)}）"
                    to_other_en = f" (A handed over to {name(a_abs.handover_to)}, who is not B)"
                if also:
                    leaders = "、".join(name(x) for x in also)
                    return a, (f"{left_zh}，未向B角{name(b)}交接，也未同时电告B角和分管领导{leaders}{to_other_zh}；"
                               f"{missed_zh}"), (
                        f"{left_en} without handing over to B ({name(b)}) or notifying both B and the supervising "
                        f"leader ({', '.join(name(x) for x in also)}){to_other_en}; {missed_en}"), ev
                return a, f"{left_zh}，未向B角{name(b)}交接，也未通知B角{to_other_zh}；{missed_zh}", (
                    f"{left_en} without handing over to or notifying B ({name(b)}){to_other_en}; {missed_en}"), ev
            if not a_abs.told(b, also) or b_abs is not None:
                return None
            told_zh = "交接" if a_abs.handover_to == b else "通知"
            return b, f"{left_zh}前已向B角{name(b)}{told_zh}，B角顶岗期间{missed_zh}", (
                f"{left_en} after handing over to (or notifying) B ({name(b)}), and while B was acting "
                f"{missed_en}"), ev
        holder = at_due.primary.staff
        role_zh = {"holder": "", "acting_b": "B角", "stand_in": "受指派代理人",
                   "supervisor": "分管领导"}[at_due.primary.basis]
        if rule == "invalid_extension":
            stood = clock.stood
            if stood is None:
                return None
            told, approved = stood.notified_at, stood.fact.occurred_at
            approver = getattr(stood.fact.event, "approved_by", "")
            if not stood.by_leader:  # 002 限时 §7 由受理事项的单位负责人签署意见
                told_zh = f"由{name(approver)}批准，其并非科室负责人或分管领导"
                told_en = (f"was approved by {name(approver)}, who is neither a section head nor a "
                           "supervising leader")
            elif approved > due:  # approved too late, whatever the notice says
                told_zh, told_en = f"迟至{when(approved, tz)}才经批准", f"was approved only on {when(approved, tz)}"
            else:
                told_zh = "从未告知服务对象" if told is None else f"迟至{when(told, tz)}才告知服务对象"
                told_en = "was never notified to the requester" if told is None else (
                    f"was notified to the requester only on {when(told, tz)}")
            if not stood.by_leader:
                return holder, (f"延期{told_zh}，延期无效，原期限{when(due, tz)}有效；{missed_zh}；"
                                f"届时负主要责任的是{role_zh}{name(holder)}"), (
                    f"the extension {told_en}, so it is invalid and the old deadline {when(due, tz)} stands; "
                    f"{missed_en}; {name(holder)} was responsible then"), []
            return holder, (f"延期{told_zh}，晚于原期限{when(due, tz)}，延期无效，原期限有效；{missed_zh}；"
                            f"届时负主要责任的是{role_zh}{name(holder)}"), (
                f"the extension {told_en}, after the old deadline {when(due, tz)}, so it is invalid and the "
                f"old deadline stands; {missed_en}; {name(holder)} was responsible then"), []
        return holder, f"{missed_zh}；届时负主要责任的是{role_zh}{name(holder)}", (
            f"{missed_en}; {name(holder)} was responsible then ({at_due.primary.basis})"), []

    # --- the transfer deadline and the one-time notice ----------------------------------------

    def late_transfer(self, clock: CaseClock) -> Finding | None:
        """A case outside the remit not handed off by the transfer due (003 篇二 二五原则)."""
        if clock.due is None or not clock.due < clock.at:
            return None
        due = clock.due
        facts = self.file.upto(due)
        if any(isinstance(f.event, HandedOff) for f in facts) or clock.replied_by(due):
            return None
        pack = self.pack_on(due)
        if not pack.adopts("late_transfer"):
            return None
        first = assess(self.file, self.world, due, pack, self.tz).first_asked
        name = self.world.name_of(first, due)
        zh = (f"事项{self.file.case}不属于首问责任人{name}的职责范围，应于{when(due, self.tz)}前移交承办人，"
              f"但未按时移交")
        en = (f"case {self.file.case} was outside the remit of the first-asked staff {name}, who did not hand "
              f"it over by {when(due, self.tz)}")
        late = [f for f in self.file.facts if isinstance(f.event, HandedOff)][:1]
        evidence = [*self.file.receipt.evidence, *clock.evidence, *(e for f in late for e in f.evidence)]
        return self._finding("late_transfer", pack, first, due, due, zh, en, evidence,
                             clock.limit.clause if clock.limit else None, clock.pack)

    def piecemeal(self, at: datetime) -> list[Finding]:
        """Each later materials request listing items on no earlier one (未一次性告知)."""
        requests = [f for f in self.file.upto(at) if isinstance(f.event, MaterialsRequested)]
        out: list[Finding] = []
        if len(requests) < 2:
            return out
        first = requests[0].event
        assert isinstance(first, MaterialsRequested)
        asked = set(first.items)
        for later in requests[1:]:
            e = later.event
            assert isinstance(e, MaterialsRequested)
            new = [i for i in e.items if i not in asked]
            asked |= set(e.items)
            pack = self.pack_on(later.occurred_at)
            if not new or not pack.adopts("piecemeal_notice"):
                continue
            name = self.world.name_of(first.by, later.occurred_at)
            zh = (f"{name}于{when(first.occurred_at, self.tz)}告知补正材料（{'、'.join(first.items)}），"
                  f"又于{when(e.occurred_at, self.tz)}要求补充首次未列明的材料（{'、'.join(new)}），"
                  f"未做到一次性告知")
            en = (f"{name} listed the missing materials ({', '.join(first.items)}) on "
                  f"{when(first.occurred_at, self.tz)}, then on {when(e.occurred_at, self.tz)} asked for items "
                  f"not on that list ({', '.join(new)}): not a one-time notice")
            evidence = [*self.file.receipt.evidence, *requests[0].evidence, *later.evidence]
            out.append(self._finding("piecemeal_notice", pack, first.by, None, later.occurred_at,
                                     zh, en, evidence))
        return out

    # --- the finding ----------------------------------------------------------------------

    def _finding(
        self, rule: str, pack: PolicyPack, liable: str, due: datetime | None, breached_at: datetime,
        what_zh: str, what_en: str, evidence: Iterable[str], limit_clause: str | None = None,
        limit_pack: PolicyPack | None = None,
    ) -> Finding:
        """``pack``: the version in force on the day of the breach (its rules, tiers and clauses);
        ``limit_pack``: the version that set the missed limit (at receipt), which the limit's
        own clause, cited first, is quoted from."""
        keys = rule_clauses(pack, rule)
        source = {key: pack for key in keys}
        if limit_clause is not None and limit_pack is not None and limit_clause in limit_pack.clauses:
            keys = tuple(dict.fromkeys((limit_clause, *keys)))
            source[limit_clause] = limit_pack
        key = keys[0]
        quoted = source[key]
        clause = quoted.clauses[key]
        name = self.world.name_of(liable, breached_at)
        role_zh, role_en = _ROLES.get(rule, ("", ""))
        if limit_pack is not None and limit_pack.effective_from != pack.effective_from:
            # The limit is the one the case was received under; the liability, the later version's.
            what_zh += (f"（时限按受理当日施行的{limit_pack.effective_from.isoformat()}版计算，"
                        f"责任按{pack.effective_from.isoformat()}版认定）")
            what_en += (f" (the limit is that of the version in force from {limit_pack.effective_from.isoformat()}, "
                        f"on the day of receipt; liability is judged by the version in force from "
                        f"{pack.effective_from.isoformat()})")
        zh = (f"{what_zh}。依据{_source_zh(quoted, key)}，由{role_zh}{name}承担责任：「{clause.zh}」")
        en = f"{what_en[:1].upper()}{what_en[1:]}, so {role_en}{name} ({liable}) is liable under {key}: “{clause.en}”"
        return Finding(
            case=self.file.case, rule=rule, liable=liable, liable_name=name, clause=key,
            clauses=tuple(keys), clause_zh=clause.zh, clause_en=clause.en, due=due,
            breached_at=breached_at, explanation_zh=zh, explanation_en=en,
            evidence=tuple(dict.fromkeys(evidence)),
            also_liable=self._leaders(pack, liable, breached_at), policy=pack.id,
            policy_version=pack.effective_from.isoformat(),
        )

    def _leaders(self, pack: PolicyPack, liable: str, at: datetime) -> tuple[AlsoLiable, ...]:
        """The section head and supervising leader, where the pack names leadership tiers."""
        tiers = pack.leadership_tiers
        if tiers is None:
            return ()
        out: list[AlsoLiable] = []
        leaders = {"head": self.world.head_of(liable, at), "supervisor": self.world.supervisor_of(liable, at)}
        if leaders["supervisor"] == liable:  # the tiers are the leaders above the liable, not below
            leaders["head"] = None
        for tier, _ in _TIERS:
            staff = leaders[tier]
            if staff is not None and staff != liable and all(x.staff != staff for x in out):
                out.append(AlsoLiable(staff, self.world.name_of(staff, at), tier, getattr(tiers, tier)))
        return tuple(out)


_ROLES = {
    "vacancy": ("分管领导", "the supervising leader "), "no_handover": ("A角", "A "),
    "cover_failure": ("B角", "B "), "late_transfer": ("首问责任人", "the first-asked staff "),
    "piecemeal_notice": ("首次告知的承办人", "the handler who made the first request, "),
    "invalid_extension": ("届时责任人", "the person responsible at the old deadline, "),
    "handler_late": ("届时责任人", "the person responsible at the deadline, "),
}


def _source_zh(pack: PolicyPack, key: str) -> str:
    """``石河子大学后勤管理处《AB角补位制度》第七条（000 AB art. 7）``."""
    clause = pack.clauses[key]
    institution = pack.institution.split(" (")[0]
    section = re.sub(r"\s+\([^)]*\)$", "", clause.section)  # "(附件2)", not "(试行)"
    return f"{institution}《{section}》{clause.article}（{key}）"


def _also_notified(pack: PolicyPack, world: World, post: Post, away: Absence) -> list[str]:
    """Whom, besides B, A must have notified when leaving without handing over to B: the
    supervising leader where the pack's ``no_handover`` says so (``notify``, Suqian 002 AB art.
    5(1): 来不及移交的,应电告分管领导和B角), as of A's leaving."""
    spec = pack.rule("no_handover")
    if spec is None or "supervisor" not in spec.must_notify():
        return []
    unit = world.unit(post.unit, away.started_at)
    return [] if unit is None else [unit.supervisor]
