"""Printing answers: one switch for table (people), JSON (programs) and CSV (spreadsheets)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "csv")


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
            writer.writerow([_cell(row.get(c)) for c in cols])
        click.echo(buf.getvalue(), nl=False)
        return
    console = Console(soft_wrap=False, width=max(Console().width, 120))
    if table is not None:
        table(data, console)
        return
    grid = Table(title=title, show_lines=False, header_style="bold")
    for col in cols:
        grid.add_column(col, overflow="fold")
    for row in rows:
        grid.add_row(*[_cell(row.get(c)) for c in cols])
    console.print(grid)
    if not rows:
        console.print("(none)")
