"""Pseudonyms for requesters (服务对象): a keyed hash, stable within one ledger.

Analysts count repeat requesters without learning who they are: the same name and contact
give the same pseudonym (``rq-`` and 16 hex digits of HMAC-SHA256) in every export of one
ledger, and without the ledger's key a pseudonym cannot be reversed or recomputed from a
guessed name or phone number. The key is random, made on the first export and kept in the
ledger's own ``ledger_secrets`` table; it is never written to an export.

Free text (the matter, notes, reasons) is written by clerks and may repeat what the
requester field holds: in a pseudonymised export the requester's own name and contact are
replaced in the texts of every event of their case (as typed, or retyped in full-width
characters or with other spacing), and anything shaped like a mainland mobile number or a
resident identity card number is masked everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from ledger.store import Store, Tx

SECRETS_TABLE = "ledger_secrets"
KEY_NAME = "export.pseudonym_key.v1"
#: Requester fields that are personal data (name, phone or address); ``unit`` is an organisation.
PERSONAL_FIELDS = ("name", "contact")
#: What people put between the digits of a phone number: spaces, dashes of every width and kind
#: (an input method's full-width 「－」 and 「—」 too), dots, brackets.
_SEPARATORS = "\\s\\-\u2010-\u2015\u2212\uff0d.\uff0e()\uff08\uff09"
_DIGIT = "[0-9\uff10-\uff19]"  # ASCII or full-width
_GAP = f"[{_SEPARATORS}]{{0,2}}"
#: A mainland mobile number (11 digits starting 13-19), not part of a longer number, as people
#: write it: with or without +86 / 0086 / 86 before it, in ASCII or full-width digits, in one run or
#: grouped any way (3-4-4, 4-3-4) by spaces, dashes or dots.
MOBILE = re.compile(f"(?<![0-9\uff10-\uff19+\uff0b])(?:(?:[+\uff0b]|00|\uff10\uff10)?(?:86|\uff18\uff16){_GAP})?"
                    f"[1\uff11]{_GAP}[3-9\uff13-\uff19](?:{_GAP}{_DIGIT}){{9}}(?!{_DIGIT})")
MASK = "[phone]"
REQUESTER_MASK = "[requester]"
#: A resident identity card number (居民身份证号码, GB 11643): 6 digits of region, a birth date
#: (YYYYMMDD, 1900-2099), 3 digits and a check character (a digit or X), not part of a longer
#: number; ASCII or full-width.
_D = "[0-9\uff10-\uff19]"
ID_NUMBER = re.compile(
    f"(?<![0-9\uff10-\uff19])[1-9\uff11-\uff19]{_D}{{5}}(?:[1１][9９]|[2２][0０]){_D}{{2}}"
    f"(?:[0０][1-9\uff11-\uff19]|[1１][0-2\uff10-\uff12])(?:[0０][1-9\uff11-\uff19]|[1-2\uff11\uff12]{_D}|[3３][01０１])"
    f"{_D}{{3}}[0-9Xx\uff10-\uff19\uff38\uff58](?![0-9\uff10-\uff19])")
ID_MASK = "[id-number]"


def _numbers_masked(text: str) -> str:
    """Mobile numbers and identity card numbers masked, whoever's they are."""
    return MOBILE.sub(MASK, ID_NUMBER.sub(ID_MASK, text))

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


def _one_char(c: str) -> str:
    """A pattern for one character of a personal value: ASCII also in its full-width form."""
    o = ord(c)
    return f"[{re.escape(c)}{re.escape(chr(o + 0xFEE0))}]" if 0x21 <= o <= 0x7E else re.escape(c)


def _latin(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _name_pattern(name: str) -> str:
    """A name as a clerk may retype it: Latin words apart however they are spaced (``Li Si``,
    ``LI  SI``); Chinese characters with or without spaces between them (``王小明``, ``王 小明``,
    ``王　小明``). Letters within one Latin word stay together: ``lisi`` is in other words too."""
    out: list[str] = []
    previous, spaced = "", False
    for c in name.strip():
        if c.isspace():
            spaced = True
            continue
        if previous:
            out.append((r"\s+" if spaced else "") if _latin(previous) and _latin(c) else r"\s*")
        out.append(_one_char(c))
        previous, spaced = c, False
    return "".join(out)


@lru_cache(maxsize=4096)
def personal_pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for a requester's name and contact as a clerk may retype them in free text:
    ASCII or full-width, any case; a value with digits (a phone number) with spaces, dashes or
    dots anywhere between them. None when no value is long enough to mask (two characters)."""
    parts = []
    for value in values:
        text = unicodedata.normalize("NFKC", value).strip()
        if any(c.isdigit() for c in text):  # a number: whatever separates its digits
            folded = re.sub(f"[{_SEPARATORS}]+", "", text)
            pattern = f"[{_SEPARATORS}]*".join(_one_char(c) for c in folded)
        else:  # a name: its words apart however they are spaced
            folded = text
            pattern = _name_pattern(text)
        if len(folded) >= 2:
            parts.append(pattern)
    if not parts:
        return None
    return re.compile("|".join(sorted(parts, key=len, reverse=True)), re.IGNORECASE)


_DROPPED = re.compile(f"[{_SEPARATORS}]+")


@lru_cache(maxsize=1 << 16)  # (ids, types and instants come back in event after event)
def _fold(text: str) -> str:
    """Width, case, accents, spaces and separators folded away: where a personal value's pattern
    could match in ``text``, its folded form is a substring of the text's folded form (a combining
    mark after the match, which NFKC would compose into it, is dropped like any other)."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    if not folded.isascii():
        folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _DROPPED.sub("", folded)


class PersonalMatcher:
    """A requester's values to mask in free text. Most texts do not name them, and the pattern
    (``personal_pattern``) costs milliseconds to compile: it is compiled only once a text's folded
    form holds a folded value, and then kept (one per case)."""

    __slots__ = ("_pattern", "needles", "values")

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values
        self.needles = tuple(n for n in (_fold(v) for v in values) if n)
        self._pattern: re.Pattern[str] | bool | None = False  # False: not compiled yet

    def may_name(self, text: str) -> bool:
        """Whether ``text`` may hold one of the values (never False when it does)."""
        if not self.needles:
            return False
        folded = _fold(text)
        return any(n in folded for n in self.needles)

    def sub(self, text: str) -> str:
        if not self.may_name(text):
            return text
        if self._pattern is False:
            self._pattern = personal_pattern(self.values)
        pattern = self._pattern
        return text if not isinstance(pattern, re.Pattern) else pattern.sub(REQUESTER_MASK, text)


@lru_cache(maxsize=4096)
def personal_matcher(values: tuple[str, ...]) -> PersonalMatcher | None:
    """The matcher of a requester's values (None without any)."""
    return PersonalMatcher(values) if values else None


def _norm(value: Any) -> str:
    """Fold the ways one value is typed: width (NFKC), case, spaces, dashes."""
    text = unicodedata.normalize("NFKC", str(value or "")).casefold()
    return re.sub(r"[\s\-‐-―()（）]+", "", text)


#: A telephone number once ``_norm`` has folded it: digits, perhaps a leading +, and dots.
_PHONE = re.compile(r"\+?[0-9][0-9.]*")
#: A mainland number with the country code: a mobile's 11 digits keep their form; any other
#: (area code without its trunk 0, then the local number) is dialled at home with a 0.
_COUNTRY_CODE = re.compile(r"(?:\+86|0086|86(?=1[3-9][0-9]{9}$))([0-9]+)")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def _norm_contact(value: Any) -> str:
    """A contact folded like any value (``_norm``) and, if it is a telephone number, written as
    it is dialled within the mainland: ``+86 138 1726 4405``, ``0086-138-1726-4405`` and
    ``138.1726.4405`` are ``13817264405``; ``+86 10 8888 6666`` is ``01088886666``. Anything
    else (an e-mail address, a number of another country) is left as ``_norm`` gives it."""
    text = _norm(value)
    if not _PHONE.fullmatch(text):
        return text
    digits = text.replace(".", "")
    code = _COUNTRY_CODE.fullmatch(digits)
    if code is None:
        return digits
    number = code.group(1)
    return number if _MOBILE.fullmatch(number) or number.startswith("0") else "0" + number


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
        message = "\x1f".join((_norm_contact if f == "contact" else _norm)(requester.get(f))
                               for f in PERSONAL_FIELDS).encode()
        return "rq-" + hmac.new(self._key, message, hashlib.sha256).hexdigest()[:16]

    def text(self, value: str | None) -> str | None:
        """Free text as it may be exported (mobile and identity card numbers masked unless ``include_pii``)."""
        if value is None or self.include_pii:
            return value
        return _numbers_masked(value)

    def content(self, content: Mapping[str, Any], also: Iterable[str] = ()) -> dict[str, Any]:
        """An event's content for export: every ``requester`` (also inside a correction's
        ``replacement``) gets its ``key``; name and contact are dropped unless ``include_pii``.
        In its texts, the requester's name and contact are replaced: this event's own, and
        ``also`` (those of the case it belongs to: a reply's note may name the requester)."""
        personal = personal_matcher(tuple(sorted({str(v) for v in (*requester_values(content), *also)})))
        return dict(self._walk(content, personal))

    def masked(self, text: str | None, also: Iterable[str] = ()) -> str | None:
        """A sentence written from a case's events (a finding's explanation quotes their items and
        notes), masked as the events' texts are: ``also`` names the case's requester."""
        if text is None or self.include_pii:
            return text
        return str(self._walk(text, personal_matcher(tuple(sorted({str(v) for v in also})))))

    def _walk(self, value: Any, personal: PersonalMatcher | None, field: str = "") -> Any:
        # Text first, and a dict before the Mapping ABC: an export walks every value of every
        # event, and most are text (an isinstance against an ABC is several times slower).
        if isinstance(value, str):
            if self.include_pii:
                return value
            if personal is not None:
                value = personal.sub(value)
            return _numbers_masked(value)
        if isinstance(value, dict | Mapping):  # (a dict is matched first, without the ABC)
            if field == "requester":
                return self._requester(value, personal)
            return {k: self._walk(v, personal, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, personal, field) for v in value]
        return value

    def _requester(self, requester: Mapping[str, Any], personal: PersonalMatcher | None) -> dict[str, Any]:
        """A requester for export: its key; name and contact dropped (unless ``include_pii``); its
        other fields (``unit``) masked like free text: a person registers as 「个体户 王五」 too."""
        out: dict[str, Any] = {}
        key = self.requester_key(requester)
        if key is not None:
            out["key"] = key
        for name, value in requester.items():
            if name in PERSONAL_FIELDS and not self.include_pii:
                continue
            out[name] = value if self.include_pii or not isinstance(value, str) else self._walk(value, personal)
        return out


def requester_values(content: Mapping[str, Any]) -> list[Any]:
    """The personal values of every requester named in an event (and in its replacement)."""
    out: list[Any] = []
    for holder in (content, content.get("replacement")):
        if isinstance(holder, Mapping):
            requester = holder.get("requester")
            if isinstance(requester, Mapping):
                out += [requester[f] for f in PERSONAL_FIELDS if requester.get(f)]
                if requester.get("contact"):
                    out += contact_forms(requester["contact"])
    return out


def contact_forms(contact: Any) -> list[str]:
    """A mainland telephone number's other written forms, to be masked in free text as well:
    as dialled at home and with the country code (``010-8888-6666``, ``+86 10 8888 6666`` and
    ``0086 10 8888 6666`` name one line); none for anything else."""
    home = _norm_contact(contact)
    if _MOBILE.fullmatch(home):
        national = home
    elif home.isdigit() and home.startswith("0") and not home.startswith("00") and len(home) >= 9:
        national = home[1:]
    else:
        return []
    return [home, "+86" + national, "0086" + national]
