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
from functools import cache, cached_property
from typing import Any

import orjson
from pydantic import BaseModel

from ledger.events import EVENT_TYPES, Corrected, EventModel, Retracted

GENESIS = "0" * 64


def canonical(data: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, UTF-8 kept as is.

    orjson writes exactly what ``json.dumps(sort_keys=True, ensure_ascii=False,
    separators=(",", ":"))`` writes for the ledger's data (strings, ints, bools, None, lists,
    dicts), about ten times faster: the hash chain and fingerprints hash these bytes.
    """
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def fingerprint(content: dict[str, Any]) -> str:
    """Identity of an event's content for idempotency (ignores id and recorder)."""
    body = {k: v for k, v in content.items() if k not in ("id", "recorded_by")}
    return hashlib.sha256(canonical(body)).hexdigest()


def stored_content(content: dict[str, Any]) -> tuple[dict[str, Any], bytes, str]:
    """What a record keeps of an event's content (no id, no recorder), its canonical bytes
    and its fingerprint (the hash of those bytes): one serialisation serves both."""
    body = {k: v for k, v in content.items() if k != "id" and k != "recorded_by"}
    # A copy of exactly its size: orjson's result keeps a 4 KB buffer, and a batch holds one
    # per event until it is linked (4 GB for a million lines).
    data = bytes(memoryview(canonical(body)))
    return body, data, hashlib.sha256(data).hexdigest()


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
    head = b'{"event":' + content_bytes
    tail = b"".join((
        b',"id":', orjson.dumps(event_id), b',"prev":"', prev.encode(), b'","recorded_at":"',
        recorded_at.encode(), b'","recorded_by":', orjson.dumps(recorded_by), b',"stream":',
        orjson.dumps(stream), b',"version":', str(version).encode(), b"}",
    ))
    digest = hashlib.sha256(head + tail).hexdigest()
    return digest, b"".join((head, b',"hash":"', digest.encode(), b'"', tail))


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
            data[key] = datetime.fromisoformat(value)
    for key, model in nested:
        value = data.get(key)
        if isinstance(value, dict):
            data[key] = model.model_construct(**value)
    return cls.model_construct(**data)


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


def record_from_state(seq: int, stream: str, version: int, state: bytes | str) -> Record:
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


def correction_event_id(record: Record) -> str:
    return record.event_id


def effective(records: Iterable[Record], tz: tzinfo, known_at: datetime | None = None) -> list[Fact]:
    """The facts of some streams as known at ``known_at``, sorted by occurred-at then seq.

    Only records with ``recorded_at <= known_at`` count; a ``Corrected`` record replaces
    its target's content (keeping the target's id as the fact's id, so evidence stays
    stable), a ``Retracted`` record removes it.
    """
    facts: dict[str, Fact] = {}
    for rec in sorted(records, key=lambda r: r.seq):
        if known_at is not None and rec.recorded_at > known_at:
            continue
        event = rec.event(tz)
        if isinstance(event, Corrected):
            old = facts.get(event.target)
            if old is not None:
                replacement = decode_event(
                    {**event.replacement, "type": old.event.type_name}, tz
                )
                facts[event.target] = Fact(
                    event_id=old.event_id,
                    event=replacement,
                    seq=old.seq,
                    recorded_at=old.recorded_at,
                    corrections=(*old.corrections, rec.event_id),
                )
        elif isinstance(event, Retracted):
            facts.pop(event.target, None)
        else:
            facts[rec.event_id] = Fact(rec.event_id, event, rec.seq, rec.recorded_at)
    return sorted(facts.values(), key=lambda f: (f.occurred_at, f.seq))


def as_of(facts: Sequence[Fact], at: datetime) -> list[Fact]:
    """The facts that had occurred by ``at`` (valid time)."""
    return [f for f in facts if f.occurred_at <= at]
