"""`ledger export parquet`: an analyst reads the demo register back with pyarrow and DuckDB."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.main import cli
from ledger.application import Ledger
from projections.export import SCHEMA_VERSION, SNAPSHOTS, TABLES
from projections.pseudonyms import MOBILE, PersonalMatcher, Pseudonymiser, personal_pattern
from projections.queries import Queries
from projections.readmodels import default_projectors
from projections.status import case_status
from tests.ledger_helpers import BASE, inquiry, jsonl

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REGISTER = EXAMPLES / "demo-register-2024.jsonl"
CORRECTIONS = EXAMPLES / "demo-corrections-2024.jsonl"
SECTIONS = EXAMPLES / "zhangye-sections.json"
#: The snapshots describe the demo year at its end, whatever day the tests run.
AT = "2024-12-31T18:00:00+08:00"

#: The README's three DuckDB queries, run from inside an export folder.
README_QUERIES = {
    "overdue rate by month and office": """
        SELECT month, unit, unit_name,
               count(*)                                   AS cases,
               count(*) FILTER (WHERE late)               AS missed_deadline,
               count(*) FILTER (WHERE overdue)            AS still_overdue,
               round(100.0 * count(*) FILTER (WHERE late) / count(*), 1) AS late_pct
        FROM 'cases.parquet'
        WHERE status <> 'not_received'   -- known by the export but received after its --at
        GROUP BY ALL
        ORDER BY month, unit""",
    "findings by rule": """
        SELECT rule,
               count(*)                 AS findings,
               count(DISTINCT liable)   AS staff_liable,
               count(DISTINCT case_id)  AS cases,
               list(DISTINCT clause)    AS clauses
        FROM 'findings.parquet'
        GROUP BY rule
        ORDER BY findings DESC""",
    "average days to reply per handler": """
        SELECT c.handler, s.name,
               count(*)                        AS replied,
               round(avg(c.days_to_reply), 1)  AS avg_days_to_reply,
               count(*) FILTER (WHERE c.late)  AS late
        FROM 'cases.parquet' AS c
        LEFT JOIN 'staff.parquet' AS s ON s.staff = c.handler
        WHERE c.status = 'replied'
        GROUP BY ALL
        ORDER BY avg_days_to_reply DESC""",
}


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


#: A pseudonym's or the key id's 16 hex digits.
HEX_TOKEN = re.compile(r"(?<![0-9a-f])[0-9a-f]{16}(?![0-9a-f])")
#: Every phone number of the demo's requesters (11 digits starting with 1).
PHONES = sorted(set(re.findall(r"(?<!\d)1\d{10}(?!\d)", REGISTER.read_text() + CORRECTIONS.read_text())))
NAMES = sorted({e["requester"]["name"] for e in map(json.loads, REGISTER.read_text().splitlines())
                if e.get("requester", {}).get("name")})


def invoke(url: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--store", url, *args], input=input, catch_exceptions=False)


def load_demo(url: str) -> None:
    for args in (("policy", "add", str(SECTIONS)), ("append", str(REGISTER), "--actor", "办公室-王敏"),
                 ("append", str(CORRECTIONS), "--actor", "办公室-王敏")):
        result = invoke(url, *args)
        assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo register in a SQLite ledger, loaded once; each test works on its own copy."""
    path = tmp_path_factory.mktemp("demo") / "ledger.db"
    load_demo(f"sqlite:///{path}")
    return path


@pytest.fixture
def demo(demo_file: Path, sqlite_url: str) -> str:
    shutil.copy(demo_file, sqlite_url.removeprefix("sqlite:///"))
    return sqlite_url


def export(url: str, folder: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--store", url, "export", "parquet", str(folder), "--at", AT, *args],
                                catch_exceptions=False)
    return result


def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def events_table(folder: Path) -> pa.Table:
    return ds.dataset(folder / "events", format="parquet", partitioning="hive").to_table()


def opened(url: str) -> Ledger:
    return Ledger(url, projectors=default_projectors(None))


def all_values(folder: Path) -> list[str]:
    """Every value of every Parquet file, decoded, as text (nested lists and structs too)."""
    out = []
    for path in folder.rglob("*.parquet"):
        for column in pq.read_table(path).to_pylist():
            out.append(json.dumps(column, ensure_ascii=False, default=str))
    return out


# --- a default export ---------------------------------------------------------------------------


def test_events_come_back_with_typed_columns_month_partitions_and_a_schema_version(
        demo: str, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = export(demo, out)
    assert result.exit_code == 0, result.output
    assert "exported 330 new event(s) (seq 1-330)" in result.output

    events = events_table(out)
    assert events.num_rows == 1 + _lines(REGISTER) + _lines(CORRECTIONS)  # the policy event + every line
    assert sorted(events.column("seq").to_pylist()) == list(range(1, events.num_rows + 1))
    for column in ("occurred_at", "recorded_at"):
        assert events.schema.field(column).type == pa.timestamp("us", tz="UTC")
    assert events.schema.field("seq").type == pa.int64()
    months = {p.name for p in (out / "events").iterdir()}
    assert {f"month=2024-{m:02d}" for m in range(3, 13)} <= months
    one = pq.read_table(next((out / "events" / "month=2024-04").glob("part-*.parquet")))
    assert one.schema.metadata[b"ledger.schema_version"] == str(SCHEMA_VERSION).encode()
    assert one.schema.field("payload").metadata[b"description"]

    m = manifest(out)
    assert m["schema_version"] == SCHEMA_VERSION and m["include_pii"] is False
    for name in SNAPSHOTS:  # the manifest's column types are the files' own, as a reader gives them back
        read = pq.read_schema(out / f"{name}.parquet")
        assert [(c["name"], c["type"]) for c in m["tables"][name]["columns"]] == [(f.name, str(f.type)) for f in read]
    ledger = opened(demo)
    try:
        last = list(ledger.log(after=329))[-1]
    finally:
        ledger.close()
    assert m["ledger"]["head"] == {"seq": 330, "hash": last.hash, "recorded_at": m["ledger"]["head"]["recorded_at"]}
    assert m["events"]["runs"] == [{**m["events"]["runs"][0], "seq_from": 1, "seq_to": 330, "rows": 330}]
    for entry in m["files"]:
        assert pq.read_metadata(out / entry["path"]).num_rows == entry["rows"]
        assert entry.get("snapshot") is True or entry["seq_first"] <= entry["seq_last"]
    assert {f["table"] for f in m["files"] if f.get("snapshot")} == set(TABLES) - {"events"}
    assert "seq_range" not in json.dumps(m) and "key" not in {k for f in m["files"] for k in f}


def test_read_models_agree_with_the_ledgers_own_answers(demo: str, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert export(demo, out).exit_code == 0
    at = datetime.fromisoformat(AT)
    ledger = opened(demo)
    try:
        queries = Queries(ledger)
        findings = queries.findings(None, at)
        overdue = queries.overdue(at)
        ctx = queries.context([], None, all_staff=True)
        statuses = {case: case_status(facts, ctx.world, at, ctx.catalogue, ctx.calendar, ledger.tz)
                    for case, facts in queries.all_case_facts(None).items()}
        statuses.update({s.case: s for s in queries.statuses(at)})
        cases = pq.read_table(out / "cases.parquet").to_pylist()
        assert len(cases) == len(statuses) == 67  # 68 received, one withdrawn as a duplicate
        for row in cases:
            status = statuses[row["case_id"]]
            assert (row["status"], row["due"], row["overdue"]) == (status.state, status.due, status.is_overdue())
            assert row["requester_key"] is None or row["requester_key"].startswith("rq-")
        assert pq.read_table(out / "findings.parquet").num_rows == len(findings) > 0
        got = pq.read_table(out / "overdue.parquet").to_pylist()
        assert sorted(r["case_id"] for r in got) == sorted(r["case"] for r in overdue)
        # Each responsibility interval is what `ledger who` answers at its start.
        rows = pq.read_table(out / "responsibility.parquet").to_pylist()
        assert {r["case_id"] for r in rows} == set(statuses)
        for row in [r for r in rows if r["case_id"] in ("SHZ-2024-0001", "ZY-2024-0006")]:
            answer = queries.who(row["case_id"], row["valid_from"])
            party = answer[row["role"]]
            assert (party["staff"], party["basis"]) == (row["staff"], row["basis"]), row
    finally:
        ledger.close()
    for name in ("cases", "responsibility", "absences", "cover", "findings", "overdue", "staff"):
        schema = pq.read_schema(out / f"{name}.parquet")
        for field in schema:
            assert field.metadata and field.metadata[b"description"], f"{name}.{field.name} is undocumented"
            if pa.types.is_timestamp(field.type):
                assert field.type.tz == "UTC", f"{name}.{field.name} has no timezone"


def test_the_snapshots_judge_responsibility_without_writing_its_sentences(
        demo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables hold no explanation of ``who``: an export asks for the decisions only
    (``explain=False``, a test in test_responsibility.py holds them the same), at every instant
    where responsibility may change, so the sentences would be most of its work."""
    import projections.export as export_module

    asked: list[bool] = []
    real = export_module.assess

    def assess(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs.get("explain", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(export_module, "assess", assess)
    assert export(demo, tmp_path / "export").exit_code == 0
    assert len(asked) > 67 and not any(asked)


def test_a_default_export_holds_no_phone_number_or_requester_name(demo: str, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert export(demo, out).exit_code == 0
    assert len(PHONES) > 50 and NAMES
    texts = [*all_values(out), (out / "manifest.json").read_text(encoding="utf-8")]
    blob = "\n".join(texts)
    assert not [p for p in PHONES if p in blob]
    # No other mobile number either. Pseudonyms and the key id are random hex, which can look
    # like one by chance ("rq-f0ea13420996529a"): they are left out of this scan.
    assert not MOBILE.search(HEX_TOKEN.sub("", blob))
    assert not [n for n in NAMES if n in blob]
    raw = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert not [p for p in PHONES if p.encode() in raw]


def test_include_pii_writes_them_in_clear_and_says_so_on_stderr(demo: str, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = export(demo, out, "--include-pii")
    assert result.exit_code == 0, result.output
    assert "--include-pii" in result.stderr and "IN CLEAR" in result.stderr
    assert "IN CLEAR" not in result.stdout
    cases = pq.read_table(out / "cases.parquet")
    assert {"requester_name", "requester_contact", "requester_key"} <= set(cases.column_names)
    blob = "\n".join(all_values(out))
    assert all(p in blob for p in PHONES)
    assert manifest(out)["include_pii"] is True
    # One folder never mixes clear and pseudonymised data.
    again = export(demo, out)
    assert again.exit_code == 1 and "never mixes" in again.output


def test_the_same_requester_gets_the_same_pseudonym_in_every_export_of_a_ledger(
        demo: str, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    assert export(demo, first).exit_code == 0
    assert export(demo, second).exit_code == 0

    def keys(folder: Path) -> dict[str, str]:
        rows = events_table(folder).filter(ds.field("type") == "InquiryReceived").to_pylist()
        return {r["event_id"]: json.loads(r["payload"])["requester"]["key"] for r in rows}

    one = keys(first)
    assert one == keys(second)
    # 曹德胜 called twice about the same matter (PD-2024-0011, and 0012 withdrawn as a duplicate).
    assert one["r2024-0293"] == one["r2024-0294"]
    assert len(set(one.values())) == len(one) - 1
    assert manifest(first)["pseudonym_key_id"] == manifest(second)["pseudonym_key_id"]


def test_pseudonyms_ignore_how_a_number_is_typed_and_need_the_key() -> None:
    a, b = Pseudonymiser(b"k" * 32), Pseudonymiser(b"j" * 32)
    same = {"name": "曹德胜", "contact": "138 1726 4405"}
    assert a.requester_key(same) == a.requester_key({"name": "曹德胜 ", "contact": "138-1726-4405"})
    assert a.requester_key(same) != b.requester_key(same)
    assert a.requester_key({"unit": "浦东新区"}) is None
    content = {"type": "InquiryReceived", "matter": "曹德胜来电，回电13817264405", "requester": {**same, "unit": "x"}}
    assert a.content(content) == {"type": "InquiryReceived", "matter": "[requester]来电，回电[requester]",
                                  "requester": {"key": a.requester_key(same), "unit": "x"}}


def test_a_requester_s_number_keeps_their_pseudonym_with_or_without_the_country_code() -> None:
    a = Pseudonymiser(b"k" * 32)

    def key(contact: str) -> str | None:
        return a.requester_key({"name": "曹德胜", "contact": contact})

    mobile = key("13817264405")
    for written in ("+86 138 1726 4405", "0086-138-1726-4405", "8613817264405", "138.1726.4405",
                    "＋８６ １３８ １７２６ ４４０５", "(+86) 138-1726-4405"):
        assert key(written) == mobile, written
    landline = key("010-8888-6666")
    for written in ("+86 10 8888 6666", "0086 10 88886666", "(010) 8888 6666", "+86 (0)10 8888 6666"):
        assert key(written) == landline, written
    # Other numbers and anything not a number keep their own keys, as before.
    assert len({mobile, landline, key("+1 650 555 0100"), key("86123456"), key("li.ming@x.cn"),
                key("liming@x.cn"), key("13817264406")}) == 7
    assert key("li.ming@x.cn") == a.requester_key({"name": "曹德胜", "contact": " LI.MING@X.CN "})


@pytest.mark.parametrize("contact", ["010-8888-6666", "+86 10 8888 6666", "0086 (10) 88886666", "(010)88886666"])
def test_a_requester_s_landline_is_masked_in_free_text_however_either_writes_it(contact: str) -> None:
    a = Pseudonymiser(b"k" * 32)
    for written in ("010-8888-6666", "+86 10 8888 6666", "0086 10 8888 6666", "01088886666", "+86-10-88886666"):
        content = {"type": "InquiryReceived", "matter": f"请回电{written}。",
                   "requester": {"name": "曹德胜", "contact": contact}}
        assert a.content(content)["matter"] == "请回电[requester]。", (contact, written)
    # A number that is not the requester's stays (only mobile numbers are masked whoever's they are).
    other = {"type": "InquiryReceived", "matter": "总机010-8888-0000", "requester": {"name": "曹德胜", "contact": contact}}
    assert a.content(other)["matter"] == "总机010-8888-0000"


def test_mobile_numbers_are_masked_however_they_are_written() -> None:
    a = Pseudonymiser(b"k" * 32)
    for written in ("13812345678", "138-1234-5678", "138 1234 5678", "+86 138 1234 5678", "+8613812345678",
                    "8613812345678", "0086-138-1234-5678", "１３８１２３４５６７８", "138－1234－5678", "138—1234—5678",
                    "138.1234.5678", "+86 1381 234 5678", "138  1234  5678", "＋８６ １３８ １２３４ ５６７８"):
        assert a.text(f"请回电{written}。") == "请回电[phone]。", written
    assert a.text("订单号 2024031512345678") == "订单号 2024031512345678"  # part of a longer number
    assert a.text("工号10086") == "工号10086"
    assert a.text("电话 13812345678 2号楼") == "电话 [phone] 2号楼"


def test_identity_card_numbers_are_masked_however_they_are_written() -> None:
    a = Pseudonymiser(b"k" * 32)
    for written in ("650102199001011234", "65010219900101123X", "65010219900101123x", "６５０１０２１９９００１０１１２３４"):
        assert a.text(f"身份证{written}。") == "身份证[id-number]。", written
    assert a.text("订单号 2024031512345678") == "订单号 2024031512345678"  # 16 digits
    assert a.text("编号 1650102199001011234") == "编号 1650102199001011234"  # part of a longer number
    assert a.text("650102199013011234") == "650102199013011234"  # no month 13: not a birth date


def test_the_requesters_data_is_masked_however_it_is_retyped() -> None:
    """Full-width, other spacing, other case: a clerk's text names the requester as they typed it."""
    a = Pseudonymiser(b"k" * 32)
    content = {"type": "InquiryReceived", "requester": {"name": "Li Si", "contact": "0527 8456 1234"},
               "matter": "LI  SI 来电，座机0527-84561234，又拨０５２７８４５６１２３４；ＬＩ　ＳＩ 的邻居"}
    assert a.content(content)["matter"] == "[requester] 来电，座机[requester]，又拨[requester]；[requester] 的邻居"


def test_a_chinese_name_is_masked_with_spaces_put_between_its_characters() -> None:
    """A clerk writes 「王 小明」 or 「王　小明」 (a full-width space) for 王小明, and the other way round;
    a Latin name's letters within one word stay together (``lisi`` is in other words)."""
    a = Pseudonymiser(b"k" * 32)
    for name, written in (("王小明", "王 小明"), ("王小明", "王　小明"), ("王小明", "王 小 明"), ("王 小明", "王小明")):
        content = {"type": "InquiryReceived", "requester": {"name": name}, "matter": f"{written}来电咨询"}
        assert a.content(content)["matter"] == "[requester]来电咨询", (name, written)
    content = {"type": "InquiryReceived", "requester": {"name": "Li Si"}, "matter": "analisis of Li Si"}
    assert a.content(content)["matter"] == "analisis of [requester]"


_PIECES = ["Li Si", "LI  SI", "ＬＩ　ＳＩ", "li-si", "0527 8456 1234", "0527-84561234", "０５２７８４５６１２３４",
           "曹德胜", "曹 德胜", "来电", " ", "-", "（", "）", ".", "5", "ß", "SS", "a", "İ", "\u0301", "\u0323", "í"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=8), st.lists(st.sampled_from(_PIECES[:8]), min_size=1, max_size=3))
def test_the_requesters_pattern_is_skipped_only_where_it_could_not_match(pieces: list[str], values: list[str]) -> None:
    """The matcher folds a text and compiles the pattern only if a folded value is in it: the answer
    is the pattern's on every text."""
    text, key = "".join(pieces), tuple(sorted(set(values)))
    pattern = personal_pattern(key)
    expected = text if pattern is None else pattern.sub("[requester]", text)
    assert PersonalMatcher(key).sub(text) == expected


def test_a_text_that_does_not_name_the_requester_compiles_no_pattern() -> None:
    matcher = PersonalMatcher(("曹德胜", "13817264405"))
    plain = "宿舍热水器不出热水，s-00040 2024-03-04T09:00:00+08:00"
    assert matcher.sub(plain) == plain
    assert matcher._pattern is False  # (a millisecond's compile per case, for nothing)
    assert matcher.sub("回电 138-1726-4405") == "回电 [requester]" and matcher._pattern is not False


def test_the_requesters_name_is_masked_in_every_event_of_the_case(tmp_path: Path) -> None:
    """A reply's note naming the requester: masked too, though the requester field is on the receipt."""
    url = f"sqlite:///{tmp_path / 'l.db'}"
    receipt = inquiry("C1", requester={"name": "王五", "contact": "13812345678"})
    reply = {"type": "Replied", "id": "rp", "occurred_at": "2024-03-05T10:00:00+08:00", "case": "C1", "by": "s-a",
             "outcome": "resolved", "note": "已电话告知王五（138 1234 5678）"}
    runner = CliRunner()
    for batch in (jsonl(*BASE, receipt), jsonl(reply)):  # two exports: the second run starts after the receipt
        assert runner.invoke(cli, ["--store", url, "append", "-"], input="\n".join(batch) + "\n").exit_code == 0
        assert runner.invoke(cli, ["--store", url, "export", "parquet", str(tmp_path / "out")]).exit_code == 0
    payloads = [r["payload"] for r in ds.dataset(tmp_path / "out" / "events", partitioning="hive").to_table()
                .to_pylist() if r["type"] == "Replied"]
    assert payloads and "王五" not in payloads[0] and "1234" not in payloads[0]
    assert "已电话告知[requester]" in payloads[0]


def test_a_requesters_unit_that_names_them_is_masked(tmp_path: Path) -> None:
    """A person registers as 「马云飞个体户(0993-1112223)」: the unit is text, masked like the notes
    (in the event's payload and in cases.requester_unit); an organisation's name stays."""
    url = f"sqlite:///{tmp_path / 'l.db'}"
    person = inquiry("C1", requester={"name": "马云飞", "contact": "0993-1112223", "unit": "马云飞个体户(0993-1112223)"})
    company = inquiry("C2", requester={"name": "李四", "contact": "13812345678", "unit": "石河子市供水公司"})
    runner = CliRunner()
    assert runner.invoke(cli, ["--store", url, "append", "-"],
                         input="\n".join(jsonl(*BASE, person, company)) + "\n").exit_code == 0
    assert runner.invoke(cli, ["--store", url, "export", "parquet", str(tmp_path / "out")]).exit_code == 0
    units = {r["case_id"]: r["requester_unit"] for r in pq.read_table(tmp_path / "out" / "cases.parquet").to_pylist()}
    assert units == {"C1": "[requester]个体户([requester])", "C2": "石河子市供水公司"}
    payloads = [r["payload"] for r in ds.dataset(tmp_path / "out" / "events", partitioning="hive").to_table()
                .to_pylist() if r["type"] == "InquiryReceived"]
    assert not any("马云飞" in p or "1112223" in p for p in payloads)
    assert any("[requester]个体户([requester])" in p for p in payloads)


def test_pseudonyms_walk_any_mapping_as_they_walk_a_dict() -> None:
    from types import MappingProxyType

    a = Pseudonymiser(b"k" * 32)
    same = {"name": "曹德胜", "contact": "13817264405"}
    plain = {"type": "Corrected", "target": "e1", "reason": "回电13817264405",
             "replacement": {"type": "InquiryReceived", "matter": "曹德胜", "received_by": ["s-1", "致电13817264405"],
                             "requester": {**same, "unit": "x"}}}
    frozen = MappingProxyType({**plain, "replacement": MappingProxyType(
        {**plain["replacement"], "requester": MappingProxyType(plain["replacement"]["requester"])})})
    assert a.content(frozen) == a.content(plain) == {
        "type": "Corrected", "target": "e1", "reason": "回电[requester]",  # (the contact given: the requester's)
        "replacement": {"type": "InquiryReceived", "matter": "[requester]", "received_by": ["s-1", "致电[requester]"],
                        "requester": {"key": a.requester_key(same), "unit": "x"}}}


# --- incremental exports -------------------------------------------------------------------------


def test_a_second_export_writes_only_new_events_and_the_runs_tile_the_log(demo: str, tmp_path: Path) -> None:
    out = tmp_path / "export"
    ledger = opened(demo)
    try:
        register_end = next(r for r in ledger.log() if r.seq == 1 + _lines(REGISTER))
    finally:
        ledger.close()
    known = register_end.recorded_at.isoformat()
    first = export(demo, out, "--known-at", known)
    assert first.exit_code == 0, first.output
    assert manifest(out)["events"]["seq_to"] == 317 and manifest(out)["known_at"] is not None
    before = {p: p.read_bytes() for p in (out / "events").rglob("*.parquet")}

    second = export(demo, out)
    assert second.exit_code == 0, second.output
    assert "exported 13 new event(s) (seq 318-330)" in second.output
    after = set((out / "events").rglob("*.parquet"))
    assert set(before) <= after and all(p.read_bytes() == data for p, data in before.items())
    new = after - set(before)
    assert sum(pq.read_metadata(p).num_rows for p in new) == 13

    m = manifest(out)
    runs = m["events"]["runs"]
    assert [(r["seq_from"], r["seq_to"]) for r in runs] == [(1, 317), (318, 330)]
    files = [f for f in m["files"] if f["table"] == "events"]
    assert {f["path"] for f in files} == {p.relative_to(out).as_posix() for p in after}
    for run in runs:  # every file lies inside its run; the runs are contiguous
        assert all(run["seq_from"] <= f["seq_first"] <= f["seq_last"] <= run["seq_to"]
                   for f in files if f["run"] == run["run"])
    assert all(a["seq_to"] + 1 == b["seq_from"] for a, b in itertools.pairwise(runs))
    seqs = events_table(out).column("seq").to_pylist()
    assert sorted(seqs) == list(range(1, 331))  # every event exactly once

    third = export(demo, out)
    assert third.exit_code == 0 and "no new events" in third.output
    assert set((out / "events").rglob("*.parquet")) == after

    # The past cannot be exported over the present; --fresh starts again.
    earlier = export(demo, out, "--known-at", known)
    assert earlier.exit_code == 1 and "exports only grow" in earlier.output
    fresh = export(demo, out, "--known-at", known, "--fresh")
    assert fresh.exit_code == 0, fresh.output
    assert events_table(out).num_rows == 317 and len(manifest(out)["events"]["runs"]) == 1


def test_an_export_is_refused_where_it_does_not_belong(demo: str, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    result = export(demo, busy)
    assert result.exit_code == 1 and "not empty" in result.output
    assert (busy / "notes.txt").read_text() == "mine"

    out = tmp_path / "export"
    assert export(demo, out).exit_code == 0
    listed = out / manifest(out)["files"][0]["path"]
    kept = listed.read_bytes()
    listed.unlink()
    gone = export(demo, out)
    assert gone.exit_code == 1 and "which is gone" in gone.output
    listed.write_bytes(kept)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert invoke(other, "append", "-", input="\n".join(jsonl(*BASE, inquiry()))).exit_code == 0
    mixed = export(other, out)
    assert mixed.exit_code == 1 and "another" in mixed.output


def test_an_interrupted_export_leaves_nothing_the_next_one_would_trust(demo: str, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert export(demo, out, "--known-at", "2000-01-02T00:00:00+08:00").exit_code == 0
    assert manifest(out)["ledger"]["head"] is None and events_table(out).num_rows == 0
    stray = out / "events" / "month=2024-03" / "part-2-65.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"half written")
    assert export(demo, out).exit_code == 0
    assert events_table(out).num_rows == 330


def test_a_first_export_interrupted_before_its_manifest_is_swept_by_the_next(demo: str, tmp_path: Path) -> None:
    """Killed before it wrote its manifest, a first export leaves only files of its own: the next
    export (with or without --fresh) sweeps them; a folder that also holds anything else is refused."""
    for fresh in ((), ("--fresh",)):
        out = tmp_path / f"export{len(fresh)}"
        (out / "events" / "month=2024-03").mkdir(parents=True)
        (out / ".cases.parquet.tmp").write_bytes(b"half")
        (out / "events" / "month=2024-03" / ".part-1.parquet.tmp").write_bytes(b"half")
        (out / "events" / "month=2024-03" / "part-1-65.parquet").write_bytes(b"half")
        (out / ".ledger-export-in-progress").write_text("")
        result = export(demo, out, *fresh)
        assert result.exit_code == 0, result.output
        assert events_table(out).num_rows == 330 and not list(out.rglob("*.tmp"))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / ".cases.parquet.tmp").write_bytes(b"half")
    (mixed / ".ledger-export-in-progress").write_text("")
    (mixed / "notes.txt").write_text("mine")
    result = export(demo, mixed)
    assert result.exit_code == 1 and "not empty" in result.output and (mixed / ".cases.parquet.tmp").exists()
    # Files named like an export's but no marker: another export's copy, without its manifest. Kept.
    copy = tmp_path / "copy"
    (copy / "events" / "month=2024-03").mkdir(parents=True)
    (copy / "cases.parquet").write_bytes(b"theirs")
    (copy / "events" / "month=2024-03" / "part-10-19.parquet").write_bytes(b"theirs")
    result = export(demo, copy)
    assert result.exit_code == 1 and "not empty" in result.output and (copy / "cases.parquet").read_bytes() == b"theirs"
    # A finished export leaves no marker.
    assert not (tmp_path / "export0" / ".ledger-export-in-progress").exists()


# --- analysts' tools ------------------------------------------------------------------------------


@pytest.fixture
def exported(demo: str, tmp_path: Path) -> Path:
    out = tmp_path / "export"
    assert export(demo, out).exit_code == 0
    return out


def _duck(folder: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET file_search_path = '{folder}'")
    return con


def test_duckdb_reads_the_events_with_their_partitions_and_zones(exported: Path) -> None:
    con = _duck(exported)
    rows = con.sql("SELECT month, count(*) FROM read_parquet('events/*/*.parquet', hive_partitioning = true) "
                   "GROUP BY month ORDER BY month").fetchall()
    assert sum(n for _, n in rows) == 330 and ("2024-03", 64) in rows
    types = dict(con.sql("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                         "read_parquet('events/*/*.parquet', hive_partitioning = true))").fetchall())
    assert types["occurred_at"] == types["recorded_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["seq"] == "BIGINT" and types["month"] == "VARCHAR"
    inquiries = con.execute("SELECT count(*) FROM read_parquet('events/*/*.parquet') "
                        "WHERE type = 'InquiryReceived' AND json_extract_string(payload, '$.requester.key') "
                        "LIKE 'rq-%'").fetchone()
    assert inquiries is not None and inquiries[0] == 68


@pytest.mark.parametrize("name", list(README_QUERIES))
def test_the_readme_queries_run_and_answer(exported: Path, name: str) -> None:
    result = _duck(exported).sql(README_QUERIES[name])
    rows = [dict(zip(result.columns, row, strict=True)) for row in result.fetchall()]
    assert rows, name
    if name == "overdue rate by month and office":
        assert sum(r["cases"] for r in rows) == 67
        assert {r["month"] for r in rows} >= {"2024-04", "2024-11"}
        assert all(0 <= r["late_pct"] <= 100 and r["unit"] for r in rows)
        assert sum(r["missed_deadline"] for r in rows) >= sum(r["still_overdue"] for r in rows) > 0
    elif name == "findings by rule":
        assert {"handler_late", "no_handover", "cover_failure", "vacancy"} <= {r["rule"] for r in rows}
        assert all(r["findings"] >= r["cases"] >= 1 for r in rows)
    else:
        assert all(r["name"] and r["avg_days_to_reply"] >= 0 for r in rows)
        assert sum(r["replied"] for r in rows) == 64


# --- both backends ---------------------------------------------------------------------------------


def test_export_on_each_backend(store_url: str, tmp_path: Path, demo_file: Path) -> None:
    if store_url.startswith("sqlite:///"):
        shutil.copy(demo_file, store_url.removeprefix("sqlite:///"))  # loaded once for the module
    else:
        load_demo(store_url)
    out = tmp_path / "export"
    result = export(store_url, out)
    assert result.exit_code == 0, result.output
    assert events_table(out).num_rows == 330
    assert pq.read_metadata(out / "cases.parquet").num_rows == 67
    key_id = manifest(out)["pseudonym_key_id"]
    assert export(store_url, out).exit_code == 0  # the key is kept in the ledger: the same next time
    assert manifest(out)["pseudonym_key_id"] == key_id
    blob = "\n".join(all_values(out))
    assert not [p for p in PHONES if p in blob]


def test_progress_is_drawn_on_stderr(demo: str, tmp_path: Path) -> None:
    result = export(demo, tmp_path / "export")
    assert "events" in result.stderr and "cases" in result.stderr
    assert "events" not in result.stdout.replace("event(s)", "")


# --- two case workers -------------------------------------------------------------------------------

@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 5 cases and row groups of 7 rows, on (as if) two cores: the demo's 67 cases
    make 14 pages, and every table several row groups."""
    import projections.export as export_module

    monkeypatch.setattr(export_module, "CASE_PAGE", 5)
    monkeypatch.setattr(export_module, "ROW_GROUP", 7)
    monkeypatch.setattr(export_module, "_cores", lambda: 2)


def _judged_by(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Each page's judging notes its process id in ``log`` (the forked worker inherits the patch)."""
    import projections.export as export_module

    judge = export_module._judge

    def noting(*args: Any) -> Any:
        with log.open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        return judge(*args)

    monkeypatch.setattr(export_module, "_judge", noting)


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(".")]


def _in_strict_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pages handed out strictly in turn: the even ones to this process, the odd ones to the worker."""
    import projections.export as export_module

    parent = os.getpid()

    def in_turn(self: Any, check: Any = None) -> int | None:
        worker = 0 if os.getpid() == parent else 1
        while True:
            with self.counter.get_lock():
                i = int(self.counter.value)
                if i >= self.pages:
                    return None
                if i % 2 == worker:
                    self.counter.value = i + 1
                    return i
            if check is not None:
                check()  # (the other worker may have ended)
            time.sleep(0.001)

    monkeypatch.setattr(export_module._Turns, "take", in_turn)


@pytest.mark.parametrize("turns", ["strict", "as they come"])
def test_two_case_workers_write_the_same_tables_as_one(
    store_url: str, demo_file: Path, tmp_path: Path, small_pages: None, monkeypatch: pytest.MonkeyPatch, turns: str,
) -> None:
    import projections.export as export_module

    if store_url.startswith("sqlite:///"):
        shutil.copy(demo_file, store_url.removeprefix("sqlite:///"))
    else:
        load_demo(store_url)
    monkeypatch.setattr(export_module, "PARALLEL_FROM", 10**9)
    assert export(store_url, tmp_path / "one").exit_code == 0
    monkeypatch.setattr(export_module, "PARALLEL_FROM", 10)
    log = tmp_path / "pids"
    _judged_by(monkeypatch, log)
    if turns == "strict":
        _in_strict_turns(monkeypatch)
    result = export(store_url, tmp_path / "two")
    assert result.exit_code == 0, result.output
    pids = log.read_text().split()
    assert len(pids) == 14  # every page once
    if turns == "strict":
        assert len(set(pids)) == 2 and pids.count(str(os.getpid())) == 7  # each half of them
    for name in SNAPSHOTS:
        one, two = (pq.ParquetFile(tmp_path / folder / f"{name}.parquet") for folder in ("one", "two"))
        assert one.read().equals(two.read(), check_metadata=True), name
        groups = [[f.metadata.row_group(i).num_rows for i in range(f.metadata.num_row_groups)] for f in (one, two)]
        assert groups[0] == groups[1], name
    assert pq.read_metadata(tmp_path / "two" / "cases.parquet").num_rows == 67
    assert pq.read_metadata(tmp_path / "two" / "responsibility.parquet").num_row_groups > 2
    assert _leftovers(tmp_path / "two") == []


def _failing_in(monkeypatch: pytest.MonkeyPatch, where: str, how: str) -> None:
    """The forked worker's 3rd case (on the second page) or this process's 3rd fails, by raising
    or (``how == "exit"``) by the process ending at once; where this process fails, the worker
    is kept busy meanwhile (20 s on its first case)."""
    import projections.export as export_module

    parent, case = os.getpid(), export_module._Snapshot.case
    seen: list[str] = []

    def failing(self: Any, case_id: str, facts: Any, withdrawals: Any = ()) -> None:
        seen.append(case_id)
        forked = os.getpid() != parent
        if where == "here" and forked and len(seen) == 1:
            time.sleep(20)  # (the worker is still busy when this process fails)
        if (where == "worker" and forked and len(seen) == 3) or (where == "here" and not forked and len(seen) == 3):
            if how == "exit":
                os._exit(3)
            raise RuntimeError(f"judging failed in the {where}")
        case(self, case_id, facts, withdrawals)

    monkeypatch.setattr(export_module._Snapshot, "case", failing)


@pytest.mark.parametrize("where", ["worker", "here"])
def test_a_failed_case_worker_leaves_the_last_export_as_it_was(
    demo: str, tmp_path: Path, small_pages: None, monkeypatch: pytest.MonkeyPatch, where: str,
) -> None:
    import projections.export as export_module

    monkeypatch.setattr(export_module, "PARALLEL_FROM", 10)
    out = tmp_path / "export"
    assert export(demo, out, "--known-at", "2024-04-01T00:00:00+08:00").exit_code == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    _failing_in(monkeypatch, where, "raise")
    _in_strict_turns(monkeypatch)
    workers: list[Any] = []
    worker = export_module._CaseWorker

    def kept(*args: Any) -> Any:
        workers.append(worker(*args))
        return workers[-1]

    monkeypatch.setattr(export_module, "_CaseWorker", kept)
    with pytest.raises(RuntimeError, match=f"judging failed in the {where}"):
        export_module.export_parquet(opened(demo), out, at=datetime.fromisoformat(AT))
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert _leftovers(out) == []
    with pytest.raises(ChildProcessError):  # the worker ended and was waited for
        os.waitpid(workers[0].pid, os.WNOHANG)
    status = workers[0].status
    if where == "here":  # killed, not waited for while it went on
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    else:
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 1


def test_a_case_worker_that_dies_stops_the_export_with_a_message(
    demo: str, tmp_path: Path, small_pages: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import projections.export as export_module

    monkeypatch.setattr(export_module, "PARALLEL_FROM", 10)
    _failing_in(monkeypatch, "worker", "exit")
    _in_strict_turns(monkeypatch)
    out = tmp_path / "export"
    result = export(demo, out)
    assert result.exit_code == 1
    assert "the export's second case worker ended unexpectedly; nothing was written" in result.output
    assert not (out / "manifest.json").exists() and not list(out.glob("*.parquet"))
    assert not list(out.rglob("*.parquet")) and _leftovers(out) == []


def test_a_case_worker_that_dies_holding_the_page_counter_stops_the_export(
    demo: str, tmp_path: Path, small_pages: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import projections.export as export_module

    monkeypatch.setattr(export_module, "PARALLEL_FROM", 10)
    parent, take = os.getpid(), export_module._Turns.take

    def dying(self: Any, check: Any = None) -> int | None:
        if os.getpid() != parent:
            self.counter.get_lock().acquire()
            os._exit(3)
        return take(self, check)

    monkeypatch.setattr(export_module._Turns, "take", dying)

    def stuck(*_: Any) -> None:
        raise TimeoutError("the export waits for a page counter its dead worker holds")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(30)
    try:
        out = tmp_path / "export"
        result = export(demo, out)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert result.exit_code == 1
    assert "the export's second case worker ended unexpectedly; nothing was written" in result.output
    assert not list(out.rglob("*.parquet")) and _leftovers(out) == []


def test_a_workers_rows_come_back_in_order_across_batches_and_are_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import projections.export as export_module

    monkeypatch.setattr(export_module, "ROW_GROUP", 4)
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"n": list(range(10))}), path, row_group_size=3)
    rows = export_module._Rows(path)
    assert [rows.take(k).column("n").to_pylist() for k in (0, 5, 1, 4)] == [[], [0, 1, 2, 3, 4], [5], [6, 7, 8, 9]]
    with pytest.raises(export_module.ExportRefused, match="holds fewer rows than its case worker counted"):
        rows.take(1)


def test_a_batch_appended_during_an_export_waits_for_the_next_one(
    demo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import projections.export as export_module

    events = export_module._export_events
    first = next(e for e in map(json.loads, REGISTER.read_text().splitlines()) if e["type"] == "InquiryReceived")
    late = json.dumps({**first, "id": "late-inquiry", "case": "SHZ-2024-9001"}, ensure_ascii=False)

    def appending_first(*args: Any) -> Any:  # a clerk appends once the export has read the head
        result = invoke(demo, "append", "-", "--actor", "王敏", input=late)
        assert result.exit_code == 0, result.output
        return events(*args)

    monkeypatch.setattr(export_module, "_export_events", appending_first)
    out = tmp_path / "export"
    assert export(demo, out).exit_code == 0
    found = manifest(out)
    assert found["ledger"]["head"]["seq"] == 330 and events_table(out).num_rows == 330
    assert found["snapshot_known_at"] == found["ledger"]["head"]["recorded_at"]
    assert "SHZ-2024-9001" not in pq.read_table(out / "cases.parquet").column("case_id").to_pylist()
    monkeypatch.setattr(export_module, "_export_events", events)
    assert export(demo, out).exit_code == 0
    assert manifest(out)["ledger"]["head"]["seq"] == 331 and events_table(out).num_rows == 331
    assert "SHZ-2024-9001" in pq.read_table(out / "cases.parquet").column("case_id").to_pylist()


def test_the_cover_table_turns_vacant_when_the_stand_in_leaves_too(tmp_path: Path) -> None:
    """A and B away, 赵六 designated; once 赵六 is away as well, nobody stands in (``World.stand_in_at``)."""
    url = f"sqlite:///{tmp_path / 'l.db'}"
    day = "2024-03-{:02d}T{:02d}:00:00+08:00".format
    lines = jsonl(*BASE, {"type": "AbsenceStarted", "id": "a1", "occurred_at": day(5, 9), "staff": "s-a",
                          "reason": "trip", "handover_to": "s-b"},
                  {"type": "AbsenceStarted", "id": "b1", "occurred_at": day(5, 10), "staff": "s-b", "reason": "sick"},
                  {"type": "StandInDesignated", "id": "si", "occurred_at": day(5, 11), "post": "water",
                   "stand_in": "s-c", "by": "s-sup"},
                  {"type": "AbsenceStarted", "id": "c1", "occurred_at": day(6, 9), "staff": "s-c", "reason": "leave"},
                  {"type": "AbsenceEnded", "id": "a2", "occurred_at": day(8, 9), "staff": "s-a"})
    register = tmp_path / "r.jsonl"
    register.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(cli, ["--store", url, "append", str(register)]).exit_code == 0
    out = tmp_path / "export"
    done = runner.invoke(cli, ["--store", url, "export", "parquet", str(out), "--include-pii"])
    assert done.exit_code == 0, done.output
    cover = sorted(((r["basis"], r["acting"], r["valid_from"], r["valid_to"])
                    for r in pq.read_table(out / "cover.parquet").to_pylist()), key=lambda r: r[2])
    hour = [datetime.fromisoformat(day(d, h)) for d, h in ((5, 9), (5, 10), (5, 11), (6, 9), (8, 9))]
    assert cover == [("acting_b", "s-b", hour[0], hour[1]), ("vacant", None, hour[1], hour[2]),
                     ("stand_in", "s-c", hour[2], hour[3]), ("vacant", None, hour[3], hour[4])]


def test_an_instant_in_a_year_the_calendar_does_not_know_leaves_only_the_working_days_empty(
        demo: str, tmp_path: Path) -> None:
    """From 1 January of a year the calendar lacks, a default export (``--at`` now) still says
    which cases are open, overdue and whose they are; only the working days overdue need that year."""
    out = tmp_path / "export"
    at = "2090-01-15T12:00:00+08:00"
    result = CliRunner().invoke(cli, ["--store", demo, "export", "parquet", str(out), "--at", at, "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    cases = pq.read_table(out / "cases.parquet").to_pylist()
    assert cases and all(row["status"] in ("open", "replied") for row in cases)
    still_open = [row for row in cases if row["status"] == "open"]
    assert still_open and all(row["responsible"] and row["handler"] and row["responsible_basis"] for row in still_open)
    assert all("does not know 2027" in row["problem"] for row in still_open if row["overdue"])
    responsibility = {r["case_id"] for r in pq.read_table(out / "responsibility.parquet").to_pylist()}
    assert responsibility == {row["case_id"] for row in cases}
    overdue = pq.read_table(out / "overdue.parquet").to_pylist()
    assert sorted(r["case_id"] for r in overdue) == sorted(row["case_id"] for row in still_open if row["overdue"])
    assert overdue and all(r["working_days_overdue"] is None for r in overdue)
    # The README's first query counts every case, and the overdue table's columns need no quoting.
    counted = _duck(out).execute("SELECT count(*) FROM 'cases.parquet' WHERE status <> 'not_received'").fetchone()
    assert counted == (len(cases),)
    assert len(_duck(out).execute("SELECT case_id, asked_at, due FROM 'overdue.parquet'").fetchall()) == len(overdue)


def test_fresh_replaces_an_export_whose_manifest_cannot_be_read(demo: str, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert export(demo, out, "-q").exit_code == 0
    for broken in ("{bad", "[1]"):
        (out / "manifest.json").write_text(broken, encoding="utf-8")
        refused = export(demo, out, "-q")
        assert refused.exit_code == 1 and "--fresh" in refused.output
        again = export(demo, out, "-q", "--fresh")
        assert again.exit_code == 0, again.output
        assert manifest(out)["events"]["runs"][0]["rows"] == 330


def test_a_folder_that_cannot_be_written_is_an_error_not_a_traceback(demo: str, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    result = export(demo, blocker / "sub", "-q")
    assert result.exit_code == 1
    assert "cannot write the export into" in result.output and "Not a directory" in result.output


def test_a_known_at_before_anything_was_recorded_says_so(demo: str, tmp_path: Path) -> None:
    result = export(demo, tmp_path / "export", "-q", "--known-at", "2020-01-01T00:00:00+08:00")
    assert result.exit_code == 0, result.output
    assert "no event had been recorded by 2020-01-01T00:00:00+08:00 (--known-at)" in result.output
    assert "the ledger holds no events" not in result.output


def _suqian_case(url: str, *lines: dict[str, Any]) -> None:
    reference = REGISTER.read_text(encoding="utf-8").splitlines()[:47]  # the demo's units, staff and posts
    assert invoke(url, "append", "-", input="\n".join(reference) + "\n").exit_code == 0
    if lines:
        assert invoke(url, "append", "-", input="\n".join(jsonl(*lines)) + "\n").exit_code == 0


SQ_RECEIPT = {"id": "t-1", "type": "InquiryReceived", "occurred_at": "2024-06-03T09:00:00+08:00", "case": "T-1",
              "policy": "suqian-finance", "received_by": ["sq-hulan"], "channel": "visit", "matter": "补贴问题",
              "kind": "petition", "post": "sq-xinfang", "requester": {"name": "张三丰", "contact": "13812345678"}}


def test_a_findings_explanation_is_masked_like_the_events_it_quotes(tmp_path: Path) -> None:
    """A piecemeal-notice finding quotes the requested items, which may name the requester."""
    url = f"sqlite:///{tmp_path / 'l.db'}"
    first = {"id": "t-2", "type": "MaterialsRequested", "occurred_at": "2024-06-03T10:00:00+08:00", "case": "T-1",
             "by": "sq-hulan", "items": ["张三丰身份证复印件"]}
    second = {**first, "id": "t-3", "occurred_at": "2024-06-06T10:00:00+08:00",
              "items": ["张三丰的户口本（联系13812345678）", "邻居王五 139-8765-4321 的证明"]}
    _suqian_case(url, SQ_RECEIPT, first, second)
    out = tmp_path / "out"
    assert invoke(url, "export", "parquet", str(out), "--at", "2024-07-30T00:00:00+08:00", "-q").exit_code == 0
    found = [r for r in pq.read_table(out / "findings.parquet").to_pylist() if r["rule"] == "piecemeal_notice"]
    assert found and "[requester]的户口本" in found[0]["explanation_zh"]
    text = "\n".join(all_values(out))
    for secret in ("张三丰", "13812345678", "139-8765-4321"):
        assert secret not in text, secret


def test_requester_data_a_later_correction_adds_is_masked_in_the_events_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    plain = {k: v for k, v in SQ_RECEIPT.items() if k != "requester"}
    _suqian_case(url, {**plain, "matter": "李四来电反映问题，联系邮箱 lisi@example.com"})
    early = tmp_path / "early"
    assert invoke(url, "export", "parquet", str(early), "-q").exit_code == 0  # before the correction
    replacement = {k: v for k, v in plain.items() if k != "id"}
    fix = {"id": "t-9", "type": "Corrected", "occurred_at": "2024-06-10T09:00:00+08:00", "target": "t-1",
           "reason": "补录联系方式", "replacement": {**replacement, "requester": {"name": "李四",
                                                                          "contact": "lisi@example.com"}}}
    assert invoke(url, "append", "-", input=jsonl(fix)[0] + "\n").exit_code == 0
    fresh = tmp_path / "fresh"
    assert invoke(url, "export", "parquet", str(fresh), "-q").exit_code == 0
    text = "\n".join(all_values(fresh))
    assert "李四" not in text and "lisi@example.com" not in text
    assert "[requester]来电反映问题" in text
    # The earlier folder's files name them in clear and cannot be masked now: refused, then --fresh.
    refused = invoke(url, "export", "parquet", str(early), "-q")
    assert refused.exit_code == 1 and "event t-1, exported then" in refused.output and "--fresh" in refused.output
    assert invoke(url, "export", "parquet", str(early), "-q", "--fresh").exit_code == 0
    assert "李四" not in "\n".join(all_values(early))


def test_a_finding_names_the_case_s_retracted_events_in_the_export(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    reply = {"id": "t-9", "type": "Replied", "occurred_at": "2024-06-05T10:00:00+08:00", "case": "T-1",
             "by": "sq-hulan", "outcome": "resolved"}
    retraction = {"id": "t-10", "type": "Retracted", "occurred_at": "2024-06-10T10:00:00+08:00", "target": "t-9",
                  "reason": "答复未送达"}
    _suqian_case(url, SQ_RECEIPT, reply, retraction)
    out = tmp_path / "out"
    assert invoke(url, "export", "parquet", str(out), "--at", "2024-09-30T00:00:00+08:00", "-q").exit_code == 0
    [finding] = pq.read_table(out / "findings.parquet").to_pylist()
    assert finding["case_id"] == "T-1" and finding["withdrawn"] == ["t-9"] and "t-9" not in finding["evidence"]
    retracted = [r for r in events_table(out).to_pylist() if r["event_id"] == "t-10"]
    assert len(retracted) == 1
