"""Integrity of the journal: append-only storage and the hash chain (filled in by issue 5)."""

from __future__ import annotations


def append_only_statements(dialect: str, events_table: str) -> list[str]:
    """SQL that makes the event tables refuse UPDATE and DELETE."""
    del dialect, events_table
    return []
