"""The policy catalogue and working-day calendar in force, as the ledger knew them at K.

Built-in packs and years come with the package; an office's own packs (``PolicyAdded``)
and newly published years (``CalendarYearAdded``) are events, so "as known at K" covers
them like any other fact.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.events import CalendarYearAdded, PolicyAdded
from ledger.policy import PolicyCatalogue, parse_pack
from ledger.records import Fact
from ledger.schedules import parse_schedule
from projections.calendar import WorkingCalendar

#: Streams holding configuration events.
CONFIG_PREFIXES = ("policy:", "calendar:")


def catalogue_from(facts: Iterable[Fact]) -> PolicyCatalogue:
    """Built-in packs plus every added pack version, in the order they were recorded."""
    catalogue = PolicyCatalogue.builtin()
    for fact in sorted(facts, key=lambda f: f.seq):
        if isinstance(fact.event, PolicyAdded):
            catalogue = catalogue.with_added(parse_pack(fact.event.pack, fact.event.policy))
    return catalogue


def calendar_from(facts: Iterable[Fact]) -> WorkingCalendar:
    """The built-in national calendar plus every added year."""
    calendar = WorkingCalendar.builtin()
    for fact in sorted(facts, key=lambda f: f.seq):
        if isinstance(fact.event, CalendarYearAdded):
            calendar = calendar.with_year(parse_schedule(fact.event.schedule, f"year {fact.event.year}"))
    return calendar
