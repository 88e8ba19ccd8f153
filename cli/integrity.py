"""Commands that check and protect the journal: verify, digest, db roles (issue 5)."""

from __future__ import annotations

import click


def register_integrity_commands(group: click.Group) -> None:
    del group
