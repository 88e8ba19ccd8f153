"""Pseudonyms for requesters (服务对象): a keyed hash, stable within one ledger.

Analysts count repeat requesters without learning who they are: the same name and contact
give the same pseudonym (``rq-`` and 16 hex digits of HMAC-SHA256) in every export of one
ledger, and without the ledger's key a pseudonym cannot be reversed or recomputed from a
guessed name or phone number. The key is random, made on the first export and kept in the
ledger's own ``ledger_secrets`` table; it is never written to an export.

Free text (the matter, notes, reasons) is written by clerks and may repeat what the
requester field holds: in a pseudonymised export the requester's own name and contact are
replaced by the pseudonym in the texts of the same event, and anything shaped like a
mainland mobile number is masked everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from ledger.store import Store, Tx

SECRETS_TABLE = "ledger_secrets"
KEY_NAME = "export.pseudonym_key.v1"
#: Requester fields that are personal data (name, phone or address); ``unit`` is an organisation.
PERSONAL_FIELDS = ("name", "contact")
#: A mainland mobile number (11 digits starting 13-19), not part of a longer number, as people
#: write it: with or without +86 / 0086 / 86 before it, in one run or grouped 3-4-4 by spaces or dashes.
MOBILE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")
MASK = "[phone]"

_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {SECRETS_TABLE} ("
    " name TEXT PRIMARY KEY, value TEXT NOT NULL, created_at TEXT NOT NULL)"
)


class KeyUnavailable(Exception):
    """The ledger has no pseudonymisation key yet and this role may not create one."""


def _read_key(tx: Tx) -> bytes | None:
    tx.execute(f"SELECT value FROM {SECRETS_TABLE} WHERE name = ?", (KEY_NAME,))
    row = tx.fetchone()
    return None if row is None else bytes.fromhex(str(row[0]))


def ledger_key(store: Store) -> bytes:
    """The ledger's pseudonymisation key, created (once, atomically) on first use."""
    try:
        with store.read() as tx:
            key = _read_key(tx)
        if key is not None:
            return key
    except Exception:  # the table does not exist yet (driver errors differ by backend)
        pass
    try:
        with store.write() as tx:
            tx.execute(_SCHEMA)
            tx.execute(
                f"INSERT INTO {SECRETS_TABLE} (name, value, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (KEY_NAME, secrets.token_hex(32), datetime.now(UTC).isoformat()),
            )
            key = _read_key(tx)
    except Exception as exc:
        raise KeyUnavailable(
            f"the ledger has no pseudonymisation key yet and it cannot be created here ({exc}); "
            "run the first export as a role that may write to the ledger (its owner or a clerk)"
        ) from exc
    assert key is not None
    return key


def _norm(value: Any) -> str:
    """Fold the ways one value is typed: width (NFKC), case, spaces, dashes."""
    text = unicodedata.normalize("NFKC", str(value or "")).casefold()
    return re.sub(r"[\s\-‐-―()（）]+", "", text)


class Pseudonymiser:
    """Turns requester data into stable pseudonyms, or passes it through (``include_pii``)."""

    def __init__(self, key: bytes, include_pii: bool = False) -> None:
        self._key = key
        self.include_pii = include_pii

    @property
    def key_id(self) -> str:
        """Names the key without revealing it: exports with the same key_id share pseudonyms."""
        return hmac.new(self._key, b"ledger export key id", hashlib.sha256).hexdigest()[:16]

    def requester_key(self, requester: Mapping[str, Any] | None) -> str | None:
        """``rq-`` + 16 hex digits for a requester's name and contact; None without either."""
        if not requester or not any(requester.get(f) for f in PERSONAL_FIELDS):
            return None
        message = "\x1f".join(_norm(requester.get(f)) for f in PERSONAL_FIELDS).encode()
        return "rq-" + hmac.new(self._key, message, hashlib.sha256).hexdigest()[:16]

    def text(self, value: str | None) -> str | None:
        """Free text as it may be exported (mobile numbers masked unless ``include_pii``)."""
        if value is None or self.include_pii:
            return value
        return MOBILE.sub(MASK, value)

    def content(self, content: Mapping[str, Any], also: Iterable[str] = ()) -> dict[str, Any]:
        """An event's content for export: every ``requester`` (also inside a correction's
        ``replacement``) gets its ``key``; name and contact are dropped unless ``include_pii``.
        In its texts, the requester's name and contact are replaced: this event's own, and
        ``also`` (those of the case it belongs to: a reply's note may name the requester)."""
        personal = [str(v) for v in (*requester_values(content), *also) if len(str(v)) >= 2]
        return dict(self._walk(content, sorted(set(personal), key=len, reverse=True)))

    def _walk(self, value: Any, personal: list[str], field: str = "") -> Any:
        # Text first, and a dict before the Mapping ABC: an export walks every value of every
        # event, and most are text (an isinstance against an ABC is several times slower).
        if isinstance(value, str):
            if self.include_pii:
                return value
            for secret in personal:
                if secret in value:
                    value = value.replace(secret, "[requester]")
            return MOBILE.sub(MASK, value)
        if isinstance(value, dict | Mapping):  # (a dict is matched first, without the ABC)
            if field == "requester":
                return self._requester(value)
            return {k: self._walk(v, personal, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, personal, field) for v in value]
        return value

    def _requester(self, requester: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        key = self.requester_key(requester)
        if key is not None:
            out["key"] = key
        for name, value in requester.items():
            if name in PERSONAL_FIELDS and not self.include_pii:
                continue
            out[name] = value if self.include_pii or not isinstance(value, str) else MOBILE.sub(MASK, value)
        return out


def requester_values(content: Mapping[str, Any]) -> list[Any]:
    """The personal values of every requester named in an event (and in its replacement)."""
    out: list[Any] = []
    for holder in (content, content.get("replacement")):
        if isinstance(holder, Mapping):
            requester = holder.get("requester")
            if isinstance(requester, Mapping):
                out += [requester[f] for f in PERSONAL_FIELDS if requester.get(f)]
    return out
