"""Who is responsible for a case at instant T (DOMAIN.md), with the clause for each person.

1. The holder is the first-asked staff (首问责任人; joint inquiry: the higher rank, 职位高者),
   replaced by each accepted handoff (移交 + 接收); an unaccepted handoff leaves the sender.
2. Holder absent and A of the case's post: B is primary, A secondary (000 AB art. 3).
3. B absent too: the designated stand-in (指派), else the post is vacant and the supervising
   leader (分管领导) carries the gap.

Pure: facts, the world, an instant and the policy pack in, an answer out.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

from ledger.events import HandedOff, HandoffAccepted, InquiryReceived
from ledger.policy import PolicyCatalogue, PolicyPack
from ledger.records import Fact
from projections.world import LAPSES, Absence, Post, StandIn, World, canonical


class CaseNotFoundAt(LookupError):
    """The case had not been received (no InquiryReceived) by the instant asked about."""


# --- the case file ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A case's facts in canonical order, with its receipt (受理)."""

    case: str
    receipt: Fact
    inquiry: InquiryReceived
    facts: tuple[Fact, ...]
    instants: tuple[datetime, ...]

    def upto(self, at: datetime) -> tuple[Fact, ...]:
        """The facts that had occurred by ``at``."""
        return self.facts[: bisect_right(self.instants, at)]


def case_file(case_facts: Iterable[Fact], at: datetime) -> CaseFile:
    """The case as of ``at``; raises :class:`CaseNotFoundAt` before its receipt."""
    given = list(case_facts)
    facts = canonical(f for f in given if f.occurred_at <= at)
    receipt = next((f for f in facts if isinstance(f.event, InquiryReceived)), None)
    if receipt is None:
        case = next((str(getattr(f.event, "case", "")) for f in given), "")
        what = f"case {case!r}" if case else "the case"
        raise CaseNotFoundAt(
            f"{what} had not been received by {at.isoformat()} (no InquiryReceived at or before it)"
        )
    assert isinstance(receipt.event, InquiryReceived)
    return CaseFile(receipt.event.case, receipt, receipt.event, tuple(facts),
                    tuple(f.occurred_at for f in facts))


# --- citing clauses ------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def when(t: datetime, tz: tzinfo) -> str:
    """``2024-03-04 09:00`` in the store's timezone (remembered: questions over many cases
    name the same instants again and again)."""
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def quote(pack: PolicyPack, keys: Iterable[str]) -> tuple[str, str]:
    """The clauses cited by key with their text: (Chinese, English)."""
    zh, en = [], []
    for key in keys:
        clause = pack.clauses.get(key)
        zh.append(f"{key}「{clause.zh}」" if clause else key)
        en.append(f"{key}: “{clause.en}”" if clause else key)
    return "；".join(zh), "; ".join(en)


def rule_clauses(pack: PolicyPack, rule: str) -> tuple[str, ...]:
    spec = pack.rule(rule)
    return () if spec is None else spec.clauses


# --- the answer -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Party:
    """One responsible person. ``basis``: holder, acting_b, stand_in or supervisor (CONTRACT)."""

    staff: str
    basis: str
    name: str
    role: str  # first_asked, handler, A, B, stand_in, supervisor
    clauses: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"staff": self.staff, "basis": self.basis, "name": self.name, "role": self.role,
                "clauses": list(self.clauses)}


@dataclass(frozen=True, slots=True)
class Assessment:
    """Responsibility at one instant, with the facts that decide it."""

    holder: str
    first_asked: str
    post: Post | None
    a_absence: Absence | None  # the holder, as A of the post, is away
    b_absence: Absence | None
    stand_in: StandIn | None
    primary: Party
    secondary: Party | None
    pending: Fact | None  # an unaccepted handoff
    steps: tuple[tuple[str, str], ...]  # (Chinese, English) sentences
    clauses: tuple[str, ...]
    evidence: tuple[str, ...]
    pack: PolicyPack


@dataclass(frozen=True)
class WhoAnswer:
    """``ledger who``: the primary and secondary responsible person at T and why."""

    case: str
    at: datetime
    known_at: datetime | None
    primary: Party
    secondary: Party | None
    explanation: tuple[str, ...]
    clauses: tuple[str, ...]
    evidence: tuple[str, ...]
    policy: str
    policy_version: str
    holder: str
    pending_handoff: dict[str, str] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case, "at": self.at.isoformat(),
            "known_at": None if self.known_at is None else self.known_at.isoformat(),
            "primary": self.primary.to_json(),
            "secondary": None if self.secondary is None else self.secondary.to_json(),
            "explanation": list(self.explanation), "clauses": list(self.clauses),
            "evidence": list(self.evidence), "policy": self.policy,
            "policy_version": self.policy_version, "holder": self.holder,
            "pending_handoff": self.pending_handoff,
        }


def who(
    case_facts: Iterable[Fact], world: World, at: datetime, catalogue: PolicyCatalogue,
    tz: tzinfo, known_at: datetime | None = None,
) -> WhoAnswer:
    """Who is responsible for the case at ``at`` under the pack version in force that day."""
    file = case_file(case_facts, at)
    pack = catalogue.in_force(file.inquiry.policy, at.astimezone(tz).date())
    found = assess(file, world, at, pack, tz)
    pending = None
    if found.pending is not None:
        handoff = found.pending.event
        assert isinstance(handoff, HandedOff)
        pending = {"from": handoff.from_, "to": handoff.to, "at": handoff.occurred_at.isoformat()}
    return WhoAnswer(
        case=file.case, at=at, known_at=known_at, primary=found.primary,
        secondary=found.secondary,
        explanation=tuple(s for pair in found.steps for s in pair),
        clauses=found.clauses, evidence=found.evidence, policy=pack.id,
        policy_version=pack.effective_from.isoformat(), holder=found.holder,
        pending_handoff=pending,
    )


def assess(file: CaseFile, world: World, at: datetime, pack: PolicyPack, tz: tzinfo,
           explain: bool = True) -> Assessment:
    """Responsibility for ``file`` at ``at`` under ``pack`` (the rules it adopts only).

    ``explain=False`` leaves out the sentences (``steps``) that explain it, for questions that
    need only the decision (the overdue list): everything else is the same (a test holds it)."""
    steps: list[tuple[str, str]] = []

    def say(sentence: Callable[[], tuple[str, str]]) -> None:
        if explain:
            steps.append(sentence())

    def cite(keys: Iterable[str]) -> tuple[str, str]:
        return quote(pack, keys) if explain else ("", "")
    clauses: list[str] = []
    evidence: list[str] = list(file.receipt.evidence)

    def name(staff_id: str) -> str:
        return world.name_of(staff_id, at)

    received = file.receipt.occurred_at

    # 1. First-asked staff (首问责任人); joint inquiry by rank (职位高者).
    asked = file.inquiry.received_by
    first = asked[0]
    basic = rule_clauses(pack, "first_inquiry")
    if len(asked) > 1 and pack.adopts("rank_rule"):
        ranked = [(s, world.staff(s, received)) for s in asked]
        for s, person in ranked:  # strictly higher wins, so a tie keeps the first listed
            best = world.staff(first, received)
            if person is not None and (best is None or person.rank > best.rank):
                first = s
        evidence += [e for _, p in ranked if p is not None for e in p.fact.evidence]
        keys = rule_clauses(pack, "rank_rule")
        zh, en = cite(keys)
        who_ = "、".join(name(s) for s in asked)
        top = world.staff(first, received)
        tied = [s for s, p in ranked if s != first and p is not None and top is not None and p.rank == top.rank]
        if tied:  # the regulations name no order among equals: the first listed of them, said so
            equals = "、".join(name(s) for s in tied)
            say(lambda: (f"{who_}一同被询问，{name(first)}（{first}）与{equals}职位相同且最高，"
                          f"制度未规定同级者的先后，取所列第一人{name(first)}为首问责任人，依据{zh}。",
                          f"{', '.join(asked)} were asked together; {name(first)} ({first}) and "
                          f"{', '.join(tied)} share the highest rank, and the rule sets no order among equals, "
                          f"so the first listed of them, {name(first)}, is the first-asked staff under {en}."))
        else:
            say(lambda: (f"{who_}一同被询问，职位高者{name(first)}（{first}）为首问责任人，依据{zh}。",
                          f"{', '.join(asked)} were asked together; the higher-ranked {name(first)} "
                          f"({first}) is the first-asked staff under {en}."))
        clauses += keys
    else:
        zh, en = cite(basic[:1])
        extra = "（联合受理，本制度无职位规则，取所列第一人）" if len(asked) > 1 else ""
        extra_en = " (joint inquiry; the pack has no rank rule, so the first listed)" if len(asked) > 1 else ""
        say(lambda: (f"{when(received, tz)}，{name(first)}（{first}）首先受理该事项，为首问责任人{extra}"
                      f"{'，依据' + zh if basic else ''}。",
                      f"On {when(received, tz)} {name(first)} ({first}) received the case first and is "
                      f"the first-asked staff{extra_en}{' under ' + en if basic else ''}."))
    clauses += basic

    # 2. Handoffs: responsibility passes on acceptance (被移交人担负首办责任).
    holder, handed = first, False
    waiting: dict[str, Fact] = {}
    for fact in file.upto(at):
        e = fact.event
        if isinstance(e, HandedOff):
            waiting[e.to] = fact
        elif isinstance(e, HandoffAccepted) and e.by in waiting:
            sent = waiting.pop(e.by)
            assert isinstance(sent.event, HandedOff)
            holder, handed = e.by, True
            waiting.clear()  # the case has moved on; older offers lapse
            evidence += [*sent.evidence, *fact.evidence]
            if explain:
                steps.append((f"{when(sent.occurred_at, tz)}，{name(sent.event.from_)}将事项移交{name(e.by)}，"
                              f"{name(e.by)}于{when(e.occurred_at, tz)}接收，承担首办责任。",
                              f"{name(sent.event.from_)} handed the case to {name(e.by)}, who accepted it on "
                              f"{when(e.occurred_at, tz)} and became the handler."))
    pending = max(waiting.values(), key=lambda f: f.occurred_at) if waiting else None
    if pending is not None:
        sent_to = pending.event
        assert isinstance(sent_to, HandedOff)
        evidence += pending.evidence
        say(lambda: (f"{when(pending.occurred_at, tz)}移交{name(sent_to.to)}的事项尚未被接收（待接收），"
                      f"{name(holder)}仍为责任人。",
                      f"The handoff to {name(sent_to.to)} on {when(pending.occurred_at, tz)} has not been "
                      f"accepted (pending), so {name(holder)} still holds the case."))
    role = "handler" if handed else "first_asked"
    primary = Party(holder, "holder", name(holder), role, tuple(basic))
    secondary: Party | None = None

    # 3. A/B cover (AB角补位).
    post, a_abs, b_abs, stand_in = None, None, None, None
    if pack.adopts("ab_cover"):
        post = case_post(file, world, holder, at)
        if post is not None and post.a == holder:
            ab = rule_clauses(pack, "ab_cover")
            clauses += ab
            evidence += post.evidence
            zh, en = cite(ab)
            a_abs = world.absence_at(holder, at)
            primary = Party(holder, "holder", name(holder), "A", ab)
            secondary = Party(post.b, "acting_b", name(post.b), "B", ab)
            if a_abs is None:
                say(lambda: (f"{name(holder)}为{post.post}岗A角且在岗，负主要责任；B角{name(post.b)}负次要责任，"
                               f"依据{zh}。",
                               f"{name(holder)} is A of post {post.post} and at the post, so A is primary and "
                               f"B ({name(post.b)}) secondary under {en}."))
            else:
                evidence += a_abs.evidence
                b_abs = world.absence_at(post.b, at)
                primary = Party(post.b, "acting_b", name(post.b), "B", ab)
                secondary = Party(holder, "holder", name(holder), "A", ab)
                away = (f"A角{name(holder)}自{when(a_abs.started_at, tz)}起离岗",
                        f"A ({name(holder)}) has been away since {when(a_abs.started_at, tz)}")
                if b_abs is None:
                    say(lambda: (f"{away[0]}，由B角{name(post.b)}负主要责任，A角负次要责任，依据{zh}。",
                                  f"{away[1]}, so B ({name(post.b)}) is primary and A secondary under {en}."))
                else:
                    evidence += b_abs.evidence
                    primary, more = _both_away(pack, world, post, at, name, tz, primary)
                    if primary.basis == "stand_in":
                        stand_in = world.stand_in_at(post.post, at)
                    say(lambda: (f"{away[0]}，B角{name(post.b)}亦不在岗；{more[0]}",
                                  f"{away[1]} and B ({name(post.b)}) is away too; {more[1]}"))
                    clauses += primary.clauses
                    evidence += more[2]
        elif post is not None:
            say(lambda: (f"{name(holder)}不是{post.post}岗的A角，AB角补位不适用。",
                          f"{name(holder)} is not A of post {post.post}, so A/B cover does not apply."))
    if secondary is None and a_abs is None and world.absence_at(holder, at) is not None:
        say(lambda: (f"{name(holder)}此时不在岗，但无适用的AB角补位，仍由其负责。",
                      f"{name(holder)} is away, but no A/B cover applies, so the holder stays responsible."))
    return Assessment(
        holder=holder, first_asked=first, post=post, a_absence=a_abs, b_absence=b_abs,
        stand_in=stand_in, primary=primary, secondary=secondary, pending=pending,
        steps=tuple(steps), clauses=tuple(dict.fromkeys(clauses)),
        evidence=tuple(dict.fromkeys(evidence)), pack=pack,
    )


def case_post(file: CaseFile, world: World, holder: str, at: datetime) -> Post | None:
    """The case's post; if none is given, the one post where the holder is A (else none)."""
    if file.inquiry.post is not None:
        return world.post(file.inquiry.post, at)
    posts = world.a_posts(holder, at)
    return posts[0] if len(posts) == 1 else None


def _both_away(
    pack: PolicyPack, world: World, post: Post, at: datetime, name: Callable[[str], str], tz: tzinfo,
    b: Party,
) -> tuple[Party, tuple[str, str, tuple[str, ...]]]:
    """A and B both away: the stand-in (指派), else the supervising leader (空岗), else B still."""
    if pack.adopts("stand_in"):
        designation = world.stand_in_at(post.post, at)
        if designation is not None:
            keys = rule_clauses(pack, "stand_in")
            zh, en = quote(pack, keys)
            s = designation.stand_in
            return Party(s, "stand_in", name(s), "stand_in", keys), (
                f"{name(designation.by)}于{when(designation.fact.occurred_at, tz)}指派{name(s)}代理，"
                f"由其负主要责任，依据{zh}。",
                f"{name(designation.by)} designated {name(s)} as stand-in on "
                f"{when(designation.fact.occurred_at, tz)}, who is primary under {en}.",
                designation.fact.evidence)
    unit = world.unit(post.unit, at)
    if pack.adopts("vacancy") and unit is not None:
        keys = rule_clauses(pack, "vacancy")
        zh, en = quote(pack, keys)
        s = unit.supervisor
        lapsed = world.designation_at(post.post, at) if pack.adopts("stand_in") else None
        why = None if lapsed is None else world.lapse_of(lapsed, at)
        if lapsed is not None and why is not None:
            d = lapsed.stand_in
            why_zh, why_en = LAPSES[why]
            return Party(s, "supervisor", name(s), "supervisor", keys), (
                f"{when(lapsed.fact.occurred_at, tz)}对{name(d)}的指派此时不再有效（{why_zh}），岗位空缺，"
                f"由分管领导{name(s)}承担，依据{zh}。",
                f"the designation of {name(d)} on {when(lapsed.fact.occurred_at, tz)} does not stand now "
                f"({why_en}), so the post is vacant and the supervising leader {name(s)} carries it under {en}.",
                (*unit.fact.evidence, *lapsed.fact.evidence))
        return Party(s, "supervisor", name(s), "supervisor", keys), (
            f"无人受指派，岗位空缺，由分管领导{name(s)}承担，依据{zh}。",
            f"nobody was designated, so the post is vacant and the supervising leader {name(s)} "
            f"carries it under {en}.",
            unit.fact.evidence)
    return b, ("本制度无指派或空岗规则，仍由B角负主要责任。",
               "the pack has no stand-in or vacancy rule, so B remains primary.", ())
