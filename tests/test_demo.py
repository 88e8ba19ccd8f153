"""The bundled demo register end to end through the CLI, on SQLite and PostgreSQL.

The intended findings are the table in examples/README.md, worked out by hand from the
regulations when the register was written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
AT = "2024-12-01T00:00:00+08:00"

# (case, rule, liable, due date) after the corrections
AFTER_CORRECTIONS = {
    ("SQ-2024-0001", "handler_late", "sq-zhuwei", "2024-04-23"),
    ("ZY-2024-0001", "piecemeal_notice", "zy-zhangwei", None),
    ("SHZ-2024-0001", "no_handover", "shz-wangqiang", "2024-04-19"),
    ("PD-2024-0003", "late_transfer", "pd-tangjie", "2024-05-08"),
    ("SQ-2024-0008", "piecemeal_notice", "sq-hulan", None),
    ("SHZ-2024-0006", "cover_failure", "shz-chenjing", "2024-07-12"),
    ("PD-2024-0007", "handler_late", "pd-liangchao", "2024-07-22"),
    ("ZY-2024-0010", "invalid_extension", "zy-lina", "2024-07-25"),
    ("ZY-2024-0011", "handler_late", "zy-fengli", "2024-08-12"),
    ("SQ-2024-0012", "vacancy", "sq-xugang", "2024-08-14"),
    ("SDUT-2024-0010", "handler_late", "sdut-huangting", "2024-09-11"),
    ("PD-2024-0009", "late_transfer", "pd-tangjie", "2024-10-08"),
    ("SDUT-2024-0011", "invalid_extension", "sdut-wuhao", "2024-10-14"),
    ("ZY-2024-0016", "handler_late", "zy-dengpeng", "2024-10-21"),
    ("SHZ-2024-0013", "handler_late", "shz-wangqiang", "2024-11-29"),
}
# corrected away: a reply time fixed to one in time, and a duplicate registration retracted
BEFORE_ONLY = {
    ("SHZ-2024-0004", "handler_late", "shz-wangqiang", "2024-06-07"),
    ("PD-2024-0012", "handler_late", "pd-tangjie", "2024-11-11"),
}


def _key(finding: dict[str, Any]) -> tuple[str, str, str, str | None]:
    due = finding["due"][:10] if finding["due"] else None
    return finding["case"], finding["rule"], finding["liable"], due


@pytest.fixture
def demo(store_url: str) -> Any:
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(cli, ["--store", store_url, *args], catch_exceptions=False)
        return result

    assert run("policy", "add", str(EXAMPLES / "zhangye-sections.json")).exit_code == 0
    first = run("append", str(EXAMPLES / "demo-register-2024.jsonl"), "--actor", "办公室-王敏")
    assert first.exit_code == 0 and "appended 316 event(s)" in first.output, first.output
    run.register_recorded_at = json.loads(run("events", "--format", "json").output)[-1]["recorded_at"]
    fixes = run("append", str(EXAMPLES / "demo-corrections-2024.jsonl"), "--actor", "办公室-王敏")
    assert fixes.exit_code == 0 and "appended 13 event(s)" in fixes.output, fixes.output
    return run


def test_the_demo_appends_cleanly_and_twice_changes_nothing(demo: Any) -> None:
    again = demo("append", str(EXAMPLES / "demo-register-2024.jsonl"))
    assert again.exit_code == 0 and "appended 0 event(s); 316 already in the ledger, skipped" in again.output
    assert demo("verify").exit_code == 0


def test_the_demo_findings_are_the_intended_ones(demo: Any) -> None:
    after = json.loads(demo("findings", "--at", AT, "--format", "json").output)
    assert {_key(f) for f in after} == AFTER_CORRECTIONS
    for finding in after:
        assert finding["clause_text"]["zh"] and finding["clause_text"]["en"]
        assert finding["evidence"] and finding["explanation"]


def test_findings_of_one_staff_member_are_those_naming_them_either_way(demo: Any) -> None:
    everything = json.loads(demo("findings", "--at", AT, "--format", "json").output)
    named = {(f["case"], f["rule"]): {f["liable"], *(a["staff"] for a in f["also_liable"])} for f in everything}
    for staff in ("shz-wangqiang", "pd-tangjie", "sdut-zhoujun", "shz-liuyang"):
        mine = json.loads(demo("findings", "--staff", staff, "--at", AT, "--format", "json").output)
        assert {(f["case"], f["rule"]) for f in mine} == {k for k, v in named.items() if staff in v}, staff
    assert {f["case"] for f in json.loads(demo("findings", "--staff", "sdut-zhoujun", "--at", AT, "--format",
                                               "json").output)} == {"SDUT-2024-0010", "SDUT-2024-0011"}
    mistyped = demo("findings", "--staff", "shz-wangqiong", "--at", AT)
    assert mistyped.exit_code == 1 and "staff 'shz-wangqiong' is not in the ledger" in mistyped.output


def test_findings_since_an_instant_are_the_breaches_from_then(demo: Any) -> None:
    everything = json.loads(demo("findings", "--at", AT, "--format", "json").output)
    since = "2024-07-12T23:59:59.999+08:00"  # SHZ-2024-0006's due: a breach at that very instant counts
    later = json.loads(demo("findings", "--since", since, "--at", AT, "--format", "json").output)
    assert [f["case"] for f in later] == [f["case"] for f in everything if f["breached_at"] >= "2024-07-12T23:59:59.999"]
    assert later[0]["case"] == "SHZ-2024-0006" and len(later) < len(everything)
    backwards = demo("findings", "--since", "2025-01-01T00:00:00+08:00", "--at", AT)
    assert backwards.exit_code == 2 and "is after --at" in backwards.output


def test_as_known_before_the_corrections(demo: Any) -> None:
    before = json.loads(demo("findings", "--at", AT, "--known-at", demo.register_recorded_at,
                             "--format", "json").output)
    assert {_key(f) for f in before} == (AFTER_CORRECTIONS | BEFORE_ONLY) - {
        ("ZY-2024-0016", "handler_late", "zy-dengpeng", "2024-10-21")}


@pytest.mark.parametrize(("case", "at", "staff", "basis"), [
    ("ZY-2024-0006", "2024-06-19T10:00:00+08:00", "zy-hanxue", "stand_in"),
    ("SQ-2024-0012", "2024-08-14T23:00:00+08:00", "sq-xugang", "supervisor"),
    ("SHZ-2024-0006", "2024-07-12T12:00:00+08:00", "shz-chenjing", "acting_b"),
])
def test_who_in_the_demo(demo: Any, case: str, at: str, staff: str, basis: str) -> None:
    answer = json.loads(demo("who", case, "--at", at, "--format", "json").output)
    assert (answer["primary"]["staff"], answer["primary"]["basis"]) == (staff, basis)


def test_overdue_in_the_demo(demo: Any) -> None:
    rows = json.loads(demo("overdue", "--at", AT, "--format", "json").output)
    assert [(r["case"], r["responsible"]) for r in rows] == [("SHZ-2024-0013", "shz-wangqiang")]
