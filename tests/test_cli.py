"""The command line, driven exactly as a clerk types it (click's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from cli.main import cli
from tests.ledger_helpers import BASE, inquiry, jsonl


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in group.commands.items():
        out.append((prefix + name, command))
        if isinstance(command, click.Group):
            out.extend(_commands(command, prefix + name + " "))
    return out


@pytest.mark.parametrize(("name", "command"), _commands(cli), ids=[n for n, _ in _commands(cli)])
def test_every_command_is_documented_with_an_example(name: str, command: click.Command) -> None:
    if isinstance(command, click.Group):
        assert command.help, f"{name} has no help"
        return
    assert command.help and "Example:" in command.help, f"`ledger {name}` --help shows no example"
    assert f"ledger {name}" in command.help, f"`ledger {name}`'s example does not use the command"
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert param.help, f"ledger {name} {param.opts[0]} is undocumented"


@pytest.mark.parametrize(("name", "command"), _commands(cli), ids=[n for n, _ in _commands(cli)])
def test_no_option_help_offers_a_value_the_option_refuses(name: str, command: click.Command) -> None:
    # `--handover-to none` names a staff member "none" (refused as unknown): leaving the
    # option out is what records no handover, and the help says so.
    for param in command.params:
        if isinstance(param, click.Option) and param.help:
            assert "none =" not in param.help, f"ledger {name} {param.opts[0]}: {param.help}"


def test_version(run: Any) -> None:
    result = run("--version")
    assert result.exit_code == 0 and result.output.startswith("ledger, version ")


def test_append_reports_errors_with_file_line_and_field_and_writes_nothing(base: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(jsonl(inquiry(), {**inquiry("C2"), "received_by": ["s-ghost"]})) + "\n",
                   encoding="utf-8")
    result = base("append", str(bad))
    assert result.exit_code == 1
    assert f"{bad}: line 2: received_by[0]: staff 's-ghost' is not known" in result.output
    assert "1 error(s); nothing was written." in result.output
    events = json.loads(base("events", "--format", "json").output)
    assert len(events) == len(BASE)


def test_append_from_stdin_and_twice_is_a_no_op(base: Any) -> None:
    lines = "\n".join(jsonl(inquiry())) + "\n"
    first = base("append", "-", input=lines)
    assert first.exit_code == 0 and "appended 1 event(s)" in first.output
    again = base("append", "-", input=lines)
    assert again.exit_code == 0 and "appended 0 event(s); 1 already in the ledger, skipped" in again.output


def test_append_of_a_missing_file_is_a_clear_error(run: Any) -> None:
    result = run("append", "/nonexistent/register.jsonl")
    assert result.exit_code == 1
    assert "cannot read /nonexistent/register.jsonl" in result.output


def test_a_case_told_through_the_clerk_commands(base: Any) -> None:
    steps = [
        ["open", "--case", "C7", "--policy", "shihezi-2021", "--kind", "general", "--received-by", "s-a",
         "--channel", "phone", "--matter", "楼道灯不亮", "--post", "water", "--requester-name", "陈老师",
         "--requester-contact", "13800001111", "--occurred-at", "2024-03-04T09:00:00+08:00"],
        ["handoff", "--case", "C7", "--from", "s-a", "--to", "s-c", "--receipt",
         "--occurred-at", "2024-03-04T10:00:00+08:00"],
        ["accept", "--case", "C7", "--by", "s-c", "--occurred-at", "2024-03-04T11:00:00+08:00"],
        ["absence", "start", "--staff", "s-a", "--reason", "trip", "--handover-to", "s-b", "--notified", "s-b",
         "--occurred-at", "2024-03-05T08:00:00+08:00"],
        ["absence", "end", "--staff", "s-a", "--briefed", "--occurred-at", "2024-03-06T18:00:00+08:00"],
        ["extend", "--case", "C7", "--new-due", "2024-03-12T17:00:00+08:00", "--approved-by", "s-sup",
         "--notified-at", "2024-03-06T09:00:00+08:00", "--occurred-at", "2024-03-06T09:00:00+08:00"],
        ["remind", "--case", "C7", "--by", "s-c", "--occurred-at", "2024-03-07T09:00:00+08:00"],
        ["reply", "--case", "C7", "--by", "s-c", "--outcome", "resolved", "--note", "已更换灯管",
         "--occurred-at", "2024-03-08T09:00:00+08:00", "--actor", "前台-小刘"],
    ]
    for step in steps:
        result = base(*step)
        assert result.exit_code == 0, (step, result.output)
        assert result.output.startswith("recorded ")
    events = json.loads(base("events", "--case", "C7", "--format", "json").output)
    assert [e["type"] for e in events] == ["InquiryReceived", "HandedOff", "HandoffAccepted",
                                            "DeadlineExtended", "Reminded", "Replied"]
    assert all(e["occurred_at"] and e["recorded_at"] and e["seq"] for e in events)
    assert events[0]["event"]["requester"] == {"name": "陈老师", "contact": "13800001111"}
    assert events[1]["event"]["receipt"] is True
    assert events[-1]["recorded_by"] == "前台-小刘"
    # correct the reply's time; the original stays in the log
    reply_id = events[-1]["id"]
    fixed = base("correct", "--target", reply_id, "--set", "occurred_at=2024-03-08T16:00:00+08:00",
                 "--reason", "登记时间有误")
    assert fixed.exit_code == 0, fixed.output
    events = json.loads(base("events", "--case", "C7", "--format", "json").output)
    assert events[-1]["type"] == "Corrected"
    assert events[-1]["event"]["replacement"]["occurred_at"] == "2024-03-08T16:00:00+08:00"
    assert events[-2]["event"]["occurred_at"] == "2024-03-08T09:00:00+08:00"


def test_a_clerk_command_with_bad_input_names_the_field_and_writes_nothing(base: Any) -> None:
    result = base("handoff", "--case", "C404", "--from", "s-a", "--to", "s-b")
    assert result.exit_code == 1
    assert "HandedOff: case (--case): case 'C404' is not known to the ledger" in result.output
    result = base("reply", "--case", "C404", "--by", "s-a")
    assert result.exit_code == 1
    assert "Replied: outcome (--outcome): required field is missing" in result.output
    assert len(json.loads(base("events", "--format", "json").output)) == len(BASE)


def test_events_known_at_hides_later_records(base: Any) -> None:
    everything = json.loads(base("events", "--format", "json").output)
    assert everything
    none = json.loads(base("events", "--known-at", "2020-01-01T00:00:00+08:00", "--format", "json").output)
    assert none == []


def test_events_as_table_and_csv(base: Any) -> None:
    table = base("events")
    assert table.exit_code == 0 and "StaffRegistered" in table.output
    csv_out = base("events", "--format", "csv")
    assert csv_out.output.splitlines()[0] == "seq,id,type,stream,occurred_at,recorded_at,recorded_by,detail"


def test_policy_commands(run: Any, tmp_path: Path) -> None:
    listing = json.loads(run("policy", "list", "--format", "json").output)
    assert {p["id"] for p in listing} == {"shihezi-2021", "sdut-logistics", "suqian-finance", "zhangye-2021",
                                         "pudong-tobacco"}
    shown = json.loads(run("policy", "show", "shihezi-2021", "--format", "json").output)
    assert shown["limits"]["general"]["reply"]["days"] == 4
    assert "A角" in shown["clauses"]["000 AB art. 7"]["zh"]
    bad = tmp_path / "bad-pack.json"
    bad.write_text(json.dumps({"id": "my office", "effective_from": "2024-13-01",
                               "limits": {"general": {"reply": {"days": 0, "count": "weekly", "from": "receipt",
                                                                "clause": "x"}}}}), encoding="utf-8")
    result = run("policy", "add", str(bad))
    assert result.exit_code == 1
    assert "nothing was written." in result.output
    assert result.output.count(str(bad)) >= 3  # one line per bad field
    good = tmp_path / "zhangye-sections.json"
    good.write_text(json.dumps({"id": "zhangye-2021", "effective_from": "2024-01-01", "extends": "zhangye-2021",
                                "limits": {"registration": {"reply": {"days": 3, "count": "working",
                                                                      "from": "receipt",
                                                                      "clause": "004 限时 §2"}}}}),
                    encoding="utf-8")
    added = run("policy", "add", str(good))
    assert added.exit_code == 0, added.output
    assert "already in the ledger" in run("policy", "add", str(good)).output
    versions = [p for p in json.loads(run("policy", "list", "--format", "json").output) if p["id"] == "zhangye-2021"]
    assert [v["effective_from"] for v in versions] == ["2021-08-20", "2024-01-01"]
    assert versions[1]["kinds"] == ["registration"]


def test_calendar_commands(run: Any, tmp_path: Path) -> None:
    shown = json.loads(run("calendar", "show", "2024", "--format", "json").output)
    assert shown["working_days"] == 251
    assert {"date": "2024-02-04", "name": shown["workdays"][0]["name"]} in shown["workdays"]
    unknown = run("calendar", "show", "2031")
    assert unknown.exit_code == 1
    assert "does not know 2031" in unknown.output and "ledger calendar add FILE" in unknown.output
    year = tmp_path / "2031.json"
    year.write_text(json.dumps({"year": 2031, "source": "测试", "holidays": [
        {"name": "元旦", "from": "2031-01-01", "to": "2031-01-01"}], "workdays": []}, ensure_ascii=False),
                    encoding="utf-8")
    assert run("calendar", "add", str(year)).exit_code == 0
    assert json.loads(run("calendar", "show", "2031", "--format", "json").output)["year"] == 2031
    bad = tmp_path / "bad-year.json"
    bad.write_text(json.dumps({"year": 2032, "source": "x", "holidays": [
        {"name": "元旦", "from": "2033-01-01", "to": "2032-01-01"}], "workdays": [{"date": "2032-01-05",
                                                                               "name": "x"}]}), encoding="utf-8")
    result = run("calendar", "add", str(bad))
    assert result.exit_code == 1 and "nothing was written." in result.output
    assert "holidays[0].from" in result.output and "workdays[0].date" in result.output


def test_a_configuration_file_giving_a_key_twice_is_refused_naming_it(run: Any, tmp_path: Path) -> None:
    digest = run("digest").output
    pack = tmp_path / "twice.json"
    pack.write_text('{"id": "zhangye-2021", "effective_from": "2024-01-01", "extends": "zhangye-2021", "limits": '
                    '{"registration": {"reply": {"days": 3, "days": 30, "count": "working", "from": "receipt", '
                    '"clause": "004 限时 §2"}}}}', encoding="utf-8")
    result = run("policy", "add", str(pack))
    assert result.exit_code == 1
    assert f"{pack}: limits.registration.reply.days: given more than once in the same object" in result.output
    assert "nothing was written." in result.output
    year = tmp_path / "2031.json"
    year.write_text('{"year": 2031, "source": "测试", "year": 2032, "holidays": [], "workdays": []}', encoding="utf-8")
    result = run("calendar", "add", str(year))
    assert result.exit_code == 1 and f"{year}: year: given more than once" in result.output
    assert run("digest").output == digest


def test_a_clock_running_into_an_unknown_year_is_answered_once_the_year_is_added(base: Any, tmp_path: Path) -> None:
    """30 working days from 2026-11-20 end in 2027, which the calendar does not know yet."""
    petition = {**inquiry("P1", at="2026-11-20T09:00:00+08:00"), "policy": "suqian-finance", "kind": "petition"}
    assert base("append", "-", input=jsonl(petition)[0]).exit_code == 0
    asked = base("findings", "--case", "P1", "--at", "2027-03-01T00:00:00+08:00", "--format", "json")
    assert asked.exit_code == 1
    assert "does not know 2027" in asked.output and "ledger calendar add FILE" in asked.output
    for question in (("overdue",), ("findings",)):  # over every case: the one that needs 2027 is named
        over_all = base(*question, "--at", "2027-03-01T00:00:00+08:00")
        assert over_all.exit_code == 1, over_all.output
        assert "case 'P1' counts working days in 2027, but the working-day calendar does not know 2027" \
            in over_all.output
    year = tmp_path / "2027.json"
    year.write_text(json.dumps({"year": 2027, "source": "测试用安排", "holidays": [
        {"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"}], "workdays": []}), encoding="utf-8")
    assert base("calendar", "add", str(year)).exit_code == 0
    found = json.loads(base("findings", "--case", "P1", "--at", "2027-03-01T00:00:00+08:00",
                            "--format", "json").output)
    # Nov 23-30: 6, Dec: 23, then Jan 4 (Jan 1-3 off) is the 30th working day
    assert [(f["rule"], f["due"][:10]) for f in found] == [("handler_late", "2027-01-04")]


def test_who_on_a_case_whose_receipt_was_retracted_says_which_retraction_and_why(base: Any) -> None:
    reply = {"type": "Replied", "id": "rp-1", "occurred_at": "2024-03-07T10:00:00+08:00", "case": "C1",
             "by": "s-a", "outcome": "resolved"}
    assert base("append", "-", input="\n".join(jsonl(inquiry("C1"), reply))).exit_code == 0
    retraction = {"type": "Retracted", "id": "rt-in", "occurred_at": "2024-03-05T09:00:00+08:00", "target": "in-C1",
                  "reason": "重复登记"}
    assert base("append", "-", input=jsonl(retraction)[0]).exit_code == 0
    recorded = json.loads(base("events", "--case", "C1", "--format", "json").output)[-1]["recorded_at"]
    why = (": its receipt (event in-C1, received 2024-03-04T09:00:00+08:00) was retracted by event rt-in, "
           f"recorded {recorded}: 重复登记")
    asked = base("who", "C1", "--at", "2024-03-08T10:00:00+08:00")  # the reply still stands
    assert asked.exit_code == 1, asked.output
    assert ("had not been received by 2024-03-08T10:00:00+08:00 (no InquiryReceived at or before it)" + why) \
        in " ".join(asked.output.split()), asked.output
    early = base("who", "C1", "--at", "2024-03-03T10:00:00+08:00")  # before the receipt: nothing to say of it
    assert early.exit_code == 1 and "retracted" not in early.output
    gone = {"type": "Retracted", "id": "rt-rp", "occurred_at": "2024-03-08T09:00:00+08:00", "target": "rp-1",
            "reason": "同上"}
    assert base("append", "-", input=jsonl(gone)[0]).exit_code == 0
    nothing = base("who", "C1", "--at", "2024-03-08T10:00:00+08:00")  # no event of the case stands
    assert nothing.exit_code == 1
    assert ("case 'C1' is not in the ledger: every event of it was retracted; its receipt (event in-C1, received "
            "2024-03-04T09:00:00+08:00) was retracted by event rt-in") in " ".join(nothing.output.split())


def test_a_finding_names_the_retracted_reply_it_leaves_out_and_why(base: Any) -> None:
    from datetime import datetime

    reply = {"type": "Replied", "id": "rp-1", "occurred_at": "2024-03-07T10:00:00+08:00", "case": "C1",
             "by": "s-a", "outcome": "resolved"}
    assert base("append", "-", input="\n".join(jsonl(inquiry("C1"), reply))).exit_code == 0
    at = "2024-04-01T00:00:00+08:00"
    assert json.loads(base("findings", "--case", "C1", "--at", at, "--format", "json").output) == []
    before = datetime.now().astimezone().isoformat()
    retraction = {"type": "Retracted", "id": "rt-1", "occurred_at": "2024-03-12T09:00:00+08:00", "target": "rp-1",
                  "reason": "答复未送达申请人"}
    assert base("append", "-", input=jsonl(retraction)[0]).exit_code == 0
    [finding] = json.loads(base("findings", "--case", "C1", "--at", at, "--format", "json").output)
    assert finding["rule"] == "handler_late" and "rp-1" not in finding["evidence"]
    [gone] = finding["withdrawn"]
    assert {k: gone[k] for k in ("event", "type", "occurred_at", "retracted_by", "reason")} == {
        "event": "rp-1", "type": "Replied", "occurred_at": "2024-03-07T10:00:00+08:00", "retracted_by": "rt-1",
        "reason": "答复未送达申请人"}
    recorded = json.loads(base("events", "--case", "C1", "--format", "json").output)[-1]["recorded_at"]
    assert gone["recorded_at"] == recorded  # in the store's timezone, as `ledger events` shows it
    assert [f["withdrawn"] for f in json.loads(base("findings", "--at", at, "--format", "json").output)] == [[gone]]
    # As known before the retraction: the reply stood, so no finding; before the reply, nothing withdrawn.
    assert json.loads(base("findings", "--case", "C1", "--at", at, "--known-at", before, "--format", "json").output) == []
    [early] = json.loads(base("findings", "--case", "C1", "--at", "2024-03-09T12:00:00+08:00", "--format",
                              "json").output)
    assert early["withdrawn"] == [gone]
    table = base("findings", "--case", "C1", "--at", at).output
    assert "withdrawn: rp-1 (Replied, 2024-03-07 10:00) by rt-1" in table and "答复未送达申请人" in table
    # who says the same: the case was still open on the 8th as the ledger now stands
    assert json.loads(base("who", "C1", "--at", at, "--format", "json").output)["withdrawn"] == [gone]
    assert json.loads(base("who", "C1", "--at", "2024-03-05T00:00:00+08:00", "--format", "json").output)[
        "withdrawn"] == []
    assert "withdrawn: rp-1 (Replied, 2024-03-07 10:00) by rt-1" in base("who", "C1", "--at", at).output


def test_who_states_the_instant_it_was_known_at(base: Any) -> None:
    assert base("append", "-", input=jsonl(inquiry())[0]).exit_code == 0
    answer = json.loads(base("who", "C1", "--at", "2024-03-04T10:00:00+08:00", "--format", "json").output)
    assert answer["known_at"] and answer["known_at"] > "2024-12"  # the CLI filled in "now"
    later = base("who", "C1", "--at", "2024-03-04T10:00:00+08:00", "--known-at", "2099-01-01T00:00:00+08:00",
                 "--format", "json")
    assert json.loads(later.stdout)["known_at"] == "2099-01-01T00:00:00+08:00"
    # A K later than now is answered as known now, and said to be no settled answer (on stderr).
    assert "warning: --known-at 2099-01-01T00:00:00+08:00 is later than now" in later.stderr
    assert "this answer can change as batches are recorded" in later.stderr
    past = base("who", "C1", "--at", "2024-03-04T10:00:00+08:00", "--known-at", answer["known_at"])
    assert past.exit_code == 0 and not past.stderr


def test_only_the_export_loads_pyarrow() -> None:
    """Every command starts without loading pyarrow (a tenth of a second): only ``export`` needs it."""
    import subprocess
    import sys

    probe = "import sys, cli.main; print('pyarrow' in sys.modules, 'projections.export' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("name", [n for n, c in _commands(cli) if not isinstance(c, click.Group)])
def test_every_command_takes_store_and_tz_after_its_name(name: str) -> None:
    """CONTRACT.md: every command takes ``--store URL`` (before its name, as a group option, or after)."""
    command = cli
    for part in name.split():
        command = command.commands[part]  # type: ignore[attr-defined]
    given = {opt for param in command.params for opt in getattr(param, "opts", ())}
    assert {"--store", "--tz"} <= given, f"ledger {name} does not take --store/--tz after its name"


def test_store_and_tz_after_the_command_name_are_the_ones_used(store_url: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``ledger append F --store URL`` writes to URL, and ``ledger who C --at T --store URL`` reads
    it, whatever order the options come in: the default store in the working folder is never made."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("LEDGER_STORE", raising=False)
    register = tmp_path / "base.jsonl"
    register.write_text("\n".join(jsonl(*BASE, inquiry())) + "\n", encoding="utf-8")
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    appended = invoke("append", str(register), "--actor", "王敏", "--store", store_url, "--tz", "Asia/Shanghai")
    assert appended.exit_code == 0, appended.output
    answer = invoke("who", "C1", "--at", "2024-03-04T10:00:00", "--format", "json", "--store", store_url)
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.output)["primary"]["staff"] == "s-a"
    assert json.loads(answer.output)["at"] == "2024-03-04T10:00:00+08:00"  # read in the store's zone
    # After the name it replaces the group's (and the environment's) store.
    other = f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv("LEDGER_STORE", other)
    digest = invoke("--store", other, "digest", "--store", store_url)
    assert digest.exit_code == 0 and digest.output.startswith(f"{len(BASE) + 1}:"), digest.output
    assert not (folder / "ledger.db").exists() and not (tmp_path / "other.db").exists()
    # And it is checked like the group's: a store of another zone is refused.
    refused = invoke("who", "C1", "--at", "2024-03-04T10:00:00+08:00", "--tz", "UTC", "--store", store_url)
    assert refused.exit_code == 1 and "Asia/Shanghai" in refused.output
    bad = invoke("digest", "--tz", "Nowhere/Else", "--store", store_url)
    assert bad.exit_code == 2 and "unknown timezone" in bad.output


def test_caseload_needs_no_working_days_but_overdue_does(base: Any) -> None:
    """Who holds which open case is exact in a year the calendar does not know; how many working
    days a case is overdue is not, so ``overdue`` refuses that year and ``caseload`` answers."""
    assert base("append", "-", input=jsonl(inquiry())[0]).exit_code == 0
    far = "2099-06-01T00:00:00+08:00"
    load = base("caseload", "--at", far, "--format", "json")
    assert load.exit_code == 0, load.output
    assert json.loads(load.output) == [{"staff": "s-a", "open_cases": ["C1"]}]
    late = base("overdue", "--at", far, "--format", "json")
    assert late.exit_code == 1 and "calendar does not know" in late.output and "Traceback" not in late.output


def test_caseload_of_a_staff_id_the_ledger_never_registered_is_an_error(base: Any) -> None:
    assert base("append", "-", input=jsonl(inquiry())[0]).exit_code == 0
    known = base("caseload", "--at", "2024-03-05T10:00:00+08:00", "--staff", "s-a", "--format", "json")
    assert json.loads(known.output) == [{"staff": "s-a", "open_cases": ["C1"]}]
    idle = base("caseload", "--at", "2024-03-05T10:00:00+08:00", "--staff", "s-head", "--format", "json")
    assert idle.exit_code == 0 and json.loads(idle.output) == [{"staff": "s-head", "open_cases": []}]
    typo = base("caseload", "--at", "2024-03-05T10:00:00+08:00", "--staff", "s-aa")
    assert typo.exit_code == 1 and "'s-aa' is not in the ledger" in typo.output


def test_an_unreachable_postgresql_server_is_reported_not_waited_on_for_the_librarys_30_s() -> None:
    """(Not timed: the configuration the library gets is checked.)"""
    from ledger.store import CONNECT_TIMEOUT, StoreUrl

    env = StoreUrl.parse("postgresql://clerk@db.example:5432/office").environment()
    assert env.get("POSTGRES_CONNECT_TIMEOUT") == str(CONNECT_TIMEOUT) and CONNECT_TIMEOUT <= 10


def test_a_pack_extending_an_office_pack_whose_name_sorts_after_it_leaves_the_ledger_writable(
        run: Any, tmp_path: Path) -> None:
    """The checker learns the packs in the order they were recorded, as the read side does, not in
    the order of their streams' names (``aa-office`` extends ``zz-office``, added before it)."""
    first = tmp_path / "zz.json"
    first.write_text(json.dumps({"id": "zz-office", "effective_from": "2024-01-01", "extends": "shihezi-2021",
                                 "title": "zz"}), encoding="utf-8")
    second = tmp_path / "aa.json"
    second.write_text(json.dumps({"id": "aa-office", "effective_from": "2024-03-01", "extends": "zz-office"}),
                      encoding="utf-8")
    assert run("policy", "add", str(first)).exit_code == 0
    assert run("policy", "add", str(second)).exit_code == 0
    later = tmp_path / "base.jsonl"
    later.write_text("\n".join(jsonl(*BASE, inquiry(policy="aa-office"))) + "\n", encoding="utf-8")
    appended = run("append", str(later))
    assert appended.exit_code == 0, appended.output
    assert "appended 8 event(s)" in appended.output


def test_one_case_due_in_an_unknown_year_does_not_stop_overdue_and_findings_before_it(base: Any) -> None:
    """A case whose clock runs past the calendar's last year is not due yet within that year: the
    office's questions about an instant in a known year are answered, the case is not overdue."""
    from projections.calendar import WorkingCalendar

    last = WorkingCalendar.builtin().known_years()[-1]
    december = f"{last}-12-01T09:00:00+08:00"
    lines = jsonl(inquiry("C1"), inquiry("Q1", at=december, policy="suqian-finance", kind="petition"))
    assert base("append", "-", input="\n".join(lines) + "\n").exit_code == 0
    at = f"{last}-12-20T09:00:00+08:00"
    late = base("overdue", "--at", at, "--format", "json")
    assert late.exit_code == 0, late.output
    assert [r["case"] for r in json.loads(late.output)] == ["C1"]
    found = base("findings", "--at", at, "--format", "json")
    assert found.exit_code == 0 and {f["case"] for f in json.loads(found.output)} == {"C1"}


def test_correct_reads_each_set_value_as_its_field_takes_it_and_refuses_a_correction_of_nothing(base: Any) -> None:
    """--set: text as given (even digits), a list as a,b,c or JSON, FIELD.SUB for one field of the
    requester; a correction that changes nothing is refused, nothing written."""
    event = inquiry("C1", requester={"name": "李同学", "contact": "13900000000"})
    assert base("append", "-", input=jsonl(event)[0]).exit_code == 0
    fixed = base("correct", "--target", "in-C1", "--reason", "登记有误", "--set", "matter=2024",
                 "--set", "received_by=s-a,s-b", "--set", "requester.name=王同学", "--actor", "王敏")
    assert fixed.exit_code == 0, fixed.output
    rows = json.loads(base("events", "--case", "C1", "--format", "json").output)
    replacement = rows[-1]["event"]["replacement"]
    assert replacement["matter"] == "2024" and replacement["received_by"] == ["s-a", "s-b"]
    assert replacement["requester"] == {"name": "王同学", "contact": "13900000000"}
    digest = base("digest").output
    same = base("correct", "--target", "in-C1", "--reason", "x", "--set", "matter=2024")
    assert same.exit_code == 1 and "nothing to correct" in same.output
    bare = base("correct", "--target", "in-C1", "--reason", "x")
    assert bare.exit_code == 1 and "give the fields to change with --set" in bare.output
    twice = base("correct", "--target", "in-C1", "--reason", "x", "--set",
                 'requester={"name": "王同学", "name": "赵同学"}')
    assert twice.exit_code == 2 and "name: given more than once in the same object" in twice.output
    assert base("digest").output == digest


def test_correct_takes_its_own_id_time_and_recorder_like_every_clerk_command(base: Any) -> None:
    """A day's corrections typed in after the fact carry when they were made and who made them;
    the same --id again is one event."""
    assert base("append", "-", input=jsonl(inquiry("C1"))[0]).exit_code == 0
    args = ("correct", "--target", "in-C1", "--reason", "登记有误", "--set", "matter=热水器漏水",
            "--id", "fix-1", "--occurred-at", "2024-03-04T16:00:00+08:00", "--recorded-by", "办公室-王敏")
    assert base(*args).exit_code == 0
    row = json.loads(base("events", "--case", "C1", "--format", "json").output)[-1]
    assert (row["id"], row["occurred_at"], row["recorded_by"]) == ("fix-1", "2024-03-04T16:00:00+08:00", "办公室-王敏")
    again = base(*args)
    assert again.exit_code == 0 and "already in the ledger; nothing written" in again.output
    bad = base("correct", "--target", "in-C1", "--reason", "x", "--set", "matter=y", "--occurred-at", "昨天")
    assert bad.exit_code == 1 and "Corrected: occurred_at (--occurred-at): " in bad.output, bad.output
    wrong = base("correct", "--target", "in-C1", "--reason", "x", "--set", "occurred_at=昨天")
    assert wrong.exit_code == 1 and "Corrected: replacement.occurred_at (--set occurred_at=...): " in wrong.output


def test_the_csv_of_events_findings_and_who_keeps_what_their_json_has(base: Any) -> None:
    import csv
    import io

    lines = jsonl(inquiry("C1", matter="热水器坏了，请修理"),
                  {"type": "Retracted", "id": "rt", "occurred_at": "2024-03-05T09:00:00+08:00", "target": "in-C1",
                   "reason": "重复登记"})
    assert base("append", "-", input="\n".join(lines) + "\n").exit_code == 0
    events = list(csv.DictReader(io.StringIO(base("events", "--case", "C1", "--format", "csv").output)))
    assert "热水器坏了，请修理" in events[0]["detail"] and '"target": "in-C1"' in events[1]["detail"]
    assert base("append", "-", input=jsonl(inquiry("C2"))[0]).exit_code == 0
    found = list(csv.DictReader(io.StringIO(base("findings", "--at", "2024-06-01T00:00:00+08:00",
                                                 "--format", "csv").output)))
    assert found and "also_liable" in found[0]
    who = list(csv.DictReader(io.StringIO(base("who", "C2", "--at", "2024-03-05T10:00:00+08:00",
                                               "--format", "csv").output)))
    assert "in-C2" in who[0]["evidence"]
    # A list is written as JSON, read back as it is in the JSON output (a case id may hold ", ").
    assert json.loads(found[0]["also_liable"]) == json.loads(
        base("findings", "--at", "2024-06-01T00:00:00+08:00", "--format", "json").output)[0]["also_liable"]
    assert base("append", "-", input=jsonl(inquiry("Y-1, Y-2", id="in-Y"))[0]).exit_code == 0
    load = list(csv.DictReader(io.StringIO(base("caseload", "--at", "2024-03-05T10:00:00+08:00", "--staff", "s-a",
                                                "--format", "csv").output)))
    assert "Y-1, Y-2" in json.loads(load[0]["open_cases"]) and len(json.loads(load[0]["open_cases"])) == 2  # (C1 was retracted)


def test_the_recorded_at_append_prints_is_a_known_at_that_includes_the_batch(base: Any) -> None:
    import re

    out = base("append", "-", input=jsonl(inquiry())[0]).output
    found = re.search(r"recorded at (\S+)\)", out)
    assert found, out
    assert base("who", "C1", "--at", "2024-03-04T10:00:00+08:00", "--known-at", found.group(1)).exit_code == 0


def test_configuration_is_fixed_by_retracting_it_and_adding_the_file_again(run: Any, tmp_path: Path) -> None:
    """A pack or a year is checked whole when added; a correction would skip that, so it is refused."""
    year = tmp_path / "2031.json"
    year.write_text(json.dumps({"year": 2031, "source": "测试", "holidays": [
        {"name": "元旦", "from": "2031-01-01", "to": "2031-01-01"}], "workdays": []}, ensure_ascii=False),
                    encoding="utf-8")
    assert run("calendar", "add", str(year)).exit_code == 0
    events = json.loads(run("events", "--format", "json").output)
    added = next(e["id"] for e in events if e["type"] == "CalendarYearAdded")
    fix = tmp_path / "fix.jsonl"
    fix.write_text(json.dumps({"type": "Corrected", "occurred_at": "2024-12-01T09:00:00+08:00", "target": added,
                               "reason": "x", "replacement": {"occurred_at": "2024-12-01T09:00:00+08:00",
                                                              "year": 2031, "schedule": {"year": 2031}}}) + "\n",
                   encoding="utf-8")
    refused = run("append", str(fix))
    assert refused.exit_code == 1
    assert (f"target: a CalendarYearAdded is not corrected: add the corrected file in its place (`ledger calendar "
            f"add FILE --replacing {added!r} --reason TEXT`)") in refused.output
    again = year.with_name("2031-again.json")
    again.write_text(year.read_text(encoding="utf-8").replace("测试", "测试二"), encoding="utf-8")
    known = run("calendar", "add", str(again))
    assert known.exit_code == 1 and f"{again}: year: the calendar already knows 2031" in known.output
    assert run("retract", "--target", added, "--reason", "录入有误").exit_code == 0
    assert run("calendar", "show", "2031").exit_code == 1
    readded = run("calendar", "add", str(year))  # the same file again, after its retraction
    assert readded.exit_code == 0 and "added calendar year 2031" in readded.output, readded.output
    assert json.loads(run("calendar", "show", "2031", "--format", "json").output)["year"] == 2031
    readded_id = [e["id"] for e in json.loads(run("events", "--format", "json").output)
                  if e["type"] == "CalendarYearAdded"][-1]
    other_year = year.with_name("2032.json")
    other_year.write_text(year.read_text(encoding="utf-8").replace("2031", "2032"), encoding="utf-8")
    wrong_year = run("calendar", "add", str(other_year), "--replacing", readded_id, "--reason", "x")
    assert wrong_year.exit_code == 1, wrong_year.output
    assert f"--replacing: {readded_id!r} is an event of calendar:2031, not of calendar:2032" in wrong_year.output
    replaced = run("calendar", "add", str(again), "--replacing", readded_id, "--reason", "来源有误")  # in one batch
    assert replaced.exit_code == 0 and f"replacing {readded_id}" in replaced.output, replaced.output
    assert json.loads(run("calendar", "show", "2031", "--format", "json").output)["source"] == "测试二"
    import re  # (as known when the replaced year was added: its source)
    readded_at = re.search(r"recorded at (\S+)\)", readded.output)
    assert readded_at is not None
    then = run("calendar", "show", "2031", "--known-at", readded_at.group(1), "--format", "json")
    assert json.loads(then.output)["source"] == "测试"


def test_a_configuration_event_adds_what_it_names(run: Any, tmp_path: Path) -> None:
    """The year (pack id) an event is filed under and the one its content holds must agree."""
    lines = tmp_path / "smuggled.jsonl"
    lines.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in (
        {"type": "CalendarYearAdded", "occurred_at": "2024-12-01T09:00:00+08:00", "year": 2099,
         "schedule": {"year": 2025, "source": "x", "holidays": []}},
        {"type": "PolicyAdded", "occurred_at": "2024-12-01T09:00:00+08:00", "policy": "foo",
         "pack": {"id": "office-x", "effective_from": "2024-01-01", "extends": "shihezi-2021"}},
    )) + "\n", encoding="utf-8")
    result = run("append", str(lines))
    assert result.exit_code == 1
    assert "line 1: schedule.year: must be 2099, the year this event adds (`year`), not 2025" in result.output
    assert "line 2: pack.id: must be 'foo', the pack this event adds a version of (`policy`), not 'office-x'" \
        in result.output
    assert json.loads(run("calendar", "show", "2025", "--format", "json").output)["working_days"] == 248


def _pack_file(tmp_path: Path, name: str, pack: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(pack, ensure_ascii=False), encoding="utf-8")
    return str(path)


OFFICE_Y = {"id": "office-y", "extends": "zhangye-2021", "effective_from": "2023-01-01",
            "limits": {"registration": {"reply": {"days": 5, "count": "working", "from": "receipt",
                                                  "clause": "004 限时 §3"}}}}


def _added(run: Any, policy: str) -> str:
    """The event id of the first version of ``policy`` added."""
    events = json.loads(run("events", "--format", "json").output)
    return next(e["id"] for e in events if e["type"] == "PolicyAdded" and e["stream"] == f"policy:{policy}")


def test_a_pack_version_cases_are_judged_by_is_replaced_in_one_batch(base: Any, tmp_path: Path) -> None:
    """Retracted alone, it would leave its cases under no version (every query over them would fail)."""
    assert base("policy", "add", _pack_file(tmp_path, "y.json", OFFICE_Y)).exit_code == 0
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(jsonl(*(inquiry(c, policy="office-y", kind="registration") for c in ("C1", "C2"))))
                     + "\n", encoding="utf-8")
    assert base("append", str(cases)).exit_code == 0
    wrong = _added(base, "office-y")
    alone = base("retract", "--target", wrong, "--reason", "时限有误")
    assert alone.exit_code == 1
    assert ("Retracted: target (--target): case 'C1' (event in-C1), 'C2' (event in-C2) would then be judged by no "
            "pack version: no policy pack 'office-y'") in alone.output
    assert f"`ledger policy add FILE --replacing {wrong!r} --reason TEXT`" in alone.output
    fixed = OFFICE_Y | {"limits": {"registration": {"reply": {"days": 3, "count": "working", "from": "receipt",
                                                              "clause": "004 限时 §3"}}}}
    path = _pack_file(tmp_path, "y-fixed.json", fixed)
    again = base("policy", "add", path)
    assert again.exit_code == 1
    assert (f"{path}: effective_from: a version of 'office-y' effective 2023-01-01 already exists; a new version "
            f"needs a new effective_from (event {wrong!r}); to correct that version, add this file with --replacing "
            f"{wrong!r} --reason TEXT") in again.output
    assert base("policy", "add", path, "--replacing", wrong).exit_code == 2  # (a retraction says why)
    unknown = base("policy", "add", path, "--replacing", "nope", "--reason", "x")
    assert unknown.exit_code == 1 and "--replacing: 'nope' is not in the ledger" in unknown.output
    before = base("events", "--format", "json").output
    staff = next(e for e in json.loads(before) if e["type"] == "StaffRegistered")
    other_pack = _pack_file(tmp_path, "z.json", OFFICE_Y | {"id": "office-z"})
    for event_id, stream, file in (("in-C1", "case:C1", path), (staff["id"], staff["stream"], path),
                                   (wrong, "policy:office-y", other_pack)):  # the other pack's version
        refused = base("policy", "add", file, "--replacing", event_id, "--reason", "x")
        assert refused.exit_code == 1 and "nothing was written." in refused.output, refused.output
        target = "policy:office-z" if file == other_pack else "policy:office-y"
        assert f"--replacing: {event_id!r} is an event of {stream}, not of {target}" in refused.output
    assert base("events", "--format", "json").output == before
    replaced = base("policy", "add", path, "--replacing", wrong, "--reason", "时限有误")
    assert replaced.exit_code == 0 and f"replacing {wrong}" in replaced.output, replaced.output
    import re  # (the K before and after the new version: `--known-at` at it sees it)
    recorded = re.search(r"recorded at (\S+)\)", replaced.output)
    assert recorded is not None
    then = json.loads(base("policy", "show", "office-y", "--known-at", recorded.group(1), "--format", "json").output)
    assert then["limits"]["registration"]["reply"]["days"] == 3
    shown = json.loads(base("policy", "show", "office-y", "--format", "json").output)
    assert shown["limits"]["registration"]["reply"]["days"] == 3
    who = json.loads(base("who", "C1", "--at", "2024-03-05T09:00:00+08:00", "--format", "json").output)
    assert who["primary"]["staff"] == "s-a"
    types = [e["type"] for e in json.loads(base("events", "--format", "json").output)[-2:]]
    assert types == ["Retracted", "PolicyAdded"]


def test_a_version_added_may_not_leave_a_kind_or_its_received_cases_without_a_limit(
        base: Any, tmp_path: Path) -> None:
    """A kind listed with neither limit, or a version in force on a case's day of receipt that
    drops its kind: the case would have no due and no finding would ever be late."""
    assert base("policy", "add", _pack_file(tmp_path, "y.json", OFFICE_Y)).exit_code == 0
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(jsonl(*(inquiry(c, policy="office-y", kind="registration") for c in ("C1", "C2"))))
                     + "\n", encoding="utf-8")
    assert base("append", str(cases)).exit_code == 0
    before = base("events", "--format", "json").output
    nothing = {"id": "office-y", "extends": "office-y", "effective_from": "2023-06-01",
               "limits": {"registration": {"reply": None, "transfer": None}}}
    path = _pack_file(tmp_path, "nothing.json", nothing)
    refused = base("policy", "add", path)
    assert refused.exit_code == 1 and "nothing was written." in refused.output
    assert f"{path}: limits.registration: sets neither a reply nor a transfer limit" in refused.output
    whole = {k: v for k, v in OFFICE_Y.items() if k != "limits"} | {
        "extends": "office-y", "effective_from": "2024-03-01",
        "limits": {"permit": OFFICE_Y["limits"]["registration"]}}  # (merged: registration stays)
    assert base("policy", "add", _pack_file(tmp_path, "merged.json", whole)).exit_code == 0
    own = json.loads(base("policy", "show", "zhangye-2021", "--format", "json").output)
    dropping = own | {"id": "office-y", "effective_from": "2024-03-02", "limits": {}}
    dropping.pop("extends", None)
    path = _pack_file(tmp_path, "dropping.json", dropping)
    refused = base("policy", "add", path)
    assert refused.exit_code == 1, refused.output
    assert (f"{path}: case 'C1' (event in-C1), 'C2' (event in-C2) would then have no time limit: policy 'office-y' "
            "(in force on 2024-03-04) sets no time limit for kind 'registration'") in refused.output
    assert "give it a limit for their kind, or date it after them" in refused.output
    assert base("events", "--format", "json").output != before  # (the merged version only)
    transfer = {"days": 2, "count": "working", "from": "receipt", "clause": "004 限时 §3"}
    no_reply = {"id": "office-y", "extends": "office-y", "effective_from": "2024-03-02",
                "limits": {"registration": {"reply": None, "transfer": transfer}}}
    path = _pack_file(tmp_path, "no-reply.json", no_reply)
    refused = base("policy", "add", path)  # (the kind stays, with a transfer limit: its reply limit goes)
    assert refused.exit_code == 1, refused.output
    assert (f"{path}: case 'C1' (event in-C1), 'C2' (event in-C2) would then lose their reply limit: policy "
            "'office-y' (in force on 2024-03-04) would set no reply limit for kind 'registration', which it had "
            "when they were received (5 working days from receipt)") in refused.output
    later = _pack_file(tmp_path, "later.json", dropping | {"effective_from": "2024-03-05"})
    assert base("policy", "add", later).exit_code == 0  # after their receipt: their limits stand
    assert base("overdue", "--at", "2024-04-01T00:00:00+08:00").exit_code == 0


def test_a_version_another_extends_is_not_taken_away_and_versions_come_in_date_order(
        run: Any, tmp_path: Path) -> None:
    assert run("policy", "add", _pack_file(tmp_path, "y.json", OFFICE_Y)).exit_code == 0
    office_x = {"id": "office-x", "extends": "office-y", "effective_from": "2024-01-01", "closures": ["2024-05-06"]}
    assert run("policy", "add", _pack_file(tmp_path, "x.json", office_x)).exit_code == 0
    base_id, extending = _added(run, "office-y"), _added(run, "office-x")
    alone = run("retract", "--target", base_id, "--reason", "录入有误")
    assert alone.exit_code == 1
    assert (f"target (--target): without it, the pack version {extending} no longer resolves (extends: no pack "
            "'office-y' is known") in alone.output
    assert run("policy", "show", "office-x").exit_code == 0  # (the ledger still reads)
    earlier = _pack_file(tmp_path, "y2.json", {"id": "office-y", "extends": "office-y", "effective_from": "2023-06-01",
                                              "limits": {"permit": {"reply": {"days": 2, "count": "working",
                                                                              "from": "receipt",
                                                                              "clause": "004 限时 §3"}}}})
    refused = run("policy", "add", earlier)
    assert refused.exit_code == 1
    assert (f"{earlier}: effective_from: 2023-06-01 is before the version of 'office-x' effective 2024-01-01, "
            "which extends 'office-y'") in refused.output
    # In date order: the later one out, the earlier in, the later one again (it now inherits both).
    assert run("retract", "--target", extending, "--reason", "按日期顺序重录").exit_code == 0
    assert run("policy", "add", earlier).exit_code == 0
    assert run("policy", "add", str(tmp_path / "x.json")).exit_code == 0
    shown = json.loads(run("policy", "show", "office-x", "--format", "json").output)
    assert shown["closures"] == ["2024-05-06"] and set(shown["limits"]) == {"registration", "permit"}
    # All of them at once, the base first: each is checked as the whole file leaves the catalogue.
    standing = [e["id"] for e in json.loads(run("events", "--format", "json").output)
                if e["type"] == "PolicyAdded" and e["id"] != extending]
    everything = tmp_path / "withdraw.jsonl"
    everything.write_text("\n".join(jsonl(*({"type": "Retracted", "occurred_at": "2024-12-01T09:00:00+08:00",
                                              "target": i, "reason": "撤回"} for i in standing))) + "\n",
                          encoding="utf-8")
    assert standing[0] == base_id and len(standing) == 3
    withdrawn = run("append", str(everything))
    assert withdrawn.exit_code == 0, withdrawn.output
    assert run("policy", "show", "office-x").exit_code == 1


QUESTIONS = [("who", "C1", "--at", "2024-03-05T09:00:00+08:00"), ("findings",), ("overdue", "--at", "2024-03-05T09:00:00+08:00"),
             ("caseload", "--at", "2024-03-05T09:00:00+08:00"), ("events",), ("verify",), ("digest",), ("rebuild",)]


@pytest.mark.parametrize("args", QUESTIONS, ids=[a[0] for a in QUESTIONS])
def test_a_question_of_a_store_that_holds_no_ledger_is_refused_and_makes_nothing(
        tmp_path: Path, args: tuple[str, ...]) -> None:
    """A mistyped --store must not answer "no findings" or "intact" from a ledger it has just made."""
    from click.testing import CliRunner

    path = tmp_path / "typo.db"
    result = CliRunner().invoke(cli, ["--store", f"sqlite:///{path}", *args])
    assert result.exit_code == 1, result.output
    assert f"there is no ledger at sqlite:///{path} (the file does not exist): check --store" in result.output
    assert not path.exists()


def test_export_of_a_store_that_holds_no_ledger_is_refused(tmp_path: Path) -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["--store", f"sqlite:///{tmp_path / 'typo.db'}", "export", "parquet",
                                      str(tmp_path / "out")])
    assert result.exit_code == 1 and "there is no ledger at" in result.output
    assert not (tmp_path / "typo.db").exists() and not (tmp_path / "out").exists()


def test_the_built_in_packs_and_calendar_are_shown_without_a_ledger_and_nothing_is_made(tmp_path: Path) -> None:
    from click.testing import CliRunner

    store = ["--store", f"sqlite:///{tmp_path / 'none.db'}"]
    listed = CliRunner().invoke(cli, [*store, "policy", "list", "--format", "json"])
    assert listed.exit_code == 0 and "shihezi-2021" in {p["id"] for p in json.loads(listed.output)}
    shown = CliRunner().invoke(cli, [*store, "calendar", "show", "2024", "--format", "json"])
    assert shown.exit_code == 0 and json.loads(shown.output)["working_days"] == 251
    assert not (tmp_path / "none.db").exists()
    made = CliRunner().invoke(cli, [*store, "append", "-"], input="")  # a command that records makes it
    assert made.exit_code == 0 and (tmp_path / "none.db").exists()
    assert CliRunner().invoke(cli, [*store, "events"]).exit_code == 0


@pytest.mark.postgres
def test_a_question_of_a_postgresql_schema_that_does_not_exist_makes_no_schema() -> None:
    import psycopg
    from click.testing import CliRunner

    from tests.conftest import PG_DSN, postgres_url

    url = postgres_url()
    schema = url.rsplit("schema=", 1)[1]
    result = CliRunner().invoke(cli, ["--store", url, "findings"])
    assert result.exit_code == 1 and f"(schema '{schema}' does not exist)" in result.output
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None


def test_a_question_leaves_a_file_that_holds_no_ledger_as_it_was(tmp_path: Path) -> None:
    """An empty file, or another program's, named by a mistyped --store: refused, and not written to."""
    import sqlite3

    from click.testing import CliRunner

    empty, junk, other = tmp_path / "empty.db", tmp_path / "junk.db", tmp_path / "other.db"
    empty.write_bytes(b"")
    junk.write_bytes(b"not a database")
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
    for path in (empty, junk, other):
        before = path.read_bytes()
        result = CliRunner().invoke(cli, ["--store", f"sqlite:///{path}", "findings"])
        assert result.exit_code == 1 and "(it holds no ledger's tables)" in result.output, result.output
        assert path.read_bytes() == before


def test_a_ledger_made_before_its_settings_table_is_still_a_ledger(tmp_path: Path) -> None:
    """Ledgers of 0.1 have no ledger_settings: they are opened (and brought up to date), not refused."""
    import sqlite3

    from click.testing import CliRunner

    from tests.ledger_helpers import BASE, jsonl

    store = ["--store", f"sqlite:///{tmp_path / 'old.db'}"]
    assert CliRunner().invoke(cli, [*store, "append", "-"], input="\n".join(jsonl(*BASE)) + "\n").exit_code == 0
    with sqlite3.connect(tmp_path / "old.db") as conn:
        conn.execute("DROP TABLE ledger_settings")
    listed = CliRunner().invoke(cli, [*store, "events", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.output)) == len(BASE)


def test_a_version_that_takes_no_limit_away_reads_no_stored_case(tmp_path: Path, monkeypatch: Any) -> None:
    """Only a version that takes a kind or a limit away can strand a stored case: any other is added
    without the scan of the log for the cases of its pack (it grows with the ledger)."""
    from ledger.application import Ledger
    from tests.ledger_helpers import BASE, inquiry, jsonl

    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    ledger.append_lines(jsonl(*BASE, inquiry("C1")))
    scanned: list[str] = []
    real = Ledger._naming
    monkeypatch.setattr(Ledger, "_naming", lambda self, tx, kind, name, besides: scanned.append(name) or real(
        self, tx, kind, name, besides))
    closure = {"id": "shihezi-2021", "extends": "shihezi-2021", "effective_from": "2024-03-01", "closures": ["2024-03-06"]}
    added = {"type": "PolicyAdded", "occurred_at": "2024-12-01T09:00:00+08:00", "policy": "shihezi-2021", "pack": closure}
    assert ledger.append_lines(jsonl(added)).appended == 1 and scanned == []
    whole = json.loads((Path(__file__).parent.parent / "ledger" / "policies" / "shihezi-2021.json").read_text("utf-8"))
    taking = {**whole, "effective_from": "2024-03-02", "limits": {"other": whole["limits"]["general"]}}
    from ledger.interchange import InvalidInput

    with pytest.raises(InvalidInput, match="case 'C1'"):  # it drops kind general: the cases are read
        ledger.append_lines(jsonl({**added, "pack": taking}))
    assert scanned == ["shihezi-2021"]
    ledger.close()
