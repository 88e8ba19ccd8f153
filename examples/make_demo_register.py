"""Regenerate the bundled demo register (examples/demo-register-2024.jsonl and
examples/demo-corrections-2024.jsonl).

Deterministic: the routine cases come from a seeded random generator, the cases that
illustrate a rule are written out by hand below (``designed cases``). Due dates use the
``chinesecalendar`` package (mainland China's 2024 holidays and make-up workdays).

Run from the repository root:

    python examples/make_demo_register.py            # writes both files, prints a summary
    python examples/make_demo_register.py --table    # also prints the README's findings table

Before writing, the script checks its own output: every line parses, ids are unique, lines
are in order of occurred_at, references point back (UnitDefined.head/supervisor and
StaffRegistered.unit may point forward), absences of one person never overlap, no case event
follows its reply, and a small re-implementation of the rules in DOMAIN.md finds exactly the
intended findings (and none in the routine cases), before and after the corrections.
"""

from __future__ import annotations

import copy
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import chinese_calendar

HERE = Path(__file__).resolve().parent
REGISTER = HERE / "demo-register-2024.jsonl"
CORRECTIONS = HERE / "demo-corrections-2024.jsonl"
CST = timezone(timedelta(hours=8))
#: The instant the README asks about (findings --at, overdue --at).
AT = datetime(2024, 12, 1, 0, 0, tzinfo=CST)


# --- calendar ----------------------------------------------------------------------------


def t(text: str) -> datetime:
    """'2024-04-15 10:20' -> an instant in +08:00."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CST)


def iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")


def is_workday(day: date) -> bool:
    return bool(chinese_calendar.is_workday(day))


def add_working_days(day: date, n: int) -> date:
    """The Nth working day after ``day`` (``day`` itself never counts)."""
    while n > 0:
        day += timedelta(days=1)
        if is_workday(day):
            n -= 1
    return day


def working_days_in(start: date, end: date) -> int:
    """Working days in [start, end)."""
    return sum(1 for i in range((end - start).days) if is_workday(start + timedelta(days=i)))


def end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, 999000, tzinfo=CST)


def due_after(day: date, days: int, count: str) -> datetime:
    last = add_working_days(day, days) if count == "working" else day + timedelta(days=days)
    return end_of(last)


# --- reference data ------------------------------------------------------------------------

# unit id: (name, head, supervisor)
UNITS: dict[str, tuple[str, str, str]] = {
    "shz-wyk": ("石河子大学后勤管理处 物业服务科", "shz-zhaomin", "shz-liuguoqiang"),
    "sdut-zhk": ("山东理工大学后勤管理处 综合科", "sdut-zhoujun", "sdut-sunli"),
    "sq-bgs": ("宿迁市财政局 办公室（收发文·信访）", "sq-mahong", "sq-xugang"),
    "pd-yxb": ("浦东烟草一公司 营销部", "pd-luojia", "pd-linhai"),
    "zy-jyfwk": ("张掖市公共资源交易中心 交易服务科", "zy-lixia", "zy-gaofeng"),
    "zy-xxzxk": ("张掖市公共资源交易中心 信息咨询科", "zy-caiyun", "zy-gaofeng"),
}

# staff id: (name, rank, unit). Ranks: 1 办事员, 2 科员, 3 副科长/副主任, 4 科长/主任, 5 分管领导.
STAFF: dict[str, tuple[str, int, str]] = {
    "shz-liuguoqiang": ("刘国强", 5, "shz-wyk"),
    "shz-zhaomin": ("赵敏", 4, "shz-wyk"),
    "shz-wangqiang": ("王强", 2, "shz-wyk"),
    "shz-liuyang": ("刘洋", 2, "shz-wyk"),
    "shz-chenjing": ("陈静", 1, "shz-wyk"),
    "sdut-sunli": ("孙丽", 5, "sdut-zhk"),
    "sdut-zhoujun": ("周军", 4, "sdut-zhk"),
    "sdut-wuhao": ("吴浩", 3, "sdut-zhk"),
    "sdut-zhengxue": ("郑雪", 2, "sdut-zhk"),
    "sdut-huangting": ("黄婷", 1, "sdut-zhk"),
    "sq-xugang": ("徐刚", 5, "sq-bgs"),
    "sq-mahong": ("马红", 4, "sq-bgs"),
    "sq-zhuwei": ("朱伟", 3, "sq-bgs"),
    "sq-hulan": ("胡兰", 2, "sq-bgs"),
    "sq-guoliang": ("郭亮", 2, "sq-bgs"),
    "sq-heyan": ("何燕", 1, "sq-bgs"),
    "pd-linhai": ("林海", 5, "pd-yxb"),
    "pd-luojia": ("罗佳", 4, "pd-yxb"),
    "pd-liangchao": ("梁超", 2, "pd-yxb"),
    "pd-songyu": ("宋雨", 2, "pd-yxb"),
    "pd-tangjie": ("唐杰", 1, "pd-yxb"),
    "zy-gaofeng": ("高峰", 5, "zy-jyfwk"),
    "zy-lixia": ("李霞", 4, "zy-jyfwk"),
    "zy-zhangwei": ("张伟", 2, "zy-jyfwk"),
    "zy-lina": ("李娜", 2, "zy-jyfwk"),
    "zy-caiyun": ("蔡云", 4, "zy-xxzxk"),
    "zy-dengpeng": ("邓鹏", 3, "zy-xxzxk"),
    "zy-fengli": ("冯丽", 2, "zy-xxzxk"),
    "zy-hanxue": ("韩雪", 1, "zy-xxzxk"),
}
#: How the clerk first typed a name (fixed in the corrections file).
MISTYPED_NAMES = {"zy-lina": "李那"}

# post id: (unit, name, A, B)
POSTS: dict[str, tuple[str, str, str, str]] = {
    "shz-sushe-weixiu": ("shz-wyk", "学生公寓维修岗", "shz-wangqiang", "shz-liuyang"),
    "shz-shuidian": ("shz-wyk", "水电暖报修岗", "shz-liuyang", "shz-chenjing"),
    "sdut-fangwu-shenpi": ("sdut-zhk", "房屋维修审批岗", "sdut-wuhao", "sdut-zhengxue"),
    "sdut-gongyu": ("sdut-zhk", "公寓饮食管理岗", "sdut-zhengxue", "sdut-huangting"),
    "sq-xinfang": ("sq-bgs", "信访接待岗", "sq-zhuwei", "sq-hulan"),
    "sq-gongwen": ("sq-bgs", "公文收发岗", "sq-guoliang", "sq-heyan"),
    "pd-kehu-fuwu": ("pd-yxb", "客户服务岗", "pd-liangchao", "pd-songyu"),
    "pd-tousu": ("pd-yxb", "投诉处理岗", "pd-songyu", "pd-liangchao"),
    "zy-xiangmu-dengji": ("zy-jyfwk", "项目进场登记岗", "zy-zhangwei", "zy-lina"),
    "zy-chanquan-dengji": ("zy-jyfwk", "产权交易登记岗", "zy-lina", "zy-zhangwei"),
    "zy-zhaobiao-zixun": ("zy-xxzxk", "招投标咨询岗", "zy-dengpeng", "zy-fengli"),
    "zy-wenjian-dayi": ("zy-xxzxk", "招标文件答疑岗", "zy-fengli", "zy-hanxue"),
}
#: The reshuffle of 2 September: 黄婷 takes the A role of the apartments and canteens post.
RESHUFFLE = ("2024-09-02 08:30", "sdut-gongyu", "sdut-huangting", "sdut-zhengxue")

# The packs' limits and adopted rules as the register is judged (see ledger/policies/ and
# examples/zhangye-sections.json). Used only by this script's own check.
PACKS: dict[str, dict[str, Any]] = {
    "shihezi-2021": {
        "prefix": "SHZ",
        "limits": {"general": {"reply": (4, "calendar", "receipt"), "transfer": None}},
        "rules": {"first_inquiry", "rank_rule", "ab_cover", "handler_late", "no_handover", "cover_failure"},
    },
    "sdut-logistics": {
        "prefix": "SDUT",
        "limits": {"leader_approval": {"reply": (5, "working", "receipt"), "transfer": None}},
        "rules": {"first_inquiry", "handler_late", "suspension", "extension", "invalid_extension",
                  "reminders", "ab_cover", "explained_refusal"},
    },
    "suqian-finance": {
        "prefix": "SQ",
        "limits": {"petition": {"reply": (30, "working", "receipt"), "transfer": None},
                   "misdirected_document": {"reply": (2, "working", "receipt"), "transfer": None}},
        "rules": {"first_inquiry", "piecemeal_notice", "restart_on_supplements", "suspension", "extension",
                  "invalid_extension", "ab_cover", "stand_in", "vacancy", "no_handover", "cover_failure",
                  "handler_late", "explained_refusal"},
    },
    "pudong-tobacco": {
        "prefix": "PD",
        "limits": {"general": {"reply": (5, "working", "acceptance"), "transfer": (2, "working", "receipt")}},
        "rules": {"first_inquiry", "late_transfer", "handler_late"},
    },
    "zhangye-2021": {
        "prefix": "ZY",
        "limits": {"registration": {"reply": (3, "working", "receipt"), "transfer": None},
                   "bid_inquiry": {"reply": (5, "working", "receipt"), "transfer": None}},
        "rules": {"ab_cover", "stand_in", "vacancy", "no_handover", "cover_failure", "first_inquiry", "rank_rule",
                  "piecemeal_notice", "restart_on_supplements", "extension", "invalid_extension", "handler_late"},
    },
}


# --- the register being built -------------------------------------------------------------------


@dataclass
class Entry:
    at: datetime
    order: int
    data: dict[str, Any]
    tag: str | None = None
    case: Case | None = None


@dataclass
class Expect:
    """An intended finding (README table)."""

    rule: str
    liable: str
    note: str
    only: str = "both"  # "both", "before" (corrections remove it) or "after" (corrections add it)


@dataclass
class Case:
    policy: str
    kind: str
    received: datetime
    designed: str | None = None  # short label of what the case illustrates
    expect: list[Expect] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    case_id: str = ""


class Register:
    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.cases: list[Case] = []
        self.absences: list[tuple[str, datetime, datetime | None, str | None, list[str]]] = []
        self._order = 0

    def add(self, at: datetime, data: dict[str, Any], tag: str | None = None, case: Case | None = None) -> Entry:
        self._order += 1
        entry = Entry(at, self._order, {"type": data.pop("type"), "occurred_at": iso(at), **data}, tag, case)
        self.entries.append(entry)
        if case is not None:
            case.entries.append(entry)
        return entry

    # reference data
    def reference(self) -> None:
        units_at, staff_at, posts_at = t("2024-03-01 08:30"), t("2024-03-01 08:40"), t("2024-03-01 08:50")
        for unit, (name, head, supervisor) in UNITS.items():
            self.add(units_at, {"type": "UnitDefined", "unit": unit, "head": head, "supervisor": supervisor,
                                "name": name})
        for staff, (name, rank, unit) in STAFF.items():
            self.add(staff_at, {"type": "StaffRegistered", "staff": staff, "name": MISTYPED_NAMES.get(staff, name),
                                "rank": rank, "unit": unit}, tag=f"staff:{staff}")
        for post, (unit, name, a, b) in POSTS.items():
            self.add(posts_at, {"type": "PostDefined", "post": post, "unit": unit, "a": a, "b": b, "name": name})

    # A/B cover
    def absence(self, staff: str, start: str, end: str | None, reason: str, handover_to: str | None,
                notified: list[str] | None, expected_return: str, briefed: bool | None = True,
                tag: str | None = None) -> None:
        data: dict[str, Any] = {"type": "AbsenceStarted", "staff": staff, "reason": reason}
        if handover_to is not None:
            data["handover_to"] = handover_to
        if notified:
            data["notified"] = notified
        data["expected_return"] = iso(t(expected_return))
        self.add(t(start), data)
        if end is not None:
            ended: dict[str, Any] = {"type": "AbsenceEnded", "staff": staff}
            if briefed is not None:
                ended["briefed"] = briefed
            self.add(t(end), ended, tag=tag)
        self.absences.append((staff, t(start), t(end) if end else None, handover_to, notified or []))

    def absent(self, staff: str, at: datetime) -> tuple[str | None, list[str]] | None:
        for who, start, end, handover_to, notified in self.absences:
            if who == staff and start <= at and (end is None or at < end):
                return handover_to, notified
        return None

    # cases
    def open(self, policy: str, kind: str, at: str, received_by: list[str], channel: str, matter: str,
             post: str, requester: dict[str, str], in_remit: bool = True, designed: str | None = None,
             tag: str | None = None) -> Case:
        case = Case(policy, kind, t(at), designed)
        self.cases.append(case)
        data: dict[str, Any] = {"type": "InquiryReceived", "case": None, "policy": policy, "received_by": received_by,
                                "channel": channel, "matter": matter, "kind": kind, "post": post}
        if not in_remit:
            data["in_remit"] = False
        data["requester"] = requester
        self.add(t(at), data, tag=tag, case=case)
        return case

    def ev(self, case: Case, at: str, type_: str, tag: str | None = None, **fields: Any) -> Entry:
        data: dict[str, Any] = {"type": type_, "case": None}
        for key, value in fields.items():
            data["from" if key == "from_" else key] = value
        return self.add(t(at), data, tag=tag, case=case)

    def handoff(self, case: Case, at: str, from_: str, to: str, note: str, receipt: bool = True,
                accepted: str | None = None, tag: str | None = None) -> None:
        self.ev(case, at, "HandedOff", tag=tag, from_=from_, to=to, receipt=receipt, note=note)
        if accepted is not None:
            self.ev(case, accepted, "HandoffAccepted", by=to)

    def reply(self, case: Case, at: str, by: str, outcome: str, note: str, tag: str | None = None) -> None:
        self.ev(case, at, "Replied", tag=tag, by=by, outcome=outcome, note=note)


# --- requesters --------------------------------------------------------------------------------

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余杜叶程苏魏吕丁任沈姚卢"
GIVEN = ["秀英", "建国", "丽华", "志强", "晓东", "桂兰", "文博", "海燕", "立新", "春梅", "明", "志刚", "晓丽",
         "建华", "月", "子豪", "静怡", "远", "晓峰", "红梅", "子涵", "雨桐", "浩然", "思远", "欣怡", "俊杰",
         "玉珍", "德胜", "凤英", "国庆", "淑芬", "宏伟", "佳琪", "梓萱", "天佑", "金花", "永红", "卫东"]
MOBILE_PREFIXES = ["133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "158", "159", "177",
                   "180", "181", "186", "187", "188", "189", "199"]


class People:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def name(self) -> str:
        while True:
            candidate = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate

    def phone(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def requester(self, unit: str, name: str | None = None) -> dict[str, str]:
        return {"name": name or self.name(), "contact": self.phone(), "unit": unit}


# --- the designed cases ------------------------------------------------------------------------------


def designed(reg: Register, people: People) -> None:
    """Cases written out by hand: each illustrates one rule (README table)."""
    p = people
    # ---------------- shihezi-2021: general, reply within 4 calendar days of receipt ----------------
    # no_handover: 王强 (A of 学生公寓维修岗) leaves for a training course without handing over.
    c = reg.open("shihezi-2021", "general", "2024-04-15 10:20", ["shz-wangqiang"], "visit",
                 "学生公寓3号楼412宿舍热水气不出热水", "shz-sushe-weixiu",
                 p.requester("石河子大学 农学院 2022级农学2班"), designed="A离岗未交接，B未接手，事项超期",
                 tag="S1-received")
    c.expect.append(Expect("no_handover", "shz-wangqiang", "A absent without handover when it fell due"))
    reg.absence("shz-wangqiang", "2024-04-17 14:00", "2024-04-22 08:50", "trip", None, None,
                "2024-04-22 09:00", briefed=False)
    reg.reply(c, "2024-04-22 15:30", "shz-wangqiang", "resolved", "已更换热水器温控阀，恢复热水供应，回访学生满意")

    # joint inquiry (首问 art. 3): 赵敏 outranks 陈静, hands over to the post's A; on time.
    c = reg.open("shihezi-2021", "general", "2024-05-06 09:40", ["shz-chenjing", "shz-zhaomin"], "visit",
                 "学生公寓9号楼楼道照明损坏多日未修", "shz-shuidian",
                 p.requester("石河子大学 信息科学与技术学院 2023级"),
                 designed="联合接待，职位高者为首问，移交承办人，按时办结")
    reg.handoff(c, "2024-05-06 10:10", "shz-zhaomin", "shz-liuyang", "属水电暖报修岗职责，当面移交并开具接收单",
                accepted="2024-05-06 10:30")
    reg.reply(c, "2024-05-08 16:00", "shz-liuyang", "resolved", "已更换9号楼2至5层楼道感应灯")

    # cover_failure: 刘洋 hands over to 陈静 (B) before leave; 陈静 lets it fall due.
    c = reg.open("shihezi-2021", "general", "2024-07-08 09:10", ["shz-liuyang"], "phone",
                 "医学院实验楼3楼走廊配电箱插座无电，申请检修", "shz-shuidian",
                 p.requester("石河子大学 医学院 实验中心"),
                 designed="A已交接，B顶岗期间事项超期")
    c.expect.append(Expect("cover_failure", "shz-chenjing", "B acting after a proper handover"))
    reg.absence("shz-liuyang", "2024-07-09 08:30", "2024-07-16 08:30", "leave", "shz-chenjing",
                ["shz-chenjing", "shz-zhaomin"], "2024-07-16 08:30", briefed=True)
    reg.reply(c, "2024-07-15 10:00", "shz-chenjing", "resolved", "已更换烧毁的漏电保护器，恢复供电")

    # handler_late as first recorded; the reply's date was mistyped (corrections: on time after all).
    c = reg.open("shihezi-2021", "general", "2024-06-03 11:00", ["shz-wangqiang"], "online",
                 "学生公寓5号楼洗衣房洗衣机漏水", "shz-sushe-weixiu", p.requester("石河子大学 文学艺术学院 2021级"),
                 designed="答复时间误登（更正后按时）")
    c.expect.append(Expect("handler_late", "shz-wangqiang", "only before the correction of the reply's time",
                           only="before"))
    reg.reply(c, "2024-06-11 09:30", "shz-wangqiang", "resolved", "已联系洗衣机运营商更换进水管",
              tag="S4-replied")

    # open at the end, overdue at 2024-12-01.
    c = reg.open("shihezi-2021", "general", "2024-11-25 10:05", ["shz-wangqiang"], "phone",
                 "教职工周转房2单元暖气不热", "shz-sushe-weixiu", p.requester("石河子大学 机械电气工程学院"),
                 designed="未办结，已超期")
    c.expect.append(Expect("handler_late", "shz-wangqiang", "open and overdue at 2024-12-01"))

    # ---------------- sdut-logistics: leader_approval, 5 working days of receipt ----------------
    # two reminders before the due instant: the delay is the requester's (限时 art. 3).
    c = reg.open("sdut-logistics", "leader_approval", "2024-05-20 09:00", ["sdut-wuhao"], "visit",
                 "申请办理房屋维修审批：化学楼三楼实验室墙面渗水", "sdut-fangwu-shenpi",
                 p.requester("山东理工大学 化学化工学院"), designed="两次提醒后申请人仍未补交，视为按时办结")
    reg.ev(c, "2024-05-22 10:00", "Reminded", by="sdut-wuhao")
    reg.ev(c, "2024-05-24 15:00", "Reminded", by="sdut-wuhao")
    reg.ev(c, "2024-05-24 15:00", "Reminded", by="sdut-wuhao", tag="D1-duplicate-reminder")
    reg.reply(c, "2024-05-30 10:00", "sdut-wuhao", "resolved", "学院5月29日补齐维修预算表，已报分管校领导批示同意")

    # expert review suspends the clock; answered within the moved due date.
    c = reg.open("sdut-logistics", "leader_approval", "2024-06-17 09:30", ["sdut-wuhao"], "letter",
                 "申请实验楼屋面防水维修审批", "sdut-fangwu-shenpi", p.requester("山东理工大学 建筑工程学院"),
                 designed="专家评审不计入时限，按时办结")
    reg.ev(c, "2024-06-19 10:00", "ClockSuspended", reason="expert_review")
    reg.ev(c, "2024-06-26 09:00", "ClockResumed")
    reg.reply(c, "2024-06-28 15:00", "sdut-wuhao", "resolved", "专家评审意见已采纳，分管校领导批示同意实施")

    # a hearing suspends the clock; on time.
    c = reg.open("sdut-logistics", "leader_approval", "2024-07-01 10:15", ["sdut-zhengxue"], "visit",
                 "申请食堂档口经营调整审批（西区二餐厅）", "sdut-gongyu", p.requester("山东理工大学 饮食服务中心"),
                 designed="价格听证不计入时限，按时办结")
    reg.ev(c, "2024-07-03 09:00", "ClockSuspended", reason="hearing")
    reg.ev(c, "2024-07-08 09:00", "ClockResumed")
    reg.reply(c, "2024-07-10 16:30", "sdut-zhengxue", "resolved", "听证会后经分管校领导批示，同意调整三个档口")

    # appraisal suspends the clock, but the reply is late even so (A after the reshuffle: 黄婷).
    c = reg.open("sdut-logistics", "leader_approval", "2024-09-02 10:00", ["sdut-huangting"], "online",
                 "申请学生公寓空调安装审批（西区12号楼）", "sdut-gongyu", p.requester("山东理工大学 学生工作处"),
                 designed="电力负荷鉴定期间停表，恢复后仍超期")
    c.expect.append(Expect("handler_late", "sdut-huangting", "late even after the suspension"))
    reg.ev(c, "2024-09-03 09:30", "ClockSuspended", reason="appraisal")
    reg.ev(c, "2024-09-05 14:00", "ClockResumed")
    reg.reply(c, "2024-09-13 11:00", "sdut-huangting", "resolved", "鉴定结论：需先行增容，分管校领导已批示分两期安装")

    # extension approved but the requester never told: the old deadline stands.
    c = reg.open("sdut-logistics", "leader_approval", "2024-10-08 09:20", ["sdut-wuhao"], "letter",
                 "申请家属区供暖管网改造立项审批", "sdut-fangwu-shenpi", p.requester("山东理工大学 家属区业主委员会"),
                 designed="延期未告知服务对象，原时限不变")
    c.expect.append(Expect("invalid_extension", "sdut-wuhao", "extension never notified"))
    reg.ev(c, "2024-10-12 11:00", "DeadlineExtended", new_due=iso(end_of(date(2024, 10, 25)).replace(microsecond=0)),
           approved_by="sdut-zhoujun", reason="需提交校长办公会研究", tag="D4-extended")
    reg.reply(c, "2024-10-18 16:00", "sdut-wuhao", "resolved", "校长办公会已研究同意立项，列入2025年维修计划")

    # ---------------- suqian-finance: petition 30 / misdirected_document 2 working days ----------------
    # a valid extension: notified before the old deadline.
    c = reg.open("suqian-finance", "petition", "2024-04-22 10:00", ["sq-zhuwei"], "letter",
                 "信访件：反映某工程项目拖欠农民工工资，涉及财政资金拨付", "sq-xinfang",
                 p.requester("宿迁市宿豫区来龙镇"), designed="延期经批准并在期满前告知，按新时限办结")
    old_due = due_after(date(2024, 4, 22), 30, "working")
    ext_day = add_working_days(date(2024, 4, 22), 27)
    new_due = due_after(old_due.date(), 15, "working")
    reg.ev(c, f"{ext_day} 10:00", "DeadlineExtended", new_due=iso(new_due.replace(microsecond=0)),
           approved_by="sq-mahong", notified_at=iso(t(f"{ext_day} 11:30")), tag="Q1-extended")
    reg.reply(c, f"{add_working_days(old_due.date(), 6)} 15:00", "sq-zhuwei", "resolved",
              "经会同人社、住建部门核查，拖欠工资已由总包单位结清，财政资金已按进度拨付")

    # piecemeal notice: a second request names items the first did not.
    c = reg.open("suqian-finance", "petition", "2024-06-11 09:30", ["sq-hulan"], "visit",
                 "信访件：反映耕地地力保护补贴未足额发放", "sq-xinfang", p.requester("宿迁市宿城区耿车镇"),
                 designed="补正材料分两次告知")
    c.expect.append(Expect("piecemeal_notice", "sq-hulan", "second request lists new items"))
    reg.ev(c, "2024-06-11 10:00", "MaterialsRequested", by="sq-hulan", items=["身份证复印件", "土地承包经营权证复印件"])
    reg.ev(c, "2024-06-14 09:20", "MaterialsReceived", items=["身份证复印件", "土地承包经营权证复印件"])
    reg.ev(c, "2024-06-17 10:40", "MaterialsRequested", by="sq-hulan",
           items=["村委会出具的种植面积证明", "补贴发放银行流水"])
    reg.ev(c, "2024-06-20 15:10", "MaterialsReceived", items=["村委会出具的种植面积证明", "补贴发放银行流水"])
    reg.reply(c, "2024-07-12 10:00", "sq-hulan", "resolved", "经核实少发补贴已由镇财政所补发，书面答复信访人")

    # vacancy: A (郭亮) at a meeting after handing over, B (何燕) off sick, no stand-in designated.
    c = reg.open("suqian-finance", "misdirected_document", "2024-08-12 09:30", ["sq-guoliang"], "letter",
                 "误送公文：市住建局《关于老旧小区改造配套资金的请示》（应送市发改委）", "sq-gongwen",
                 p.requester("宿迁市住房和城乡建设局 办公室"), designed="A、B同时离岗且未指派，事项超期")
    c.expect.append(Expect("vacancy", "sq-xugang", "A and B both away, no stand-in"))
    reg.absence("sq-guoliang", "2024-08-12 14:00", "2024-08-16 08:30", "meeting", "sq-heyan",
                ["sq-heyan", "sq-xugang"], "2024-08-16 08:30", briefed=False)
    reg.absence("sq-heyan", "2024-08-13 08:30", "2024-08-16 08:30", "sick", None, ["sq-mahong"],
                "2024-08-16 08:30", briefed=None)
    reg.reply(c, "2024-08-16 10:00", "sq-guoliang", "referred_outside", "已通过办公室退回市住建局并说明理由")

    # handler_late: a petition answered after 30 working days.
    received = "2024-03-11 09:50"
    c = reg.open("suqian-finance", "petition", received, ["sq-zhuwei"], "letter",
                 "信访件：反映退役军人优抚金发放延迟", "sq-xinfang", p.requester("宿迁市宿城区项里街道"),
                 designed="信访件超30个工作日办结")
    c.expect.append(Expect("handler_late", "sq-zhuwei", "petition answered late"))
    late = add_working_days(due_after(date(2024, 3, 11), 30, "working").date(), 2)
    reg.reply(c, f"{late} 16:00", "sq-zhuwei", "resolved", "优抚金已由区退役军人事务局补发到位")

    # open at the end, not yet due.
    reg.open("suqian-finance", "petition", "2024-11-18 14:30", ["sq-zhuwei"], "visit",
             "信访件：反映村级财务公开不及时", "sq-xinfang", p.requester("宿迁市宿豫区丁嘴镇"),
             designed="未办结，未到期")

    # ---------------- pudong-tobacco: transfer 2 wd of receipt, resolve 5 wd of acceptance ----------------
    c = reg.open("pudong-tobacco", "general", "2024-05-06 10:30", ["pd-tangjie"], "phone",
                 "卷烟零售户投诉：送货短少两条", "pd-tousu", p.requester("浦东新区惠南镇 顺发便利店"),
                 in_remit=False, designed="首问人超2个工作日才转交")
    c.expect.append(Expect("late_transfer", "pd-tangjie", "handed over after 2 working days"))
    reg.handoff(c, "2024-05-10 09:00", "pd-tangjie", "pd-songyu", "前台登记后遗漏，补转投诉处理岗", receipt=False,
                accepted="2024-05-10 09:40", tag="P1-handoff")
    reg.reply(c, "2024-05-14 16:00", "pd-songyu", "resolved", "核实为配送漏装，已于次日补送两条并致歉")

    c = reg.open("pudong-tobacco", "general", "2024-09-29 15:40", ["pd-tangjie"], "visit",
                 "零售户申请调整国庆后送货时间", "pd-kehu-fuwu", p.requester("浦东新区川沙新镇 万家福超市"),
                 in_remit=False, designed="国庆长假前后转交超2个工作日（9月29日调休上班）")
    c.expect.append(Expect("late_transfer", "pd-tangjie", "2 working days span the National Day holiday"))
    reg.handoff(c, "2024-10-09 09:15", "pd-tangjie", "pd-liangchao", "节后转客户服务岗", accepted="2024-10-10 09:00")
    reg.reply(c, "2024-10-12 11:00", "pd-liangchao", "resolved", "已调整为每周二、周五上午送货")

    c = reg.open("pudong-tobacco", "general", "2024-07-15 14:20", ["pd-liangchao"], "visit",
                 "零售户反映货款扣款重复", "pd-kehu-fuwu", p.requester("浦东新区周浦镇 佳佳烟杂店"),
                 designed="承办人超5个工作日解决")
    c.expect.append(Expect("handler_late", "pd-liangchao", "resolved after 5 working days"))
    reg.reply(c, "2024-07-24 15:00", "pd-liangchao", "resolved", "经与银行核对，重复扣款已退回零售户账户")

    c = reg.open("pudong-tobacco", "general", "2024-03-18 10:00", ["pd-tangjie"], "phone",
                 "消费者投诉：购买卷烟疑似受潮霉变", "pd-tousu", p.requester("浦东新区 消费者"),
                 in_remit=False, designed="5个工作日自承办人阅知起算，按时")
    reg.handoff(c, "2024-03-19 09:30", "pd-tangjie", "pd-songyu", "转投诉处理岗", accepted="2024-03-20 09:00")
    reg.reply(c, "2024-03-26 15:00", "pd-songyu", "resolved", "经质检为储存不当受潮，零售户已为消费者调换")

    # the same phone call registered twice: the second is retracted in the corrections file.
    c = reg.open("pudong-tobacco", "general", "2024-11-04 09:05", ["pd-liangchao"], "phone",
                 "零售户咨询：新品卷烟订购规则", "pd-kehu-fuwu",
                 {"name": "曹德胜", "contact": "13817264405", "unit": "浦东新区高桥镇 德胜烟酒店"})
    reg.reply(c, "2024-11-05 10:30", "pd-liangchao", "resolved", "已告知新品订购按零售户档位分配，并发送规则说明")
    c = reg.open("pudong-tobacco", "general", "2024-11-04 09:07", ["pd-tangjie"], "phone",
                 "零售户来电咨询新品卷烟订购规则", "pd-kehu-fuwu",
                 {"name": "曹德胜", "contact": "13817264405", "unit": "浦东新区高桥镇 德胜烟酒店"},
                 designed="同一来电重复登记（更正文件撤回）", tag="P-duplicate")
    c.expect.append(Expect("handler_late", "pd-tangjie", "only until the duplicate is retracted", only="before"))

    reg.open("pudong-tobacco", "general", "2024-11-27 14:00", ["pd-songyu"], "visit",
             "零售户反映终端陈列柜灯箱损坏申请维修", "pd-tousu", p.requester("浦东新区张江镇 便民烟酒店"),
             designed="未办结，未到期")

    # ---------------- zhangye-2021 (own limits): registration 3 wd, bid_inquiry 5 wd ----------------
    # stand-in: A (邓鹏) on a trip, B (冯丽) off sick, 高峰 designates 韩雪.
    c = reg.open("zhangye-2021", "bid_inquiry", "2024-06-13 10:00", ["zy-dengpeng"], "phone",
                 "投标人咨询：保证金退还进度（张掖市第二中学教学设备采购项目）", "zy-zhaobiao-zixun",
                 p.requester("甘肃陇原教学设备有限公司"), designed="A、B同时离岗，分管领导指派代岗人，按时办结")
    reg.absence("zy-dengpeng", "2024-06-17 08:30", "2024-06-24 08:30", "trip", "zy-fengli",
                ["zy-fengli", "zy-caiyun"], "2024-06-24 08:30", briefed=True)
    reg.absence("zy-fengli", "2024-06-18 08:30", "2024-06-21 08:30", "sick", None, ["zy-caiyun", "zy-gaofeng"],
                "2024-06-21 08:30", briefed=None)
    reg.add(t("2024-06-18 09:00"), {"type": "StandInDesignated", "post": "zy-zhaobiao-zixun",
                                    "stand_in": "zy-hanxue", "by": "zy-gaofeng",
                                    "until": iso(t("2024-06-21 18:00"))})
    reg.reply(c, "2024-06-19 16:00", "zy-hanxue", "resolved", "经核实保证金已于6月19日原路退还，已电话告知")

    # piecemeal notice; the clock runs from the first receipt of supplements, answered in time.
    c = reg.open("zhangye-2021", "registration", "2024-04-08 09:30", ["zy-zhangwei"], "visit",
                 "政府采购项目进场登记：甘州区人民医院医疗设备采购", "zy-xiangmu-dengji",
                 p.requester("甘州区人民医院 采购办"), designed="一次性告知遗漏，二次要求补正")
    c.expect.append(Expect("piecemeal_notice", "zy-zhangwei", "second request lists new items"))
    reg.ev(c, "2024-04-08 10:00", "MaterialsRequested", by="zy-zhangwei", items=["采购需求论证材料", "预算批复文件"])
    reg.ev(c, "2024-04-10 11:00", "MaterialsReceived", items=["采购需求论证材料", "预算批复文件"])
    reg.ev(c, "2024-04-11 09:30", "MaterialsRequested", by="zy-zhangwei", items=["代理机构委托协议"])
    reg.ev(c, "2024-04-12 10:00", "MaterialsReceived", items=["代理机构委托协议"])
    reg.reply(c, "2024-04-12 16:00", "zy-zhangwei", "resolved", "已完成进场登记，项目编号ZYGGZY-2024-0412")

    # extension notified the day after the old deadline: invalid.
    c = reg.open("zhangye-2021", "registration", "2024-07-22 10:00", ["zy-lina"], "visit",
                 "国有产权转让项目进场登记：市属国企闲置车辆转让", "zy-chanquan-dengji",
                 p.requester("张掖市国有资产投资集团"), designed="延期在原时限届满后才告知")
    c.expect.append(Expect("invalid_extension", "zy-lina", "notified after the old deadline"))
    reg.ev(c, "2024-07-25 16:30", "DeadlineExtended", new_due=iso(end_of(date(2024, 8, 2)).replace(microsecond=0)),
           approved_by="zy-lixia", notified_at=iso(t("2024-07-26 09:30")), reason="转让方需补充资产评估备案表")
    reg.reply(c, "2024-07-30 11:00", "zy-lina", "resolved", "评估备案表已补齐，完成进场登记并发布转让公告")

    # joint inquiry: 冯丽 outranks 韩雪 and is the first-asked; she answers late.
    c = reg.open("zhangye-2021", "bid_inquiry", "2024-08-05 15:00", ["zy-hanxue", "zy-fengli"], "visit",
                 "投标人询问：招标文件技术参数澄清（民乐县乡村道路硬化工程）", "zy-wenjian-dayi",
                 p.requester("甘肃路桥建设集团 投标部"), designed="联合接待，职位高者为首问，超期答复")
    c.expect.append(Expect("handler_late", "zy-fengli", "rank rule picks 冯丽; answered late"))
    reg.reply(c, "2024-08-14 10:30", "zy-fengli", "resolved", "已会同招标代理发布澄清公告并书面答复")

    # joint inquiry: the section head 李霞 outranks 张伟, so she is the first-asked; she hands it to the A.
    c = reg.open("zhangye-2021", "registration", "2024-11-06 10:00", ["zy-zhangwei", "zy-lixia"], "visit",
                 "矿业权出让项目进场登记：肃南县建筑用石灰岩矿", "zy-chanquan-dengji",
                 p.requester("肃南裕固族自治县自然资源局"),
                 designed="联合接待，科长为首问，移交产权交易登记岗A角，按时办结")
    reg.handoff(c, "2024-11-06 10:20", "zy-lixia", "zy-lina", "属产权交易登记岗职责，当面移交",
                accepted="2024-11-06 10:40")
    reg.reply(c, "2024-11-08 16:30", "zy-lina", "resolved", "已完成进场登记并发布出让公告")

    # complete notice: the clock runs from the supplements (after 3 wd of receipt, still on time).
    c = reg.open("zhangye-2021", "registration", "2024-09-09 09:40", ["zy-zhangwei"], "visit",
                 "工程建设项目进场登记：临泽县城区供水管网改造工程", "zy-xiangmu-dengji",
                 p.requester("临泽县水务局"), designed="一次性告知补正，时限自收到补正材料起算，按时")
    reg.ev(c, "2024-09-09 10:10", "MaterialsRequested", by="zy-zhangwei", items=["招标文件备案回执", "项目审批文件"])
    reg.ev(c, "2024-09-12 15:00", "MaterialsReceived", items=["招标文件备案回执"], tag="Z5-received")
    reg.reply(c, "2024-09-18 10:00", "zy-zhangwei", "resolved", "已完成进场登记并安排开标场地")

    # recorded on time, but the corrections file moves the reply later: late after all.
    c = reg.open("zhangye-2021", "bid_inquiry", "2024-10-14 09:00", ["zy-dengpeng"], "online",
                 "投标人咨询：电子投标文件上传失败", "zy-zhaobiao-zixun", p.requester("张掖市恒通建筑工程有限公司"),
                 designed="答复时间误登（更正后超期）")
    c.expect.append(Expect("handler_late", "zy-dengpeng", "only after the correction of the reply's time",
                           only="after"))
    reg.reply(c, "2024-10-18 17:00", "zy-dengpeng", "resolved", "指导投标人更新驱动并重新上传成功", tag="Z6-replied")


def routine_absences(reg: Register) -> None:
    """Ordinary absences, handed over properly (or announced), during which nothing falls due."""
    a = reg.absence
    a("shz-chenjing", "2024-03-26 08:30", "2024-03-28 08:30", "sick", None, ["shz-liuyang", "shz-zhaomin"],
      "2024-03-28 08:30", briefed=None)
    a("sdut-wuhao", "2024-04-22 08:30", "2024-04-28 08:30", "trip", "sdut-zhengxue", ["sdut-zhengxue", "sdut-zhoujun"],
      "2024-04-28 08:30")
    a("zy-zhangwei", "2024-05-13 08:30", "2024-05-17 18:00", "trip", "zy-lina", ["zy-lina", "zy-lixia"],
      "2024-05-20 08:30", tag="zhangwei-back")
    a("pd-liangchao", "2024-06-24 08:30", "2024-07-01 08:30", "trip", "pd-songyu", ["pd-songyu", "pd-luojia"],
      "2024-07-01 08:30")
    a("sdut-zhengxue", "2024-07-29 08:30", "2024-08-05 08:30", "leave", "sdut-huangting",
      ["sdut-huangting", "sdut-zhoujun"], "2024-08-05 08:30")
    a("shz-wangqiang", "2024-08-19 08:30", "2024-08-26 08:30", "leave", "shz-liuyang", ["shz-liuyang", "shz-zhaomin"],
      "2024-08-26 08:30")
    a("sq-zhuwei", "2024-08-26 08:30", "2024-08-29 08:30", "meeting", "sq-hulan", ["sq-hulan", "sq-mahong"],
      "2024-08-29 08:30")
    a("pd-songyu", "2024-09-09 08:30", "2024-09-14 08:30", "leave", "pd-liangchao", ["pd-liangchao", "pd-luojia"],
      "2024-09-14 08:30")
    a("sq-hulan", "2024-09-18 08:30", "2024-09-20 08:30", "sick", None, ["sq-zhuwei", "sq-mahong"],
      "2024-09-20 08:30", briefed=None)
    a("zy-dengpeng", "2024-09-23 08:30", "2024-09-26 08:30", "meeting", "zy-fengli", ["zy-fengli", "zy-caiyun"],
      "2024-09-26 08:30")
    a("shz-liuyang", "2024-10-14 08:30", "2024-10-19 08:30", "trip", "shz-chenjing", ["shz-chenjing", "shz-zhaomin"],
      "2024-10-21 08:30")
    a("sdut-huangting", "2024-10-21 08:30", "2024-10-24 08:30", "leave", "sdut-zhengxue",
      ["sdut-zhengxue", "sdut-zhoujun"], "2024-10-24 08:30")
    a("zy-lina", "2024-10-28 08:30", "2024-11-04 08:30", "leave", "zy-zhangwei", ["zy-zhangwei", "zy-lixia"],
      "2024-11-04 08:30")
    # announced by phone to B and the leader, no handover (002 AB art. 5(1)).
    a("sq-guoliang", "2024-11-11 08:30", "2024-11-13 08:30", "sick", None, ["sq-heyan", "sq-xugang"],
      "2024-11-13 08:30", briefed=True)
    # short absences: meetings and leave of a day or two; leaders and backups tell whom it concerns.
    a("zy-hanxue", "2024-03-13 08:30", "2024-03-15 08:30", "leave", None, ["zy-caiyun"], "2024-03-15 08:30",
      briefed=None)
    a("shz-zhaomin", "2024-03-20 08:30", "2024-03-20 17:30", "meeting", None, ["shz-liuguoqiang"],
      "2024-03-21 08:30", briefed=None)
    a("sq-heyan", "2024-04-08 08:30", "2024-04-12 08:30", "leave", None, ["sq-guoliang", "sq-mahong"],
      "2024-04-12 08:30", briefed=None)
    a("sq-mahong", "2024-05-08 08:30", "2024-05-09 17:30", "meeting", None, ["sq-xugang", "sq-zhuwei"],
      "2024-05-10 08:30", briefed=None)
    a("sdut-zhoujun", "2024-06-03 08:30", "2024-06-07 17:30", "trip", None, ["sdut-sunli", "sdut-wuhao"],
      "2024-06-11 08:30", briefed=None)
    a("pd-tangjie", "2024-07-01 08:30", "2024-07-03 08:30", "leave", None, ["pd-luojia"], "2024-07-03 08:30",
      briefed=None)
    a("zy-gaofeng", "2024-07-08 08:30", "2024-07-12 17:30", "trip", None, ["zy-lixia", "zy-caiyun"],
      "2024-07-15 08:30", briefed=None)
    a("zy-zhangwei", "2024-08-20 08:30", "2024-08-21 17:30", "meeting", "zy-lina", ["zy-lina", "zy-lixia"],
      "2024-08-22 08:30")
    a("shz-chenjing", "2024-09-02 08:30", "2024-09-04 08:30", "leave", None, ["shz-liuyang", "shz-zhaomin"],
      "2024-09-04 08:30", briefed=None)
    a("shz-wangqiang", "2024-10-10 14:00", "2024-10-10 17:30", "meeting", "shz-liuyang", ["shz-liuyang"],
      "2024-10-11 08:30")
    a("sq-zhuwei", "2024-10-15 08:30", "2024-10-17 08:30", "sick", "sq-hulan", ["sq-hulan", "sq-mahong"],
      "2024-10-17 08:30")
    a("zy-fengli", "2024-10-21 08:30", "2024-10-26 08:30", "trip", "zy-hanxue", ["zy-hanxue", "zy-caiyun"],
      "2024-10-28 08:30")
    a("pd-liangchao", "2024-11-13 13:30", "2024-11-13 17:30", "meeting", "pd-songyu", ["pd-songyu"],
      "2024-11-14 08:30")
    a("sdut-wuhao", "2024-11-14 09:00", "2024-11-14 17:00", "meeting", "sdut-zhengxue", ["sdut-zhengxue"],
      "2024-11-15 08:30")
    a("zy-caiyun", "2024-11-19 08:30", "2024-11-19 17:30", "meeting", None, ["zy-gaofeng", "zy-dengpeng"],
      "2024-11-20 08:30", briefed=None)


# --- routine cases -----------------------------------------------------------------------------------

# (policy, kind, post, front desk for out-of-remit matters, matters, requester units, reply notes)
ROUTINE: list[tuple[str, str, str, str, list[str], list[str], list[str]]] = [
    ("shihezi-2021", "general", "shz-sushe-weixiu", "shz-chenjing",
     ["学生公寓7号楼卫生间下水道堵塞", "学生公寓暖气片漏水", "申请办理宿舍调换", "学生公寓11号楼宿舍门锁损坏",
      "教职工周转房窗户玻璃破损申请更换"],
     ["石河子大学 化学化工学院 2023级", "石河子大学 经济与管理学院 2022级", "石河子大学 医学院 2021级",
      "石河子大学 师范学院 2024级"],
     ["已疏通并回访", "已维修完毕", "已按规定办理调换手续", "已更换门锁", "已更换玻璃"]),
    ("shihezi-2021", "general", "shz-shuidian", "shz-chenjing",
     ["图书馆二楼空调不制冷", "宿舍楼道感应灯损坏", "校园一卡通水控器扣费异常", "食堂后门路面积水，申请疏通排水",
      "申请开通宿舍楼夜间临时用电"],
     ["石河子大学 图书馆", "石河子大学 食品学院 2022级", "石河子大学 膳食服务中心", "石河子大学 校团委"],
     ["已检修完毕", "已更换", "已联系水控运营商退还多扣费用", "已疏通排水管道", "已开通，限期至活动结束"]),
    ("sdut-logistics", "leader_approval", "sdut-fangwu-shenpi", "sdut-huangting",
     ["申请办理房屋维修审批：图书馆东侧卫生间改造", "申请校内道路临时占用审批（毕业典礼搭建舞台）",
      "申请办理教职工周转公寓入住审批", "申请办理房屋维修审批：体育馆看台座椅更换"],
     ["山东理工大学 图书馆", "山东理工大学 校团委", "山东理工大学 人事处", "山东理工大学 体育学院"],
     ["分管校领导已批示同意", "经批示同意，已通知保卫处", "已批准入住", "分管校领导已批示同意"]),
    ("sdut-logistics", "leader_approval", "sdut-gongyu", "sdut-huangting",
     ["申请学生公寓床位临时调整审批（暑期留校学生集中安置）", "申请后勤服务外包合同续签审批",
      "申请食堂延长夜间营业时间审批"],
     ["山东理工大学 学生工作处", "山东理工大学 饮食服务中心", "山东理工大学 研究生院"],
     ["分管校领导已批示同意", "经批示同意续签一年", "已批准试行一学期"]),
    ("suqian-finance", "petition", "sq-xinfang", "sq-heyan",
     ["信访件：反映城乡居民医保财政补助标准疑问", "信访件：小区噪音扰民", "信访申诉件：对政府采购投诉处理决定不服",
      "信访件：反映农村危房改造补助资金未到位"],
     ["宿迁市沭阳县", "宿迁市宿城区幸福街道", "宿迁市某科技公司", "宿迁市泗洪县"],
     ["已书面答复政策依据及补助标准", "不属本局职责，已转区生态环境局办理并告知信访人",
      "经复查原处理决定事实清楚，书面答复", "补助资金已拨付到户"]),
    ("suqian-finance", "misdirected_document", "sq-gongwen", "sq-heyan",
     ["误送公文：宿城区教育局关于校舍维修的报告（应送区财政局）", "误送公文：市卫健委会议通知（应送市医保局）",
      "误送公文：泗阳县关于农村公路养护补助的请示（应送县财政局）",
      "误送公文：市人社局就业补贴资金拨付函（收文单位有误）",
      "误送公文：市自然资源局土地出让金清算函（应送市税务局）"],
     ["宿城区教育局", "宿迁市卫生健康委员会", "泗阳县交通运输局", "宿迁市人力资源和社会保障局",
      "宿迁市自然资源和规划局"],
     ["已通过办公室退回交办单位并说明理由"]),
    ("pudong-tobacco", "general", "pd-kehu-fuwu", "pd-tangjie",
     ["零售户反映订货系统无法登录", "零售户咨询：卷烟零售许可证延续办理", "零售户申请调整送货时间",
      "零售户咨询：订货额度调整规则"],
     ["浦东新区三林镇 好邻居便利店", "浦东新区金桥镇 联华快客", "浦东新区北蔡镇 兴旺烟杂店",
      "浦东新区曹路镇 阿强烟酒店"],
     ["已重置账号密码，可正常订货", "已告知延续所需材料及办理窗口", "已调整送货线路", "已解释档位与额度规则"]),
    ("pudong-tobacco", "general", "pd-tousu", "pd-tangjie",
     ["零售户反映终端陈列柜损坏申请维修", "消费者投诉：零售户未明码标价", "零售户投诉：送货员服务态度差"],
     ["浦东新区航头镇 明珠便利店", "浦东新区 消费者", "浦东新区康桥镇 百味烟酒店"],
     ["已安排维修", "已督促零售户整改并回访", "已约谈送货员并向零售户致歉"]),
    ("zhangye-2021", "registration", "zy-xiangmu-dengji", "zy-lina",
     ["政府采购项目进场登记：张掖市第二中学教学设备采购", "工程建设项目进场登记：民乐县乡村道路硬化工程",
      "政府采购项目进场登记：市人民医院信息化系统升级"],
     ["张掖市第二中学", "民乐县交通运输局", "张掖市人民医院"], ["已完成进场登记"]),
    ("zhangye-2021", "registration", "zy-chanquan-dengji", "zy-zhangwei",
     ["土地使用权挂牌出让项目进场登记：高台县工业园区地块", "矿业权出让项目进场登记：山丹县建筑用砂矿",
      "国有产权转让项目进场登记：市供销社门面房租赁"],
     ["高台县自然资源局", "山丹县自然资源局", "张掖市供销合作社"], ["已完成进场登记并发布公告"]),
    ("zhangye-2021", "bid_inquiry", "zy-zhaobiao-zixun", "zy-hanxue",
     ["投标人咨询：CA数字证书办理及绑定", "投标人咨询：开标时间是否顺延", "投标人咨询：评标结果公示期异议渠道",
      "招标代理咨询：开评标场地预约规则"],
     ["甘肃祁连建设工程有限公司", "张掖市金源建材有限公司", "甘肃丝路环境工程有限公司", "甘肃正信招标代理有限公司"],
     ["已告知办理流程", "已答复并在网站发布变更公告", "已告知异议提出方式及时限", "已发送场地预约规则"]),
    ("zhangye-2021", "bid_inquiry", "zy-wenjian-dayi", "zy-hanxue",
     ["投标人询问：招标文件评分标准理解", "投标人询问：工程量清单漏项"],
     ["甘肃河西建筑安装有限公司", "张掖市宏达市政工程有限公司"], ["已转招标人澄清并书面答复"]),
]
#: Materials a handler may find missing, by post.
ITEMS = {
    "zy-xiangmu-dengji": ["项目审批（核准、备案）文件", "招标文件备案回执", "资金来源证明", "法定代表人授权委托书",
                          "采购需求论证材料"],
    "zy-chanquan-dengji": ["资产评估备案表", "国资监管机构批准文件", "产权权属证明", "法定代表人授权委托书"],
    "sq-xinfang": ["身份证复印件", "相关票据复印件", "村（居）委会证明", "银行流水明细"],
}
ROUTINE_COUNTS = {"shihezi-2021": 8, "sdut-logistics": 6, "suqian-finance": 8, "pudong-tobacco": 7,
                  "zhangye-2021": 10}
FIRST_DAY, LAST_DAY = date(2024, 3, 4), date(2024, 11, 22)


def routine(reg: Register, people: People, rng: random.Random) -> None:
    workdays = [FIRST_DAY + timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]
    workdays = [d for d in workdays if is_workday(d)]
    by_policy: dict[str, list[int]] = {}
    for i, spec in enumerate(ROUTINE):
        by_policy.setdefault(spec[0], []).append(i)
    for policy, count in ROUTINE_COUNTS.items():
        for n in range(count):
            specs = by_policy[policy]
            _routine_case(reg, people, rng, workdays, ROUTINE[specs[n % len(specs)]], n // len(specs))


def _minutes(rng: random.Random, lo: int = 9 * 60, hi: int = 17 * 60) -> tuple[int, int]:
    """A time of day in office hours (no calls logged over the lunch break, 12:00-14:00)."""
    while True:
        m = rng.randrange(lo, hi, 5)
        if not 12 * 60 <= m < 14 * 60:
            return divmod(m, 60)


def _office(instant: datetime) -> datetime:
    """Moves an instant that falls in the lunch break to the afternoon."""
    if 12 <= instant.hour < 14:
        return instant.replace(hour=14, minute=instant.minute % 30)
    return instant


#: Fewest and most working days a routine reply takes, by kind (always within the limit).
REPLY_SPAN = {"general": (0, 3), "leader_approval": (1, 4), "petition": (8, 25), "misdirected_document": (0, 1),
              "registration": (1, 2), "bid_inquiry": (0, 4)}


def _routine_case(reg: Register, people: People, rng: random.Random, workdays: list[date],
                  spec: tuple[str, str, str, str, list[str], list[str], list[str]], n: int) -> None:
    policy, kind, post, desk, matters, units, notes = spec
    a = POSTS[post][2]
    days, count, _ = PACKS[policy]["limits"][kind]["reply"]
    for _attempt in range(200):
        day = rng.choice(workdays)
        h, m = _minutes(rng, 8 * 60 + 40, 16 * 60 + 30)
        received = datetime(day.year, day.month, day.day, h, m, tzinfo=CST)
        in_remit = rng.random() > 0.3
        receiver = a if in_remit else desk
        holder = a
        # A/B at that date (after the reshuffle, the apartments post has a new A).
        if post == RESHUFFLE[1] and received >= t(RESHUFFLE[0]):
            holder = RESHUFFLE[2]
            receiver = holder if in_remit else desk
        if receiver == holder and not in_remit:
            in_remit = True
        # steps: (instant, what)
        handoff_at = accept_at = None
        cursor = received
        if not in_remit:
            handoff_at = _office(cursor + timedelta(minutes=rng.choice([20, 45, 90])))
            if rng.random() < 0.4:  # accepted the next working day
                nd = add_working_days(received.date(), 1)
                accept_at = datetime(nd.year, nd.month, nd.day, 9, rng.choice([0, 10, 20, 40]), tzinfo=CST)
            else:
                accept_at = _office(handoff_at + timedelta(minutes=rng.choice([15, 30, 60])))
            cursor = accept_at
        lo, hi = REPLY_SPAN[kind]
        offset = rng.randrange(lo, hi + 1)
        rd = add_working_days(cursor.date(), offset) if offset else cursor.date()
        rh, rm = _minutes(rng)
        reply_at = datetime(rd.year, rd.month, rd.day, rh, rm, tzinfo=CST)
        if reply_at <= cursor + timedelta(minutes=30):
            reply_at = _office(cursor + timedelta(minutes=rng.choice([40, 75, 110])))
        if reply_at.hour * 60 + reply_at.minute > 17 * 60 + 30:
            continue
        base = accept_at if (accept_at and PACKS[policy]["limits"][kind]["reply"][2] == "acceptance") else received
        if reply_at > due_after(base.date(), days, count):
            continue
        if reply_at > AT - timedelta(days=7):
            continue
        materials_at = supplied_at = None
        if kind in ("registration", "petition") and in_remit and rng.random() < 0.6:
            materials_at = _office(received + timedelta(minutes=rng.choice([15, 25, 40])))
            supplied_at = _office(materials_at + timedelta(minutes=rng.choice([150, 200, 260])))
            if supplied_at.hour >= 17:
                sd = add_working_days(received.date(), 1)
                supplied_at = datetime(sd.year, sd.month, sd.day, 9, rng.choice([10, 30, 50]), tzinfo=CST)
            if supplied_at > reply_at - timedelta(minutes=30):
                materials_at = supplied_at = None
        reminded_at = None
        if policy == "sdut-logistics" and rng.random() < 0.6 and (reply_at.date() - received.date()).days >= 2:
            rd1 = add_working_days(received.date(), 1)
            reminded_at = datetime(rd1.year, rd1.month, rd1.day, 10, rng.choice([0, 15, 30]), tzinfo=CST)
            if reminded_at > reply_at - timedelta(minutes=30):
                reminded_at = None
        checks: list[tuple[str, datetime | None]] = [(receiver, received), (holder, reply_at)]
        if materials_at:
            checks.append((holder, materials_at))
        if reminded_at:
            checks.append((holder, reminded_at))
        if handoff_at:
            checks += [(receiver, handoff_at), (holder, accept_at)]
        if any(reg.absent(who, when) for who, when in checks if when is not None):
            continue
        break
    else:  # pragma: no cover - the generator always finds a slot
        raise RuntimeError(f"no slot for a routine {policy} case")
    matter = matters[n % len(matters)]
    unit = units[n % len(units)]
    note = notes[n % len(notes)]
    channel = "letter" if kind in ("petition", "misdirected_document") and rng.random() < 0.8 else rng.choice(
        ["visit", "phone", "online", "visit"])
    c = reg.open(policy, kind, iso(received)[:16].replace("T", " "), [receiver], channel, matter, post,
                 people.requester(unit), in_remit=in_remit)
    if handoff_at is not None and accept_at is not None:
        reg.handoff(c, iso(handoff_at)[:16].replace("T", " "), receiver, holder,
                    f"属{POSTS[post][1]}职责，转交承办人", receipt=rng.random() > 0.15,
                    accepted=iso(accept_at)[:16].replace("T", " "))
    if materials_at is not None and supplied_at is not None:
        items = rng.sample(ITEMS[post], rng.choice([1, 2]))
        reg.ev(c, iso(materials_at)[:16].replace("T", " "), "MaterialsRequested", by=holder, items=items)
        reg.ev(c, iso(supplied_at)[:16].replace("T", " "), "MaterialsReceived", items=items)
    if reminded_at is not None:
        reg.ev(c, iso(reminded_at)[:16].replace("T", " "), "Reminded", by=holder)
    outcome = "resolved"
    if kind == "misdirected_document" or "转区" in note:
        outcome = "referred_outside"
    elif "复查" in note:
        outcome = "explained_refusal"
    reg.reply(c, iso(reply_at)[:16].replace("T", " "), holder, outcome, note)


# --- corrections ---------------------------------------------------------------------------------------


def corrections(reg: Register, ids: dict[int, str]) -> list[tuple[datetime, dict[str, Any], str | None]]:
    """The later day's corrections: (occurred_at, line, target tag)."""
    by_tag = {e.tag: e for e in reg.entries if e.tag}

    def target(tag: str) -> Entry:
        return by_tag[tag]

    def replacement(entry: Entry, **changes: Any) -> dict[str, Any]:
        body = copy.deepcopy(entry.data)
        body.pop("id", None)
        for key, value in changes.items():
            if value is None:
                body.pop(key, None)
            else:
                body[key] = value
        return body

    out: list[tuple[datetime, dict[str, Any], str | None]] = []

    def corrected(at: str, tag: str, why: str, **changes: Any) -> None:
        entry = target(tag)
        out.append((t(at), {"type": "Corrected", "occurred_at": iso(t(at)), "target": ids[entry.order],
                            "replacement": replacement(entry, **changes), "reason": why}, tag))

    def retracted(at: str, tag: str, reason: str) -> None:
        entry = target(tag)
        out.append((t(at), {"type": "Retracted", "occurred_at": iso(t(at)), "target": ids[entry.order],
                            "reason": reason}, tag))

    s1 = target("S1-received")
    corrected("2024-12-02 09:10", "staff:zy-lina", "姓名录入错误（李那应为李娜）", name="李娜")
    corrected("2024-12-02 09:25", "S1-received", "事项名称错别字（热水气应为热水器）",
              matter=s1.data["matter"].replace("热水气", "热水器"))
    corrected("2024-12-02 10:05", "S4-replied", "登记时间有误：实际答复时间为6月6日，误登为6月11日",
              occurred_at=iso(t("2024-06-06 16:20")))
    retracted("2024-12-02 10:30", "D1-duplicate-reminder", "同一次提醒重复登记")
    retracted("2024-12-02 11:00", "P-duplicate", "同一来电重复登记，与同日09:05登记的事项为同一诉求")
    corrected("2024-12-03 09:40", "Z6-replied",
              "登记时间有误：原登记为答复稿拟定时间，经回访核实实际答复时间为10月23日",
              occurred_at=iso(t("2024-10-23 10:15")))
    corrected("2024-12-03 10:20", "P1-handoff", "接收单已补签，更正接收单标记", receipt=True,
              note="前台登记后遗漏，补转投诉处理岗（接收单已补签）")
    corrected("2024-12-03 11:10", "Z5-received", "补正材料清单漏登一项",
              items=["招标文件备案回执", "项目审批文件"])
    corrected("2024-12-04 09:30", "zhangwei-back", "返岗时间登记有误：实际于5月16日下午返岗",
              occurred_at=iso(t("2024-05-16 17:30")))
    corrected("2024-12-04 10:15", "Q1-extended", "补录延期理由", reason="涉及人社、住建多部门联合核查，情况复杂")
    corrected("2024-12-04 15:00", "D4-extended", "补录延期审批人：实际由分管领导审批", approved_by="sdut-sunli")
    # a requester's phone number with two digits swapped
    entry = next(e for e in reg.entries if e.data["type"] == "InquiryReceived" and e.case
                 and e.case.policy == "shihezi-2021" and e.case.designed is None)
    phone = entry.data["requester"]["contact"]
    fixed = phone[:7] + phone[8] + phone[7] + phone[9:]
    if fixed == phone:
        fixed = phone[:10] + str((int(phone[10]) + 1) % 10)
    entry.tag = "phone-typo"
    by_tag["phone-typo"] = entry
    corrected("2024-12-05 09:20", "phone-typo", "服务对象联系电话录入错误",
              requester={**entry.data["requester"], "contact": fixed})
    # a routine reply closed as 'resolved' that was in fact a documented refusal
    entry = next(e for e in reg.entries if e.data["type"] == "Replied" and e.case
                 and e.case.policy == "sdut-logistics" and e.case.designed is None)
    entry.tag = "outcome-fix"
    by_tag["outcome-fix"] = entry
    corrected("2024-12-05 10:00", "outcome-fix", "办结方式登记有误：实际为不予批准并书面说明理由",
              outcome="explained_refusal",
              note="经分管校领导审阅，本年度维修经费已用完，不予批准，已书面说明理由并建议列入下年度计划")
    return out


# --- building and numbering ------------------------------------------------------------------------------


def build() -> tuple[Register, list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(20240301)
    people = People(rng)
    reg = Register()
    reg.reference()
    reg.add(t(RESHUFFLE[0]), {"type": "RolesAssigned", "post": RESHUFFLE[1], "a": RESHUFFLE[2], "b": RESHUFFLE[3]})
    designed(reg, people)
    routine_absences(reg)
    routine(reg, people, rng)
    # case ids: per prefix, in order of receipt
    counters: Counter[str] = Counter()
    for case in sorted(reg.cases, key=lambda c: (c.received, c.entries[0].order)):
        prefix = PACKS[case.policy]["prefix"]
        counters[prefix] += 1
        case.case_id = f"{prefix}-2024-{counters[prefix]:04d}"
        for entry in case.entries:
            entry.data["case"] = case.case_id
    ordered = sorted(reg.entries, key=lambda e: (e.at, e.order))
    ids: dict[int, str] = {}
    lines = []
    for i, entry in enumerate(ordered, start=1):
        ids[entry.order] = f"r2024-{i:04d}"
        lines.append({"id": ids[entry.order], **entry.data})
    corr = corrections(reg, ids)
    corr_lines = [{"id": f"c2024-{i:04d}", **line}
                  for i, (_, line, _) in enumerate(sorted(corr, key=lambda x: x[0]), start=1)]
    return reg, lines, corr_lines


# --- checks -------------------------------------------------------------------------------------------

REQUIRED = {
    "UnitDefined": ["unit", "head", "supervisor"], "StaffRegistered": ["staff", "name", "rank", "unit"],
    "PostDefined": ["post", "unit", "a", "b"], "RolesAssigned": ["post", "a", "b"],
    "AbsenceStarted": ["staff", "reason"], "AbsenceEnded": ["staff"], "StandInDesignated": ["post", "stand_in", "by"],
    "InquiryReceived": ["case", "policy", "received_by", "channel", "matter", "kind"],
    "HandedOff": ["case", "from", "to"], "HandoffAccepted": ["case", "by"],
    "MaterialsRequested": ["case", "by", "items"], "MaterialsReceived": ["case", "items"],
    "ClockSuspended": ["case", "reason"], "ClockResumed": ["case"],
    "DeadlineExtended": ["case", "new_due", "approved_by"], "Replied": ["case", "by", "outcome"],
    "Reminded": ["case", "by"], "Corrected": ["target", "replacement", "reason"], "Retracted": ["target", "reason"],
}
STAFF_FIELDS = {"head", "supervisor", "staff", "a", "b", "handover_to", "stand_in", "by", "from", "to",
                "approved_by"}


def check_lines(lines: list[dict[str, Any]], corr: list[dict[str, Any]]) -> None:
    seen_ids: set[str] = set()
    staff = {line["staff"] for line in lines if line["type"] == "StaffRegistered"}
    units = {line["unit"] for line in lines if line["type"] == "UnitDefined"}
    posts: set[str] = set()
    cases: dict[str, datetime] = {}
    replied: dict[str, datetime] = {}
    pending: dict[str, set[str]] = {}
    open_absence: dict[str, datetime] = {}
    last = None
    for line in lines + corr:
        text = json.dumps(line, ensure_ascii=False)
        assert json.loads(text) == line
        assert line["id"] not in seen_ids, line["id"]
        seen_ids.add(line["id"])
        kind = line["type"]
        for name in REQUIRED[kind]:
            assert line.get(name) not in (None, "", []), (line["id"], name)
        at = datetime.fromisoformat(line["occurred_at"])
        assert at.utcoffset() == timedelta(hours=8)
        assert last is None or at >= last, f"out of order at {line['id']}"
        last = at
        for name in STAFF_FIELDS & set(line):
            if line[name] is not None:
                assert line[name] in staff, (line["id"], name, line[name])
        for name in line.get("received_by", []) + line.get("notified", []):
            assert name in staff, (line["id"], name)
        if kind == "StaffRegistered" or kind == "PostDefined":
            assert line["unit"] in units
        if kind == "PostDefined":
            posts.add(line["post"])
        if kind in ("RolesAssigned", "StandInDesignated"):
            assert line["post"] in posts
        if kind in ("PostDefined", "RolesAssigned"):
            assert line["a"] != line["b"]
        if kind == "AbsenceStarted":
            assert line["staff"] not in open_absence, line["id"]
            assert line.get("handover_to") != line["staff"]
            open_absence[line["staff"]] = at
        if kind == "AbsenceEnded":
            assert at > open_absence.pop(line["staff"]), line["id"]
        if "case" in line:
            case = line["case"]
            if kind == "InquiryReceived":
                assert case not in cases
                assert line["post"] in posts
                cases[case] = at
                pending[case] = set()
                continue
            assert case in cases and at >= cases[case], line["id"]
            assert case not in replied, f"{line['id']}: event after the reply of {case}"
            if kind == "HandedOff":
                assert line["from"] != line["to"]
                pending[case].add(line["to"])
            if kind == "HandoffAccepted":
                assert line["by"] in pending[case]
                pending[case].discard(line["by"])
            if kind == "Replied":
                replied[case] = at
        if kind in ("Corrected", "Retracted"):
            assert line["target"] in seen_ids and line["target"].startswith("r2024-")
        if kind == "Corrected":
            target = next(x for x in lines if x["id"] == line["target"])
            rep = line["replacement"]
            assert "id" not in rep and rep["type"] == target["type"]
            for key in ("case", "staff", "post", "unit"):
                assert rep.get(key) == target.get(key)
    assert not open_absence, open_absence


# --- a small re-implementation of DOMAIN.md's rules, to check the intended findings ------------------


@dataclass
class Finding:
    case: str
    rule: str
    liable: str
    due: datetime | None


def apply_corrections(lines: list[dict[str, Any]], corr: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = {line["id"]: line for line in lines}
    for c in corr:
        if c["type"] == "Retracted":
            out.pop(c["target"])
        else:
            out[c["target"]] = {"id": c["target"], **c["replacement"]}
    return sorted(out.values(), key=lambda x: datetime.fromisoformat(x["occurred_at"]))


def findings(lines: list[dict[str, Any]], at: datetime = AT) -> list[Finding]:
    def when(x: dict[str, Any], key: str = "occurred_at") -> datetime:
        return datetime.fromisoformat(x[key])

    lines = [x for x in lines if when(x) <= at]
    rank = {x["staff"]: x["rank"] for x in lines if x["type"] == "StaffRegistered"}
    unit_of_post = {x["post"]: x["unit"] for x in lines if x["type"] == "PostDefined"}
    supervisor = {x["unit"]: x["supervisor"] for x in lines if x["type"] == "UnitDefined"}
    roles = [x for x in lines if x["type"] in ("PostDefined", "RolesAssigned")]
    absences: list[tuple[str, datetime, datetime | None, dict[str, Any]]] = []
    for x in lines:
        if x["type"] == "AbsenceStarted":
            absences.append((x["staff"], when(x), None, x))
        elif x["type"] == "AbsenceEnded":
            i = max(i for i, a in enumerate(absences) if a[0] == x["staff"] and a[2] is None)
            absences[i] = (absences[i][0], absences[i][1], when(x), absences[i][3])
    stand_ins = [x for x in lines if x["type"] == "StandInDesignated"]

    def absence(staff: str, instant: datetime) -> dict[str, Any] | None:
        for who, start, end, ev in absences:
            if who == staff and start <= instant and (end is None or instant < end):
                return ev
        return None

    def ab(post: str, instant: datetime) -> tuple[str, str]:
        current = [x for x in roles if x["post"] == post and when(x) <= instant][-1]
        return current["a"], current["b"]

    def responsible(case_lines: list[dict[str, Any]], instant: datetime) -> tuple[str, str]:
        first = case_lines[0]
        holder = max(first["received_by"], key=lambda s: rank[s])  # ties: the first listed
        for x in case_lines:
            if x["type"] == "HandoffAccepted" and when(x) <= instant:
                holder = x["by"]
        away = absence(holder, instant)
        if away is None:
            return "handler_late", holder
        a, b = ab(first["post"], instant)
        assert holder == a, f"{first['case']}: holder {holder} absent but not the post's A"
        if absence(b, instant) is None:
            told = away.get("handover_to") == b or b in (away.get("notified") or [])
            return ("cover_failure", b) if told else ("no_handover", a)
        for s in stand_ins:
            if s["post"] == first["post"] and when(s) <= instant and (s.get("until") is None
                                                                       or instant <= when(s, "until")):
                raise AssertionError(f"{first['case']}: a breach while a stand-in acts is not designed")
        return "vacancy", supervisor[unit_of_post[first["post"]]]

    out: list[Finding] = []
    cases: dict[str, list[dict[str, Any]]] = {}
    for x in lines:
        if "case" in x:
            cases.setdefault(x["case"], []).append(x)
    for case, evs in cases.items():
        first = evs[0]
        if first["type"] != "InquiryReceived":
            continue
        pack = PACKS[first["policy"]]
        limits = pack["limits"][first["kind"]]
        rules = pack["rules"]
        received = when(first)
        first_asked = max(first["received_by"], key=lambda s: rank[s])
        reply = next((x for x in evs if x["type"] == "Replied"), None)
        accepted = [x for x in evs if x["type"] == "HandoffAccepted"]
        handed = [x for x in evs if x["type"] == "HandedOff"]
        if limits["transfer"] and not first.get("in_remit", True):
            tdays, tcount, _ = limits["transfer"]
            tdue = due_after(received.date(), tdays, tcount)
            h = when(handed[0]) if handed else None
            acc = when(accepted[0]) if accepted else None
            assert not (h and acc and h <= tdue < acc), f"{case}: ambiguous transfer"
            if (acc is None and at > tdue) or (acc is not None and acc > tdue):
                out.append(Finding(case, "late_transfer", first_asked, tdue))
        days, count, start = limits["reply"]
        base = received
        if start == "acceptance" and accepted:
            base = when(accepted[-1])
        requests = [x for x in evs if x["type"] == "MaterialsRequested"]
        supplies = [x for x in evs if x["type"] == "MaterialsReceived"]
        if "restart_on_supplements" in rules and requests and supplies:
            base = when(supplies[0])
        else:
            assert not supplies or (reply and when(reply) <= due_after(received.date(), days, count)), case
        due = due_after(base.date(), days, count)
        if "suspension" in rules:
            stops = [x for x in evs if x["type"] == "ClockSuspended"]
            goes = [x for x in evs if x["type"] == "ClockResumed"]
            for s, g in zip(stops, goes, strict=True):
                shift = working_days_in(when(s).date(), when(g).date())
                due = end_of(add_working_days(due.date(), shift))
        invalid = False
        for ext in (x for x in evs if x["type"] == "DeadlineExtended"):
            assert "extension" in rules
            if ext.get("notified_at") and when(ext, "notified_at") <= due:
                due = when(ext, "new_due")
            else:
                invalid = True
        late = (reply is not None and when(reply) > due) or (reply is None and at > due)
        reminders = sum(1 for x in evs if x["type"] == "Reminded" and when(x) <= due)
        if late and "reminders" in rules and reminders >= 2:
            late = False
        if late:
            rule, liable = responsible(evs, due)
            if invalid:
                rule = "invalid_extension"
            assert rule in rules, f"{case}: {rule} is not adopted by {first['policy']}"
            out.append(Finding(case, rule, liable, due))
        if "piecemeal_notice" in rules and len(requests) >= 2 and set(requests[1]["items"]) - set(requests[0]["items"]):
            out.append(Finding(case, "piecemeal_notice", requests[0]["by"], None))
    return out


def check_findings(reg: Register, lines: list[dict[str, Any]], corr: list[dict[str, Any]]) -> list[Finding]:
    before = {(f.case, f.rule, f.liable): f for f in findings(lines)}
    after = {(f.case, f.rule, f.liable): f for f in findings(apply_corrections(lines, corr))}
    want_before = {(c.case_id, e.rule, e.liable) for c in reg.cases for e in c.expect if e.only != "after"}
    want_after = {(c.case_id, e.rule, e.liable) for c in reg.cases for e in c.expect if e.only != "before"}
    assert set(before) == want_before, (sorted(set(before) ^ want_before))
    assert set(after) == want_after, (sorted(set(after) ^ want_after))
    return [*after.values(), *(f for k, f in before.items() if k not in after)]


def check_presence(reg: Register) -> None:
    """Nobody receives, hands over, accepts or replies while away (stand-in and B excepted)."""
    for case in reg.cases:
        for entry in case.entries:
            d = entry.data
            actors = list(d.get("received_by", [])) + [d[k] for k in ("by", "from") if k in d]
            for who in actors:
                assert reg.absent(who, entry.at) is None, f"{case.case_id}: {who} is away at {entry.at}"


# --- main ------------------------------------------------------------------------------------------------


def write(path: Path, lines: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


def main(argv: list[str]) -> None:
    reg, lines, corr = build()
    check_lines(lines, corr)
    check_presence(reg)
    found = check_findings(reg, lines, corr)
    write(REGISTER, lines)
    write(CORRECTIONS, corr)
    counts = Counter(line["type"] for line in lines)
    print(f"{REGISTER.name}: {len(lines)} lines, {len(reg.cases)} cases")
    for name, n in sorted(counts.items(), key=lambda x: -x[1]):
        print(f"  {name:20} {n}")
    print(f"{CORRECTIONS.name}: {len(corr)} lines " + str(dict(Counter(c["type"] for c in corr))))
    if "--table" in argv:
        policy_of = {c.case_id: c for c in reg.cases}
        rows = []
        for f in found:
            case = policy_of[f.case]
            exp = next(e for e in case.expect if e.rule == f.rule and e.liable == f.liable)
            when = "" if exp.only == "both" else (" (before corrections only)" if exp.only == "before"
                                                  else " (after corrections only)")
            due = f.due.isoformat(timespec="milliseconds") if f.due else "–"
            rows.append((case.received, f"| {f.case} | {case.policy} | {case.designed}{when} | `{f.rule}` | "
                         f"{f.liable} ({STAFF[f.liable][0]}) | {due} |"))
        print("| case | pack | what happens | rule | liable | due |")
        print("| --- | --- | --- | --- | --- | --- |")
        for _, row in sorted(rows):
            print(row)
        print()
        for case in sorted(reg.cases, key=lambda c: c.received):
            if case.designed and not case.expect:
                print(f"| {case.case_id} | {case.policy} | {case.designed} | none | – | – |")


if __name__ == "__main__":
    main(sys.argv[1:])
