"""The committee's questions: who, findings, overdue, caseload."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from cli.context import State, instant_option, pass_state
from cli.output import FORMATS, emit
from ledger.policy import PolicyError
from projections.calendar import UnknownCalendarYear
from projections.queries import CaseNotFound, Queries, StaffNotFound
from projections.responsibility import CaseNotFoundAt

F = TypeVar("F", bound=Callable[..., Any])

#: Errors that are answers a person can act on, not crashes.
ANSWERABLE = (CaseNotFound, CaseNotFoundAt, StaffNotFound, UnknownCalendarYear, PolicyError)


def fmt_option(f: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                        help="table for people, json for programs, csv")(f)


def known_at_option(f: F) -> F:
    return instant_option("--known-at", help="as the ledger knew it at this instant (default: now)")(f)


def _queries(state: State) -> Queries:
    return Queries(state.ledger)


def _ask(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ANSWERABLE as exc:
        raise click.ClickException(str(exc)) from None


def _now_if_none(instant: datetime | None) -> datetime:
    """"Now" is a parameter: the CLI fills it in."""
    return instant if instant is not None else datetime.now(UTC)


@click.command()
@click.argument("case")
@instant_option("--at", required=True, help="the instant asked about [required]")
@known_at_option
@fmt_option
@pass_state
def who(state: State, case: str, at: datetime, known_at: datetime | None, fmt: str) -> None:
    """Who was responsible for CASE at --at, as the ledger knew it at --known-at.

    Names the primary and secondary responsible person, the basis (holder, acting_b,
    stand_in, supervisor), the clauses that decide it, and a plain explanation.

    \b
    Example:
      ledger who SHZ-2024-0001 --at 2024-04-19T17:00:00+08:00
      ledger who SHZ-2024-0001 --at 2024-04-19T17:00:00+08:00 --known-at 2024-06-30T00:00:00+08:00 --format json
    """
    answer = _ask(lambda: _queries(state).who(case, at, known_at))
    if known_at is None:  # everything recorded so far: say when that was
        answer["known_at"] = datetime.now(UTC).astimezone(state.tz).isoformat()
    if fmt != "table":
        emit(answer if fmt == "json" else [_who_row(answer)], fmt)
        return
    console = Console(width=max(Console().width, 120))
    known = answer["known_at"]
    lines = [f"[bold]{case}[/bold] at {answer['at']} (as known at {known}; policy {answer.get('policy', '')})"]
    for role in ("primary", "secondary"):
        party = answer.get(role)
        if party:
            lines.append(f"{role}: [bold]{party.get('name') or party['staff']}[/bold] ({party['staff']}), "
                         f"basis {party['basis']}")
        else:
            lines.append(f"{role}: none")
    console.print(Panel("\n".join(lines), title="who was responsible"))
    for sentence in answer["explanation"]:
        console.print(f"  • {sentence}")
    console.print("clauses: " + "; ".join(answer["clauses"]))
    if answer.get("evidence"):
        console.print("evidence: " + ", ".join(answer["evidence"]))
    for line in _withdrawn_lines(answer):
        console.print(line)


def _withdrawn_lines(answer: dict[str, Any]) -> list[str]:
    """What the facts leave out, and why (撤回): one line per retracted event of the case."""
    return [f"withdrawn: {w['event']} ({w['type']}, {_short_time(w['occurred_at'])}) by {w['retracted_by']}, "
            f"recorded {_short_time(w['recorded_at'])}: {w['reason']}" for w in answer.get("withdrawn") or []]


def _who_row(answer: dict[str, Any]) -> dict[str, Any]:
    primary, secondary = answer["primary"], answer.get("secondary") or {}
    return {"case": answer["case"], "at": answer["at"], "known_at": answer["known_at"],
            "primary": primary["staff"], "primary_basis": primary["basis"],
            "secondary": secondary.get("staff"), "secondary_basis": secondary.get("basis"),
            "clauses": answer["clauses"], "explanation": answer["explanation"],
            "evidence": answer.get("evidence", []), "withdrawn": answer.get("withdrawn", [])}


@click.command()
@click.option("--case", "case", help="only this case")
@click.option("--staff", help="only the findings naming this staff member (liable, or answerable as a leader)")
@instant_option("--at", help="findings as of this instant (default: now)")
@instant_option("--since", help="only breaches at or after this instant (a year's review: its first day)")
@known_at_option
@fmt_option
@pass_state
def findings(state: State, case: str | None, staff: str | None, at: datetime | None, since: datetime | None,
             known_at: datetime | None, fmt: str) -> None:
    """Liability findings (问责认定): who is liable for what, under which clause, with evidence.

    One breach is one finding, by the first rule that fits (vacancy, no_handover,
    cover_failure, invalid_extension, handler_late); late_transfer and piecemeal_notice
    are findings of their own. Leaders answerable under the pack's leadership tiers are
    listed inside the finding (also_liable); --staff keeps the findings that name that
    person either way.

    \b
    Example:
      ledger findings --at 2024-12-01T00:00:00+08:00
      ledger findings --case SHZ-2024-0001 --at 2024-12-01T00:00:00+08:00 --format json
      ledger findings --staff shz-wangqiang --at 2024-12-01T00:00:00+08:00
      ledger findings --since 2024-07-01T00:00:00+08:00 --at 2024-10-01T00:00:00+08:00
    """
    when = _now_if_none(at).astimezone(state.tz)
    if since is not None and since > when:
        raise click.BadParameter(f"{since.isoformat()} is after --at {when.isoformat()}: no breach by --at "
                                 "can be at or after it", param_hint="--since")
    rows = _ask(lambda: _queries(state).findings(case, when, known_at, staff, since))
    if fmt != "table":
        emit(rows, fmt, ["case", "rule", "liable", "clause", "due", "breached_at", "explanation", "evidence",
                         "also_liable", "withdrawn"])
        return
    console = Console(width=max(Console().width, 120))
    if not rows:
        console.print("no findings")
        return
    # A summary a committee can scan, then each finding's reasoning in full.
    table = Table(title=f"{len(rows)} finding(s) as of {when.isoformat()}", header_style="bold")
    for col in ("#", "case", "rule", "liable", "also liable", "clause", "due", "breached at"):
        table.add_column(col, overflow="fold", no_wrap=col in ("#", "case", "rule", "due", "breached at"))
    for i, f in enumerate(rows, start=1):
        also = ", ".join(f"{a.get('name') or a['staff']} ({a.get('tier_zh') or a['tier']})"
                         for a in f.get("also_liable") or [])
        table.add_row(str(i), f["case"], f["rule"], f"{f.get('liable_name') or ''} ({f['liable']})", also,
                      f["clause"], _short_time(f["due"]), _short_time(f["breached_at"]))
    console.print(table)
    for i, f in enumerate(rows, start=1):
        explanation = f["explanation"]
        parts = [str(v) for v in explanation.values()] if isinstance(explanation, dict) else [str(explanation)]
        body = "\n\n".join(parts) + "\n\nevidence: " + ", ".join(f["evidence"])
        body += "".join("\n" + line for line in _withdrawn_lines(f))
        console.print(Panel(body, title=f"#{i} {f['case']} · {f['rule']} · {f['clause']}", title_align="left"))


def _short_time(value: str | None) -> str:
    """2024-04-19T23:59:59.999000+08:00 -> 2024-04-19 23:59 (the table's width is for people)."""
    return "-" if not value else value[:16].replace("T", " ")


@click.command()
@instant_option("--at", required=True, help="the instant asked about [required]")
@known_at_option
@fmt_option
@pass_state
def overdue(state: State, at: datetime, known_at: datetime | None, fmt: str) -> None:
    """Open cases past their due instant at --at (no reply yet).

    \b
    Example:
      ledger overdue --at 2024-11-29T18:00:00+08:00
    """
    rows = _ask(lambda: _queries(state).overdue(at, known_at))
    emit(rows, fmt, ["case", "due", "responsible", "responsible_name", "working_days_overdue"],
         title=f"overdue at {at.isoformat()}")


@click.command()
@instant_option("--at", required=True, help="the instant asked about [required]")
@click.option("--staff", help="only this staff member")
@known_at_option
@fmt_option
@pass_state
def caseload(state: State, at: datetime, staff: str | None, known_at: datetime | None, fmt: str) -> None:
    """Open cases per primary responsible staff member at --at.

    \b
    Example:
      ledger caseload --at 2024-11-29T18:00:00+08:00
      ledger caseload --at 2024-11-29T18:00:00+08:00 --staff zy-lina --format json
    """
    rows = _ask(lambda: _queries(state).caseload(at, known_at, staff))
    emit(rows, fmt, ["staff", "open_cases"], title=f"caseload at {at.isoformat()}")


def register_ask_commands(group: click.Group) -> None:
    for command in (who, findings, overdue, caseload):
        group.add_command(command)
