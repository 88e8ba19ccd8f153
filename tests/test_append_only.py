"""Append-only storage: the database itself refuses to change or remove an event.

SQLite and PostgreSQL triggers refuse UPDATE and DELETE (and TRUNCATE, and SQLite's
INSERT OR REPLACE) on the events table and the event-id index, for anyone with plain SQL
access; read models and tracking stay writable because `ledger rebuild` empties them. On
PostgreSQL, `ledger db roles` makes a clerk role (read and append) and a reader role (read
only), and each is refused what it must not do by the server's privileges.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest
from click.testing import CliRunner

from cli.main import cli
from ledger.integrity import verify
from tests.conftest import PG_DSN, _drop_schema, postgres_url
from tests.ledger_helpers import BASE, inquiry, jsonl
from tests.tamper import Intruder

ROOT = Path(__file__).resolve().parent.parent


def _opened(url: str, clock: Any) -> Any:
    from ledger.application import Ledger
    from projections.readmodels import default_projectors

    led = Ledger(url, clock=clock, projectors=default_projectors(None))
    led.append_lines(jsonl(*BASE, inquiry("C1"), inquiry("C2")), actor="办公室-王敏")
    return led


@pytest.fixture
def ledger(store_url: str, clock: Any) -> Iterator[Any]:
    led = _opened(store_url, clock)
    yield led
    led.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = postgres_url()
    yield url
    _drop_schema(url)


def refused(db: Intruder, sql: str, params: tuple[Any, ...] = ()) -> str:
    """Run ``sql`` expecting the database to refuse it; returns the error message."""
    with pytest.raises(Exception) as info:
        db.execute(sql, params)
    return str(info.value)


def unchanged(ledger: Any, count: int) -> None:
    assert sum(1 for _ in ledger.log()) == count
    assert verify(ledger.store).intact


# --- triggers, for anyone with SQL access ----------------------------------------------


def test_updating_a_stored_event_is_refused(ledger: Any, store_url: str) -> None:
    with Intruder(store_url) as db:
        for sql in (f"UPDATE {db.events} SET state = state",
                    f"UPDATE {db.events} SET topic = 'Retracted' WHERE {db.seq} = 3",
                    f"UPDATE {db.events} SET originator_id = 'case:X' WHERE {db.seq} = 8",
                    f"UPDATE {db.events} SET {db.seq} = 100 WHERE {db.seq} = 9"):
            assert "the ledger is append-only" in refused(db, sql)
    unchanged(ledger, 9)


def test_deleting_a_stored_event_is_refused(ledger: Any, store_url: str) -> None:
    with Intruder(store_url) as db:
        assert "the ledger is append-only" in refused(db, f"DELETE FROM {db.events} WHERE {db.seq} = 9")
        assert "the ledger is append-only" in refused(db, f"DELETE FROM {db.events}")
    unchanged(ledger, 9)


def test_sqlite_insert_or_replace_cannot_overwrite_an_event(sqlite_url: str, clock: Any) -> None:
    ledger = _opened(sqlite_url, clock)
    with Intruder(sqlite_url) as db:
        seq, stream, version, topic, state = db.rows()[2]
        assert "append-only" in refused(
            db, f"INSERT OR REPLACE INTO {db.events} (rowid, originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?, ?)", (seq, "staff:x", 1, topic, state))
        assert "append-only" in refused(
            db, f"INSERT OR REPLACE INTO {db.events} (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)", (stream, version, topic, b"{}"))
    unchanged(ledger, 9)
    ledger.close()


@pytest.mark.postgres
def test_postgres_truncate_and_upsert_are_refused(pg_url: str, clock: Any) -> None:
    ledger = _opened(pg_url, clock)
    with Intruder(pg_url) as db:
        assert "the ledger is append-only: TRUNCATE" in refused(db, f"TRUNCATE {db.events}")
        assert "the ledger is append-only: TRUNCATE" in refused(db, "TRUNCATE ledger_ids")
        assert "the ledger is append-only: UPDATE" in refused(
            db, f"INSERT INTO {db.events} (originator_id, originator_version, topic, state) "
            f"SELECT originator_id, originator_version, topic, state FROM {db.events} WHERE {db.seq} = 3 "
            "ON CONFLICT (originator_id, originator_version) DO UPDATE SET state = EXCLUDED.state")
    unchanged(ledger, 9)
    ledger.close()


def test_the_event_id_index_only_ever_gains_ids_and_retractions(ledger: Any, store_url: str, clock: Any) -> None:
    with Intruder(store_url) as db:
        assert "append-only" in refused(db, "DELETE FROM ledger_ids WHERE id = 'in-C1'")
        assert "append-only" in refused(db, "UPDATE ledger_ids SET seq = 1 WHERE id = 'in-C1'")
        assert "append-only" in refused(db, "UPDATE ledger_ids SET id = 'in-X' WHERE id = 'in-C1'")
        # Marking an id retracted with no Retracted event would hide it from every answer.
        assert "append-only" in refused(db, "UPDATE ledger_ids SET retracted = 1 WHERE id = 'in-C1'")
    clock.tick(hours=1)
    ledger.append_lines(jsonl({"type": "Retracted", "id": "rt1", "target": "in-C2", "reason": "重复登记",
                               "occurred_at": "2024-03-04T12:00:00+08:00"}))
    with Intruder(store_url) as db:
        assert db.execute("SELECT retracted FROM ledger_ids WHERE id = 'in-C2'") == [(1,)]
        assert "append-only" in refused(db, "UPDATE ledger_ids SET retracted = 0 WHERE id = 'in-C2'")
    unchanged(ledger, 10)


def test_the_timezone_a_ledger_was_created_with_cannot_be_changed(
        ledger: Any, store_url: str, open_ledger: Any) -> None:
    """It decides how naive times were read and where working days end: the same events would
    give other answers under another zone."""
    with Intruder(store_url) as db:
        assert "append-only" in refused(db, "UPDATE ledger_settings SET value = 'America/New_York'")
        assert "append-only" in refused(db, "DELETE FROM ledger_settings")
        if db.sqlite:
            assert "append-only" in refused(
                db, "INSERT OR REPLACE INTO ledger_settings (key, value) VALUES ('timezone', 'UTC')")
        else:
            assert "append-only" in refused(db, "TRUNCATE ledger_settings")
        assert db.execute("SELECT key, value FROM ledger_settings") == [("timezone", "Asia/Shanghai")]
    assert open_ledger().tz.key == "Asia/Shanghai"  # opened again: nothing to insert, nothing refused


def test_read_models_and_tracking_stay_rebuildable(ledger: Any, store_url: str) -> None:
    with Intruder(store_url) as db:
        db.execute("DELETE FROM rm_case_index WHERE case_id = 'C1'")  # a cache: may be dropped
    assert ledger.rebuild() == 9
    with Intruder(store_url) as db:
        assert sorted(r[0] for r in db.execute("SELECT case_id FROM rm_case_index")) == ["C1", "C2"]
    result = CliRunner().invoke(cli, ["--store", store_url, "rebuild"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output == "rebuilt the read models from the whole log (up to event 9)\n"
    unchanged(ledger, 9)


def test_opening_again_keeps_one_set_of_triggers_and_restores_dropped_ones(
    ledger: Any, store_url: str, open_ledger: Any
) -> None:
    with Intruder(store_url) as db:
        installed = sorted(db.drop_triggers())
    assert len(installed) >= 4
    open_ledger()  # every open re-creates what is missing, and only that
    open_ledger()
    with Intruder(store_url) as db:
        assert sorted(db.drop_triggers()) == installed


# --- PostgreSQL roles --------------------------------------------------------------------


def as_role(url: str, role: str) -> str:
    parts = urlparse(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunparse(parts._replace(netloc=f"{role}@{host}"))


@pytest.fixture
def roles(tmp_path: Path) -> Iterator[tuple[str, str, str, Callable[..., Any]]]:
    """A PostgreSQL ledger made by its owner, and names for a clerk and a reader role."""
    url = postgres_url()
    suffix = uuid.uuid4().hex[:8]
    clerk, reader = f"clerk_{suffix}", f"committee_{suffix}"
    runner = CliRunner()

    def run(store: str, *args: str) -> Any:
        return runner.invoke(cli, ["--store", store, *args], catch_exceptions=False)

    base = tmp_path / "base.jsonl"
    base.write_text("\n".join(jsonl(*BASE)) + "\n", encoding="utf-8")
    assert run(url, "append", str(base), "--actor", "owner").exit_code == 0
    yield url, clerk, reader, run
    _drop_schema(url)
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        for role in (clerk, reader):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(f'DROP OWNED BY "{role}"')
                conn.execute(f'DROP ROLE "{role}"')


def connect_as(url: str, role: str) -> Any:
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    conn = psycopg.connect(as_role(url, role).split("?", 1)[0], autocommit=True)
    conn.execute(f'SET search_path TO "{schema}"')
    return conn


def denied(conn: Any, sql: str) -> None:
    """The server refuses ``sql`` for lack of privilege (not merely by a trigger)."""
    import psycopg

    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql)


@pytest.mark.postgres
def test_db_roles_makes_a_clerk_who_appends_but_cannot_change_or_delete(roles: Any, tmp_path: Path) -> None:
    url, clerk, reader, run = roles
    made = run(url, "db", "roles", "--clerk", clerk, "--reader", reader)
    assert made.exit_code == 0, made.output
    clerk_url = as_role(url, clerk)

    more = tmp_path / "more.jsonl"
    more.write_text("\n".join(jsonl(inquiry("C1"), inquiry("C2"))) + "\n", encoding="utf-8")
    appended = run(clerk_url, "append", str(more), "--actor", clerk)
    assert appended.exit_code == 0, appended.output
    assert "appended 2 event(s)" in appended.output
    retract = tmp_path / "retract.jsonl"
    retract.write_text(json.dumps({"type": "Retracted", "id": "rt1", "target": "in-C2", "reason": "重复",
                                   "occurred_at": "2024-03-04T12:00:00+08:00"}) + "\n", encoding="utf-8")
    assert run(clerk_url, "append", str(retract)).exit_code == 0  # marks in-C2 retracted in the index
    assert run(clerk_url, "rebuild").exit_code == 0  # caches stay the clerk's to rebuild
    assert run(clerk_url, "verify").exit_code == 0

    with connect_as(url, clerk) as conn:
        assert conn.execute("SELECT COUNT(*) FROM ledger_events").fetchone() == (10,)
        denied(conn, "UPDATE ledger_events SET topic = 'x'")
        denied(conn, "DELETE FROM ledger_events WHERE notification_id = 8")
        denied(conn, "TRUNCATE ledger_events")
        denied(conn, "DELETE FROM ledger_ids")
        denied(conn, "TRUNCATE ledger_ids")
        denied(conn, "UPDATE ledger_settings SET value = 'UTC'")  # the timezone: read only
        denied(conn, "DELETE FROM ledger_settings")
        denied(conn, "DROP TRIGGER ledger_events_refuse_change ON ledger_events")
        denied(conn, "ALTER TABLE ledger_events DISABLE TRIGGER ALL")
        denied(conn, "DROP TABLE ledger_events")
        denied(conn, "SET session_replication_role = replica")  # would skip triggers
        denied(conn, "CREATE TABLE ledger_events_copy (x int)")
    assert run(url, "verify").exit_code == 0


@pytest.mark.postgres
def test_db_roles_makes_a_reader_who_can_only_read(roles: Any, tmp_path: Path) -> None:
    url, clerk, reader, run = roles
    assert run(url, "db", "roles", "--clerk", clerk, "--reader", reader).exit_code == 0
    reader_url = as_role(url, reader)

    events = run(reader_url, "events", "--format", "json")
    assert events.exit_code == 0, events.output
    assert len(json.loads(events.stdout)) == len(BASE)
    assert run(reader_url, "verify").exit_code == 0
    assert run(reader_url, "digest").stdout.strip() == run(url, "digest").stdout.strip()

    # The real command, as a committee member would type it: a clear refusal, no traceback.
    # One line, and a register large enough to be stored by a writer process of its own
    # (the refusal reaches the clerk's process from there).
    for n in (1, 5000):
        more = tmp_path / "more.jsonl"
        more.write_text("\n".join(jsonl(*(inquiry(f"C{i}") for i in range(n)))) + "\n", encoding="utf-8")
        proc = subprocess.run([sys.executable, "-m", "cli.main", "--store", reader_url, "append", str(more)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ})
        assert proc.returncode == 1
        assert f"role '{reader}' may not write to this ledger" in proc.stderr
        assert "Traceback" not in proc.stderr

    with connect_as(url, reader) as conn:
        assert conn.execute("SELECT COUNT(*) FROM ledger_events").fetchone() == (len(BASE),)
        denied(conn, "INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
                     "VALUES ('case:X', 1, 'x', '\\x7b7d')")
        denied(conn, "UPDATE ledger_events SET topic = 'x'")
        denied(conn, "DELETE FROM ledger_events")
        denied(conn, "INSERT INTO ledger_ids VALUES ('x', 1, 0)")
        denied(conn, "DELETE FROM rm_case_index")
        denied(conn, "INSERT INTO ledger_tracking VALUES ('x', 1)")
        denied(conn, "SELECT ledger_lock_events()")
    assert run(url, "verify").exit_code == 0


@pytest.mark.postgres
def test_db_roles_is_repeatable_and_has_a_dry_run(roles: Any) -> None:
    url, clerk, reader, run = roles
    dry = run(url, "db", "roles", "--clerk", clerk, "--reader", reader, "--dry-run")
    schema = url.rsplit("=", 1)[1]
    assert dry.exit_code == 0 and f'GRANT INSERT ON "{schema}"."ledger_events" TO "{clerk}"' in dry.output
    with connect_as(url, "postgres") as conn:
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (clerk,)).fetchone() is None
    assert run(url, "db", "roles", "--clerk", clerk, "--reader", reader).exit_code == 0
    assert run(url, "db", "roles", "--clerk", clerk, "--reader", reader).exit_code == 0


@pytest.mark.postgres
@pytest.mark.parametrize(("args", "message"), [
    (["--clerk", "postgres"], "is a superuser or owns the ledger"),
    (["--clerk", "same_role", "--reader", "same_role"], "cannot be both a clerk and a reader"),
    (["--clerk", "Robert'); DROP TABLE"], "must be lower-case letters"),
    ([], "name at least one --clerk or --reader"),
])
@pytest.mark.postgres
def test_db_roles_refuses_what_would_mean_nothing(roles: Any, args: list[str], message: str) -> None:
    url, _, _, run = roles
    result = run(url, "db", "roles", *args)
    assert result.exit_code == 1 and message in result.output


def test_db_roles_on_sqlite_is_a_clear_error(sqlite_url: str) -> None:
    result = CliRunner().invoke(cli, ["--store", sqlite_url, "db", "roles", "--clerk", "c"])
    assert result.exit_code == 1
    assert "database roles exist only on PostgreSQL" in result.output


@pytest.mark.postgres
def test_a_role_that_may_not_create_tables_is_told_what_to_do(roles: Any) -> None:
    url, clerk, reader, run = roles
    assert run(url, "db", "roles", "--clerk", clerk, "--reader", reader).exit_code == 0
    with connect_as(url, "postgres") as conn:  # as if a newer version brought a new read model
        conn.execute("DROP TABLE rm_case_index")
        conn.execute("DELETE FROM ledger_tracking WHERE application_name = 'case_index.2'")
    result = run(as_role(url, reader), "events")
    assert result.exit_code == 1
    assert "lacks rm_case_index" in result.output and "open it once as its owner 'postgres'" in result.output
    assert run(url, "verify").exit_code == 0  # the owner's open creates and fills it...
    assert run(as_role(url, reader), "events").exit_code == 0  # ...and default privileges let readers in
    with connect_as(url, clerk) as conn:
        assert conn.execute("SELECT COUNT(*) FROM rm_case_index").fetchone() == (0,)

    empty = url.rsplit("=", 1)[0] + "=" + url.rsplit("=", 1)[1] + "_empty"
    with connect_as(url, "postgres") as conn:
        conn.execute(f'CREATE SCHEMA "{empty.rsplit("=", 1)[1]}"')
        conn.execute(f'GRANT USAGE ON SCHEMA "{empty.rsplit("=", 1)[1]}" TO "{reader}"')
    try:
        result = run(as_role(empty, reader), "verify")  # a question of an empty schema: no ledger there
        assert result.exit_code == 1 and "there is no ledger at" in result.output
        result = run(as_role(empty, reader), "append", "-")  # a command that would make one
        assert result.exit_code == 1
        assert f"role '{reader}' may not create the ledger" in result.output
    finally:
        _drop_schema(empty)
