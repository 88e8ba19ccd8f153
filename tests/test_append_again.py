"""Appending a register again, or a register whose beginning is already stored.

A line whose id the ledger holds is skipped (the same content) or refused (other content) on
its id alone, so the clerk's checks read nothing else for it: appending a register again reads
its ids, not its streams. What the other lines are checked against must not change: a register
appended over its own stored beginning gives the same errors, and the same ledger, as the
whole register appended to an empty one (where nothing is read at all).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger.application as application
from bench.generate import generate
from ledger.application import Ledger, _Checker
from ledger.interchange import InvalidInput
from projections.readmodels import default_projectors
from tests.conftest import FakeClock
from tests.ledger_helpers import BASE, inquiry, jsonl

CONFIG = ("policy:", "calendar:")


def streams_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The streams whose stored records the clerk's checks read from now on (the configuration's
    streams, read once per batch, left out)."""
    read: list[str] = []
    original = _Checker._stored_records

    def spy(self: _Checker, streams: Any) -> Any:
        read.extend(s for s in streams if not s.startswith(CONFIG))
        return original(self, streams)

    monkeypatch.setattr(_Checker, "_stored_records", spy)
    return read


@pytest.fixture
def ledger(open_ledger: Any) -> Any:
    led = open_ledger()
    led.append_lines(jsonl(*BASE))
    return led


REPLY = {"type": "Replied", "id": "rep-1", "occurred_at": "2024-03-05T16:00:00+08:00", "case": "C1",
         "by": "s-a", "outcome": "resolved"}
ABSENCE = {"type": "AbsenceStarted", "id": "ab-1", "occurred_at": "2024-03-06T09:00:00+08:00", "staff": "s-a",
           "reason": "trip", "handover_to": "s-b"}


def fix(target: str, replacement: dict[str, Any], event_id: str = "fix-1") -> dict[str, Any]:
    replacement = {k: v for k, v in replacement.items() if k != "id"}
    return {"type": "Corrected", "id": event_id, "occurred_at": "2024-12-01T08:00:00+08:00", "target": target,
            "reason": "登记有误", "replacement": replacement}


def test_appending_a_register_again_reads_its_ids_not_its_streams(ledger: Any, monkeypatch: Any) -> None:
    register = [*BASE, inquiry(), REPLY, inquiry("C2"), ABSENCE]
    ledger.append_lines(jsonl(*register))
    read = streams_read(monkeypatch)
    result = ledger.append_lines(jsonl(*register))
    assert (result.appended, result.skipped) == (0, len(register))
    assert read == []


def test_a_changed_line_among_stored_ones_is_refused_on_its_id_without_reading_its_stream(
    ledger: Any, monkeypatch: Any
) -> None:
    ledger.append_lines(jsonl(inquiry(), REPLY))
    read = streams_read(monkeypatch)
    with pytest.raises(InvalidInput) as info:
        ledger.append_lines(jsonl(inquiry(), {**REPLY, "outcome": "explained_refusal"}))
    assert [str(e) for e in info.value.errors] == [
        "line 2: id: 'rep-1' is already in the ledger with different content"]
    assert read == []


def test_a_new_line_after_stored_ones_is_checked_against_its_stored_stream(ledger: Any, monkeypatch: Any) -> None:
    ledger.append_lines(jsonl(inquiry(), REPLY))
    read = streams_read(monkeypatch)
    late = {"type": "Reminded", "id": "rem-1", "occurred_at": "2024-03-06T09:00:00+08:00", "case": "C1", "by": "s-a"}
    with pytest.raises(InvalidInput) as info:
        ledger.append_lines(jsonl(inquiry(), REPLY, late))
    assert [str(e) for e in info.value.errors] == [
        "line 3: case: case 'C1' was replied at 2024-03-05T16:00:00+08:00 (event rep-1); "
        "a later case event must be a correction (Corrected/Retracted)"]
    assert "case:C1" in read and "staff:s-a" in read


def test_a_correction_of_a_skipped_line_reads_the_stream_of_its_target(ledger: Any, monkeypatch: Any) -> None:
    """The target's id is known from the skipped line, but its stream was not read for it: the
    correction reads it (else the case would be judged from the correction alone)."""
    ledger.append_lines(jsonl(inquiry()))
    read = streams_read(monkeypatch)
    changed = fix("in-C1", {**inquiry(), "matter": "宿舍暖气不热"})
    late = {"type": "Reminded", "id": "rem-1", "occurred_at": "2024-03-06T09:00:00+08:00", "case": "C1", "by": "s-a"}
    assert ledger.append_lines(jsonl(inquiry(), changed)).appended == 1
    assert "case:C1" in read
    assert ledger.append_lines(jsonl(inquiry(), changed, late)).appended == 1
    assert ledger.append_lines(jsonl(inquiry(), changed, late)).skipped == 3


@pytest.mark.parametrize("parallel_from", [1, 10**9], ids=["two processes", "one process"])
def test_a_retraction_of_a_skipped_line_reads_the_stream_of_its_target(
    ledger: Any, monkeypatch: Any, parallel_from: int
) -> None:
    """A retraction names nothing but its target: it alone must bring the target's stream. Else
    the person is judged from the batch alone, and when a later chunk reads the stream from the
    snapshot the clerk checks against (two processes), the retraction is forgotten: the new
    absence below would overlap the retracted one."""
    end = {"type": "AbsenceEnded", "id": "ab-e", "occurred_at": "2024-03-08T09:00:00+08:00", "staff": "s-a"}
    ledger.append_lines(jsonl(ABSENCE, end))
    ledger.parallel_from = parallel_from
    monkeypatch.setattr(application, "CHUNK", 3)  # the new absence comes in a chunk of its own
    read = streams_read(monkeypatch)
    # (the return first: a start retracted before its return would leave the return ending nothing)
    retract_end = {"type": "Retracted", "id": "rt-0", "occurred_at": "2024-03-10T09:00:00+08:00", "target": "ab-e",
                   "reason": "重复登记"}
    retract = {"type": "Retracted", "id": "rt-1", "occurred_at": "2024-03-10T09:00:00+08:00", "target": "ab-1",
               "reason": "重复登记"}
    inside = {**ABSENCE, "id": "ab-3", "occurred_at": "2024-03-07T09:00:00+08:00"}
    until = {**end, "id": "ab-4", "occurred_at": "2024-03-09T09:00:00+08:00"}
    result = ledger.append_lines(jsonl(ABSENCE, retract_end, retract, inside, until))
    assert (result.appended, result.skipped) == (4, 1)
    assert read[:1] == ["staff:s-a"]


# -- the property ---------------------------------------------------------------------------

REGISTER = [json.loads(line) for line in generate(1200, 20, seed=2)]
FIRST_CASE = next(i for i, e in enumerate(REGISTER) if e["type"] == "InquiryReceived")
assert {"Corrected", "Retracted"} <= {e["type"] for e in REGISTER}


def _mutated(register: list[dict[str, Any]], cut: int, where: int, how: str) -> list[dict[str, Any]]:
    """The register with a wrong line, or a correction of a stored line, at ``where`` (after the
    stored beginning, ``cut``); ``none``: as it is."""
    out = [dict(e) for e in register]
    line = out[where]
    stored = [e for e in register[FIRST_CASE:cut] if e["type"] == "InquiryReceived"]
    if how == "unknown case" and "case" in line:
        line["case"] = "no-such-case"
    elif how == "unknown staff" and isinstance(line.get("by"), str):
        line["by"] = "s-nobody"
    elif how == "received again":
        out.insert(where, {**stored[0], "id": "again", "occurred_at": line["occurred_at"]})
    elif how == "correct a stored line":
        out.insert(where, {**fix(stored[-1]["id"], {**stored[-1], "matter": "更正"}, "fix-x"),
                           "occurred_at": line["occurred_at"]})
    elif how == "retract a stored line":  # its case's later lines are then refused
        out.insert(where, {"type": "Retracted", "id": "retract-x", "occurred_at": line["occurred_at"],
                           "target": stored[-1]["id"], "reason": "重复登记"})
    return out


def _outcome(
    url: str, appends: list[list[dict[str, Any]]], parallel_from: int
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The errors of the last append, and every stored record (stream, version, id, content)."""
    ledger = Ledger(url, projectors=default_projectors(None), clock=FakeClock())
    try:
        ledger.parallel_from = parallel_from
        for lines in appends[:-1]:
            ledger.append_lines(jsonl(*lines))
        errors: list[str] = []
        try:
            ledger.append_lines(jsonl(*appends[-1]))
        except InvalidInput as exc:
            errors = [str(e) for e in exc.errors]
        return errors, [(r.stream, r.version, r.event_id, r.content) for r in ledger.log()]
    finally:
        ledger.close()


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(FIRST_CASE + 1, len(REGISTER) - 1), after=st.integers(0, 200),
       how=st.sampled_from(["none", "unknown case", "unknown staff", "received again", "correct a stored line",
                            "retract a stored line"]),
       chunk=st.sampled_from([7, 64, 4096]), parallel_from=st.sampled_from([1, 10**9]))
def test_a_register_over_its_stored_beginning_is_checked_as_it_is_on_an_empty_ledger(
    cut: int, after: int, how: str, chunk: int, parallel_from: int
) -> None:
    where = min(cut + after, len(REGISTER) - 1)
    register = _mutated(REGISTER, cut, where, how)
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as tmp:
        patch.setattr(application, "CHUNK", chunk)
        again = _outcome(f"sqlite:///{Path(tmp) / 'again.db'}", [REGISTER[:cut], register], parallel_from)
        whole = _outcome(f"sqlite:///{Path(tmp) / 'whole.db'}", [register], parallel_from)
    assert again[0] == whole[0]
    if not whole[0]:
        assert again[1] == whole[1]


@pytest.mark.parametrize("parallel_from", [10**9, 1], ids=["one process", "two processes"])
def test_a_line_repeated_in_its_own_file_is_not_said_to_be_in_the_ledger(
    ledger: Any, store_url: str, tmp_path: Path, parallel_from: int
) -> None:
    """The same id with the same content twice in one register: the repeat is skipped like a
    stored line, but the clerk is told it repeats a line of the file, not that it was stored."""
    ledger.parallel_from = parallel_from
    result = ledger.append_lines(jsonl(inquiry("C1"), REPLY, inquiry("C1")))
    assert (result.appended, result.skipped, result.repeated) == (2, 1, 1)

    from click.testing import CliRunner

    from cli.main import cli

    register = tmp_path / "twice.jsonl"
    register.write_text("\n".join(jsonl(BASE[0], inquiry("C2"), inquiry("C2"), BASE[0])) + "\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["--store", store_url, "append", str(register)], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert out.output.startswith("appended 1 event(s) (sequence ")
    assert out.output.rstrip().endswith(
        "; 2 already in the ledger and 1 repeating an earlier line of this file, skipped")
    only = tmp_path / "only-twice.jsonl"
    only.write_text("\n".join(jsonl(inquiry("C3"), inquiry("C3"))) + "\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["--store", store_url, "append", str(only)], catch_exceptions=False)
    assert "already in the ledger" not in out.output
    assert "; 1 repeating an earlier line of this file, skipped" in out.output
