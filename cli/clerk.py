"""Clerk commands for daily single entries, generated from the event models.

Each command's options are the fields of one event model (ledger/events.py): the same
definition that validates JSON Lines. Nothing here lists fields by hand.
"""

from __future__ import annotations

import json
import re
import sys
import types
import typing
from datetime import UTC, datetime
from typing import Any, Literal

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from cli.context import WRITING, State, pass_state
from ledger import events as ev
from ledger.interchange import REPEATED_KEY, InvalidInput, repeated_key
from ledger.records import effective

#: command name -> (event model, example arguments)
CLERK_COMMANDS: dict[str, tuple[type[ev.EventModel], str]] = {
    "open": (ev.InquiryReceived, "--case SHZ-2024-0101 --policy shihezi-2021 --kind general "
             "--received-by s-zhangwei --channel visit --matter 宿舍热水器不出热水 --post p-repair "
             "--requester-name 李同学 --requester-contact 13900000000"),
    "handoff": (ev.HandedOff, "--case SHZ-2024-0101 --from s-zhangwei --to s-lina --receipt"),
    "accept": (ev.HandoffAccepted, "--case SHZ-2024-0101 --by s-lina"),
    "request-materials": (ev.MaterialsRequested,
                          "--case SQ-2024-0003 --by s-wangqiang --items 身份证复印件 --items 申请表"),
    "receive-materials": (ev.MaterialsReceived, "--case SQ-2024-0003 --items 身份证复印件 --items 申请表"),
    "suspend": (ev.ClockSuspended, "--case SD-2024-0002 --reason expert_review"),
    "resume": (ev.ClockResumed, "--case SD-2024-0002"),
    "extend": (ev.DeadlineExtended, "--case SD-2024-0002 --new-due 2024-04-12T17:30:00+08:00 "
               "--approved-by s-leader --notified-at 2024-04-03T10:00:00+08:00 --reason 需现场勘查"),
    "remind": (ev.Reminded, "--case SD-2024-0002 --by s-lina"),
    "reply": (ev.Replied, "--case SHZ-2024-0101 --by s-lina --outcome resolved --note 已更换加热管"),
    "retract": (ev.Retracted, "--target r2024-0042 --reason 重复登记"),
    "designate-stand-in": (ev.StandInDesignated, "--post p-repair --stand-in s-zhaomin --by s-leader"),
}
ABSENCE_COMMANDS: dict[str, tuple[type[ev.EventModel], str]] = {
    "start": (ev.AbsenceStarted, "--staff s-zhangwei --reason trip --handover-to s-lina --notified s-lina"),
    "end": (ev.AbsenceEnded, "--staff s-zhangwei --briefed"),
}
SKIP = {"type", "recorded_at"}
#: A single entry's --id: retried, it is one event only if all of it is the same.
ID_HELP = "sender's idempotency key (a retry repeats every option, --occurred-at too: it defaults to now)"


def _inner(annotation: Any) -> tuple[Any, bool]:
    """The core type of an annotation and whether it is a list."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        return _inner(non_none[0]) if len(non_none) == 1 else (str, False)
    if origin is list:
        return (_inner(args[0])[0], True)
    if origin is typing.Annotated:
        return _inner(args[0])
    return annotation, False


def _options(model: type[BaseModel], prefix: str = "") -> list[tuple[click.Option, str, str | None]]:
    """click options for a model's fields: (option, payload key, nested model key)."""
    out: list[tuple[click.Option, str, str | None]] = []
    for name, info in model.model_fields.items():
        if name in SKIP:
            continue
        key = info.alias or name
        core, is_list = _inner(info.annotation)
        flag = "--" + (prefix + key).replace("_", "-")
        help_text = (info.description or "") + (" [required]" if _required(info, name) else "")
        if key == "id":
            help_text = ID_HELP
        param = (prefix + key).replace("-", "_")
        if isinstance(core, type) and issubclass(core, BaseModel):
            for opt, sub_key, _ in _options(core, prefix=key + "_"):
                out.append((opt, sub_key.removeprefix(key + "_"), key))
            continue
        if core is bool:
            opt = click.Option([f"{flag}/--no-{flag[2:]}", param], default=None, help=help_text)
        elif core is int:
            opt = click.Option([flag, param], type=int, help=help_text)
        else:
            opt = click.Option([flag, param], multiple=is_list, help=help_text)
        out.append((opt, key, None))
    return out


def _required(info: FieldInfo, name: str) -> bool:
    return info.is_required() and name != "occurred_at"


def make_command(name: str, model: type[ev.EventModel], example: str) -> click.Command:
    """A click command that records one event of ``model``."""
    options = _options(model)

    @pass_state
    def callback(state: State, **kwargs: Any) -> None:
        payload: dict[str, Any] = {"type": model.__name__}
        nested: dict[str, dict[str, Any]] = {}
        for opt, key, parent in options:
            value = kwargs.get(opt.name or "")
            if value is None or value == ():
                continue
            value = list(value) if isinstance(value, tuple) else value
            if parent:
                nested.setdefault(parent, {})[key] = value
            else:
                payload[key] = value
        payload.update(nested)
        payload.setdefault("occurred_at", datetime.now(UTC).astimezone(state.tz).isoformat(timespec="seconds"))
        _append_one(state, payload, kwargs.get("actor"))

    params: list[click.Parameter] = [opt for opt, _, _ in options]
    params.append(click.Option(["--actor"], help="who records it"))
    doc = (
        f"Record {model.__name__}: {model.summary}.\n\n"
        "--occurred-at defaults to now. Required options are marked [required].\n\n"
        f"\b\nExample:\n  ledger {name} {example}"
    )
    return click.Command(name, callback=callback, params=params, help=doc, short_help=model.summary)


def _append_one(state: State, payload: dict[str, Any], actor: str | None) -> None:
    line = json.dumps(payload, ensure_ascii=False)
    try:
        result = state.ledger.append_lines([line], actor=actor)
    except InvalidInput as exc:
        for error in exc.errors:  # the field, and the option that sets it (``_options``; ``--set``)
            field_name = re.sub(r"\[\d+\]$", "", error.field)
            if payload["type"] == "Corrected" and field_name.startswith("replacement."):
                option = f"--set {field_name.removeprefix('replacement.')}=..."
            else:
                option = "--" + field_name.replace(".", "_").replace("_", "-")
            named = f"{error.field} ({option})" if error.field and error.field != "replacement" else error.field
            click.echo(f"{payload['type']}: {named}: {error.message}", err=True)
        click.echo("nothing was written.", err=True)
        sys.exit(1)
    if result.appended:
        click.echo(f"recorded {payload['type']} as event {result.first_seq}")
    else:
        click.echo("already in the ledger; nothing written")


@click.command("correct")
@click.option("--occurred-at", help="when the correction was made in the office (ISO 8601; default now); the "
                                    "target's own time is changed with --set occurred_at=...")
@click.option("--id", "event_id", help=ID_HELP)
@click.option("--recorded-by", help="the clerk who recorded it")
@click.option("--target", required=True, help="id of the event to correct")
@click.option("--reason", required=True, help="why")
@click.option("--set", "changes", multiple=True, metavar="FIELD=VALUE",
              help="a field of the target to change, repeatable: text as is, a list as JSON or a,b,c, "
                   "a number or flag as JSON; FIELD.SUB for one field of an object (requester.name)")
@click.option("--actor", help="who records it")
@pass_state
def correct(state: State, occurred_at: str | None, event_id: str | None, recorded_by: str | None, target: str,
            reason: str, changes: tuple[str, ...], actor: str | None) -> None:
    """Correct an earlier event: record a Corrected event with a fixed copy.

    The replacement is the target as the ledger now knows it, with the --set fields
    changed. Nothing is edited: the original stays in the log and `--known-at` still
    shows what was known before the correction.

    \b
    Example:
      ledger correct --target r2024-0042 --set occurred_at=2024-03-05T16:00:00+08:00 --reason 登记时间有误
    """
    stream = state.ledger.locate(target)
    if stream is None:
        raise click.ClickException(f"no event with id {target!r} is in the ledger")
    facts = effective(state.ledger.records([stream]), state.tz)
    fact = next((f for f in facts if f.event_id == target), None)
    if fact is None:
        raise click.ClickException(f"event {target!r} is retracted or is itself a correction")
    replacement = fact.event.content()
    replacement.pop("id", None)
    replacement.pop("recorded_by", None)
    before = json.dumps(replacement, sort_keys=True, ensure_ascii=False)
    model = type(fact.event)
    given: dict[str, str] = {}  # each FIELD (or FIELD.SUB) set -> the --set that set it
    for change in changes:
        key, sep, raw = change.partition("=")
        if not sep:
            raise click.BadParameter(f"{change!r} is not FIELD=VALUE", param_hint="--set")
        _refuse_twice(given, key, change)
        name, dot, sub = key.partition(".")
        if dot:  # one field of an object (the requester's name)
            inner = replacement.get(name)
            replacement[name] = {**(inner if isinstance(inner, dict) else {}), sub: _value(model, key, raw)}
        else:
            replacement[key] = _value(model, key, raw)
    repeated = event_id is not None and state.ledger.locate(event_id) is not None  # (the ledger compares)
    if not repeated and json.dumps(replacement, sort_keys=True, ensure_ascii=False) == before:
        raise click.ClickException(f"nothing to correct: the --set values are what {target!r} already says"
                                   if changes else "nothing to correct: give the fields to change with --set")
    payload: dict[str, Any] = {
        "type": "Corrected", "target": target, "replacement": replacement, "reason": reason,
        "occurred_at": occurred_at or datetime.now(UTC).astimezone(state.tz).isoformat(timespec="seconds"),
    }
    payload.update({k: v for k, v in (("id", event_id), ("recorded_by", recorded_by)) if v is not None})
    _append_one(state, payload, actor)


def _refuse_twice(given: dict[str, str], key: str, change: str) -> None:
    """A field set twice (``FIELD`` or ``FIELD.SUB``), or an object set whole and by one of its
    fields, is refused: the last would win without a word. Record ``key`` as set by ``change``."""
    name, dot, _ = key.partition(".")
    earlier = given.get(key)
    if earlier is not None:
        raise click.BadParameter(f"{key} is given more than once ({earlier!r}, then {change!r}): "
                                 "set each field once", param_hint="--set")
    whole = given.get(name) if dot else next((c for k, c in given.items() if k.startswith(name + ".")), None)
    if whole is not None:
        raise click.BadParameter(f"{name} is given both whole and by one of its fields ({whole!r}, then "
                                 f"{change!r}): set the whole object, or its fields one by one", param_hint="--set")
    given[key] = change


def _value(model: type[ev.EventModel], key: str, raw: str) -> Any:
    """A --set VALUE read as the field takes it: text as given (also digits), a list as JSON or
    comma-separated, anything else (numbers, flags, objects) as JSON, else as text (for the
    model's own message). ``key`` may be ``field.sub`` (a field of an object field)."""
    name, _, sub = key.partition(".")
    fields = {info.alias or n: info for n, info in model.model_fields.items()}
    info = fields.get(name)
    core, is_list = _inner(info.annotation) if info is not None else (None, False)
    if sub and isinstance(core, type) and issubclass(core, BaseModel):
        inner = {i.alias or n: i for n, i in core.model_fields.items()}.get(sub)
        core, is_list = _inner(inner.annotation) if inner is not None else (None, False)
    try:
        given = json.loads(raw)
    except json.JSONDecodeError:
        given = raw
    if (repeated := repeated_key(raw)) is not None:  # JSON would keep the last without a word
        raise click.BadParameter(f"{key}={raw}: {repeated or 'the value'}: {REPEATED_KEY}", param_hint="--set")
    if is_list:
        return given if isinstance(given, list) else [item.strip() for item in raw.split(",") if item.strip()]
    if core is str or (isinstance(core, type) and issubclass(core, str)) or typing.get_origin(core) is Literal:
        return given if isinstance(given, str) else raw
    return given


def register_clerk_commands(group: click.Group) -> None:
    for name, (model, example) in CLERK_COMMANDS.items():
        group.add_command(make_command(name, model, example))
    absence = click.Group("absence", help="Record a staff member leaving the post (离岗) and returning.")
    for name, (model, example) in ABSENCE_COMMANDS.items():
        absence.add_command(make_command(name, model, example.replace("--staff", "--staff", 1)))
    for command in absence.commands.values():
        command.help = (command.help or "").replace("ledger start", "ledger absence start").replace(
            "ledger end", "ledger absence end")
    group.add_command(absence)
    group.add_command(correct)
    WRITING.update({(name,) for name in CLERK_COMMANDS} | {("absence", name) for name in ABSENCE_COMMANDS}
                   | {("correct",)})
