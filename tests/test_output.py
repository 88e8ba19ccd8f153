"""How answers are printed: long tables as plain aligned text, Chinese counted two columns wide."""

from __future__ import annotations

from typing import Any

import click
from click.testing import CliRunner

from cli.output import LONG_TABLE, emit, plain_table


def test_plain_table_aligns_by_display_width() -> None:
    text = plain_table(["case", "name"], [["C1", "唐磊"], ["C22", "Li"]], title="overdue")
    lines = text.splitlines()
    assert lines[0] == "overdue"
    assert lines[1] == "case  name"
    assert lines[2] == "----  ----"
    assert lines[3] == "C1    唐磊"
    assert lines[4] == "C22   Li"
    assert lines[-1] == "(2 rows)"


def _printed(rows: list[dict[str, Any]]) -> str:
    @click.command()
    def show() -> None:
        emit(rows, "table", ["case", "responsible_name"], title="overdue")

    result = CliRunner().invoke(show)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_long_table_is_printed_plain_and_whole() -> None:
    rows = [{"case": f"C{i}", "responsible_name": "唐磊"} for i in range(LONG_TABLE + 1)]
    out = _printed(rows)
    assert "┃" not in out and "│" not in out
    assert f"({LONG_TABLE + 1} rows)" in out
    assert all(f"C{i} " in out for i in range(LONG_TABLE + 1))


def test_a_short_table_keeps_its_box() -> None:
    out = _printed([{"case": "C1", "responsible_name": "唐磊"}])
    assert "┃" in out or "│" in out
    assert "唐磊" in out


def test_a_table_is_at_least_as_wide_as_its_title() -> None:
    """A narrow table under a title ending in an instant: the title stays on one line."""
    title = "caseload at 2024-11-30T18:00:00+08:00"

    @click.command()
    def show() -> None:
        emit([{"staff": "s", "open_cases": ["C1"]}], "table", ["staff", "open_cases"], title=title)

    out = CliRunner().invoke(show).output
    assert title in out.splitlines()[0]
