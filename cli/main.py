"""The ``ledger`` command. Thin: parse flags, call ledger/ or projections/, print, exit."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

from cli.ask import register_ask_commands
from cli.clerk import register_clerk_commands
from cli.config import register_config_commands
from cli.context import State, instant_option, pass_state, store_options
from cli.export import register_export_commands
from cli.integrity import register_integrity_commands
from cli.output import FORMATS, emit
from ledger import __version__
from ledger.interchange import InvalidInput
from ledger.store import StoreError

F = TypeVar("F", bound=Callable[..., Any])


def format_option(f: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                        show_default=True, help="table for people, json for programs, csv")(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ledger")
@click.option("--store", envvar="LEDGER_STORE", default="sqlite:///ledger.db", show_default=True,
              help="sqlite:///path.db or postgresql://user@host:5432/db[?schema=s] (env LEDGER_STORE)")
@click.option("--tz", envvar="LEDGER_TZ", default=None,
              help="timezone of a new store (default Asia/Shanghai): times without an offset are read in "
                   "it; an existing store keeps the one it was created with (env LEDGER_TZ)")
@click.pass_context
def cli(ctx: click.Context, store: str, tz: str | None) -> None:
    """Accountability ledger for public-service offices (首问负责制, AB角, 限时办结).

    Clerks append events; committees ask who was responsible at an instant, as the ledger
    knew it at another, and which findings follow under which clause.

    \b
    Example:
      ledger --store sqlite:///office.db append register-2024-03-04.jsonl --actor 王敏
      ledger --store sqlite:///office.db who SHZ-2024-0007 --at 2024-03-08T17:00:00+08:00
    """
    ctx.obj = State(store, tz)
    ctx.call_on_close(ctx.obj.close)


@cli.command()
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False))
@click.option("--actor", help="who is appending (recorded on each event without recorded_by)")
@pass_state
def append(state: State, file: str, actor: str | None) -> None:
    """Append a JSON Lines register: every line, or none.

    Every line is checked (shape, then meaning against what the ledger knows, in file
    order); all errors are reported with line and field, and nothing is written unless
    the whole file is good. Lines whose `id` is already stored with identical content are
    skipped, so appending the same file twice changes nothing.

    \b
    Example:
      ledger append examples/demo-register-2024.jsonl --actor 办公室-王敏
      cat today.jsonl | ledger append - --actor 王敏
    """
    if file != "-":
        try:
            open(file, "rb").close()
        except OSError as exc:
            raise click.ClickException(f"cannot read {file}: {exc.strerror}") from None
    try:
        result = state.ledger.append_lines(state.register_lines(file), actor=actor)
    except InvalidInput as exc:
        for error in exc.errors:
            click.echo(f"{file}: {error}", err=True)
        click.echo(f"{len(exc.errors)} error(s); nothing was written.", err=True)
        sys.exit(1)
    msg = f"appended {result.appended} event(s)"
    if result.appended:
        # In full: it is the batch's K for `--known-at` (cut to seconds, it would fall before the batch).
        when = result.recorded_at.astimezone(state.tz).isoformat()
        msg += f" (sequence {result.first_seq}-{result.last_seq}, recorded at {when})"
    # A repeat of an earlier line of the same file was never in the ledger: said apart, so that
    # the clerk is not told a line was stored before when the register merely holds it twice.
    stored, repeated = result.skipped - result.repeated, result.repeated
    skips = [f"{stored} already in the ledger"] if stored else []
    skips += [f"{repeated} repeating an earlier line of this file"] if repeated else []
    if skips:
        msg += f"; {' and '.join(skips)}, skipped"
    click.echo(msg)


@cli.command()
@click.option("--case", "case", help="only this case's events")
@instant_option("--known-at", help="only what was recorded by then (default: now)")
@format_option
@pass_state
def events(state: State, case: str | None, known_at: datetime | None, fmt: str) -> None:
    """The raw log: each event with sequence, occurred-at, recorded-at and recorder.

    \b
    Example:
      ledger events --case SHZ-2024-0007
      ledger events --known-at 2024-06-30T18:00:00+08:00 --format json
    """
    if case:
        records = sorted(state.ledger.records([f"case:{case}"]), key=lambda r: r.seq)
        if not records:
            raise click.ClickException(f"case {case!r} is not in the ledger")
    else:
        records = list(state.ledger.log())
    rows = [
        {
            "seq": r.seq, "id": r.event_id, "type": r.type, "stream": r.stream,
            "occurred_at": r.content.get("occurred_at"),
            "recorded_at": r.recorded_at.astimezone(state.tz).isoformat(),
            "recorded_by": r.recorded_by,
            "event": r.content,
        }
        for r in records if known_at is None or r.recorded_at <= known_at
    ]
    columns = ["seq", "id", "type", "stream", "occurred_at", "recorded_at", "recorded_by"]
    if fmt != "json":  # (JSON has the whole event under "event"; a table or CSV row shows the rest here)
        for row in rows:
            row["detail"] = {k: v for k, v in row["event"].items() if k not in ("type", "occurred_at")}
        columns.append("detail")
    emit(rows, fmt, columns, title="ledger events")


@cli.command()
@pass_state
def rebuild(state: State) -> None:
    """Drop every read model and rebuild it from the event log.

    \b
    Example:
      ledger rebuild
    """
    top = state.ledger.rebuild()
    click.echo(f"rebuilt the read models from the whole log (up to event {top})")


register_clerk_commands(cli)
register_ask_commands(cli)
register_config_commands(cli)
register_integrity_commands(cli)
register_export_commands(cli)


def _leaves(group: click.Group) -> list[click.Command]:
    out: list[click.Command] = []
    for command in group.commands.values():
        out.extend(_leaves(command) if isinstance(command, click.Group) else [command])
    return out


for _command in _leaves(cli):
    store_options(_command)


def main() -> None:
    try:
        cli(prog_name="ledger")
    except StoreError as exc:  # raised mid-command, e.g. a read-only role appending: no traceback
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
