"""``ledger export``: Parquet files for analysts (DuckDB, pandas, Spark)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from cli.context import State, instant_option, pass_state
from projections.pseudonyms import KeyUnavailable

if TYPE_CHECKING:
    from projections.export import Progress as ProgressCallback

PII_WARNING = (
    "WARNING: --include-pii writes requesters' names and contact details IN CLEAR into {dir}. "
    "That is personal data: keep the folder where only people entitled to it can read it."
)


@click.group()
def export() -> None:
    """Export the ledger for analysts (Parquet)."""


def _silent(stage: str, done: int, total: int | None) -> None:
    del stage, done, total


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[ProgressCallback]:
    """A rich progress bar on stderr; yields the export's progress callback."""
    if not enabled:
        yield _silent
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            elif total is not None:
                bar.update(tasks[stage], total=total)
            bar.advance(tasks[stage], done)

        yield report
        for task in tasks.values():  # the log may end early (--known-at): show it finished
            bar.update(task, total=bar.tasks[task].completed)


@export.command("parquet")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
@instant_option("--known-at", help="as the ledger knew it at this instant: only events recorded by then "
                                   "(default: everything recorded)")
@instant_option("--at", help="the instant the snapshots (cases, findings, overdue, ...) describe "
                             "(default: --known-at if given, else now)")
@click.option("--include-pii", is_flag=True,
              help="write requesters' names and contacts in clear (default: pseudonymised keys)")
@click.option("--fresh", is_flag=True, help="discard what DIR holds from earlier exports and export everything again")
@click.option("--batch", type=click.IntRange(100, 1_000_000), default=5000, show_default=True,
              help="events read from the log per page")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
@pass_state
def parquet(state: State, directory: str, known_at: datetime | None, at: datetime | None, include_pii: bool,
            fresh: bool, batch: int, quiet: bool) -> None:
    """Write Parquet files for analysts into DIR, adding only what is new.

    DIR gets the raw events (events/month=YYYY-MM/part-FIRST-LAST.parquet, Hive
    partitions by the month the event occurred, in the store's timezone), snapshots of the
    read models (cases, responsibility, absences, cover, findings, overdue, staff) and
    manifest.json, which names the schema version, the ledger head and the log range each
    events file covers. A second export to the same DIR writes only the events recorded
    since; the snapshots are rewritten each time. Timestamps are UTC (timestamp[us, UTC]).

    Requesters' names and contacts are replaced by a keyed pseudonym (requester_key,
    e.g. rq-3f9a0c1d2e4b5a69), the same for the same person in every export of this
    ledger; phone-like numbers in free text are masked. --include-pii writes them in clear.

    \b
    Example:
      ledger export parquet exports/2024
      ledger export parquet exports/h1 --known-at 2024-06-30T18:00:00+08:00
      duckdb -c "SELECT status, count(*) FROM 'exports/2024/cases.parquet' GROUP BY ALL"
    """
    # (imported here: pyarrow takes a tenth of a second to load, which no other command needs)
    from projections.export import ExportRefused, export_parquet

    if include_pii:
        click.echo(PII_WARNING.format(dir=directory), err=True)
    try:
        with _progress_bar(not quiet) as report:
            result = export_parquet(state.ledger, directory, known_at=known_at, at=at, include_pii=include_pii,
                                    fresh=fresh, batch=batch, progress=report)
    except (ExportRefused, KeyUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # a folder that cannot be written (read-only, a file on the way, a full disk)
        raise click.ClickException(f"cannot write the export into {directory}: {exc.strerror or exc}"
                                   + (f" ({exc.filename})" if exc.filename else "")) from None
    manifest = result.manifest
    head = manifest["ledger"]["head"]
    if result.new_events:
        run = manifest["events"]["runs"][-1]
        click.echo(f"exported {result.new_events} new event(s) (seq {run['seq_from']}-{run['seq_to']}) "
                   f"in {len(result.event_files)} file(s)")
    else:
        click.echo("no new events since the last export" if head else "the ledger holds no events" if known_at is None
                   else f"no event had been recorded by {known_at.isoformat()} (--known-at)")
    rows = ", ".join(f"{name} {count}" for name, count in result.snapshot_rows.items())
    click.echo(f"snapshots as of {manifest['at']}: {rows}")
    click.echo(f"manifest: {directory.rstrip('/')}/manifest.json"
               + (f" (head {head['seq']}:{head['hash'][:12]}…)" if head else ""))
    if include_pii:
        click.echo("personal data of requesters is IN CLEAR in this export", err=True)


def register_export_commands(group: click.Group) -> None:
    group.add_command(export)
