"""What every command shares: the opened ledger, the timezone, time options, progress."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from pydantic import ValidationError

from ledger.application import DEFAULT_TZ, Ledger
from ledger.events import parse_instant
from ledger.store import NoLedger, StoreError

F = TypeVar("F", bound=Callable[..., Any])

#: Work over more events than this gets a progress bar on stderr.
PROGRESS_FROM = 5000
#: Register files larger than this get a progress bar on stderr (when it is a terminal).
PROGRESS_FROM_BYTES = 1_000_000


#: The commands that record events, by their names under ``ledger``: only these make a ledger that
#: does not exist yet (the clerk commands are added by ``cli.clerk``).
WRITING: set[tuple[str, ...]] = {("append",), ("policy", "add"), ("calendar", "add")}


def _command_names() -> tuple[str, ...]:
    """The running command's names under ``ledger`` (``("policy", "add")``)."""
    names: list[str] = []
    ctx = click.get_current_context(silent=True)
    while ctx is not None and ctx.parent is not None:
        names.insert(0, ctx.command.name or "")
        ctx = ctx.parent
    return tuple(names)


class State:
    """The store URL and timezone; the ledger is opened on first use."""

    def __init__(self, url: str, tz: str | None):
        self.url = url
        self.asked_tz: ZoneInfo | None = None
        self._ledger: Ledger | None = None
        self.ask_tz(tz)

    def ask_tz(self, tz: str | None) -> None:
        if tz is not None:
            try:
                self.asked_tz = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise click.BadParameter(f"unknown timezone {tz!r}", param_hint="--tz") from None

    @property
    def tz(self) -> ZoneInfo:
        """The store's timezone (fixed when the store was created); where there is no ledger yet
        (a question of it then fails on its own), the one asked for or the default."""
        ledger = self.existing()
        if ledger is None:
            return self.asked_tz or ZoneInfo(DEFAULT_TZ)
        tz = ledger.tz
        assert isinstance(tz, ZoneInfo)
        return tz

    @property
    def ledger(self) -> Ledger:
        """The ledger, opened on first use: made if missing only by a command that records
        something (``WRITING``); a question asked of a store that holds no ledger is an error."""
        if self._ledger is None:
            from projections.readmodels import default_projectors

            try:
                self._ledger = Ledger(self.url, self.asked_tz, projectors=default_projectors(self.asked_tz),
                                      create=_command_names() in WRITING)
            except StoreError as exc:
                raise click.ClickException(str(exc)) from None
        return self._ledger

    def existing(self) -> Ledger | None:
        """The ledger, or None where the store holds none (nothing is made): for the commands that
        show what is built in as well as what the ledger added (``policy list``)."""
        try:
            return self.ledger
        except click.ClickException as exc:
            if isinstance(exc.__context__, NoLedger):
                return None
            raise

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()

    def register_lines(self, path: str) -> Iterator[bytes]:
        """The lines of a register file (``-`` = stdin), read as they are needed; a file of
        more than ``PROGRESS_FROM_BYTES`` gets a progress bar (by bytes read) on stderr."""
        if path == "-":
            yield from sys.stdin.buffer
            return
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < PROGRESS_FROM_BYTES or not sys.stderr.isatty():
                yield from handle
                return
            from rich.console import Console
            from rich.progress import Progress

            with Progress(console=Console(stderr=True), transient=True) as progress:
                task = progress.add_task(f"checking {path}", total=size)
                for i, line in enumerate(handle, start=1):
                    yield line
                    if i % 4096 == 0:
                        progress.update(task, completed=handle.tell())
                progress.update(task, completed=size)


pass_state = click.make_pass_decorator(State)


def _given_after_the_command(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--store`` or ``--tz`` given after the command's name: it replaces the one before it (or
    the environment's). Eager, so that it is in place before any time option is read in the
    store's timezone (reading one opens the store)."""
    state = ctx.find_object(State)
    if value is None or state is None:
        return
    if param.name == "store":
        state.url = value
    else:
        state.ask_tz(value)


def store_options(command: click.Command) -> None:
    """Let a command take ``--store`` and ``--tz`` after its name too (CONTRACT.md: every command
    takes ``--store URL``): ``ledger who C --at T --store URL`` means ``ledger --store URL who ...``."""
    names = {opt for param in command.params for opt in getattr(param, "opts", ())}
    if "--store" not in names:
        command.params.append(click.Option(
            ["--store"], is_eager=True, expose_value=False, callback=_given_after_the_command,
            help="the store, as before the command's name (sqlite:///path.db, postgresql://...; env LEDGER_STORE)"))
    if "--tz" not in names:
        command.params.append(click.Option(
            ["--tz"], is_eager=True, expose_value=False, callback=_given_after_the_command,
            help="timezone of a new store, as before the command's name (env LEDGER_TZ)"))


class InstantType(click.ParamType):
    """An ISO 8601 instant; without an offset it is read in the store's timezone."""

    name = "INSTANT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        tz = ctx.find_object(State).tz if ctx is not None and ctx.find_object(State) else ZoneInfo("Asia/Shanghai")
        try:
            from pydantic import TypeAdapter

            from ledger.events import Instant

            return TypeAdapter(Instant).validate_python(value, context={"tz": tz})
        except ValidationError as exc:
            self.fail(exc.errors()[0]["msg"].removeprefix("Value error, "), param, ctx)


INSTANT = InstantType()


class KnownAtType(InstantType):
    """A ``--known-at``. One later than now (and than the last batch's recorded-at, should the clock
    have gone back since) is answered as the ledger knows it now, with a warning on stderr: what it
    will know then is not known yet, so that answer changes with the next batch, while an answer for
    a past K never does (a committee's minutes should name a past one)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        instant = super().convert(value, param, ctx)
        state = ctx.find_object(State) if ctx is not None else None
        ledger = state.existing() if state is not None else None
        now = datetime.now(UTC)
        last = ledger.last_recorded_at() if ledger is not None else None
        bound = max(now, last) if last is not None else now
        if instant > bound:
            tz = state.tz if state is not None else UTC
            click.echo(f"warning: --known-at {instant.astimezone(tz).isoformat()} is later than now "
                       f"({now.astimezone(tz).isoformat()}): answered as the ledger knows it now; what it will "
                       "know then is not known yet, so this answer can change as batches are recorded (an "
                       "answer for a past --known-at never does)", err=True)
        return instant


KNOWN_AT = KnownAtType()


def instant_option(name: str, required: bool = False, help: str = "") -> Callable[[F], F]:
    kind = KNOWN_AT if name == "--known-at" else INSTANT
    return click.option(name, type=kind, required=required, help=help + " (ISO 8601)")


__all__ = ["INSTANT", "State", "instant_option", "parse_instant", "pass_state", "store_options"]
