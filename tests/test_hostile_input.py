"""Hostile input: whatever a file throws at `ledger append`, the answer is a clear error.

Property tests (hypothesis) feed malformed JSON, wrong types, huge strings, odd Unicode,
far-past and far-future times and duplicated ids, each hidden among good lines. Every one
must raise ``InvalidInput`` naming the bad line (and field, where there is one), and the
ledger must be exactly as before (same head digest) and still verify. One ledger per
backend serves the whole module: nothing is ever written to it after the setup.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cli.main import cli
from ledger.application import Ledger
from ledger.integrity import head, verify
from ledger.interchange import MAX_LINE_BYTES, REPEATED_KEY, InvalidInput, LineError, read_lines
from projections.readmodels import default_projectors
from tests.conftest import FakeClock, _drop_schema, postgres_url
from tests.ledger_helpers import BASE, inquiry, jsonl

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None,
                    derandomize=True)
#: Good lines placed around the hostile one: all-or-none means they must not be written either.
BEFORE = json.dumps(inquiry("GOOD-1", id="good-1"), ensure_ascii=False)
AFTER = json.dumps(inquiry("GOOD-2", id="good-2"), ensure_ascii=False)
HANDOFF = {"type": "HandedOff", "id": "ho-new", "occurred_at": "2024-03-04T10:00:00+08:00", "case": "C1",
           "from": "s-a", "to": "s-b", "receipt": True, "note": "交接单已签"}
STAFF = {"type": "StaffRegistered", "id": "st-new", "occurred_at": "2024-03-02T08:00:00+08:00", "staff": "s-new",
         "name": "新同事", "rank": 1, "unit": "repair"}
ABSENCE = {"type": "AbsenceStarted", "id": "ab-new", "occurred_at": "2024-03-05T08:00:00+08:00", "staff": "s-a",
           "reason": "trip", "handover_to": "s-b", "notified": ["s-b"],
           "expected_return": "2024-03-07T17:00:00+08:00"}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'ledger.db'}"
    else:
        url = postgres_url()
    led = Ledger(url, clock=FakeClock(), projectors=default_projectors(None))
    led.append_lines(jsonl(*BASE, inquiry("C1")), actor="setup")
    led.url = url  # type: ignore[attr-defined]
    yield led
    assert verify(led.store).intact
    led.close()
    if request.param == "postgres":
        _drop_schema(url)


def refused(ledger: Ledger, lines: list[str | bytes]) -> list[LineError]:
    """Append ``lines`` expecting InvalidInput; the ledger must be untouched."""
    before = head(ledger.store)
    with pytest.raises(InvalidInput) as info:
        ledger.append_lines(lines, actor="hostile")
    assert head(ledger.store) == before, "a refused batch changed the ledger"
    assert info.value.errors, "InvalidInput without errors"
    return info.value.errors


def refused_at_line_2(ledger: Ledger, line: str | bytes) -> list[LineError]:
    errors = refused(ledger, [BEFORE, line, AFTER])
    assert {e.line for e in errors} == {2}, [str(e) for e in errors]
    return errors


def fields(errors: list[LineError]) -> set[str]:
    return {e.field for e in errors}


# --- malformed JSON ------------------------------------------------------------------


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return bool(text.strip())
    return False


malformed = st.one_of(
    st.text(min_size=1).filter(_not_json),
    st.integers(min_value=1, max_value=len(BEFORE) - 1).map(lambda n: BEFORE[:n]).filter(_not_json),
    st.sampled_from(["{", "}", "[", "{'type': 'InquiryReceived'}", '{"type": "InquiryReceived",}', "NaN{",
                     '{"a":1}{"b":2}', "\ufeff" + BEFORE, "nul\x00l", "[" * 100_000, '{"a": "\\ud800"']),
)


@SETTINGS
@given(line=malformed)
def test_malformed_json_is_refused_with_its_line(ledger: Ledger, line: str) -> None:
    errors = refused_at_line_2(ledger, line)
    assert all(e.field == "" and e.message.startswith("not valid JSON") for e in errors), errors


#: JSON numbers a parser keeps exact (64-bit); larger ones have their own test below.
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
json_scalars = st.one_of(st.none(), st.booleans(), ints, st.floats(allow_nan=False, allow_infinity=False),
                         st.text(max_size=20))


@SETTINGS
@given(value=st.one_of(json_scalars, st.lists(json_scalars, max_size=3)))
def test_json_that_is_not_an_object_is_refused(ledger: Ledger, value: Any) -> None:
    errors = refused_at_line_2(ledger, json.dumps(value))
    assert [e.message.split(",")[0] for e in errors] == ["expected a JSON object"]


@SETTINGS
@given(raw=st.binary(min_size=1, max_size=200).filter(lambda b: not _utf8(b)))
def test_bytes_that_are_not_utf8_are_refused(ledger: Ledger, raw: bytes) -> None:
    errors = refused_at_line_2(ledger, raw.replace(b"\n", b" "))
    assert [e.message.split(" (")[0] for e in errors] == ["not UTF-8 text"]


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- wrong types -----------------------------------------------------------------------

LETTERS = string.ascii_letters + "甲乙丙"
lists = st.lists(ints, min_size=1, max_size=3)
dicts = st.dictionaries(st.text(LETTERS, max_size=3), ints, min_size=1, max_size=2)
#: NaN and infinities are not JSON at all: test_numbers_json_cannot_carry_are_refused has them.
finite = st.floats(allow_nan=False, allow_infinity=False)
WRONG: dict[str, st.SearchStrategy[Any]] = {
    "str": st.one_of(ints, finite, st.booleans(), lists, dicts),
    # Numbers and flags are strict: "2", 2.0, "yes", 0 are of another JSON type, refused, not converted.
    "int": st.one_of(st.text(LETTERS + string.digits, min_size=1), finite, st.booleans(), lists, dicts),
    "bool": st.one_of(ints, finite, st.text(LETTERS + string.digits, min_size=1), lists, dicts),
    "list": st.one_of(ints, st.text(LETTERS, min_size=1), st.booleans(), dicts),
    "object": st.one_of(ints, st.text(LETTERS, min_size=1), st.booleans(), lists),
}
TEMPLATES: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "InquiryReceived": (inquiry("NEW"), {
        "type": "str", "id": "str", "occurred_at": "str", "case": "str", "policy": "str", "received_by": "list",
        "channel": "str", "matter": "str", "kind": "str", "post": "str", "requester": "object",
        "in_remit": "bool"}),
    "HandedOff": (HANDOFF, {"case": "str", "from": "str", "to": "str", "receipt": "bool", "note": "str"}),
    "StaffRegistered": (STAFF, {"staff": "str", "name": "str", "rank": "int", "unit": "str"}),
    "AbsenceStarted": (ABSENCE, {"staff": "str", "reason": "str", "handover_to": "str", "notified": "list",
                                 "expected_return": "str"}),
}
wrong_field = st.sampled_from([(t, f) for t, (_, kinds) in TEMPLATES.items() for f in kinds]).flatmap(
    lambda tf: st.tuples(st.just(tf), WRONG[TEMPLATES[tf[0]][1][tf[1]]])
)


@SETTINGS
@given(case=wrong_field)
@example(case=(("StaffRegistered", "rank"), True))
@example(case=(("StaffRegistered", "rank"), 2.5))
@example(case=(("StaffRegistered", "rank"), "2"))
@example(case=(("StaffRegistered", "rank"), 2.0))
@example(case=(("InquiryReceived", "in_remit"), "no"))
@example(case=(("InquiryReceived", "in_remit"), 0))
@example(case=(("HandedOff", "receipt"), "true"))
@example(case=(("InquiryReceived", "received_by"), "s-a"))
def test_a_value_of_the_wrong_type_is_refused_naming_its_field(ledger: Ledger, case: Any) -> None:
    (type_name, field), value = case
    event = {**TEMPLATES[type_name][0], field: value}
    errors = refused_at_line_2(ledger, json.dumps(event, ensure_ascii=False))
    assert any(e.field.split("[")[0].split(".")[0] == field for e in errors), [str(e) for e in errors]


# --- huge strings -----------------------------------------------------------------------

LIMITS = {"case": 128, "id": 128, "kind": 128, "policy": 128, "post": 128, "matter": 4000}
printable = st.characters(codec="utf-8", categories=["L", "N", "P", "S"])


@SETTINGS
@given(field=st.sampled_from(sorted(LIMITS)), char=printable, extra=st.integers(min_value=1, max_value=5000))
def test_a_string_over_its_limit_is_refused_naming_its_field(ledger: Ledger, field: str, char: str,
                                                            extra: int) -> None:
    event = {**inquiry("NEW"), field: char * (LIMITS[field] + extra)}
    errors = refused_at_line_2(ledger, json.dumps(event, ensure_ascii=False))
    assert field in fields(errors)


@pytest.mark.parametrize("kind", ["str", "bytes"])
def test_a_line_over_a_megabyte_is_refused_without_being_parsed(ledger: Ledger, kind: str) -> None:
    line = json.dumps({**inquiry("NEW"), "matter": "长" * MAX_LINE_BYTES})
    errors = refused_at_line_2(ledger, line if kind == "str" else line.encode())
    assert [str(e) for e in errors] == [f"line 2: line is longer than {MAX_LINE_BYTES} bytes"]


def test_too_many_list_items_and_huge_numbers_are_refused(ledger: Ledger) -> None:
    many = [f"s-{n}" for n in range(21)]
    assert "received_by" in fields(refused_at_line_2(ledger, json.dumps({**inquiry("NEW"), "received_by": many})))
    assert "rank" in fields(refused_at_line_2(ledger, json.dumps({**STAFF, "rank": 10**100})))
    refused_at_line_2(ledger, json.dumps({**STAFF}).replace('"rank": 1', '"rank": 1e400'))  # infinity


# --- odd Unicode ------------------------------------------------------------------------

invisible = st.one_of(
    st.sampled_from(["\x00", "\x1b", "\x7f", "\x85", "\u00a0", "\u200b", "\u200e", "\u202e", "\u2066", "\u2028",
                     "\u3000", "\ufeff", "\U000e0041"]),
    st.characters(categories=["Cc", "Cf", "Zl", "Zp"]),
)
ID_FIELDS = ["id", "case", "policy", "kind", "post"]


@SETTINGS
@given(field=st.sampled_from(ID_FIELDS), char=invisible, at=st.integers(min_value=1, max_value=5))
def test_invisible_or_control_characters_in_ids_are_refused(ledger: Ledger, field: str, char: str, at: int) -> None:
    event = inquiry("NEW")
    value = str(event[field])
    at = min(at, len(value) - 1)  # inside: whitespace at either end would merely be stripped
    event[field] = value[:at] + char + value[at:]
    errors = refused_at_line_2(ledger, json.dumps(event))
    assert field in fields(errors), [str(e) for e in errors]
    assert any(f"U+{ord(char):04X}" in e.message for e in errors if e.field == field)


@SETTINGS
@given(char=st.characters(categories=["Cc"]).filter(lambda c: c not in "\t\n\r"),
       field=st.sampled_from(["matter", "requester.name"]))
def test_control_characters_in_text_are_refused(ledger: Ledger, char: str, field: str) -> None:
    event = inquiry("NEW")
    if field == "matter":
        event["matter"] = f"热水{char}器"
    else:
        event["requester"] = {**event["requester"], "name": f"李{char}同学"}
    errors = refused_at_line_2(ledger, json.dumps(event))
    assert field in fields(errors)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400", "123456789012345678901234567890"])
def test_numbers_json_cannot_carry_are_refused(ledger: Ledger, value: str) -> None:
    refused_at_line_2(ledger, json.dumps(STAFF).replace('"rank": 1', f'"rank": {value}'))


def test_lone_surrogates_are_refused(ledger: Ledger) -> None:
    line = json.dumps({**inquiry("NEW"), "matter": "MARK"}).replace("MARK", "\\ud800x")  # a JSON escape
    assert fields(refused_at_line_2(ledger, line)) <= {"matter", ""}  # by the parser or by the model
    assert fields(refused_at_line_2(ledger, "\ud800".encode("utf-8", "surrogatepass"))) == {""}


def test_emoji_and_right_to_left_text_are_kept_exactly(tmp_path: Path) -> None:
    """Not hostile at all: they are stored byte for byte and the chain verifies."""
    led = Ledger(f"sqlite:///{tmp_path / 'l.db'}", clock=FakeClock(), projectors=default_projectors(None))
    matter = "🔥热水器 \u200fمرحبا\u200e Çà 𠀋"
    led.append_lines(jsonl(*BASE, inquiry("EMOJI-😀", matter=matter)))
    stored = led.records(["case:EMOJI-😀"])[0]
    assert stored.content["matter"] == matter
    assert verify(led.store).intact
    led.close()


# --- times --------------------------------------------------------------------------------

OFFSETS = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-12)), timezone(timedelta(hours=14))]
far = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1999, 12, 31, 23, 59)),
    st.datetimes(min_value=datetime(2100, 1, 2), max_value=datetime(9999, 12, 30)),
)


@SETTINGS
@given(when=far, tz=st.sampled_from([None, *OFFSETS]),
       field=st.sampled_from(["occurred_at", "expected_return"]))
@example(when=datetime(1970, 1, 1), tz=UTC, field="occurred_at")
@example(when=datetime(1, 1, 1), tz=None, field="occurred_at")
@example(when=datetime(9999, 12, 31, 23, 59, 59, 999999), tz=OFFSETS[3], field="occurred_at")
def test_far_past_and_far_future_times_are_refused(ledger: Ledger, when: datetime, tz: Any, field: str) -> None:
    event = {**ABSENCE, field: when.replace(tzinfo=tz).isoformat()}
    errors = refused_at_line_2(ledger, json.dumps(event))
    assert fields(errors) == {field}, [str(e) for e in errors]


@SETTINGS
@given(text=st.sampled_from([
    "2024-02-30T10:00:00+08:00", "2024-03-04T25:00:00+08:00", "2024-03-04T10:00:00+24:00",
    "2024-03-04T23:59:60+08:00", "2024-03-04", "03/04/2024 10:00", "yesterday", "", "2024-13-01T00:00:00Z",
    "+002024-03-04T10:00:00Z", "２０２４-03-04T10:00:00+08:00",
]) | ints | finite)
def test_malformed_times_are_refused(ledger: Ledger, text: Any) -> None:
    assert fields(refused_at_line_2(ledger, json.dumps({**ABSENCE, "occurred_at": text}))) == {"occurred_at"}


@SETTINGS
@given(ahead=st.integers(min_value=3, max_value=365 * 70))
def test_events_from_the_future_are_refused(ledger: Ledger, ahead: int) -> None:
    when = datetime(2024, 12, 1, 9, 0, tzinfo=UTC) + timedelta(days=ahead)  # the ledger's clock: FakeClock
    if when.year >= 2100:
        when = datetime(2099, 12, 31, tzinfo=UTC)
    errors = refused_at_line_2(ledger, json.dumps({**ABSENCE, "occurred_at": when.isoformat()}))
    assert fields(errors) == {"occurred_at"} and "is in the future" in errors[0].message


# --- duplicated ids ---------------------------------------------------------------------

stored_events = st.sampled_from([e for e in BASE if e["type"] == "StaffRegistered"])
names = st.text("甲乙丙丁张王李赵钱孙", min_size=1, max_size=8)


@SETTINGS
@given(event=stored_events, name=names)
def test_a_stored_id_with_different_content_is_refused(ledger: Ledger, event: dict[str, Any], name: str) -> None:
    if name == event["name"]:
        return
    errors = refused_at_line_2(ledger, json.dumps({**event, "name": name}, ensure_ascii=False))
    assert [str(e) for e in errors] == [f"line 2: id: {event['id']!r} is already in the ledger with different content"]


@SETTINGS
@given(name=names)
def test_one_id_twice_in_a_file_with_different_content_is_refused(ledger: Ledger, name: str) -> None:
    first = {**STAFF, "name": "原名"}
    errors = refused(ledger, [json.dumps(first, ensure_ascii=False),
                              json.dumps({**first, "name": name + "改"}, ensure_ascii=False)])
    assert [str(e) for e in errors] == ["line 2: id: 'st-new' is already in line 1 of this file with different content"]


def test_a_stored_id_with_the_same_content_is_skipped_not_stored_twice(ledger: Ledger) -> None:
    before = head(ledger.store)
    result = ledger.append_lines(jsonl(*BASE))
    assert (result.appended, result.skipped) == (0, len(BASE))
    assert head(ledger.store) == before


# --- configuration payloads and corrections -----------------------------------------------

json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(LETTERS, max_size=6), inner, max_size=3), max_leaves=10)


@SETTINGS
@given(pack=st.dictionaries(st.text(LETTERS, max_size=8), json_values, max_size=5))
def test_a_garbage_policy_pack_is_refused(ledger: Ledger, pack: dict[str, Any]) -> None:
    event = {"type": "PolicyAdded", "id": "pol-x", "occurred_at": "2024-03-01T08:00:00+08:00", "policy": "office-x",
             "pack": pack}
    assert {f.split(".")[0].split("[")[0] for f in fields(refused_at_line_2(ledger, json.dumps(event)))} <= {"pack"}


@SETTINGS
@given(replacement=st.dictionaries(st.sampled_from(["type", "rank", "name", "staff", "recorded_at", "id", "zzz"]),
                                   json_values, min_size=1, max_size=4))
def test_a_garbage_correction_is_refused(ledger: Ledger, replacement: dict[str, Any]) -> None:
    # Never valid: a replacement is a whole event, and occurred_at is never among the keys.
    event = {"type": "Corrected", "id": "cor-x", "occurred_at": "2024-03-06T08:00:00+08:00", "target": "st-a",
             "replacement": replacement, "reason": "更正"}
    errors = refused_at_line_2(ledger, json.dumps(event, ensure_ascii=False))
    assert all(e.field.startswith("replacement") for e in errors), [str(e) for e in errors]


# --- a key given twice ---------------------------------------------------------------------


def _repeating(event: dict[str, Any], key: str, first: Any, spacing: str = "") -> str:
    """``event`` as JSON with ``key`` given first as ``first`` and then as the event has it."""
    return "{" + json.dumps(key) + spacing + ":" + json.dumps(first, ensure_ascii=False) + "," + \
        json.dumps(event, ensure_ascii=False)[1:]


@pytest.mark.parametrize("spacing", ["", " ", "\t"])
@pytest.mark.parametrize(("event", "key", "first"), [
    ({"type": "Reminded", "id": "rem-x", "occurred_at": "2024-03-04T11:00:00+08:00", "case": "C1", "by": "s-b"},
     "by", "s-a"),
    ({"type": "Reminded", "id": "rem-x", "occurred_at": "2024-03-04T11:00:00+08:00", "case": "C1", "by": "s-b"},
     "id", "rem-y"),
    (STAFF, "rank", 3),
    (HANDOFF, "to", "s-b"),  # the same value twice is refused too: which one a reader kept is not the point
])
def test_a_key_given_twice_is_refused_naming_it(ledger: Ledger, event: dict[str, Any], key: str, first: Any,
                                                spacing: str) -> None:
    errors = refused_at_line_2(ledger, _repeating(event, key, first, spacing))
    assert [(e.field, e.message) for e in errors] == [(key, REPEATED_KEY)]


def test_a_key_given_twice_inside_an_object_is_refused_naming_its_path(ledger: Ledger) -> None:
    line = json.dumps(inquiry("DUP"), ensure_ascii=False)
    line = line.replace('"name": "李同学"', '"name": "李同学", "name": "王同学"')
    assert [(e.field, e.message) for e in refused_at_line_2(ledger, line)] == [("requester.name", REPEATED_KEY)]
    correction = {"type": "Corrected", "id": "cor-dup", "occurred_at": "2024-03-06T08:00:00+08:00",
                  "target": "st-a", "reason": "更正",
                  "replacement": {**{k: v for k, v in BASE[3].items() if k != "id"}, "rank": 3}}
    line = json.dumps(correction, ensure_ascii=False).replace('"rank": 3', '"rank": 3, "rank": 4')
    assert [(e.field, e.message) for e in refused_at_line_2(ledger, line)] == [("replacement.rank", REPEATED_KEY)]


def test_a_quote_and_colon_inside_text_are_not_taken_for_a_key(ledger: Ledger) -> None:
    # Such text leaves the fast reader's count: the checked reader finds no key given twice.
    for matter in ['他说":"不行', '"热水" 问题', 'a": "b', "备注\":"]:
        event = inquiry(f"Q-{len(matter)}", id=f"in-q-{len(matter)}", matter=matter)
        [(line, errors)] = list(read_lines([json.dumps(event, ensure_ascii=False).encode()], ledger.tz))
        assert not errors and line is not None and line.data["matter"] == matter


# --- through the command line ----------------------------------------------------------


@pytest.fixture(scope="module")
def run(ledger: Ledger) -> Any:
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(cli, ["--store", ledger.url, *args], catch_exceptions=False)  # type: ignore[attr-defined]

    return invoke


def test_the_cli_reports_every_bad_line_and_writes_nothing(ledger: Ledger, run: Any, tmp_path_factory: Any) -> None:
    path = tmp_path_factory.mktemp("cli") / "hostile.jsonl"
    body = b"\r\n".join([
        BEFORE.encode(),                                       # 1 good (CRLF line ends are fine)
        b"{not json",                                          # 2
        b"\xff\xfe garbage",                                   # 3 not UTF-8
        json.dumps({**inquiry("NEW"), "case": "N\u202eEW"}).encode(),  # 4 bidi override in an id
        json.dumps({**STAFF, "rank": True}).encode(),          # 5 a flag for a number
        json.dumps({**ABSENCE, "occurred_at": "9999-12-31T23:59:59Z"}).encode(),  # 6
        json.dumps({**BASE[3], "rank": 9}).encode(),           # 7 stored id, new content
        b"",                                                   # 8 blank: skipped
        AFTER.encode(),                                        # 9 good
        _repeating(STAFF, "unit", "office").encode(),          # 10 a key given twice
    ]) + b"\r\n"
    path.write_bytes(body)
    digest = run("digest").stdout.strip()
    result = run("append", str(path))
    assert result.exit_code == 1
    for line, field in [(2, ""), (3, ""), (4, "case"), (5, "rank"), (6, "occurred_at"), (7, "id"), (10, "unit")]:
        assert f"{path}: line {line}: {field + ': ' if field else ''}" in result.stderr, result.stderr
    assert "line 1:" not in result.stderr and "line 9:" not in result.stderr
    assert "nothing was written" in result.stderr
    assert run("digest").stdout.strip() == digest
    assert run("verify").exit_code == 0


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(lines=st.lists(st.one_of(malformed, st.just(BEFORE)), min_size=1, max_size=4).filter(
    lambda ls: any(_not_json(x) for x in ls)))
def test_the_cli_refuses_any_file_with_a_bad_line(ledger: Ledger, run: Any, lines: list[str]) -> None:
    import tempfile

    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as handle:
        handle.write("\n".join(x.replace("\n", " ").replace("\r", " ") for x in lines).encode("utf-8", "replace"))
    digest = run("digest").stdout.strip()
    result = run("append", handle.name)
    Path(handle.name).unlink()
    assert result.exit_code == 1 and "nothing was written" in result.stderr
    assert run("digest").stdout.strip() == digest


@pytest.mark.parametrize(("type_name", "field", "value", "message"), [
    ("StaffRegistered", "rank", "2", "expected a whole number (a JSON integer), got the string '2'"),
    ("StaffRegistered", "rank", 2.0, "expected a whole number (a JSON integer), got the number 2.0"),
    ("StaffRegistered", "rank", True, "expected a whole number (a JSON integer), got true"),
    ("InquiryReceived", "in_remit", "no", "expected true or false (JSON), got the string 'no'"),
    ("InquiryReceived", "in_remit", 0, "expected true or false (JSON), got the number 0"),
])
def test_a_number_or_flag_of_another_json_type_is_refused_saying_what_was_given(
        ledger: Ledger, type_name: str, field: str, value: Any, message: str) -> None:
    event = {**TEMPLATES[type_name][0], field: value}
    errors = refused_at_line_2(ledger, json.dumps(event, ensure_ascii=False))
    assert [(e.field, e.message) for e in errors] == [(field, message)]
