"""Policy packs: an institution's time limits, adopted rules and clause texts, as dated data.

Each version of a pack is one JSON file (OpenFisca style: code never hard-codes a legal
number). The built-in packs live in ``ledger/policies/``; an office adds its own with
``ledger policy add FILE`` in the same format (README: Policy packs). A case is judged by
the version in force when the judged act happened (:meth:`PolicyCatalogue.in_force`).

A pack version may ``extends`` another pack: what it leaves out is taken from the version of
that pack in force at its ``effective_from``, and its ``limits``, ``rules`` and ``clauses``
are merged key by key over the base. So an office adds a time limit to ``zhangye-2021``
with a small file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from ledger.schedules import IsoDate, json_object, validation_messages

#: Who is responsible (DOMAIN.md: "Who is responsible for a case at instant T").
RESPONSIBILITY_RULES: tuple[str, ...] = ("first_inquiry", "rank_rule", "ab_cover", "stand_in")
#: How a case's clock runs (DOMAIN.md: "Clocks" and "Not violations").
CLOCK_RULES: tuple[str, ...] = (
    "suspension", "extension", "reminders", "restart_on_supplements", "explained_refusal",
)
#: What a finding can be (DOMAIN.md: "Liability rules"; CONTRACT.md ``findings.rule``).
FINDING_RULES: tuple[str, ...] = (
    "no_handover", "cover_failure", "late_transfer", "handler_late",
    "invalid_extension", "piecemeal_notice", "vacancy",
)
RULE_NAMES: frozenset[str] = frozenset(RESPONSIBILITY_RULES + CLOCK_RULES + FINDING_RULES)

_ID = re.compile(r"^[^\s\x00-\x1f\x7f]{1,128}$")


def _identifier(value: Any) -> Any:
    if isinstance(value, str) and not _ID.match(value):
        raise ValueError(f"must be 1-128 characters without spaces, like zhangye-2021; "
                         f"got {value!r}")
    return value


PackId = Annotated[str, AfterValidator(_identifier)]
"""A pack id: 1-128 characters, no spaces (e.g. ``zhangye-2021``)."""
KindName = Annotated[str, AfterValidator(_identifier)]
"""A kind of matter (selects the limit), e.g. ``petition``."""
Citation = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
"""A citation key into the pack's ``clauses``, e.g. ``000 首问 art. 5(5)``."""
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


#: The longest limit a pack may set: a year of calendar days (no regulation shipped sets more than 30).
MAX_LIMIT_DAYS = 366


def _strict_positive_int(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        got = json.dumps(value, ensure_ascii=False)
        raise ValueError(f"must be a whole number of days, like 5; got {got}")
    if value > MAX_LIMIT_DAYS:
        raise ValueError(f"must be at most {MAX_LIMIT_DAYS} days; got {value}")
    return value


class Limit(BaseModel):
    """A time limit (时限): ``days`` working or calendar days counted from receipt or acceptance."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    days: Annotated[int, BeforeValidator(_strict_positive_int), Field(gt=0)]
    count: Literal["working", "calendar"]
    from_: Literal["receipt", "acceptance"] = Field(alias="from")
    clause: Citation

    def describe(self) -> str:
        """``'5 working days from acceptance'``."""
        return f"{self.days} {self.count} days from {self.from_}"


class KindLimits(BaseModel):
    """The limits of one kind of matter: ``reply`` (handler_late), ``transfer`` (late_transfer)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reply: Limit | None = None
    transfer: Limit | None = None


def _plain_file_name(value: Any) -> Any:
    if isinstance(value, str) and ("/" in value or "\\" in value or value.startswith(".")):
        raise ValueError(f"must be the regulation's file name alone, like 000_a1a78aef9bd31309.txt, "
                         f"without a folder; got {value!r}")
    return value


class Clause(BaseModel):
    """One cited provision: where it is, its Chinese text verbatim, and an English rendering.

    ``file`` names the regulation: one shipped in ``ledger/regulations/`` (then ``zh`` must be
    found in it, whitespace aside) or the office's own, by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Annotated[Text, AfterValidator(_plain_file_name)]
    section: Text
    article: Text
    zh: Text
    en: Text


class RuleSpec(BaseModel):
    """A rule the pack adopts and the clauses that adopt it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clauses: tuple[Citation, ...] = Field(min_length=1)
    notify: tuple[Literal["b", "supervisor"], ...] | None = Field(
        default=None,
        description="no_handover only: whom A must notify, when leaving without handing over to B, for "
                    "the absence to count as told (default: B alone; Suqian: B and the supervising "
                    "leader, 002 AB art. 5(1) 电告分管领导和B角)",
    )

    def must_notify(self) -> tuple[str, ...]:
        return self.notify if self.notify is not None else ("b",)


class LeadershipTiers(BaseModel):
    """Leaders also named in findings against staff: section head and supervising leader."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    head: Citation = Field(description="主要领导责任: the section head (科室负责人)")
    supervisor: Citation = Field(description="重要领导责任: the supervising leader (分管领导)")


_MISSING_TEXT = (
    '{}: required field is missing or empty (only a version that "extends" a pack may leave it out)'
)
_TWICE = "closures: a date is listed twice"
#: Said of a kind listed with neither limit (checked when a version is added: ``Knowledge``).
NEITHER_LIMIT = ("sets neither a reply nor a transfer limit: a kind listed has at least one (its cases would "
                 "have no due at all, and no finding would ever be late)")


def _notify_problems(rule: str, notify: Sequence[Any]) -> list[str]:
    if rule != "no_handover":
        return [f"rules.{rule}.notify: only no_handover says whom A must notify"]
    if "b" not in notify:
        return [f"rules.{rule}.notify: must include \"b\" (A always tells B, 000 AB art. 7)"]
    return []


def _transfer_from_problem(kind: str) -> str:
    return (f"limits.{kind}.transfer.from: must be \"receipt\": a transfer is due from the receipt (the "
            "first-asked staff hands the case over; nothing is accepted before it)")


def _quote_problems(key: str, file: str, zh: str) -> list[str]:
    shipped = _shipped_text(file)
    if shipped is None or _squash(zh) in shipped:
        return []
    return [f"clauses.{key}.zh: is not in {file}, a regulation shipped with the ledger "
            f"(ledger/regulations/{file}): a clause of it is quoted verbatim, whitespace aside"]
_INHERITED = ("title", "institution", "source", "limits", "rules", "clauses",
              "leadership_tiers", "closures", "local_limits")
_MERGED = ("limits", "rules", "clauses")


class PolicyPack(BaseModel):
    """One version of a policy pack (see the module docstring and README: Policy packs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PackId
    effective_from: IsoDate
    extends: PackId | None = None
    title: str = ""
    institution: str = ""
    source: str = ""
    limits: dict[KindName, KindLimits] = Field(default_factory=dict)
    rules: dict[str, RuleSpec] = Field(default_factory=dict)
    leadership_tiers: LeadershipTiers | None = None
    local_limits: RuleSpec | None = Field(
        default=None,
        description="where the regulation leaves time limits to each section (cited in errors)",
    )
    closures: tuple[IsoDate, ...] = ()
    clauses: dict[Citation, Clause] = Field(default_factory=dict)
    notes: str | None = None

    @model_validator(mode="after")
    def check_references(self, info: ValidationInfo) -> PolicyPack:
        """Rule names must be known, and (once resolved) every citation must be in ``clauses``."""
        resolved = bool(info.context and info.context.get("resolved"))
        problems = self.problems(check_citations=self.extends is None or resolved)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def problems(self, *, check_citations: bool = True) -> list[str]:
        """Every inconsistency, one message a field, each naming the field."""
        out: list[str] = []
        if self.extends is None:
            for name in ("title", "institution", "source"):
                if not getattr(self, name).strip():
                    out.append(_MISSING_TEXT.format(name))
        for name, spec in self.rules.items():
            if name not in RULE_NAMES:
                out.append(f"rules.{name}: unknown rule {name!r}; the rules are: "
                           + ", ".join(sorted(RULE_NAMES)))
            if spec.notify is not None:
                out += _notify_problems(name, spec.notify)
        for kind, kl in self.limits.items():
            if kl.transfer is not None and kl.transfer.from_ != "receipt":
                out.append(_transfer_from_problem(kind))
        for key, clause in self.clauses.items():
            out += _quote_problems(key, clause.file, clause.zh)
        if len(set(self.closures)) != len(self.closures):
            out.append(_TWICE)
        if check_citations:
            for path, key in self.cited():
                if key not in self.clauses:
                    out.append(f"{path}: citation {key!r} is not defined in clauses")
        return out

    def cited(self) -> list[tuple[str, str]]:
        """Every citation the pack uses, as (field path, citation key)."""
        out: list[tuple[str, str]] = []
        for kind, kl in self.limits.items():
            for which in ("reply", "transfer"):
                limit: Limit | None = getattr(kl, which)
                if limit is not None:
                    out.append((f"limits.{kind}.{which}.clause", limit.clause))
        for name, spec in self.rules.items():
            out += [(f"rules.{name}.clauses[{i}]", key) for i, key in enumerate(spec.clauses)]
        if self.leadership_tiers is not None:
            out.append(("leadership_tiers.head", self.leadership_tiers.head))
            out.append(("leadership_tiers.supervisor", self.leadership_tiers.supervisor))
        if self.local_limits is not None:
            keys = self.local_limits.clauses
            out += [(f"local_limits.clauses[{i}]", key) for i, key in enumerate(keys)]
        return out

    def rule(self, name: str) -> RuleSpec | None:
        """The adopted rule ``name``, or None if the pack does not adopt it."""
        _check_rule_name(name)
        return self.rules.get(name)

    def adopts(self, name: str) -> bool:
        """Whether the pack adopts rule ``name`` (the rules engine applies only those)."""
        return self.rule(name) is not None

    def citations(self, name: str) -> list[tuple[str, Clause]]:
        """The (citation key, clause) pairs behind adopted rule ``name``; [] if not adopted."""
        spec = self.rule(name)
        return [] if spec is None else [(key, self.clauses[key]) for key in spec.clauses]

    def __hash__(self) -> int:
        # The field-wise default cannot hash the dicts; a version is named by these.
        return hash((self.id, self.effective_from, self.extends))

    def as_data(self) -> dict[str, Any]:
        """The pack as its JSON file would hold it."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=False)


def clause_text(pack: PolicyPack, key: str) -> Clause:
    """The clause cited as ``key`` in ``pack``."""
    try:
        return pack.clauses[key]
    except KeyError:
        raise UnknownClause(
            f"policy {pack.id!r} (version of {pack.effective_from}) has no clause {key!r}"
        ) from None


def _check_rule_name(name: str) -> None:
    if name not in RULE_NAMES:
        raise ValueError(f"unknown rule {name!r}; the rules are: {', '.join(sorted(RULE_NAMES))}")


# --- reading pack files -----------------------------------------------------------------


def parse_pack(data: Mapping[str, Any] | str | bytes, source_name: str) -> PolicyPack:
    """Validate one pack version (a JSON text or its parsed object).

    Raises :class:`PolicyFileError` listing every bad field at once. A version that
    ``extends`` another is checked for its own fields here; its citations are checked when
    it is resolved against a catalogue (:meth:`PolicyCatalogue.with_added`).
    """
    data = json_object(data, "expected a JSON object, got {}",
                       lambda messages: PolicyFileError(source_name, messages))
    try:
        return PolicyPack.model_validate(dict(data))
    except ValidationError as e:
        raise PolicyFileError(source_name, _messages(e, data)) from None


def load_pack_file(path: str) -> PolicyPack:
    """Read and validate a pack file (``ledger policy add FILE``)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise PolicyFileError(path, [f"cannot read the file: {e.strerror}"]) from None
    return parse_pack(raw, path)


def _messages(error: ValidationError, data: Mapping[str, Any]) -> list[str]:
    """Field messages, plus the checks of meaning pydantic could not reach for shape errors."""
    out = validation_messages(error)
    if any(not err["loc"] for err in error.errors()):
        return out  # the model-level checks ran: they are already in ``out``
    rules = data.get("rules")
    if isinstance(rules, Mapping):
        out += [f"rules.{n}: unknown rule {n!r}; the rules are: {', '.join(sorted(RULE_NAMES))}"
                for n in rules if n not in RULE_NAMES]
        for name, spec in rules.items():
            notify = spec.get("notify") if isinstance(spec, Mapping) else None
            if isinstance(notify, list):
                out += _notify_problems(str(name), notify)
    limits = data.get("limits")
    for kind, kl in (limits.items() if isinstance(limits, Mapping) else ()):
        transfer = kl.get("transfer") if isinstance(kl, Mapping) else None
        if isinstance(transfer, Mapping) and transfer.get("from") == "acceptance":
            out.append(_transfer_from_problem(str(kind)))
        if isinstance(kl, Mapping) and kl.get("reply") is None and transfer is None:
            out.append(f"limits.{kind}: {NEITHER_LIMIT}")
    clauses = data.get("clauses")
    for key, clause in (clauses.items() if isinstance(clauses, Mapping) else ()):
        if isinstance(clause, Mapping) and isinstance(clause.get("file"), str) and isinstance(clause.get("zh"), str):
            out += _quote_problems(str(key), clause["file"], clause["zh"])
    closures = data.get("closures")
    if (isinstance(closures, list) and all(isinstance(c, str) for c in closures)
            and len({c.strip() for c in closures}) != len(closures)):
        out.append(_TWICE)
    if data.get("extends") is None:
        out += [_MISSING_TEXT.format(name) for name in ("title", "institution", "source")
                if name not in data or (isinstance(data[name], str) and not data[name].strip())]
        clauses = data.get("clauses", {})
        if isinstance(clauses, Mapping):
            out += [f"{path}: citation {key!r} is not defined in clauses"
                    for path, key in _raw_citations(data) if key not in clauses]
    return out


def _raw_citations(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The citations of a pack file that failed validation, as far as its shape allows."""
    out: list[tuple[str, str]] = []
    limits = data.get("limits")
    for kind, kl in (limits.items() if isinstance(limits, Mapping) else ()):
        for which in ("reply", "transfer"):
            limit = kl.get(which) if isinstance(kl, Mapping) else None
            if isinstance(limit, Mapping) and isinstance(limit.get("clause"), str):
                out.append((f"limits.{kind}.{which}.clause", limit["clause"]))
    specs: list[tuple[str, Any]] = []
    rules = data.get("rules")
    if isinstance(rules, Mapping):
        specs += [(f"rules.{name}", spec) for name, spec in rules.items()]
    specs.append(("local_limits", data.get("local_limits")))
    for path, spec in specs:
        keys = spec.get("clauses") if isinstance(spec, Mapping) else None
        for i, key in enumerate(keys if isinstance(keys, list) else ()):
            if isinstance(key, str):
                out.append((f"{path}.clauses[{i}]", key))
    tiers = data.get("leadership_tiers")
    for tier in ("head", "supervisor"):
        if isinstance(tiers, Mapping) and isinstance(tiers.get(tier), str):
            out.append((f"leadership_tiers.{tier}", tiers[tier]))
    return out


def builtin_packs() -> list[PolicyPack]:
    """The built-in packs shipped in ``ledger/policies/`` (cached)."""
    return list(_builtin_packs())


@cache
def _builtin_packs() -> tuple[PolicyPack, ...]:
    folder = resources.files("ledger").joinpath("policies")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    return tuple(parse_pack(f.read_bytes(), f"ledger/policies/{f.name}") for f in files)


def regulation_text(file: str) -> str:
    """The text of a regulation shipped with the package (``ledger/regulations/FILE``)."""
    if "/" in file or "\\" in file or file.startswith("."):
        raise PolicyNotFound(f"no regulation file {file!r}")
    path = resources.files("ledger").joinpath("regulations").joinpath(file)
    if not path.is_file():
        raise PolicyNotFound(f"no regulation file {file!r} is shipped with the ledger")
    return path.read_text(encoding="utf-8")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@cache
def _shipped_text(file: str) -> str | None:
    """The regulation ``file`` shipped with the package, whitespace removed; None if not shipped."""
    try:
        return _squash(regulation_text(file))
    except PolicyNotFound:
        return None


# --- the catalogue -----------------------------------------------------------------------


class PolicyCatalogue:
    """Every known pack version, by id and effective date. Immutable."""

    __slots__ = ("_versions",)

    def __init__(self, packs: Iterable[PolicyPack] = ()) -> None:
        self._versions: dict[str, tuple[PolicyPack, ...]] = {}
        # Bases first: a version extends the base in force at its own effective date.
        for pack in sorted(packs, key=lambda p: (p.effective_from, p.extends is not None)):
            self._versions = self._adding(pack)

    @classmethod
    def builtin(cls) -> PolicyCatalogue:
        """The catalogue of the built-in packs."""
        return _builtin_catalogue()

    def ids(self) -> list[str]:
        """The pack ids, sorted."""
        return sorted(self._versions)

    def versions(self, pack_id: str) -> list[PolicyPack]:
        """Every version of ``pack_id``, oldest first."""
        return list(self._get(pack_id))

    def in_force(self, pack_id: str, on: date) -> PolicyPack:
        """The version of ``pack_id`` in force on ``on``: the latest with effective_from <= on."""
        versions = self._get(pack_id)
        current = [p for p in versions if p.effective_from <= on]
        if not current:
            raise PolicyNotInForce(
                f"policy {pack_id!r} is not in force on {on}: its first version took effect "
                f"on {versions[0].effective_from}"
            )
        return current[-1]

    def with_added(self, pack: PolicyPack) -> PolicyCatalogue:
        """A catalogue that also holds ``pack``, its ``extends`` resolved.

        Raises :class:`PolicyFileError` for a duplicate (id, effective_from), an unknown or
        not-yet-in-force base, citations the resolved version cannot find, or a version dated on or
        before one that extends its pack (which would then have inherited from it).
        """
        new = PolicyCatalogue.__new__(PolicyCatalogue)
        new._versions = self._adding(pack)
        return new

    def limits_for(self, pack_id: str, kind: str, on: date) -> KindLimits:
        """The limits for ``kind`` under the version in force on ``on``."""
        pack = self.in_force(pack_id, on)
        limits = pack.limits.get(kind)
        if limits is None:
            raise NoLimitConfigured(pack, kind, on)
        return limits

    def resolve(self, pack: PolicyPack) -> PolicyPack:
        """``pack`` with its ``extends`` filled in from this catalogue (itself if none)."""
        if pack.extends is None:
            return pack
        source = f"policy {pack.id!r} version of {pack.effective_from}"
        if pack.extends not in self._versions:
            raise PolicyFileError(source, [
                (f"extends: no pack {pack.extends!r} is known "
                f"(known: {', '.join(self.ids()) or 'none'})")
            ])
        try:
            base = self.in_force(pack.extends, pack.effective_from)
        except PolicyNotInForce as e:
            raise PolicyFileError(source, [f"extends: {e}"]) from None
        merged: dict[str, Any] = pack.model_dump(by_alias=True, exclude_unset=True)
        base_data = base.model_dump(by_alias=True)
        for name in _INHERITED:
            if name not in pack.model_fields_set:
                merged[name] = base_data[name]
            elif name in _MERGED:
                merged[name] = {**base_data[name], **merged[name]}
        try:
            return PolicyPack.model_validate(merged, context={"resolved": True})
        except ValidationError as e:
            raise PolicyFileError(source, validation_messages(e)) from None

    def _adding(self, pack: PolicyPack) -> dict[str, tuple[PolicyPack, ...]]:
        resolved = self.resolve(pack)
        existing = self._versions.get(resolved.id, ())
        if any(p.effective_from == resolved.effective_from for p in existing):
            raise PolicyFileError(f"policy {resolved.id!r}", [
                (f"effective_from: a version of {resolved.id!r} effective "
                 f"{resolved.effective_from} already exists; "
                 "a new version needs a new effective_from")
            ])
        # A version took what it left out from the base in force on its own effective date; one
        # dated earlier, added now, would change that base after the fact: refused, not re-resolved.
        inheriting = [q for versions in self._versions.values() for q in versions
                      if q.extends == resolved.id and q.effective_from >= resolved.effective_from]
        if inheriting:
            q = inheriting[0]
            raise PolicyFileError(f"policy {resolved.id!r}", [
                (f"effective_from: {resolved.effective_from} is before the version of {q.id!r} effective "
                 f"{q.effective_from}, which extends {resolved.id!r} and took what it leaves out from the "
                 f"version in force then; versions are added in date order: retract that one, add this one, "
                 f"then add that one again (in one file for `ledger append` if cases are judged by it)")
            ])
        versions = tuple(sorted((*existing, resolved), key=lambda p: p.effective_from))
        return {**self._versions, resolved.id: versions}

    def _get(self, pack_id: str) -> tuple[PolicyPack, ...]:
        versions = self._versions.get(pack_id)
        if not versions:
            raise PolicyNotFound(
                f"no policy pack {pack_id!r}; known packs: {', '.join(self.ids()) or 'none'} "
                "(an office adds its own with `ledger policy add FILE`, README: Policy packs)"
            )
        return versions

    def __contains__(self, pack_id: object) -> bool:
        return pack_id in self._versions

    def __repr__(self) -> str:
        return f"PolicyCatalogue({', '.join(self.ids())})"


@cache
def _builtin_catalogue() -> PolicyCatalogue:
    return PolicyCatalogue(_builtin_packs())


def _citation_span(keys: Iterable[str]) -> str:
    """``['004 限时 §2', '004 限时 §3']`` -> ``'004 限时 §2-3'``; otherwise keys joined by commas."""
    keys = list(keys)
    parts = [re.fullmatch(r"(.*§)(\d+)", k) for k in keys]
    if len(keys) > 1 and all(parts):
        prefixes = {m.group(1) for m in parts if m}
        numbers = [int(m.group(2)) for m in parts if m]
        if len(prefixes) == 1 and numbers == list(range(numbers[0], numbers[0] + len(numbers))):
            return f"{prefixes.pop()}{numbers[0]}-{numbers[-1]}"
    return ", ".join(keys)


# --- errors ------------------------------------------------------------------------------


class PolicyError(Exception):
    """Any problem with policy packs."""


class PolicyNotFound(PolicyError):
    """No pack has that id."""


class PolicyNotInForce(PolicyError):
    """The pack exists but no version of it was in force on the date asked."""


class UnknownClause(PolicyError):
    """A citation key the pack does not define."""


class NoLimitConfigured(PolicyError):
    """The pack in force sets no time limit for the case's kind; says where to add one."""

    def __init__(self, pack: PolicyPack, kind: str, on: date) -> None:
        self.pack_id = pack.id
        self.kind = kind
        self.on = on
        if pack.local_limits is not None:
            why = f"each section sets its own ({_citation_span(pack.local_limits.clauses)})"
        else:
            kinds = ", ".join(repr(k) for k in sorted(pack.limits))
            why = f"it sets limits only for {kinds}" if kinds else "it sets no limits at all"
        limit = {"days": "N", "count": "working", "from": "receipt", "clause": "..."}
        example = json.dumps({kind: {"reply": limit}}, ensure_ascii=False).replace('"N"', "N")
        super().__init__(
            f"policy {pack.id!r} (in force on {on}) sets no time limit for kind {kind!r}; {why}: "
            f'add a pack version with "extends": "{pack.id}" and "limits": {example} '
            "using `ledger policy add FILE` (README: Policy packs)"
        )


class PolicyFileError(PolicyError):
    """A pack file with bad fields; ``messages`` has one line per bad field, naming it."""

    def __init__(self, source_name: str, messages: list[str]) -> None:
        self.source_name = source_name
        self.messages = list(messages)
        lines = "\n".join(f"  - {m}" for m in self.messages)
        super().__init__(f"{source_name}: not a valid policy pack:\n{lines}")
