"""Shared fixtures: every store-backed test runs on SQLite and on PostgreSQL.

PostgreSQL tests read their server from LEDGER_TEST_POSTGRES (a DSN such as
postgresql://postgres@127.0.0.1:5432/test); each test gets a schema of its own. Without the
variable they are skipped, unless LEDGER_REQUIRE_POSTGRES=1 (set by .ci/run), where a
missing or unreachable server fails the run instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

PG_DSN = os.environ.get("LEDGER_TEST_POSTGRES", "")
REQUIRE_PG = os.environ.get("LEDGER_REQUIRE_POSTGRES") == "1"


def _pg_available() -> str | None:
    if not PG_DSN:
        return "LEDGER_TEST_POSTGRES is not set"
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3):
            return None
    except Exception as exc:  # any failure to connect
        return f"cannot reach PostgreSQL at {PG_DSN}: {exc}"


_PG_PROBLEM = _pg_available()


def postgres_url() -> str:
    """A fresh schema on the test server (skips or fails when there is none)."""
    if _PG_PROBLEM:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required here (LEDGER_REQUIRE_POSTGRES=1): {_PG_PROBLEM}")
        pytest.skip(_PG_PROBLEM)
    schema = "t_" + uuid.uuid4().hex[:12]
    sep = "&" if "?" in PG_DSN else "?"
    return f"{PG_DSN}{sep}schema={schema}"


def _drop_schema(url: str) -> None:
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A store URL for an empty ledger, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    url = postgres_url()
    yield url
    _drop_schema(url)


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path / 'ledger.db'}"


class FakeClock:
    """A clock the test moves by hand: recorded-at becomes a test input."""

    def __init__(self, start: datetime = datetime(2024, 12, 1, 9, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def open_ledger(store_url: str, clock: FakeClock) -> Iterator[Callable[..., object]]:
    """Open Ledger applications on the test store (closed at the end)."""
    from ledger.application import Ledger
    from projections.readmodels import default_projectors

    opened = []

    def make(**kwargs: object) -> Ledger:
        kwargs.setdefault("clock", clock)
        ledger = Ledger(store_url, projectors=default_projectors(None), **kwargs)  # type: ignore[arg-type]
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


# --- the command line on the test store (a module may define its own ``run``) -----------


@pytest.fixture
def run(store_url: str) -> Any:
    """``run("who", "C1", ...)``: the CLI on the test store, in process (click's CliRunner)."""
    from click.testing import CliRunner

    from cli.main import cli

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Any:
        return runner.invoke(cli, ["--store", store_url, *args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def base(run: Any, tmp_path: Path) -> Any:
    """``run`` on a store holding the test office (``BASE``)."""
    from tests.ledger_helpers import BASE, jsonl

    path = tmp_path / "base.jsonl"
    path.write_text("\n".join(jsonl(*BASE)) + "\n", encoding="utf-8")
    result = run("append", str(path), "--actor", "办公室-王敏")
    assert result.exit_code == 0, result.output
    return run
