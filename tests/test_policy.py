"""Policy packs: the built-in packs as data, pack files, versions, extends, and the catalogue."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.policy import (
    _MISSING_TEXT,
    FINDING_RULES,
    NEITHER_LIMIT,
    RULE_NAMES,
    Clause,
    Limit,
    NoLimitConfigured,
    PolicyCatalogue,
    PolicyError,
    PolicyFileError,
    PolicyNotFound,
    PolicyNotInForce,
    PolicyPack,
    UnknownClause,
    _transfer_from_problem,
    builtin_packs,
    clause_text,
    load_pack_file,
    parse_pack,
    regulation_text,
)

CATALOGUE = PolicyCatalogue.builtin()
PACKS = {p.id: p for p in builtin_packs()}


def d(text: str) -> date:
    return date.fromisoformat(text)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- the built-in packs ----------------------------------------------------------------


def test_the_five_built_in_packs() -> None:
    assert sorted(PACKS) == [
        "pudong-tobacco",
        "sdut-logistics",
        "shihezi-2021",
        "suqian-finance",
        "zhangye-2021",
    ]
    assert CATALOGUE.ids() == sorted(PACKS)


@pytest.mark.parametrize("pack_id", sorted(PACKS))
def test_every_quote_is_verbatim_in_the_shipped_regulation(pack_id: str) -> None:
    pack = PACKS[pack_id]
    assert pack.clauses
    for key, clause in pack.clauses.items():
        text = squash(regulation_text(clause.file))
        assert squash(clause.zh) in text, f"{pack_id}: {key} is not quoted verbatim from {clause.file}"
        assert clause.en.strip()
        assert key.startswith(clause.file[:3] + " "), key


@pytest.mark.parametrize("pack_id", sorted(PACKS))
def test_every_citation_resolves_and_every_rule_cites(pack_id: str) -> None:
    pack = PACKS[pack_id]
    assert pack.problems() == []
    for path, key in pack.cited():
        assert key in pack.clauses, path
    for name in pack.rules:
        assert name in RULE_NAMES
        pairs = pack.citations(name)
        assert pairs and all(isinstance(c, Clause) for _, c in pairs)
    assert pack.source == next(iter(pack.clauses.values())).file


@pytest.mark.parametrize("pack_id", sorted(PACKS))
def test_built_in_pack_files_round_trip(pack_id: str) -> None:
    pack = PACKS[pack_id]
    assert parse_pack(json.dumps(pack.as_data(), ensure_ascii=False), "again") == pack


EXPECTED_RULES = {
    "shihezi-2021": {"first_inquiry", "rank_rule", "ab_cover", "handler_late", "no_handover", "cover_failure"},
    "sdut-logistics": {
        "first_inquiry",
        "handler_late",
        "suspension",
        "extension",
        "invalid_extension",
        "reminders",
        "ab_cover",
        "explained_refusal",
    },
    "suqian-finance": {
        "first_inquiry",
        "piecemeal_notice",
        "restart_on_supplements",
        "suspension",
        "extension",
        "invalid_extension",
        "ab_cover",
        "stand_in",
        "vacancy",
        "no_handover",
        "cover_failure",
        "handler_late",
        "explained_refusal",
    },
    "zhangye-2021": {
        "ab_cover",
        "stand_in",
        "vacancy",
        "no_handover",
        "cover_failure",
        "first_inquiry",
        "rank_rule",
        "piecemeal_notice",
        "restart_on_supplements",
        "extension",
        "invalid_extension",
        "handler_late",
    },
    "pudong-tobacco": {"first_inquiry", "late_transfer", "handler_late"},
}


@pytest.mark.parametrize("pack_id", sorted(EXPECTED_RULES))
def test_rules_adopted(pack_id: str) -> None:
    pack = PACKS[pack_id]
    assert set(pack.rules) == EXPECTED_RULES[pack_id]
    for name in RULE_NAMES:
        assert pack.adopts(name) == (name in EXPECTED_RULES[pack_id])


def limit(pack_id: str, kind: str, which: str, on: str = "2024-06-03") -> tuple[int, str, str, str]:
    lim = getattr(CATALOGUE.limits_for(pack_id, kind, d(on)), which)
    assert isinstance(lim, Limit)
    return lim.days, lim.count, lim.from_, lim.clause


def test_limits_are_the_regulations_own_numbers() -> None:
    assert limit("shihezi-2021", "general", "reply") == (4, "calendar", "receipt", "000 首问 art. 5(5)")
    assert CATALOGUE.limits_for("shihezi-2021", "general", d("2024-06-03")).transfer is None
    assert limit("sdut-logistics", "leader_approval", "reply") == (5, "working", "receipt", "001 限时 art. 7")
    assert limit("suqian-finance", "petition", "reply") == (30, "working", "receipt", "002 限时 §6")
    assert limit("suqian-finance", "misdirected_document", "reply") == (2, "working", "receipt", "002 限时 §4")
    assert limit("pudong-tobacco", "general", "transfer") == (2, "working", "receipt", "003 篇二")
    assert limit("pudong-tobacco", "general", "reply") == (5, "working", "acceptance", "003 篇二")
    assert PACKS["zhangye-2021"].limits == {}


def test_the_numbers_are_in_the_quoted_text() -> None:
    for pack in PACKS.values():
        for kl in pack.limits.values():
            for lim in (kl.reply, kl.transfer):
                if lim is not None:
                    assert str(lim.days) in pack.clauses[lim.clause].zh, (pack.id, lim.clause)


def test_effective_dates() -> None:
    assert PACKS["shihezi-2021"].effective_from == d("2021-12-28")
    assert PACKS["zhangye-2021"].effective_from == d("2021-08-20")
    assert PACKS["pudong-tobacco"].effective_from == d("2009-07-01")
    for undated in ("sdut-logistics", "suqian-finance"):
        pack = PACKS[undated]
        assert pack.effective_from == d("2000-01-01")
        assert pack.notes and "placeholder" in pack.notes


def test_leadership_tiers() -> None:
    tiers = PACKS["sdut-logistics"].leadership_tiers
    assert tiers is not None and tiers.head == "001 责任追究 art. 3"
    assert "谁主管、谁负责" in PACKS["sdut-logistics"].clauses[tiers.supervisor].zh
    for other in ("shihezi-2021", "suqian-finance", "zhangye-2021", "pudong-tobacco"):
        assert PACKS[other].leadership_tiers is None
        assert "leadership tiers" in (PACKS[other].notes or "")


def test_rule_lookup() -> None:
    pack = PACKS["shihezi-2021"]
    spec = pack.rule("no_handover")
    assert spec is not None and spec.clauses == ("000 AB art. 7", "000 AB art. 11")
    assert pack.rule("vacancy") is None
    assert pack.citations("vacancy") == []
    assert [k for k, _ in pack.citations("cover_failure")] == ["000 AB art. 8", "000 AB art. 11"]
    with pytest.raises(ValueError, match="unknown rule 'vacancancy'"):
        pack.adopts("vacancancy")
    assert set(FINDING_RULES) <= RULE_NAMES


def test_clause_text() -> None:
    clause = clause_text(PACKS["shihezi-2021"], "000 AB art. 7")
    assert clause.article == "第七条"
    assert clause.zh.startswith("A角责任人离开工作岗位未通知B角")
    with pytest.raises(UnknownClause, match=r"000 AB art\. 99"):
        clause_text(PACKS["shihezi-2021"], "000 AB art. 99")


def test_regulation_text_is_package_data() -> None:
    assert "二五" in regulation_text("003_3af18df7d750cf06.txt")
    with pytest.raises(PolicyNotFound):
        regulation_text("../README.md")


# --- versions in force -------------------------------------------------------------------


def test_in_force_by_date() -> None:
    assert CATALOGUE.in_force("shihezi-2021", d("2021-12-28")).id == "shihezi-2021"
    with pytest.raises(PolicyNotInForce) as err:
        CATALOGUE.in_force("shihezi-2021", d("2021-12-27"))
    assert "not in force on 2021-12-27" in str(err.value)
    assert "2021-12-28" in str(err.value)


def test_unknown_pack() -> None:
    with pytest.raises(PolicyNotFound) as err:
        CATALOGUE.in_force("shihezi", d("2024-01-01"))
    assert "no policy pack 'shihezi'" in str(err.value)
    assert "shihezi-2021" in str(err.value)
    with pytest.raises(PolicyNotFound):
        CATALOGUE.versions("shihezi")


def test_no_limit_configured_says_where_to_set_it() -> None:
    with pytest.raises(NoLimitConfigured) as err:
        CATALOGUE.limits_for("zhangye-2021", "registration", d("2024-03-05"))
    assert str(err.value) == (
        "policy 'zhangye-2021' (in force on 2024-03-05) sets no time limit for kind 'registration'; "
        "each section sets its own (004 限时 §2-3): add a pack version with "
        '"extends": "zhangye-2021" and "limits": {"registration": {"reply": {"days": N, '
        '"count": "working", "from": "receipt", "clause": "..."}}} using `ledger policy add FILE` '
        "(README: Policy packs)"
    )
    assert isinstance(err.value, PolicyError)


def test_no_limit_for_another_kind_lists_the_kinds_set() -> None:
    with pytest.raises(NoLimitConfigured, match="it sets limits only for 'general'"):
        CATALOGUE.limits_for("shihezi-2021", "petition", d("2024-03-05"))


@given(
    st.lists(st.dates(date(2001, 1, 1), date(2030, 12, 31)), min_size=1, max_size=6, unique=True),
    st.dates(date(2000, 6, 1), date(2031, 12, 31)),
)
def test_the_latest_version_not_after_the_date_is_in_force(starts: list[date], on: date) -> None:
    base = PACKS["shihezi-2021"].as_data()
    cat = PolicyCatalogue(
        parse_pack({**base, "id": "office", "effective_from": s.isoformat(), "notes": s.isoformat()}, "f")
        for s in starts
    )
    assert [v.effective_from for v in cat.versions("office")] == sorted(starts)
    current = [s for s in starts if s <= on]
    if current:
        assert cat.in_force("office", on).effective_from == max(current)
    else:
        with pytest.raises(PolicyNotInForce):
            cat.in_force("office", on)


# --- an office's own version: extends ------------------------------------------------------

REGISTRATION = {
    "id": "zhangye-2021",
    "effective_from": "2024-01-01",
    "extends": "zhangye-2021",
    "limits": {
        "registration": {
            "reply": {"days": 3, "count": "working", "from": "receipt", "clause": "ZY 登记 §1"},
        }
    },
    "clauses": {
        "ZY 登记 §1": {
            "file": "交易服务科 办事指南",
            "section": "登记",
            "article": "一",
            "zh": "项目登记3个工作日内办结。",
            "en": "Registration is completed within 3 working days.",
        },
    },
    "notes": "The 交易服务科's own limit (004 限时 §2).",
}


class TestExtends:
    def test_a_small_file_adds_a_limit_from_its_date(self) -> None:
        cat = CATALOGUE.with_added(parse_pack(REGISTRATION, "zhangye-registration.json"))
        assert cat.limits_for("zhangye-2021", "registration", d("2024-03-05")).reply == Limit(
            days=3, count="working", from_="receipt", clause="ZY 登记 §1"
        )
        with pytest.raises(NoLimitConfigured):
            cat.limits_for("zhangye-2021", "registration", d("2023-12-29"))
        with pytest.raises(NoLimitConfigured):  # the catalogue it came from is unchanged
            CATALOGUE.limits_for("zhangye-2021", "registration", d("2024-03-05"))

    def test_what_the_file_leaves_out_comes_from_the_base(self) -> None:
        cat = CATALOGUE.with_added(parse_pack(REGISTRATION, "f"))
        new = cat.in_force("zhangye-2021", d("2024-03-05"))
        old = PACKS["zhangye-2021"]
        assert new.title == old.title and new.source == old.source
        assert new.rules == old.rules
        assert new.local_limits == old.local_limits
        assert set(new.clauses) == set(old.clauses) | {"ZY 登记 §1"}
        assert new.notes == REGISTRATION["notes"]
        assert [v.effective_from for v in cat.versions("zhangye-2021")] == [d("2021-08-20"), d("2024-01-01")]

    def test_rules_and_limits_merge_key_by_key(self) -> None:
        more: dict[str, Any] = {
            "id": "pudong-tobacco",
            "effective_from": "2015-01-01",
            "extends": "pudong-tobacco",
            "limits": {
                "complaint": {"reply": {"days": 3, "count": "working", "from": "acceptance", "clause": "003 篇二"}}
            },
            "rules": {"explained_refusal": {"clauses": ["003 篇二 (一)"]}},
        }
        cat = CATALOGUE.with_added(parse_pack(more, "f"))
        pack = cat.in_force("pudong-tobacco", d("2016-01-01"))
        assert set(pack.limits) == {"general", "complaint"}
        assert set(pack.rules) == EXPECTED_RULES["pudong-tobacco"] | {"explained_refusal"}

    def test_a_new_office_can_extend_a_built_in_pack(self) -> None:
        own = {
            "id": "zhangye-gaotai",
            "effective_from": "2022-01-01",
            "extends": "zhangye-2021",
            "title": "高台县分中心",
            "closures": ["2022-06-06"],
        }
        cat = CATALOGUE.with_added(parse_pack(own, "f"))
        pack = cat.in_force("zhangye-gaotai", d("2022-07-01"))
        assert pack.title == "高台县分中心"
        assert pack.institution == PACKS["zhangye-2021"].institution
        assert pack.closures == (d("2022-06-06"),)
        assert pack.extends == "zhangye-2021"

    def test_the_constructor_resolves_in_date_order(self) -> None:
        ext = parse_pack(REGISTRATION, "f")
        cat = PolicyCatalogue([ext, *reversed(builtin_packs())])
        assert "registration" in cat.in_force("zhangye-2021", d("2024-01-01")).limits

    def test_duplicate_version_is_refused(self) -> None:
        cat = CATALOGUE.with_added(parse_pack(REGISTRATION, "f"))
        with pytest.raises(PolicyFileError) as err:
            cat.with_added(parse_pack(REGISTRATION, "g"))
        assert err.value.messages[0].startswith("effective_from: a version of 'zhangye-2021' effective 2024-01-01")
        with pytest.raises(PolicyFileError):
            CATALOGUE.with_added(PACKS["shihezi-2021"])

    def test_unknown_base(self) -> None:
        with pytest.raises(PolicyFileError) as err:
            CATALOGUE.with_added(parse_pack({**REGISTRATION, "extends": "zhangye"}, "f"))
        assert err.value.messages[0].startswith("extends: no pack 'zhangye' is known")

    def test_base_not_yet_in_force(self) -> None:
        with pytest.raises(PolicyFileError) as err:
            CATALOGUE.with_added(parse_pack({**REGISTRATION, "effective_from": "2020-01-01"}, "f"))
        assert "extends: policy 'zhangye-2021' is not in force on 2020-01-01" in err.value.messages[0]

    def test_citations_are_checked_once_resolved(self) -> None:
        bad = {**REGISTRATION, "clauses": {}}
        pack = parse_pack(bad, "f")  # the base may define it: only resolution can tell
        with pytest.raises(PolicyFileError) as err:
            CATALOGUE.with_added(pack)
        assert err.value.messages == [
            "limits.registration.reply.clause: citation 'ZY 登记 §1' is not defined in clauses"
        ]


    def test_a_version_dated_before_one_that_extends_its_pack_is_refused(self) -> None:
        cat = CATALOGUE.with_added(parse_pack(REGISTRATION, "f"))  # zhangye-2021 from 2024-01-01
        earlier = {"id": "zhangye-2021", "extends": "zhangye-2021", "effective_from": "2023-06-01",
                   "closures": ["2023-06-02"]}
        with pytest.raises(PolicyFileError) as err:
            cat.with_added(parse_pack(earlier, "f"))
        assert err.value.messages == [
            "effective_from: 2023-06-01 is before the version of 'zhangye-2021' effective 2024-01-01, which "
            "extends 'zhangye-2021' and took what it leaves out from the version in force then; versions are "
            "added in date order: retract that one, add this one, then add that one again (in one file for "
            "`ledger append` if cases are judged by it)"]
        office = cat.with_added(parse_pack({"id": "gaotai", "extends": "zhangye-2021",
                                            "effective_from": "2024-03-01"}, "f"))
        with pytest.raises(PolicyFileError, match="the version of 'gaotai' effective 2024-03-01"):
            office.with_added(parse_pack({**earlier, "effective_from": "2024-02-01"}, "f"))
        # In date order it is inherited; a later version than every one that extends it is fine.
        ordered = CATALOGUE.with_added(parse_pack(earlier, "f")).with_added(parse_pack(REGISTRATION, "f"))
        assert ordered.in_force("zhangye-2021", d("2024-03-05")).closures == (d("2023-06-02"),)
        assert cat.with_added(parse_pack({**earlier, "effective_from": "2024-06-01"}, "f"))


# --- bad pack files ---------------------------------------------------------------------

GOOD: dict[str, Any] = {
    "id": "office-own",
    "title": "某办公室",
    "institution": "某办公室 (an office)",
    "source": "office rules",
    "effective_from": "2024-01-01",
    "limits": {
        "general": {"reply": {"days": 5, "count": "working", "from": "receipt", "clause": "OWN §1"}, "transfer": None}
    },
    "rules": {"handler_late": {"clauses": ["OWN §1"]}},
    "leadership_tiers": None,
    "closures": ["2024-02-19"],
    "clauses": {
        "OWN §1": {
            "file": "rules.txt",
            "section": "限时",
            "article": "一",
            "zh": "五个工作日内办结。",
            "en": "Completed within five working days.",
        }
    },
}


class TestPackFiles:
    def test_a_good_file(self, tmp_path: Path) -> None:
        path = tmp_path / "own.json"
        path.write_text(json.dumps(GOOD, ensure_ascii=False), encoding="utf-8")
        pack = load_pack_file(str(path))
        assert pack.id == "office-own" and pack.closures == (d("2024-02-19"),)
        assert pack.as_data()["limits"]["general"]["reply"]["from"] == "receipt"
        cat = CATALOGUE.with_added(pack)
        assert "office-own" in cat and "office-own" not in CATALOGUE

    def test_several_bad_fields_are_named_at_once(self) -> None:
        bad = json.loads(json.dumps(GOOD))
        bad["limits"]["general"]["reply"].update(days=0, count="workdays", **{"from": "arrival"})
        bad["limits"]["general"]["transfer"] = {"days": "2", "count": "working", "from": "receipt", "clause": "OWN §1"}
        bad["rules"]["late_reply"] = {"clauses": ["OWN §9"]}
        bad["closures"] = ["2024-02-30"]
        bad["colour"] = "red"
        with pytest.raises(PolicyFileError) as err:
            parse_pack(bad, "own.json")
        messages = err.value.messages
        for start in (
            "limits.general.reply.days: ",
            "limits.general.reply.count: ",
            "limits.general.reply.from: ",
            "limits.general.transfer.days: ",
            "closures[0]: ",
            "colour: unknown field",
            "rules.late_reply: unknown rule 'late_reply'",
        ):
            assert any(m.startswith(start) for m in messages), (start, messages)
        assert str(err.value).startswith("own.json: not a valid policy pack:")

    def test_meaning_errors_are_named_at_once(self) -> None:
        bad = {k: v for k, v in GOOD.items() if k != "title"}
        bad["rules"] = {
            "handler_late": {"clauses": ["OWN §2"]},
            "vacancy": {"clauses": ["OWN §1"]},
            "stand_by": {"clauses": ["OWN §1"]},
        }
        bad["leadership_tiers"] = {"head": "OWN §1", "supervisor": "OWN §3"}
        with pytest.raises(PolicyFileError) as err:
            parse_pack(bad, "own.json")
        assert sorted(err.value.messages) == sorted(
            [
                'title: required field is missing or empty (only a version that "extends" a pack may leave it out)',
                "rules.stand_by: unknown rule 'stand_by'; the rules are: " + ", ".join(sorted(RULE_NAMES)),
                "rules.handler_late.clauses[0]: citation 'OWN §2' is not defined in clauses",
                "leadership_tiers.supervisor: citation 'OWN §3' is not defined in clauses",
            ]
        )

    def test_whom_a_must_notify_is_said_on_no_handover_only_and_includes_b(self) -> None:
        good = json.loads(json.dumps(GOOD))
        good["rules"]["no_handover"] = {"clauses": ["OWN §1"], "notify": ["b", "supervisor"]}
        assert parse_pack(good, "own.json").rules["no_handover"].must_notify() == ("b", "supervisor")
        bad = json.loads(json.dumps(GOOD))
        bad["rules"]["vacancy"] = {"clauses": ["OWN §1"], "notify": ["b"]}
        bad["rules"]["no_handover"] = {"clauses": ["OWN §1"], "notify": ["supervisor"]}
        with pytest.raises(PolicyFileError) as err:
            parse_pack(bad, "own.json")
        assert sorted(err.value.messages) == [
            'rules.no_handover.notify: must include "b" (A always tells B, 000 AB art. 7)',
            "rules.vacancy.notify: only no_handover says whom A must notify",
        ]
        bad["rules"] = {"no_handover": {"clauses": ["OWN §1"], "notify": ["b", "head"]}}
        with pytest.raises(PolicyFileError) as err:
            parse_pack(bad, "own.json")
        assert any(m.startswith("rules.no_handover.notify[1]:") for m in err.value.messages), err.value.messages

    def test_shape_and_meaning_errors_are_named_at_once(self) -> None:
        """A field pydantic refuses stops the pack's own checks: they are made on the file as written."""
        bad = json.loads(json.dumps(GOOD))
        bad["title"] = "  "
        bad["limits"]["general"]["reply"]["days"] = 0
        bad["limits"]["general"]["transfer"] = {"days": 3, "count": "working", "from": "acceptance",
                                                "clause": "OWN §1"}
        bad["rules"]["vacancy"] = {"clauses": ["OWN §1"], "notify": ["b"]}
        bad["closures"] = ["2024-05-06", "2024-05-06"]
        bad["limits"]["nothing"] = {"reply": None}
        bad["clauses"]["000 art"] = {"file": "000_a1a78aef9bd31309.txt", "section": "s", "article": "a",
                                     "zh": "首问负责人应在7日内回复", "en": "e"}
        with pytest.raises(PolicyFileError) as err:
            parse_pack(bad, "own.json")
        messages = err.value.messages
        assert messages[0].startswith("limits.general.reply.days: ")
        assert sorted(messages[1:]) == sorted([
            _MISSING_TEXT.format("title"), _transfer_from_problem("general"),
            "rules.vacancy.notify: only no_handover says whom A must notify", "closures: a date is listed twice",
            f"limits.nothing: {NEITHER_LIMIT}",
            "clauses.000 art.zh: is not in 000_a1a78aef9bd31309.txt, a regulation shipped with the ledger "
            "(ledger/regulations/000_a1a78aef9bd31309.txt): a clause of it is quoted verbatim, whitespace aside"])

    def test_shape_and_citation_errors_together(self) -> None:
        bad = json.loads(json.dumps(GOOD))
        bad["limits"]["general"]["reply"]["days"] = -1
        bad["rules"]["handler_late"]["clauses"] = ["OWN §7"]
        with pytest.raises(PolicyFileError) as err:
            parse_pack(bad, "own.json")
        assert any(m.startswith("limits.general.reply.days:") for m in err.value.messages)
        assert "rules.handler_late.clauses[0]: citation 'OWN §7' is not defined in clauses" in err.value.messages

    @pytest.mark.parametrize(
        "field, value, start",
        [
            ("id", "office own", "id: must be 1-128 characters without spaces"),
            ("effective_from", "1 January 2024", "effective_from: expected a date like"),
            ("effective_from", 20240101, "effective_from: expected a date like"),
            ("rules", {"handler_late": {"clauses": []}}, "rules.handler_late.clauses:"),
            (
                "limits",
                {"general": {"reply": {"days": True, "count": "working", "from": "receipt", "clause": "OWN §1"}}},
                "limits.general.reply.days: must be a whole",
            ),
            ("limits", {"gen eral": {}}, "limits.gen eral (key): "),
            ("clauses", {"OWN §1": {"file": "f", "section": "s", "article": "a", "zh": ""}}, "clauses.OWN §1.zh"),
        ],
    )
    def test_one_bad_field(self, field: str, value: Any, start: str) -> None:
        with pytest.raises(PolicyFileError) as err:
            parse_pack({**GOOD, field: value}, "own.json")
        assert any(m.startswith(start) for m in err.value.messages), err.value.messages

    def test_a_limit_is_at_most_a_year_and_a_transfer_counts_from_receipt(self) -> None:
        def limits(days: int, frm: str = "receipt") -> dict[str, Any]:
            return {"general": {"reply": {"days": days, "count": "calendar", "from": "receipt", "clause": "OWN §1"},
                                "transfer": {"days": 1, "count": "working", "from": frm, "clause": "OWN §1"}}}

        assert parse_pack({**GOOD, "limits": limits(366)}, "own.json").limits["general"].reply.days == 366
        with pytest.raises(PolicyFileError) as err:
            parse_pack({**GOOD, "limits": limits(10**12, "acceptance")}, "own.json")
        assert err.value.messages == ["limits.general.reply.days: must be at most 366 days; got 1000000000000",
                                      _transfer_from_problem("general")]  # (both at once)
        with pytest.raises(PolicyFileError) as err:
            parse_pack({**GOOD, "limits": limits(5, "acceptance")}, "own.json")
        assert err.value.messages == [
            'limits.general.transfer.from: must be "receipt": a transfer is due from the receipt (the first-asked '
            "staff hands the case over; nothing is accepted before it)"]

    def test_a_clause_names_its_file_alone_and_quotes_a_shipped_one_verbatim(self) -> None:
        art = {"file": "000_a1a78aef9bd31309.txt", "section": "首问负责制", "article": "第五条第5项", "en": "e",
               "zh": "首问负责人最迟应在4日内\n  将办理情况回复本人"}
        pack = parse_pack({**GOOD, "clauses": {**GOOD["clauses"], "000 art": art}}, "own.json")
        assert pack.clauses["000 art"].zh.startswith("首问负责人")  # whitespace aside, verbatim
        with pytest.raises(PolicyFileError) as err:
            parse_pack({**GOOD, "clauses": {**GOOD["clauses"], "000 art": {**art, "zh": "首问负责人应在7日内回复"}}},
                       "own.json")
        assert err.value.messages == [
            "clauses.000 art.zh: is not in 000_a1a78aef9bd31309.txt, a regulation shipped with the ledger "
            "(ledger/regulations/000_a1a78aef9bd31309.txt): a clause of it is quoted verbatim, whitespace aside"]
        for file in ("../regulations/000_a1a78aef9bd31309.txt", "office\\rules.txt", ".hidden"):
            with pytest.raises(PolicyFileError) as err:
                parse_pack({**GOOD, "clauses": {"OWN §1": {**GOOD["clauses"]["OWN §1"], "file": file}}}, "own.json")
            assert err.value.messages[0].startswith("clauses.OWN §1.file: must be the regulation's file name alone")

    def test_not_json_and_not_an_object(self, tmp_path: Path) -> None:
        with pytest.raises(PolicyFileError, match="not valid JSON"):
            parse_pack('{"id": ', "own.json")
        with pytest.raises(PolicyFileError, match="expected a JSON object"):
            parse_pack("[1, 2]", "own.json")
        with pytest.raises(PolicyFileError, match="cannot read the file"):
            load_pack_file(str(tmp_path / "missing.json"))

    def test_limit_uses_from_in_files_and_from__in_python(self) -> None:
        lim = Limit.model_validate({"days": 2, "count": "working", "from": "receipt", "clause": "k"})
        assert lim == Limit(days=2, count="working", from_="receipt", clause="k")
        assert lim.model_dump(by_alias=True)["from"] == "receipt"
        assert lim.describe() == "2 working days from receipt"

    def test_packs_are_frozen(self) -> None:
        with pytest.raises(ValueError):
            PACKS["shihezi-2021"].id = "x"  # type: ignore[misc]

    def test_direct_construction_is_checked(self) -> None:
        with pytest.raises(ValueError, match="not defined in clauses"):
            PolicyPack.model_validate({**GOOD, "clauses": {}})


def test_closures_in_a_pack_feed_the_calendar() -> None:
    from projections.calendar import WorkingCalendar

    pack = parse_pack(GOOD, "own.json")
    cal = WorkingCalendar.builtin().with_closures(pack.closures)
    assert not cal.is_working_day(d("2024-02-19"))
    assert cal.add_working_days(d("2024-02-18"), 1) == d("2024-02-20")
