"""Commands for the ledger's configuration: policy packs and the working-day calendar."""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from cli.context import State, instant_option, pass_state
from cli.output import FORMATS, emit
from ledger.interchange import InvalidInput
from ledger.policy import PolicyCatalogue, PolicyError, PolicyFileError, load_pack_file
from ledger.records import effective
from ledger.schedules import ScheduleFileError, load_schedule_file
from projections.calendar import UnknownCalendarYear, WorkingCalendar
from projections.configuration import calendar_from, catalogue_from

T = TypeVar("T")

fmt_option = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                          help="table for people, json for programs, csv")


def _catalogue(state: State, known_at: datetime | None = None) -> PolicyCatalogue:
    ledger = state.existing()
    if ledger is None:  # (no ledger yet: what the package ships)
        return PolicyCatalogue.builtin()
    return catalogue_from(effective(ledger.records(ledger.streams("policy:")), state.tz, known_at))


def _calendar(state: State, known_at: datetime | None = None) -> WorkingCalendar:
    ledger = state.existing()
    if ledger is None:
        return WorkingCalendar.builtin()
    return calendar_from(effective(ledger.records(ledger.streams("calendar:")), state.tz, known_at))





def _append_config(state: State, payload: dict[str, Any], label: str, source: str, stream: str,
                   replacing: str | None = None, reason: str | None = None) -> None:
    """Record a pack version or calendar year (in ``stream``); with ``replacing``, retract that
    event in the same batch first (checked as one: the cases under a pack keep a version in force
    throughout). Only a version of the same pack, or the same year, is replaced this way."""
    if (replacing is None) != (reason is None):
        raise click.UsageError("--replacing and --reason go together: the event replaced and why")
    if replacing is not None:
        found = state.ledger.locate(replacing)
        if found != stream:
            what = "is not in the ledger" if found is None else f"is an event of {found}, not of {stream}"
            click.echo(f"--replacing: {replacing!r} {what}: --replacing names the version of {stream} this file "
                       "corrects (its event id, from `ledger events`)", err=True)
            click.echo("nothing was written.", err=True)
            sys.exit(1)
    body = {k: v for k, v in payload.items() if k != "occurred_at"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    # The same file added twice is one event; added again after a retraction, a new one.
    with state.ledger.store.read() as tx:
        for n in itertools.count(1):
            payload["id"] = f"{label}#{digest}" + (f"~{n}" if n > 1 else "")
            row = tx.execute("SELECT retracted FROM ledger_ids WHERE id = ?", (payload["id"],)).fetchone()
            if row is None:
                break
            if not row[0] and payload["id"] != replacing:
                click.echo(f"{label} is already in the ledger; nothing written")
                return
    lines = [json.dumps(payload, ensure_ascii=False)]
    if replacing is not None:
        retraction = {"type": "Retracted", "occurred_at": payload["occurred_at"], "target": replacing,
                      "reason": reason}
        lines.insert(0, json.dumps(retraction, ensure_ascii=False))
    try:
        result = state.ledger.append_lines(lines)
    except InvalidInput as exc:
        for error in exc.errors:  # (named as in the file: the event's `pack`/`schedule` is the file)
            if replacing is not None and error.line == 1:
                option = {"target": "--replacing", "reason": "--reason"}.get(error.field, error.field)
                click.echo(f"{option}: {error.message}", err=True)
                continue
            field = error.field.removeprefix("pack.").removeprefix("schedule.")
            click.echo(f"{source}: " + ("" if field in ("pack", "schedule") else f"{field}: ") + error.message,
                       err=True)
        click.echo("nothing was written.", err=True)
        sys.exit(1)
    if result.appended:
        replaced = f", replacing {replacing}" if replacing is not None else ""
        assert result.recorded_at is not None
        when = result.recorded_at.astimezone(state.tz).isoformat()  # (the K before and after it)
        click.echo(f"added {label} (event {result.last_seq}{replaced}, recorded at {when})")
    else:
        click.echo(f"{label} is already in the ledger; nothing written")


def _replacing(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--replacing EVENT --reason TEXT``: the version this file corrects, retracted with it."""
    command = click.option("--reason", help="why the replaced event is retracted (with --replacing)")(command)
    return click.option("--replacing", metavar="EVENT",
                        help="the event id of the version this file corrects (a version of the same pack, or "
                             "the same year): it is retracted in the same batch, so what was judged under it "
                             "never stands without a version")(command)


@click.group()
def policy() -> None:
    """Policy packs: time limits, adopted rules and clause texts, with effective dates."""


@policy.command("list")
@instant_option("--known-at", help="the catalogue as the ledger knew it then")
@fmt_option
@pass_state
def policy_list(state: State, known_at: datetime | None, fmt: str) -> None:
    """Every pack and its versions.

    \b
    Example:
      ledger policy list
    """
    catalogue = _catalogue(state, known_at)
    rows = [
        {"id": v.id, "effective_from": v.effective_from.isoformat(), "title": v.title,
         "kinds": sorted(v.limits), "rules": sorted(v.rules)}
        for pack_id in catalogue.ids() for v in catalogue.versions(pack_id)
    ]
    emit(rows, fmt, ["id", "effective_from", "title", "kinds", "rules"], title="policy packs")


@policy.command("show")
@click.argument("pack_id")
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]),
              help="the version in force on this date (default: latest)")
@instant_option("--known-at", help="the pack's versions as the ledger knew them then (default: now)")
@fmt_option
@pass_state
def policy_show(state: State, pack_id: str, on: datetime | None, known_at: datetime | None, fmt: str) -> None:
    """One pack version: its limits, rules and the clauses it cites (Chinese text and English).

    \b
    Example:
      ledger policy show shihezi-2021
      ledger policy show zhangye-2021 --on 2024-06-01 --format json
    """
    catalogue = _catalogue(state, known_at)
    try:
        versions = catalogue.versions(pack_id)
        pack = catalogue.in_force(pack_id, on.date()) if on else versions[-1]
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    data = pack.as_data()
    if fmt != "table":
        emit(data if fmt == "json" else [
            {"rule": name, "clause": key, "zh": pack.clauses[key].zh, "en": pack.clauses[key].en}
            for name, spec in pack.rules.items() for key in spec.clauses
        ], fmt)
        return
    console = Console(width=max(Console().width, 120))
    console.print(f"[bold]{pack.id}[/bold]  effective {pack.effective_from}  {pack.title}")
    console.print(f"{pack.institution}; source {pack.source}")
    limits = Table(title="time limits (限时)", header_style="bold")
    for col in ("kind", "limit", "days", "counted", "from", "clause"):
        limits.add_column(col)
    for kind, kl in sorted(pack.limits.items()):
        for which in ("transfer", "reply"):
            lim = getattr(kl, which)
            if lim is not None:
                limits.add_row(kind, which, str(lim.days), lim.count, lim.from_, lim.clause)
    console.print(limits if pack.limits else "time limits: none configured (each section sets its own)")
    rules = Table(title="rules adopted, with clauses", header_style="bold", show_lines=True)
    for col in ("rule", "clause", "text (中文 / English)"):
        rules.add_column(col, overflow="fold")
    for name, spec in pack.rules.items():
        for key in spec.clauses:
            clause = pack.clauses[key]
            rules.add_row(name, key, f"{clause.zh}\n{clause.en}")
    console.print(rules)
    if pack.leadership_tiers:
        tiers = pack.leadership_tiers
        console.print(f"leadership tiers: head {tiers.head}; supervisor {tiers.supervisor}")
    if pack.closures:
        console.print("office closures: " + ", ".join(d.isoformat() for d in pack.closures))


@policy.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_replacing
@pass_state
def policy_add(state: State, file: str, replacing: str | None, reason: str | None) -> None:
    """Add an office's own pack version (format: README, Policy packs).

    The file is validated (every bad field reported), resolved against the packs already
    known (`extends`), and recorded as a PolicyAdded event: it takes effect for acts on or
    after its `effective_from`, and "as known at" queries before today do not see it.

    A version is not corrected: a wrong one is replaced, its corrected file added with
    --replacing (the wrong version's event id, from `ledger events`) and --reason, which
    retracts it in the same batch. Versions are added in date order.

    \b
    Example:
      ledger policy add examples/zhangye-sections.json
      ledger policy add fixed.json --replacing 'policy zhangye-2021 effective 2024-01-01#…' --reason 时限有误
    """
    pack, raw = _load(file, load_pack_file, PolicyFileError)
    payload = {"type": "PolicyAdded", "occurred_at": _now(state), "policy": pack.id, "pack": raw}
    _append_config(state, payload, f"policy {pack.id} effective {pack.effective_from}", file, f"policy:{pack.id}",
                   replacing, reason)


@click.group()
def calendar() -> None:
    """The working-day calendar: statutory holidays and make-up workdays (调休)."""


@calendar.command("show")
@click.argument("year", type=int)
@instant_option("--known-at", help="the calendar as the ledger knew it then (default: now)")
@fmt_option
@pass_state
def calendar_show(state: State, year: int, known_at: datetime | None, fmt: str) -> None:
    """A year's holidays, make-up workdays and number of working days.

    \b
    Example:
      ledger calendar show 2024
    """
    cal = _calendar(state, known_at)
    schedule = cal.schedules.get(year)
    if schedule is None:
        raise click.ClickException(str(UnknownCalendarYear(year, cal.known_years())))
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    working = sum(1 for d in range(days) if cal.is_working_day(first + timedelta(days=d)))
    data = {
        "year": year, "source": schedule.source, "working_days": working,
        "holidays": [{"name": h.name, "from": h.from_.isoformat(), "to": h.to.isoformat()} for h in schedule.holidays],
        "workdays": [{"date": w.day.isoformat(), "name": w.name} for w in schedule.workdays],
    }
    if fmt == "json":
        emit(data, fmt)
        return
    rows = [{"date": f"{h['from']} – {h['to']}", "what": f"holiday: {h['name']}"} for h in data["holidays"]]
    rows += [{"date": w["date"], "what": f"make-up workday (调休): {w['name']}"} for w in data["workdays"]]
    rows.sort(key=lambda r: r["date"])
    emit(rows, fmt, ["date", "what"], title=f"{year}: {working} working days; source: {schedule.source}")


@calendar.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_replacing
@pass_state
def calendar_add(state: State, file: str, replacing: str | None, reason: str | None) -> None:
    """Add a year's official schedule (as the State Council publishes it each autumn).

    Format (README, Calendar): {"year": 2027, "source": "国务院办公厅关于2027年部分节假日安排的通知",
    "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"}, ...],
    "workdays": [{"date": "2027-02-07", "name": "春节"}, ...]}. Cases whose clocks ran into
    that year get their answers from then on. A wrong year is replaced with --replacing
    (its event id) and --reason.

    \b
    Example:
      ledger calendar add calendar-2027.json   (the State Council's notice, transcribed)
    """
    schedule, raw = _load(file, load_schedule_file, ScheduleFileError)
    payload = {"type": "CalendarYearAdded", "occurred_at": _now(state), "year": schedule.year, "schedule": raw}
    _append_config(state, payload, f"calendar year {schedule.year}", file, f"calendar:{schedule.year}",
                   replacing, reason)


def _load(file: str, loader: Callable[[str], T], error: type[PolicyFileError | ScheduleFileError]) -> tuple[T, Any]:
    """Validate a configuration file (every bad field reported, exit 1) and return it with its raw data."""
    try:
        loaded = loader(file)
    except error as exc:
        for message in exc.messages:
            click.echo(f"{file}: {message}", err=True)
        click.echo("nothing was written.", err=True)
        sys.exit(1)
    with open(file, encoding="utf-8-sig") as handle:  # (a BOM, as editors on Windows write, is read past)
        return loaded, json.load(handle)


def _now(state: State) -> str:
    return datetime.now(UTC).astimezone(state.tz).isoformat(timespec="seconds")


def register_config_commands(group: click.Group) -> None:
    group.add_command(policy)
    group.add_command(calendar)
