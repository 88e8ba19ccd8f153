"""Synthetic registers (台账) for benchmarks: realistic, deterministic, valid for ``ledger append``.

    python -m bench.generate --events 20000 --staff 200 --seed 1 --out register.jsonl
    python -m bench.generate --events 20000 --only-inquiries --out inquiries.jsonl

Importable: ``generate(n_events, n_staff, seed)`` yields the JSON lines.

The register is a small office simulated on a working-time clock (08:30-17:30 on the
official working days of 2022-2025): units, staff and posts first; then cases arriving
under the built-in packs with their configured kinds (``shihezi-2021``/general,
``sdut-logistics``/leader_approval, ``suqian-finance``/petition and misdirected_document,
``pudong-tobacco``/general), each with handoffs and acceptances, materials requests and
receipts, suspensions, extensions (some notified late or never), reminders and a reply
(most on time, about 10% late, about 5% never); absences with and without handover,
stand-ins when A and B are both away, a few role changes, corrections and retractions.

Every line has a unique ``id`` and an ``occurred_at`` strictly later than the line before,
so any prefix of a register is itself a valid register (the runner relies on that).
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

#: Working seconds in a working day (08:30-17:30).
DAY = 9 * 3600
OPENS = 8 * 3600 + 1800
FIRST_DAY = date(2022, 1, 1)
LAST_DAY = date(2025, 12, 31)
#: Share of the working-day span the cases are planned to fill (the rest is slack).
FILL = 0.75

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
         "超", "秀英", "霞", "平", "刚", "桂英", "建国", "志强", "海燕", "晓东", "文", "斌", "婷", "鹏"]
UNIT_NAMES = ["维修服务中心", "公寓管理科", "饮食服务中心", "综合办公室", "预算科", "信访科", "营销部",
              "物业管理科", "能源管理科", "国库科", "客户服务部", "专卖管理科", "绿化科", "运输服务中心"]
POST_NAMES = ["受理岗", "水电维修岗", "报修调度岗", "审核岗", "接待岗", "档案岗", "协调岗", "统计岗"]

#: pack -> [(kind, prefix, on-time max, late min, late max (working days), matters)]
KINDS: dict[str, list[tuple[str, str, float, float, float, list[str]]]] = {
    "shihezi-2021": [("general", "SHZ", 2.0, 4.5, 8.0, [
        "宿舍热水器不出热水", "教室空调故障报修", "校园路灯不亮", "公寓门锁损坏", "供暖温度不达标",
        "食堂饭菜价格咨询", "浴室水压不足", "宿舍网络断线"])],
    "sdut-logistics": [("leader_approval", "SD", 4.5, 6.0, 10.0, [
        "申请使用学术报告厅（需校领导批示）", "维修经费追加审批", "校园绿化改造申请",
        "大型活动后勤保障申请", "学生公寓调整申请", "车辆通行证审批"])],
    "suqian-finance": [
        ("petition", "SQ", 28.0, 31.0, 40.0, [
            "反映惠农补贴未到账", "咨询专项资金拨付进度", "举报违规发放补贴", "反映工程款拖欠",
            "咨询政府采购投诉处理", "反映社保补助发放问题"]),
        ("misdirected_document", "SQW", 1.8, 3.0, 5.0, [
            "误投的区县预算批复文件", "非本局职责的来文", "应送税务部门的函件", "误寄的审计整改报告"]),
    ],
    "pudong-tobacco": [("general", "PD", 4.5, 6.0, 9.0, [
        "零售户订货量调整咨询", "卷烟品规投诉", "零售许可证延续咨询", "送货时间投诉",
        "终端形象改造申请", "假烟举报"])],
}
PACKS = list(KINDS)
MATERIALS = ["身份证复印件", "申请表", "银行账户信息", "情况说明", "单位介绍信", "发票复印件", "合同复印件",
             "现场照片", "领导批示件", "户口簿复印件"]
REQUESTER_UNITS = ["3号宿舍楼", "机械工程学院", "计算机学院", "城东村委会", "个体零售户", "某建筑公司",
                   "校工会", "图书馆"]
NOTES = ["已更换加热管", "已电话答复", "已书面答复并说明理由", "已转交相关部门并告知", "已现场处理",
         "已按政策解释", "已办结归档"]
EXTENSION_REASONS = ["需现场勘查", "需上级审批", "需外单位协查", "材料需核实"]
SUSPENSION_REASONS = ["hearing", "tender", "appraisal", "expert_review", "inspection"]
ABSENCE_REASONS = ["trip", "meeting", "leave", "sick", "other"]


def working_days(first: date = FIRST_DAY, last: date = LAST_DAY) -> list[date]:
    """The official working days (chinesecalendar when installed, else Monday-Friday)."""
    try:
        import chinese_calendar

        def is_workday(day: date) -> bool:
            return bool(chinese_calendar.is_workday(day))
    except ImportError:  # pragma: no cover - it is a dependency of the ledger

        def is_workday(day: date) -> bool:
            return day.weekday() < 5

    days = []
    day = first
    while day <= last:
        if is_workday(day):
            days.append(day)
        day += timedelta(days=1)
    return days


class WorkClock:
    """Working seconds since the first working day's opening -> wall instants (+08:00)."""

    def __init__(self) -> None:
        self.days = [d.isoformat() for d in working_days()]
        self.cap = len(self.days) * DAY - 1

    def wall(self, w: int) -> str:
        day, sec = divmod(w, DAY)
        if day >= len(self.days):
            raise ValueError("beyond the last working day")
        h, rest = divmod(sec + OPENS, 3600)
        m, s = divmod(rest, 60)
        return f"{self.days[day]}T{h:02d}:{m:02d}:{s:02d}+08:00"

    def year(self, w: int) -> str:
        return self.days[min(w // DAY, len(self.days) - 1)][:4]


def wd(days: float) -> int:
    """Working days as working seconds."""
    return int(days * DAY)


@dataclass
class Office:
    """Units, staff and posts; which unit uses which pack."""

    leaders: list[str] = field(default_factory=list)
    units: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {head, supervisor, staff, pack}
    staff_unit: dict[str, str] = field(default_factory=dict)
    rank: dict[str, int] = field(default_factory=dict)
    posts: dict[str, list[str]] = field(default_factory=dict)  # id -> [a, b]
    unit_posts: dict[str, list[str]] = field(default_factory=dict)
    a_of: dict[str, str] = field(default_factory=dict)  # staff -> a post where they are A


class Generator:
    def __init__(self, n_events: int, n_staff: int, seed: int, only_inquiries: bool = False):
        if n_staff < 8:
            raise ValueError("at least 8 staff are needed (leaders, heads and A/B pairs)")
        self.n_events = n_events
        self.n_staff = n_staff
        self.rng = random.Random(seed)
        self.only_inquiries = only_inquiries
        self.clock = WorkClock()
        self.office = Office()
        self.heap: list[tuple[int, int, str, Any]] = []
        self.seq = 0
        self.next_id = 0
        self.last_w = -1
        self.emitted = 0
        self.absent: dict[str, bool] = {}
        self.case_counter: dict[str, int] = {}
        self.names_used: dict[str, int] = {}

    # -- helpers ---------------------------------------------------------------------------

    def new_id(self) -> str:
        self.next_id += 1
        return f"e{self.next_id:08d}"

    def push(self, w: int, tag: str, data: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (w, self.seq, tag, data))

    def person(self) -> str:
        name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
        n = self.names_used.get(name, 0)
        self.names_used[name] = n + 1
        return name if n == 0 else f"{name}{n + 1}"

    def requester(self) -> dict[str, str] | None:
        if self.rng.random() < 0.1:
            return None
        return {"name": self.rng.choice(SURNAMES) + self.rng.choice(GIVEN),
                "contact": f"1{self.rng.choice('3589')}{self.rng.randrange(10**9):09d}",
                "unit": self.rng.choice(REQUESTER_UNITS)}

    def line(self, event: dict[str, Any]) -> str:
        return json.dumps(event, ensure_ascii=False)

    # -- reference data --------------------------------------------------------------------

    def reference_data(self) -> list[dict[str, Any]]:
        o, rng = self.office, self.rng
        n_leaders = max(2, self.n_staff // 40)
        rest = self.n_staff - n_leaders
        n_units = max(min(4, rest // 3), rest // 10)
        staff_events: list[dict[str, Any]] = []
        counter = 0

        def staff(unit: str, rank: int) -> str:
            nonlocal counter
            counter += 1
            sid = f"s-{counter:05d}"
            o.staff_unit[sid] = unit
            o.rank[sid] = rank
            staff_events.append({"type": "StaffRegistered", "staff": sid, "name": self.person(),
                                 "rank": rank, "unit": unit})
            return sid

        o.leaders = [staff("u-00", 6 if i == 0 else 5) for i in range(n_leaders)]
        units = [{"type": "UnitDefined", "unit": "u-00", "head": o.leaders[1], "supervisor": o.leaders[0],
                  "name": "领导班子"}]
        o.units["u-00"] = {"head": o.leaders[1], "supervisor": o.leaders[0], "staff": [], "pack": None}
        sizes = [rest // n_units + (1 if i < rest % n_units else 0) for i in range(n_units)]
        post_events = []
        for i, size in enumerate(sizes, start=1):
            uid = f"u-{i:02d}"
            head = staff(uid, 4)
            members = [staff(uid, rng.choice((1, 2, 2, 3))) for _ in range(size - 1)]
            supervisor = o.leaders[i % n_leaders]
            name = UNIT_NAMES[(i - 1) % len(UNIT_NAMES)]
            if i > len(UNIT_NAMES):
                name += str((i - 1) // len(UNIT_NAMES) + 1)
            units.append({"type": "UnitDefined", "unit": uid, "head": head, "supervisor": supervisor,
                          "name": name})
            o.units[uid] = {"head": head, "supervisor": supervisor, "staff": members,
                            "pack": PACKS[(i - 1) % len(PACKS)]}
            o.unit_posts[uid] = []
            # Each member is A of one post and B of the next (layered cover, 000 AB art. 9).
            for j, a in enumerate(members):
                b = members[(j + 1) % len(members)]
                pid = f"p-{i:02d}-{j + 1:02d}"
                o.posts[pid] = [a, b]
                o.unit_posts[uid].append(pid)
                o.a_of[a] = pid
                post_events.append({"type": "PostDefined", "post": pid, "unit": uid, "a": a, "b": b,
                                    "name": POST_NAMES[j % len(POST_NAMES)]})
        return units + staff_events + post_events

    # -- cases -----------------------------------------------------------------------------

    def available(self, candidates: list[str]) -> list[str]:
        return [s for s in candidates if not self.absent.get(s)]

    def plan_case(self, t0: int) -> None:
        """Schedule every event of one case, received at working second ``t0``."""
        o, rng = self.office, self.rng
        uid = rng.choice([u for u in o.units if u != "u-00"])
        unit = o.units[uid]
        pack = unit["pack"]
        kind, prefix, ontime, late_min, late_max, matters = rng.choice(KINDS[pack])
        post = rng.choice(o.unit_posts[uid])
        a, b = o.posts[post]
        here = self.available([a, b]) or self.available(unit["staff"]) or [unit["head"]]
        received_by = [here[0]]
        if pack in ("shihezi-2021", "pudong-tobacco") and rng.random() < 0.1:
            others = [s for s in self.available(unit["staff"]) if s != here[0]]
            if others:
                received_by.append(rng.choice(others))
        holder = max(received_by, key=lambda s: (o.rank[s], s))
        self.case_counter[prefix] = n = self.case_counter.get(prefix, 0) + 1
        case = f"{prefix}-{self.clock.year(t0)}-{n:06d}"
        handoff = rng.random() < (0.6 if pack == "pudong-tobacco" else 0.25)
        if kind == "misdirected_document":
            handoff = False
        inquiry: dict[str, Any] = {
            "type": "InquiryReceived", "case": case, "policy": pack, "received_by": received_by,
            "channel": rng.choice(("visit", "phone", "letter", "online")), "matter": rng.choice(matters),
            "kind": kind, "post": post,
        }
        if handoff and (pack == "pudong-tobacco" or rng.random() < 0.5):
            inquiry["in_remit"] = False
        requester = self.requester()
        if requester:
            inquiry["requester"] = requester
        self.push(t0, "case", inquiry)
        if self.only_inquiries:
            return

        t = t0
        events: list[tuple[int, dict[str, Any]]] = []

        def add(dt_days: float, event: dict[str, Any]) -> int:
            nonlocal t
            t += max(60, wd(dt_days))
            events.append((t, {"type": event["type"], "case": case, **event}))
            return t

        handler, base = holder, t0
        if handoff:
            for hop in range(2 if rng.random() < 0.1 else 1):
                other_units = [u for u in o.units if u not in ("u-00", uid)] or [uid]
                target_unit = o.units[rng.choice(other_units)]
                to = rng.choice([s for s in target_unit["staff"] if s != handler] or [target_unit["head"]])
                late = hop == 0 and pack == "pudong-tobacco" and rng.random() < 0.15
                hand: dict[str, Any] = {"type": "HandedOff", "from": handler, "to": to}
                if rng.random() < 0.7:
                    hand["receipt"] = True
                if rng.random() < 0.3:
                    hand["note"] = "非本岗职责，转交承办人"
                add(rng.uniform(2.5, 4.0) if late else rng.uniform(0.05, 1.2), hand)
                add(rng.uniform(0.02, 0.4), {"type": "HandoffAccepted", "by": to})
                handler = to
            if pack == "pudong-tobacco":
                base = t  # 5 working days from the handler's acceptance
        stopped = 0  # working seconds of suspended time
        r = rng.random()
        if r < (0.3 if pack == "suqian-finance" else 0.08):
            first = rng.sample(MATERIALS, rng.randint(1, 3))
            add(rng.uniform(0.05, 0.5), {"type": "MaterialsRequested", "by": handler, "items": first})
            add(rng.uniform(0.3, 2.0), {"type": "MaterialsReceived", "items": first})
            if pack == "suqian-finance":
                base = t  # the clock restarts on complete supplements
            if rng.random() < 0.2:  # piecemeal notice: a second list with new items
                second = [m for m in MATERIALS if m not in first][: rng.randint(1, 2)]
                add(rng.uniform(0.1, 0.5), {"type": "MaterialsRequested", "by": handler, "items": second})
                add(rng.uniform(0.3, 2.0), {"type": "MaterialsReceived", "items": second})
        if pack in ("sdut-logistics", "suqian-finance") and rng.random() < (0.3 if pack == "sdut-logistics" else 0.1):
            start = add(rng.uniform(0.1, 1.0), {"type": "ClockSuspended", "reason": rng.choice(SUSPENSION_REASONS)})
            end = add(rng.uniform(1.0, 5.0), {"type": "ClockResumed"})
            stopped += end - start
        reminded = pack == "sdut-logistics" and rng.random() < 0.2
        if reminded:
            for _ in range(rng.randint(2, 3)):
                add(rng.uniform(0.1, 0.6), {"type": "Reminded", "by": handler})
        old_due = base + wd(ontime) + stopped
        due = old_due
        if pack in ("sdut-logistics", "suqian-finance") and rng.random() < 0.15:
            unit_of_handler = o.units[o.staff_unit.get(handler, uid)]
            ext: dict[str, Any] = {"type": "DeadlineExtended", "approved_by": unit_of_handler["supervisor"],
                                   "reason": rng.choice(EXTENSION_REASONS)}
            how = rng.random()
            if how < 0.25:  # notified after the old deadline: invalid
                when = max(t, old_due) + wd(rng.uniform(0.3, 2.0))
            else:
                when = t + max(60, int(max(0, old_due - t) * rng.uniform(0.1, 0.8)))
            due = when + wd(rng.uniform(3.0, 10.0))
            ext["new_due"] = self.clock.wall(min(due, self.clock.cap))
            if how < 0.85:
                ext["notified_at"] = None  # filled with the event's own instant below
            add((when - t) / DAY, ext)
        outcome_roll = rng.random()
        if outcome_roll < 0.05:
            pass  # never replied
        else:
            if outcome_roll < 0.15:
                reply_at = base + stopped + wd(rng.uniform(late_min, late_max)) + (due - old_due)
            else:
                reply_at = base + stopped + wd(rng.uniform(0.2, 1.0) * ontime) + (due - old_due)
            if kind == "misdirected_document":
                outcome = "referred_outside"
            else:
                outcome = rng.choices(("resolved", "explained_refusal", "referred_outside"), (75, 15, 10))[0]
            reply: dict[str, Any] = {"type": "Replied", "by": handler, "outcome": outcome}
            if rng.random() < 0.6:
                reply["note"] = rng.choice(NOTES)
            add(max(reply_at - t, 60) / DAY, reply)
        for when, event in events:
            self.push(when, "case", event)

    # -- absences --------------------------------------------------------------------------

    def start_absence(self, w: int, who: str) -> Iterator[dict[str, Any]]:
        o, rng = self.office, self.rng
        uid = o.staff_unit[who]
        unit = o.units[uid]
        post = o.a_of.get(who)
        b = o.posts[post][1] if post else None
        duration = wd(rng.uniform(0.3, 4.0))
        event: dict[str, Any] = {"type": "AbsenceStarted", "staff": who, "reason": rng.choice(ABSENCE_REASONS)}
        if rng.random() < 0.7:
            choices = [s for s in self.available([b] if b else []) if s != who]
            choices = choices or [s for s in self.available(unit["staff"]) if s != who]
            if choices:
                event["handover_to"] = choices[0]
        if rng.random() < 0.5:
            told = [s for s in (b, unit["head"], unit["supervisor"]) if s and s != who]
            event["notified"] = list(dict.fromkeys(told))[: rng.randint(1, 3)]
        if rng.random() < 0.8:
            event["expected_return"] = self.clock.wall(min(w + duration, self.clock.cap))
        self.absent[who] = True
        yield event
        self.push(w + duration, "absence_end", (who, "handover_to" in event))
        # A and B both away: the supervising leader may designate a stand-in (指派).
        if post and b and self.absent.get(b) and rng.random() < 0.6:
            a_now, b_now = o.posts[post]
            others = [s for s in self.available(unit["staff"]) if s not in (a_now, b_now)] or [unit["head"]]
            yield {"type": "StandInDesignated", "post": post, "stand_in": others[0], "by": unit["supervisor"],
                   "until": self.clock.wall(min(w + duration, self.clock.cap))}

    # -- corrections -----------------------------------------------------------------------

    def follow_ups(self, w: int, event: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Corrections later on; a duplicate entry at once, retracted later."""
        rng, kind = self.rng, event["type"]
        body = {k: v for k, v in event.items() if k != "id"}
        if kind == "InquiryReceived" and rng.random() < 0.004:
            fixed = {**body, "matter": body["matter"] + "（更正：补充事项说明）"}
            self.push(w + wd(rng.uniform(0.2, 10)), "correct", (event["id"], fixed, "事项记录不完整"))
        elif kind == "Replied" and rng.random() < 0.006:
            fixed = {**body, "note": "答复内容更正：" + rng.choice(NOTES)}
            self.push(w + wd(rng.uniform(0.2, 10)), "correct", (event["id"], fixed, "答复记录有误"))
        elif kind == "AbsenceStarted" and "handover_to" not in event and rng.random() < 0.03:
            post = self.office.a_of.get(event["staff"])
            b = self.office.posts[post][1] if post else None
            if b and b != event["staff"]:
                fixed = {**body, "handover_to": b}
                self.push(w + wd(rng.uniform(0.2, 3)), "correct", (event["id"], fixed, "补录交接记录"))
        elif kind == "Reminded" and rng.random() < 0.05:
            dup = {**body, "id": self.new_id()}
            yield dup
            self.push(w + wd(rng.uniform(0.2, 3)), "retract", (dup["id"], "重复录入"))

    # -- the register ----------------------------------------------------------------------

    def __iter__(self) -> Iterator[str]:
        rng, o = self.rng, self.office
        refs = self.reference_data()
        for i, event in enumerate(refs):
            if self.emitted >= self.n_events:
                return
            h, rest = divmod(9 * 3600 + i, 3600)
            event = {"type": event["type"], "id": self.new_id(),
                     "occurred_at": f"{FIRST_DAY.isoformat()}T{h:02d}:{rest // 60:02d}:{rest % 60:02d}+08:00",
                     **{k: v for k, v in event.items() if k != "type"}}
            self.emitted += 1
            yield self.line(event)
        span = len(self.clock.days)
        members = [s for u in o.units.values() for s in u["staff"]]
        left = max(1, self.n_events - len(refs))
        if self.only_inquiries:
            rate = max(0.5 * len(members), left / (FILL * span))
        else:
            absence_per_day = 2.1 * (len(members) + len(o.units)) / 17.0
            rate = max(0.5 * len(members), (left / (FILL * span) - absence_per_day) / 3.3)
            for who in members + [u["head"] for u in o.units.values() if u["staff"]]:
                self.push(wd(rng.uniform(0, 20)), "absence_start", who)
            for post in o.posts:
                if rng.random() < 0.1:
                    self.push(wd(rng.uniform(40, 400)), "roles", post)
        next_arrival = int(rng.expovariate(rate) * DAY)
        while self.emitted < self.n_events:
            if self.heap and self.heap[0][0] <= next_arrival:
                w, _, tag, data = heapq.heappop(self.heap)
            else:
                w, tag, data = next_arrival, "arrival", None
                next_arrival += max(1, int(rng.expovariate(rate) * DAY))
            if w > self.clock.cap:
                break
            if tag == "arrival":
                self.plan_case(w)
                continue
            queue = list(self.events_for(w, tag, data))
            while queue:
                if self.emitted >= self.n_events:
                    return
                text, extras = self.emit(w, queue.pop(0))
                yield text
                queue[:0] = extras  # a duplicate entry follows its original at once
        if self.emitted < self.n_events:
            print(f"bench.generate: the years {FIRST_DAY.year}-{LAST_DAY.year} filled up after "
                  f"{self.emitted} events; give more --staff for a larger register", file=sys.stderr)

    def events_for(self, w: int, tag: str, data: Any) -> Iterator[dict[str, Any]]:
        rng, o = self.rng, self.office
        if tag == "case":
            yield dict(data)
        elif tag == "absence_start":
            yield from self.start_absence(w, data)
        elif tag == "absence_end":
            who, handed_over = data
            self.absent[who] = False
            event: dict[str, Any] = {"type": "AbsenceEnded", "staff": who}
            if handed_over:
                event["briefed"] = rng.random() < 0.8
            yield event
            self.push(w + wd(rng.uniform(5, 30)), "absence_start", who)
        elif tag == "roles":
            a, b = o.posts[data]
            o.posts[data] = [b, a]
            if o.a_of.get(a) == data:
                del o.a_of[a]
            o.a_of[b] = data
            yield {"type": "RolesAssigned", "post": data, "a": b, "b": a}
        elif tag == "correct":
            target, replacement, reason = data
            yield {"type": "Corrected", "target": target, "replacement": replacement, "reason": reason}
        elif tag == "retract":
            target, reason = data
            yield {"type": "Retracted", "target": target, "reason": reason}

    def emit(self, w: int, event: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """Stamp id and a strictly increasing occurred_at; schedule follow-ups."""
        w = max(w, self.last_w + 1)
        self.last_w = w
        at = self.clock.wall(w)
        if "notified_at" in event:
            event["notified_at"] = at
        out = {"type": event["type"], "id": event.get("id") or self.new_id(), "occurred_at": at,
               **{k: v for k, v in event.items() if k not in ("type", "id", "occurred_at")}}
        self.emitted += 1
        extras = [] if self.only_inquiries else list(self.follow_ups(w, out))
        return self.line(out), extras


def generate(n_events: int, n_staff: int = 200, seed: int = 1, only_inquiries: bool = False) -> Iterator[str]:
    """The lines of a synthetic register (JSON, one event each), deterministic for a seed."""
    return iter(Generator(n_events, n_staff, seed, only_inquiries))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="number of lines (default 20000)")
    parser.add_argument("--staff", type=int, default=200, help="number of staff (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--only-inquiries", action="store_true",
                        help="reference data and InquiryReceived lines only (the baseline comparison)")
    parser.add_argument("--out", default="-", help="output file (default stdout)")
    args = parser.parse_args(argv)
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for text in generate(args.events, args.staff, args.seed, args.only_inquiries):
            out.write(text + "\n")
    finally:
        if out is not sys.stdout:
            out.close()


if __name__ == "__main__":
    main()
