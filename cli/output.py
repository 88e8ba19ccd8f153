"""Printing answers: one switch for table (people), JSON (programs) and CSV (spreadsheets)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

import click
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "csv")

#: Tables longer than this are printed as plain aligned text: a boxed table measures and
#: lays out every cell, which took seconds for the thousands of rows of an office's overdue list.
LONG_TABLE = 200


def plain_table(cols: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> str:
    """Columns aligned by display width (a Chinese character takes two), a rule under the header."""
    widths = [cell_len(c) for c in cols]
    for row in rows:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], cell_len(value))

    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (w - cell_len(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [title] if title else []
    out += [line(cols), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in rows]
    out.append(f"({len(rows)} rows)")
    return "\n".join(out)


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _csv_cell(value: Any) -> str:
    """A CSV cell a program reads back: a list or an object as JSON (a list joined with ", " is not
    split back when an item holds ", " itself, and it loses the difference of [] and one empty item)."""
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def emit(
    data: Any,
    fmt: str,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    table: Callable[[Any, Console], None] | None = None,
) -> None:
    """Print ``data`` (a dict or a list of dicts) in the chosen format."""
    if fmt == "json":
        click.echo(to_json(data))
        return
    rows = data if isinstance(data, list) else [data]
    cols = list(columns) if columns else (list(rows[0].keys()) if rows else [])
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(cols)
        for row in rows:
            writer.writerow([_csv_cell(row.get(c)) for c in cols])
        click.echo(buf.getvalue(), nl=False)
        return
    if table is None and len(rows) > LONG_TABLE:
        click.echo(plain_table(cols, [[_cell(row.get(c)) for c in cols] for row in rows], title))
        return
    console = Console(soft_wrap=False, width=max(Console().width, 120))
    if table is not None:
        table(data, console)
        return
    # At least as wide as its title, so that a title ending in an instant is not wrapped inside it.
    grid = Table(title=title, show_lines=False, header_style="bold", min_width=cell_len(title) if title else None)
    for col in cols:
        grid.add_column(col, overflow="fold")
    for row in rows:
        grid.add_row(*[_cell(row.get(c)) for c in cols])
    console.print(grid)
    if not rows:
        console.print("(none)")
