"""Commands that check and protect the journal: verify, digest, db roles (issue 5)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from cli.context import PROGRESS_FROM, State, pass_state
from cli.output import FORMATS, emit, to_json
from ledger.integrity import ROLES_ON_SQLITE, Head, RoleError, Verification, grant_roles, head, verify
from ledger.store import StoreError, StoreUrl

fmt_option = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                          help="table for people, json for programs, csv")


class DigestType(click.ParamType):  # type: ignore[type-arg]  # generic only since click 8.2
    """``SEQ:HASH`` as printed by ``ledger digest``."""

    name = "SEQ:HASH"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Head:
        if isinstance(value, Head):
            return value
        try:
            return Head.parse(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress callback that draws a bar on stderr once the ledger is large."""
    bar: Any = None
    task: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if total < PROGRESS_FROM:
            return
        if bar is None:
            from rich.console import Console
            from rich.progress import Progress

            bar = Progress(console=Console(stderr=True), transient=True)
            bar.start()
            task = bar.add_task(label, total=total)
        bar.update(task, completed=done)

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


@click.command("verify")
@click.option("--digest", type=DigestType(), default=None,
              help="a head taken earlier with `ledger digest` (e.g. from a committee's minutes): "
                   "also prove the ledger up to it is unchanged")
@fmt_option
@pass_state
def verify_command(state: State, digest: Head | None, fmt: str) -> None:
    """Re-compute the hash chain over the whole ledger, and check the event-id index against it.

    Every stored event's hash covers its content, both times, the recorder, its place
    (stream and version) and the hash of the event before it. The ledger's index of event
    ids must list each event's id at that event, marked retracted exactly when a Retracted
    event targets it, and nothing else. Exit 0 and the head digest when all of it holds;
    exit 1 naming the first bad event (sequence number, id, what is wrong) otherwise. With
    --digest, the event at SEQ must still have HASH: this catches removed events at the end
    and a history rewritten with freshly computed hashes.

    \b
    Example:
      ledger verify
      ledger verify --format json
      ledger verify --digest "$(cat minutes-2024-06-30.digest)"   # SEQ:HASH from `ledger digest`
    """
    with _progress("verifying the hash chain") as progress:
        result = verify(state.ledger.store, digest=digest, progress=progress)
    _report(result, fmt)
    if not result.intact:
        raise SystemExit(1)


def _report(result: Verification, fmt: str) -> None:
    if fmt == "json":
        click.echo(to_json(result.as_json()))
        return
    if fmt == "csv":
        bad = result.first_bad
        emit([{
            "intact": result.intact, "head_seq": result.head.seq, "head_hash": result.head.hash,
            "checked": result.checked, "bad_seq": bad.seq if bad else None, "bad_id": bad.id if bad else None,
            "problem": bad.problem if bad else None,
        }], "csv")
        return
    if result.first_bad is None:
        click.echo(f"intact: {result.checked} event(s) checked; every hash and every link holds, and so does "
                   "the id index")
        if result.digest is not None:
            click.echo(f"digest {result.digest.seq}:{result.digest.hash[:12]}… matches: the ledger up to "
                       f"event {result.digest.seq} is unchanged")
        click.echo(f"head: {result.head}")
        return
    click.echo(f"NOT INTACT at {result.first_bad}")
    click.echo(f"{result.checked} event(s) before it hold; the stored head is {result.head}")


@click.command("digest")
@fmt_option
@pass_state
def digest_command(state: State, fmt: str) -> None:
    """The head of the hash chain (SEQ:HASH), for a committee to write into its minutes.

    Any later change to an event up to SEQ, or its removal, makes `ledger verify --digest
    SEQ:HASH` fail. Run `ledger verify` first: a digest of a damaged ledger proves nothing.

    \b
    Example:
      ledger digest
      ledger digest > minutes-2024-06-30.digest
    """
    try:
        current = head(state.ledger.store)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "json":
        click.echo(to_json({"head": {"seq": current.seq, "hash": current.hash}, "digest": str(current)}))
        return
    if fmt == "csv":
        emit([{"seq": current.seq, "hash": current.hash}], "csv")
        return
    click.echo(str(current))
    click.echo(f"head of the hash chain after event {current.seq}; check it later with "
               f"`ledger verify --digest {current}`", err=True)


@click.group("db")
def db() -> None:
    """Database administration (PostgreSQL): roles that may append or only read."""


@db.command("roles")
@click.option("--clerk", "clerks", multiple=True, metavar="NAME",
              help="a role that may read and append, never change or delete (repeatable)")
@click.option("--reader", "readers", multiple=True, metavar="NAME",
              help="a role that may only read: a committee or an analyst (repeatable)")
@click.option("--dry-run", is_flag=True, help="print the SQL and change nothing")
@pass_state
def roles(state: State, clerks: tuple[str, ...], readers: tuple[str, ...], dry_run: bool) -> None:
    """Create clerk and reader roles on PostgreSQL and grant them only what they need.

    Run it as the ledger's owner (the role that created it); running it again is safe.
    Clerks get SELECT and INSERT on the events table, never UPDATE, DELETE or TRUNCATE;
    readers get SELECT only. Roles are created with LOGIN and no password: set one with
    ALTER ROLE name PASSWORD '…', or use your server's authentication. Then clerks use
    --store postgresql://CLERK@host/db?schema=… and committees the same with their role.

    \b
    Example:
      export LEDGER_STORE=postgresql://owner@db.office/ledger
      ledger db roles --clerk office_clerk --reader committee --reader analyst
      ledger db roles --clerk office_clerk --dry-run
    """
    if StoreUrl.parse(state.url).dialect != "postgresql":  # (said before a ledger is looked for)
        raise click.ClickException(ROLES_ON_SQLITE)
    try:
        statements = grant_roles(state.ledger.store, clerks, readers, dry_run=dry_run)
    except RoleError as exc:
        raise click.ClickException(str(exc)) from None
    if dry_run:
        for statement in statements:
            click.echo(statement + ";")
        return
    if clerks:
        click.echo(f"clerk role(s) {', '.join(clerks)}: may read and append; UPDATE, DELETE and TRUNCATE "
                   "on the events are refused")
    if readers:
        click.echo(f"reader role(s) {', '.join(readers)}: may only read")


def register_integrity_commands(group: click.Group) -> None:
    group.add_command(verify_command)
    group.add_command(digest_command)
    existing = group.commands.get("db")
    if isinstance(existing, click.Group):
        existing.add_command(roles)
    else:
        group.add_command(db)
