"""Stored records: an event plus what the ledger adds (ids, both times, recorder, chain link).

A record is immutable. Corrections never change one: ``effective`` replays a stream's
records as known at an instant K and applies the ``Corrected``/``Retracted`` records
recorded by K, giving the facts the rules reason about.
"""

from __future__ import annotations

import hashlib
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import cache, cached_property, lru_cache
from typing import Any, NamedTuple, TypeVar

import orjson
from pydantic import BaseModel

from ledger.events import EVENT_TYPES, EventModel
from ledger.interchange import canonical

GENESIS = "0" * 64
M = TypeVar("M", bound=BaseModel)


def chain_hash(body: dict[str, Any]) -> str:
    """Hash of a record's body (content, both times, recorder, stream position, prev hash)."""
    return hashlib.sha256(canonical(body)).hexdigest()


def link_bytes(stream: str, version: int, event_id: str, recorded_at: str, recorded_by: str,
               content_bytes: bytes, prev: str) -> tuple[str, bytes]:
    """The chain hash and stored bytes of a record whose content is already canonical bytes.

    Exactly ``chain_hash(record_body(...))`` and ``canonical({**record_body(...), "hash": h})``
    (a test holds them equal), without serialising the content again: the body's keys in
    sorted order are event, (hash,) id, prev, recorded_at, recorded_by, stream, version.
    ``recorded_at`` is ISO text and ``prev`` a hex digest, so neither needs escaping.
    """
    dumps = orjson.dumps
    tail = b',"id":%b,"prev":"%b","recorded_at":"%b","recorded_by":%b,"stream":%b,"version":%d}' % (
        dumps(event_id), prev.encode(), recorded_at.encode(), dumps(recorded_by), dumps(stream), version)
    hashing = hashlib.sha256(b'{"event":')
    hashing.update(content_bytes)
    hashing.update(tail)
    digest = hashing.hexdigest()
    return digest, b'{"event":%b,"hash":"%b"%b' % (content_bytes, digest.encode(), tail)


@dataclass(frozen=True)
class Record:
    """One stored event as the ledger keeps it."""

    seq: int  # position in the notification log (global order)
    stream: str
    version: int
    event_id: str
    recorded_at: datetime
    recorded_by: str
    content: dict[str, Any]  # public JSON form of the event, without id/recorded_by
    prev: str
    hash: str

    @property
    def type(self) -> str:
        return str(self.content["type"])

    def body(self) -> dict[str, Any]:
        """What the hash covers."""
        return record_body(self.stream, self.version, self.event_id, self.recorded_at.isoformat(),
                           self.recorded_by, self.content, self.prev)

    def state(self) -> bytes:
        """The stored bytes (the library's ``StoredEvent.state``)."""
        return canonical({**self.body(), "hash": self.hash})

    def event(self, tz: tzinfo) -> EventModel:
        del tz  # stored instants carry their offset
        return self.model

    @cached_property
    def model(self) -> EventModel:
        """The stored event as its model, decoded once per record object (records are immutable)."""
        return decode_event(self.content, UTC)


def record_body(stream: str, version: int, event_id: str, recorded_at: str, recorded_by: str,
                content: dict[str, Any], prev: str) -> dict[str, Any]:
    """The part of a stored record the hash chain covers (``recorded_at`` as ISO text)."""
    return {"stream": stream, "version": version, "id": event_id, "recorded_at": recorded_at,
            "recorded_by": recorded_by, "event": content, "prev": prev}


#: One tzinfo object for each UTC offset the store's instants were read back with. Two aware
#: datetimes holding the same tzinfo object compare on their fields alone; holding two objects
#: of the same offset, every comparison first asks both for their offset, about ten times as
#: slow (measured: a bisect of a few hundred instants 4.0 against 0.26 us). The rules compare
#: instants all the time (sorting a case's facts, bisecting the world's timelines), and
#: ``datetime.fromisoformat`` makes a new tzinfo for every instant it parses (but UTC's).
_ZONES: dict[tzinfo, tzinfo] = {UTC: UTC}


def shared_zone(moment: datetime) -> datetime:
    """The same instant, holding the one tzinfo object of its offset (``_ZONES``): equal to
    ``moment`` in every way (its fields, offset, ``isoformat``) but the identity of its tzinfo."""
    zone = moment.tzinfo
    if zone is None:
        return moment
    shared = _ZONES.setdefault(zone, zone)  # (fixed offsets are equal by offset; a ZoneInfo is its own)
    if shared is zone or shared.tzname(None) != zone.tzname(None):  # (a named offset keeps its name)
        return moment
    return moment.astimezone(shared)


def read_instant(text: str) -> datetime:
    """An instant stored as ISO text with its offset, read back (``shared_zone``)."""
    return shared_zone(datetime.fromisoformat(text))


def decode_event(content: dict[str, Any], tz: tzinfo) -> EventModel:
    """Turn stored content back into its event model.

    Stored content was validated when it was appended and written by ``model_dump``, so it
    is rebuilt without validating again (``model_construct``); only its instants, stored as
    ISO strings with an offset, are parsed. ``tz`` is kept for callers that decode input.
    """
    del tz
    cls = EVENT_TYPES[content["type"]]
    instants, nested = _decoding_plan(cls)
    data = dict(content)
    for key in instants:
        value = data.get(key)
        if isinstance(value, str):
            data[key] = read_instant(value)
    for key, model in nested:
        value = data.get(key)
        if isinstance(value, dict):
            data[key] = construct(model, value)
    return construct(cls, data)


_set = object.__setattr__


def construct(cls: type[M], data: dict[str, Any]) -> M:
    """``cls.model_construct(**data)`` for the ledger's models (no default factories, no extra
    fields kept), several times faster: a question decodes thousands of stored events (a test
    holds the two equal)."""
    aliases, defaults, names = _construct_plan(cls)
    values = dict(defaults)
    given = set()
    for key, value in data.items():
        name = aliases.get(key, key)
        if name in names:
            values[name] = value
            given.add(name)
    model = cls.__new__(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", given)
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


@cache
def _construct_plan(cls: type[BaseModel]) -> tuple[dict[str, str], dict[str, Any], frozenset[str]]:
    """Public name -> field name, the defaults, and the names of a model's fields."""
    fields = cls.model_fields
    aliases = {info.alias: name for name, info in fields.items() if info.alias}
    defaults = {name: info.default for name, info in fields.items() if not info.is_required()}
    if any(info.default_factory is not None for info in fields.values()):
        raise TypeError(f"{cls.__name__} has a default factory: construct() does not call them")
    return aliases, defaults, frozenset(fields)


@cache
def _decoding_plan(cls: type[EventModel]) -> tuple[tuple[str, ...], tuple[tuple[str, type[BaseModel]], ...]]:
    """Which stored keys of an event type are instants, and which are nested models."""
    instants: list[str] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, info in cls.model_fields.items():
        key = info.alias or name
        if name == "recorded_at":
            continue
        if "datetime" in str(info.annotation):
            instants.append(key)
        for arg in (info.annotation, *typing.get_args(info.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                nested.append((key, arg))
    return tuple(instants), tuple(nested)


class Logged(NamedTuple):
    """One record of the notification log as a read model takes it in."""

    seq: int
    stream: str
    type: str
    event_id: str
    content: dict[str, Any]  # the event's content (a correction's holds its target and replacement)
    recorded_at: str  # when the ledger stored it, as UTC ISO text (sorts in time order)


@lru_cache(maxsize=64)
def utc_text(instant: datetime) -> str:
    """An instant as UTC ISO text (a batch shares one recorded-at: worked out once)."""
    return instant.astimezone(UTC).isoformat()


@lru_cache(maxsize=64)
def utc_iso(text: str) -> str:
    """ISO text of an instant, as UTC ISO text (recorded-at is stored in UTC already)."""
    return text if text.endswith("+00:00") else utc_text(datetime.fromisoformat(text))


_HASH_KEY = b',"hash":"'


def content_bytes(state: bytes) -> bytes:
    """The canonical bytes of a stored record's content, as they were appended: a slice of its
    state (canonical JSON, ``{"event":`` first, up to where the record's hash begins)."""
    return state[9:state.rindex(_HASH_KEY)]


#: The content fields a read model may ask for alone (``Projector.content_fields``): every
#: event's content holds each of them at its top level, as a string.
SLICEABLE_FIELDS = frozenset({"occurred_at"})
_SLICE_KEYS = {name: b'"%s":"' % name.encode() for name in SLICEABLE_FIELDS}


def sliced_content(buffer: bytes, fields: frozenset[str], start: int = 0, end: int | None = None
                   ) -> dict[str, Any] | None:
    """Only ``fields`` of a content's canonical bytes (``buffer[start:end]``), read without
    decoding the rest; None when that cannot be done safely (decode it all instead).

    Each field is one that every content holds at its top level as a string
    (``SLICEABLE_FIELDS``), so its key's bytes ``"name":"`` occur at least once. Any other
    occurrence (the same key in a nested object, or the end of a key ending in an escaped
    quote and the name; inside a string value they cannot occur, its quotes being escaped)
    makes a second: found exactly once, they are the top-level field's. Its value ends at the
    next quote unless it holds an escape, which is left to the decoder.
    Equal to decoding the content (a test holds it).
    """
    end = len(buffer) if end is None else end
    out: dict[str, Any] = {}
    for name in fields:
        key = _SLICE_KEYS[name]
        i = buffer.find(key, start, end)
        if i < 0:
            return None
        i += len(key)
        if buffer.find(key, i, end) >= 0:
            return None
        j = buffer.find(b'"', i, end)
        if j < 0 or buffer.find(b"\\", i, j) >= 0:
            return None
        out[name] = buffer[i:j].decode()
    return out


def state_parts(state: bytes, fields: frozenset[str] | None = None) -> tuple[dict[str, Any], str, str]:
    """The content, event id and recorded-at (ISO text) of a stored record, read without
    decoding the chain fields. A record's state is canonical JSON: its keys come in the order
    event, hash, id, prev, recorded_at, ... and ``,"hash":"`` occurs only where the hash begins
    (inside JSON strings a quote is escaped). Equal to ``record_from_state`` (a test holds it).
    With ``fields`` the content holds those fields alone where they can be read on their own
    (``sliced_content``), and all of it where not."""
    at = state.rindex(_HASH_KEY)
    content = None if fields is None else sliced_content(state, fields, 9, at)
    if content is None:
        content = orjson.loads(state[9:at])  # after '{"event":' (``content_bytes``)
    # then: 64 hex digits, '","id":' ID ',"prev":"' 64 hex digits '","recorded_at":"' ISO '"'
    prev = state.index(b',"prev":"', at + 80)
    raw_id = state[at + 80:prev]
    event_id = raw_id[1:-1].decode() if b"\\" not in raw_id else orjson.loads(raw_id)
    start = prev + 90  # ',"prev":"' (9) + 64 + '","recorded_at":"' (17)
    return content, event_id, state[start:state.index(b'"', start)].decode()


def record_from_state(seq: int, stream: str, version: int, state: bytes | str) -> Record:
    try:
        data = orjson.loads(state)
        return Record(
            seq=seq,
            stream=stream,
            version=version,
            event_id=data["id"],
            recorded_at=datetime.fromisoformat(data["recorded_at"]),
            recorded_by=data["recorded_by"],
            content=data["event"],
            prev=data["prev"],
            hash=data["hash"],
        )
    except (ValueError, KeyError, TypeError) as exc:  # only an edited row is not a record the ledger wrote
        raise unreadable(seq, stream, exc) from None


def unreadable(seq: int, stream: str, exc: Exception) -> Exception:
    """The error for a stored row that is not a record the ledger wrote (an edited row)."""
    from ledger.store import StoreError  # (records.py is below the store)

    return StoreError(f"event {seq} ({stream or 'the head'}) cannot be read as a record ({type(exc).__name__}: "
                      f"{exc}): the ledger was altered; `ledger verify` names the first bad event")


def state_bytes(seq: int, stream: str, state: object) -> bytes:
    """A row's state as bytes; a NULL (or any value not bytes) is an edited row."""
    if isinstance(state, bytes):
        return state
    if isinstance(state, (bytearray, memoryview)):
        return bytes(state)
    raise unreadable(seq, stream, TypeError(f"the stored state is {'NULL' if state is None else type(state).__name__}"))


@dataclass(frozen=True)
class Fact:
    """An event as it stands after corrections, with the evidence behind it."""

    event_id: str
    event: EventModel
    seq: int  # sequence of the original record (ties on occurred_at keep log order)
    recorded_at: datetime  # when the original was recorded
    corrections: tuple[str, ...] = field(default=())  # ids of Corrected records applied

    @property
    def occurred_at(self) -> datetime:
        return self.event.occurred_at

    @property
    def evidence(self) -> tuple[str, ...]:
        return (self.event_id, *self.corrections)


@dataclass(frozen=True, slots=True)
class Stated:
    """An event's content as it stands after corrections (``effective_content``)."""

    record: Record  # the original record
    content: dict[str, Any]  # its content, or its latest correction's replacement
    occurred_at: datetime
    corrections: tuple[str, ...]  # ids of Corrected records applied


def effective_content(records: Iterable[Record], known_at: datetime | None = None) -> list[Stated]:
    """The contents of some streams as known at ``known_at``, sorted by occurred-at then seq.

    Only records with ``recorded_at <= known_at`` count; a ``Corrected`` record replaces
    its target's content, a ``Retracted`` record removes it. The one definition of what a
    correction does: the write side's checks and the read side's rules (``effective``) both
    stand on it.
    """
    return _in_order(_replayed(records, known_at)[0])


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """An event a ``Retracted`` record took out of its stream's facts, and why: what a finding
    resting on those facts owes a committee asking about an event it remembers."""

    event_id: str
    type: str
    occurred_at: str  # as the retracted event gave it (ISO text)
    retracted_by: str  # the Retracted record's id
    reason: str
    recorded_at: datetime  # when the retraction was recorded

    def to_json(self) -> dict[str, str]:
        return {"event": self.event_id, "type": self.type, "occurred_at": self.occurred_at,
                "retracted_by": self.retracted_by, "reason": self.reason,
                "recorded_at": self.recorded_at.isoformat()}


def withdrawn(records: Iterable[Record], known_at: datetime | None = None) -> list[Withdrawal]:
    """The events of some streams that ``Retracted`` records recorded by ``known_at`` took out
    of their facts (``effective_content``), in log order."""
    return _replayed(records, known_at)[1]


def _in_order(standing: dict[str, Stated]) -> list[Stated]:
    return sorted(standing.values(), key=lambda f: (f.occurred_at, f.record.seq))


def _replayed(records: Iterable[Record], known_at: datetime | None) -> tuple[dict[str, Stated], list[Withdrawal]]:
    """The facts standing as known at ``known_at``, by id, and what retractions took out."""
    facts: dict[str, Stated] = {}
    gone: list[Withdrawal] = []
    for rec in sorted(records, key=lambda r: r.seq):
        if known_at is not None and rec.recorded_at > known_at:
            continue
        content = rec.content
        kind = content["type"]
        if kind == "Corrected":
            old = facts.get(content["target"])
            if old is not None:
                new = {**content["replacement"], "type": old.content["type"]}
                facts[content["target"]] = Stated(old.record, new, read_instant(new["occurred_at"]),
                                                  (*old.corrections, rec.event_id))
        elif kind == "Retracted":
            taken = facts.pop(content["target"], None)
            if taken is not None:
                gone.append(Withdrawal(content["target"], str(taken.content["type"]),
                                       str(taken.content["occurred_at"]), rec.event_id,
                                       str(content.get("reason", "")), rec.recorded_at))
        else:
            facts[rec.event_id] = Stated(rec, content, read_instant(content["occurred_at"]), ())
    return facts, gone


def effective(records: Iterable[Record], tz: tzinfo, known_at: datetime | None = None) -> list[Fact]:
    """The facts of some streams as known at ``known_at``, sorted by occurred-at then seq.

    A corrected fact keeps its original's id (evidence stays stable) and lists the
    corrections applied (``effective_content``).
    """
    return _facts(effective_content(records, known_at), tz)


def effective_and_withdrawn(records: Iterable[Record], tz: tzinfo, known_at: datetime | None = None
                            ) -> tuple[list[Fact], list[Withdrawal]]:
    """``effective`` and ``withdrawn`` of the same records, from one replay."""
    standing, gone = _replayed(records, known_at)
    return _facts(_in_order(standing), tz), gone


def _facts(stated: Iterable[Stated], tz: tzinfo) -> list[Fact]:
    return [
        Fact(s.record.event_id, s.record.event(tz) if not s.corrections else decode_event(s.content, tz),
             s.record.seq, s.record.recorded_at, s.corrections)
        for s in stated
    ]


def as_of(facts: Sequence[Fact], at: datetime) -> list[Fact]:
    """The facts that had occurred by ``at`` (valid time)."""
    return [f for f in facts if f.occurred_at <= at]
