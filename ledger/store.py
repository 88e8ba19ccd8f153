"""The event store: the ``eventsourcing`` library's recorders, SQLite or PostgreSQL.

This is the only module that talks to a database. Events are the library's stored events
(``originator_id`` = stream name such as ``case:SHZ-2024-0001``, ``originator_version`` =
position in the stream, ``topic`` = event type, ``state`` = the record's canonical JSON);
the library's notification id is the ledger's sequence number. The ledger's own tables
(event index, read models, tracking) live in the same database so that one transaction
covers a whole batch.

Store URLs: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``,
``sqlite:///:memory:``, ``postgresql://user[:password]@host[:port]/dbname[?schema=name]``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from eventsourcing.persistence import InfrastructureFactory, InterfaceError, PersistenceError
from eventsourcing.sqlite import SQLITE3_DEFAULT_LOCK_TIMEOUT, SQLiteConnection, SQLiteConnectionPool
from eventsourcing.utils import Environment

from ledger.records import state_bytes

DEFAULT_URL = "sqlite:///ledger.db"
NO_LEDGER = ("there is no ledger at {url} ({why}): check --store (or LEDGER_STORE); a ledger is made by "
              "its first `ledger append` (or `ledger policy add`, `ledger calendar add`, a clerk command)")

#: A lock wait longer than this is reported, not waited out (seconds).
LOCK_TIMEOUT = 60
#: How long a batch may be checked inside its transaction on PostgreSQL (seconds).
IDLE_IN_TRANSACTION_TIMEOUT = 3600
#: How long to try to reach a PostgreSQL server before saying it cannot be reached (seconds;
#: the library's default, 30, keeps a clerk with a mistyped host or port waiting half a minute).
CONNECT_TIMEOUT = 10

#: PostgreSQL: takes the library's EXCLUSIVE lock on the events table for the caller. LOCK TABLE
#: in that mode needs UPDATE, DELETE or TRUNCATE privilege, which a clerk role must not have, so
#: the schema's owner lends it through this SECURITY DEFINER function (granted to clerks only).
LOCK_FUNCTION = "ledger_lock_events"


class StoreError(Exception):
    """The store URL is wrong or the database cannot be reached."""


class NoLedger(StoreError):
    """The store holds no ledger, and the command may not make one (``Store(create=False)``)."""


@dataclass(frozen=True)
class StoreUrl:
    dialect: str  # "sqlite" or "postgresql"
    sqlite_path: str = ""
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""
    schema: str = "public"

    @classmethod
    def parse(cls, url: str) -> StoreUrl:
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///"):]
            if not path:
                raise StoreError(f"store URL {url!r} names no file: use sqlite:///ledger.db")
            return cls(dialect="sqlite", sqlite_path=path)
        if url.startswith(("postgresql://", "postgres://")):
            parts = urlparse(url)
            dbname = unquote(parts.path.lstrip("/"))
            if not dbname:
                raise StoreError(f"store URL {url!r} names no database: postgresql://user@host:5432/dbname")
            schema = parse_qs(parts.query).get("schema", ["public"])[0]
            if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", schema):
                raise StoreError(f"schema {schema!r} in the store URL must be lower-case letters, digits, _")
            return cls(
                dialect="postgresql",
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=unquote(parts.username or "postgres"),
                password=unquote(parts.password or ""),
                dbname=dbname,
                schema=schema,
            )
        raise StoreError(
            f"store URL {url!r} is not understood: use sqlite:///path/to/ledger.db "
            "or postgresql://user@host:5432/dbname"
        )

    def environment(self) -> Environment:
        """The library's own configuration keys for this store."""
        if self.dialect == "sqlite":
            return Environment("ledger", {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": self.sqlite_path,
                "SQLITE_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
                "ORIGINATOR_ID_TYPE": "text",
            })
        return Environment("ledger", {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": self.schema,
            "POSTGRES_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
            "POSTGRES_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
            # The library ends a session idle in a transaction after 5 s by default; a large
            # register is checked inside its transaction (all or none), so allow much longer.
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": str(IDLE_IN_TRANSACTION_TIMEOUT),
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "4",
            "ORIGINATOR_ID_TYPE": "text",
            # Tables are created by Store.create_schema, and only by their owner: a clerk or a
            # committee role must be able to open a ledger it may not alter.
            "CREATE_TABLE": "false",
        })


def padded(values: Sequence[Any], filler: Any) -> list[Any]:
    """``values`` filled up to the next of a few sizes with a value that matches nothing.

    A statement with N placeholders has text of its own; with N taken from a few sizes the
    connection's statement cache serves it again instead of preparing it anew (a question runs
    a dozen such statements, each with a different number of streams or ids).
    """
    if not values:
        return []
    size = 1
    while size < len(values):
        size *= 2
    return [*values, *[filler] * (size - len(values))]


class Tx:
    """A cursor inside one transaction; SQL is written with ``?`` placeholders."""

    def __init__(self, cursor: Any, dialect: str):
        self.cursor = cursor
        self.dialect = dialect
        if dialect == "sqlite":
            # Plain tuples, not the library's sqlite3.Row objects (a page of the log or of a
            # read model comes back several times faster).
            cursor.sqlite_cursor.row_factory = None

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Tx:
        self.cursor.execute(self._sql(sql), tuple(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(self._sql(sql), rows)

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert many rows into one table: PostgreSQL COPY (dumped in C), SQLite one executemany."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.dialect == "sqlite":
            self.cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)
            return
        with self.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self.cursor.fetchall()
        if self.dialect == "postgresql":
            return [tuple(r.values()) for r in rows]
        return rows  # type: ignore[no-any-return]

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self.cursor.fetchone()
        if row is None:
            return None
        return tuple(row.values()) if self.dialect == "postgresql" else row


#: Page cache of a writing SQLite connection (KiB). Large enough for the pages a batch touches at
#: random (the id index, the streams' index, the read models' rows) on a ledger of a million events
#: (a two-million-line batch appends at the rate of a 342k one, seventh round); bounded, so that a
#: large batch writes the pages it is done with into the write-ahead log as it goes (SQLite spills
#: them, each page once: a spilled page written again in the same transaction overwrites its frame)
#: instead of all of them in its commit, which the clerk waits for. With 1 GiB, a million-line
#: batch wrote ~670 MB in its commit: 1.4-2.1 s; with 128 MiB, 0.7-0.9 s (measured on 2026-12-02).
#: With 32 MiB the writer's work after the clerk's last line (its commit included) took 0.44-0.48 s
#: against 0.85-0.90 s on 300k lines, 1.1 against 1.6 s on a million, and 0.48-0.58 against
#: 0.90-0.94 s on 300k lines with random ids onto 700k stored ones, its CPU time no higher (8 and
#: 16 MiB: no better; measured on 2026-12-02, fourth round). Most of the commit's time is SQLite's
#: own: once a frame of the transaction has been overwritten, the commit re-reads every frame from
#: that one on and rewrites its checksum (``walRewriteChecksums``), and any page written again
#: after its spill overwrites its frame. On 342k lines the commit wrote ~7k pages, rewrote ~62k
#: frame headers and synced the log (counted with strace): 0.23-0.26 s of the append's ~4.5 s.
SQLITE_WRITE_CACHE_KIB = 32 * 1024
#: ... and of a reading one.
SQLITE_READ_CACHE_KIB = 64 * 1024
#: How much of the database file a reading connection maps into memory.
SQLITE_READ_MMAP_BYTES = 64 * 1024**3


#: Prepared statements a SQLite connection keeps (the library opens its connections with one).
SQLITE_STATEMENT_CACHE = 512


class _TrackedConnection(sqlite3.Connection):
    """A SQLite connection of the ledger's, known to ``release_inherited_sqlite`` (weakly)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _SQLITE_CONNECTIONS.add(self)


#: Every SQLite connection the ledger's stores have opened in this process and not yet dropped.
_SQLITE_CONNECTIONS: weakref.WeakSet[_TrackedConnection] = weakref.WeakSet()


def release_inherited_sqlite() -> int:
    """In a forked process, before it opens a SQLite database: close the copies of the parent's
    connections (those not inside a transaction); how many were closed.

    SQLite keeps, per process and database file, a record of the locks its connections hold,
    and asks the system for a lock only when that record shows none. A forked child inherits
    the record but not the locks (POSIX locks belong to a process), so the connection it opened
    beside the inherited copies took none. The parent, closing its last connection, then found
    itself alone: it copied the write-ahead log into the database and deleted it while the
    child still used it (0.6 s of the clerk's wall time on a 300,000-line append, measured, on
    top of the writer's own copy; and a clerk starting just then could reset the log's index
    under the writer). With the copies closed the record is gone and the child's connection
    takes its locks for real. Closing a copy releases only the child's locks (it holds none).
    A copy inside a transaction is left alone: its rollback could write to the log's index.
    """
    closed = 0
    for conn in list(_SQLITE_CONNECTIONS):
        try:
            if conn.in_transaction:
                continue
            conn.close()
        except sqlite3.ProgrammingError:  # closed already
            continue
        closed += 1
    _SQLITE_CONNECTIONS.clear()
    return closed


class _StatementCachingPool(SQLiteConnectionPool):
    """The library's SQLite connection pool, its connections keeping prepared statements.

    ``eventsourcing`` opens every SQLite connection with a statement cache of one, so each of
    the dozen statements a question runs was prepared anew every time (half its time, measured).
    This opens them the library's way (its arguments, WAL mode, row factory) with a cache; the
    ledger's statements come in a few sizes (``padded``) so that the cache serves them.
    """

    def _create_connection(self) -> SQLiteConnection:
        try:
            conn = sqlite3.connect(database=self.db_name, uri=True, check_same_thread=False,
                                   isolation_level=None, cached_statements=SQLITE_STATEMENT_CACHE,
                                   timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
                                   factory=_TrackedConnection)
        except (sqlite3.Error, TypeError) as exc:
            raise InterfaceError(exc) from exc
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        conn.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=conn, max_age=self.max_age)


def _lacks_privilege(exc: PersistenceError) -> bool:
    """Whether the database refused for lack of privilege (said plainly to the user)."""
    return type(exc.__cause__).__name__ == "InsufficientPrivilege"


class Store:
    """The library's application recorder and tracking recorder, plus one transaction API."""

    def __init__(self, url: str = DEFAULT_URL, create: bool = True):
        """Open the store at ``url``; with ``create`` False, only a store that holds a ledger
        (``StoreError`` otherwise, before anything is made: a question asked of a mistyped
        ``--store`` must not answer "nothing" from a ledger it has just created)."""
        self.url_text = url
        self.url = StoreUrl.parse(url)
        self.dialect = self.url.dialect
        if not create and self.dialect == "sqlite":
            # Looked at before the library opens it: its recorders create their tables.
            why = self._sqlite_file_lacks_ledger()
            if why is not None:
                raise NoLedger(NO_LEDGER.format(url=url, why=why))
        try:
            if self.dialect == "postgresql" and self.url.schema != "public":
                self._ensure_pg_schema(create)
            self.factory = InfrastructureFactory.construct(self.url.environment())
            pool = getattr(getattr(self.factory, "datastore", None), "pool", None)
            if type(pool) is SQLiteConnectionPool:  # before it opens its first connection
                pool.__class__ = _StatementCachingPool
            self.recorder: Any = self.factory.application_recorder()
            self.tracking: Any = self.factory.tracking_recorder()
        except StoreError:
            raise
        except Exception as exc:  # the library wraps driver errors in many ways
            raise StoreError(f"cannot open the store {url}: {exc}") from exc
        self.datastore: Any = self.factory.datastore  # type: ignore[attr-defined]
        self.seq_column = "rowid" if self.dialect == "sqlite" else "notification_id"
        #: An event's stored bytes as selected. A SQLite column holds whatever it is given: a row
        #: edited through ``replace()`` holds TEXT, which reads back as ``str`` (and fails in the
        #: driver if it is not UTF-8); cast, it reads as the bytes it holds, so that an edited row
        #: is read like any other and ``ledger verify`` names it (``integrity.py``), not a traceback.
        self.state_column = self.state_of("")
        self.events_table = str(getattr(self.recorder, "events_table_name", "stored_events"))
        self.tracking_table = str(getattr(self.tracking, "tracking_table_name", "tracking"))
        if self.dialect == "postgresql":
            # The library locks the events table before each insert; take that same lock
            # through LOCK_FUNCTION so that roles without UPDATE/DELETE privilege can append.
            recorder: Any = self.recorder
            recorder.lock_table_statements = [
                f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}s'",
                f'SELECT "{self.url.schema}".{LOCK_FUNCTION}()',
            ]

    def _sqlite_file_lacks_ledger(self) -> str | None:
        """Why the SQLite file holds no ledger (None: it has the library's events table), read
        without writing to it; a URI or memory database is left to ``holds_ledger``."""
        path = self.url.sqlite_path
        if path.startswith("file:") or path == ":memory:":
            return None
        if not os.path.isfile(path):
            return "the file does not exist"
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stored_events'")
                found = row.fetchone() is not None
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            found = False  # not a database at all
        return None if found else "it holds no ledger's tables"

    def holds_ledger(self) -> bool:
        """Whether the store holds a ledger (the library's events table: every ledger has it, those
        made before ``ledger_settings`` too), without creating anything."""
        with self.read() as tx:
            if self.dialect == "sqlite":
                tx.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self.events_table,))
                return tx.fetchone() is not None
            tx.execute("SELECT to_regclass(?)", (self._pg_name(self.events_table),))
            return tx.fetchone() not in (None, (None,))

    def _ensure_pg_schema(self, create: bool = True) -> None:
        import psycopg

        u = self.url
        with psycopg.connect(host=u.host, port=u.port, user=u.user, password=u.password or None,
                             dbname=u.dbname, autocommit=True, connect_timeout=5) as conn:
            # Look first: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when
            # the schema exists, and a clerk or committee role has no such right.
            if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (u.schema,)).fetchone() is None:
                if not create:
                    raise NoLedger(NO_LEDGER.format(url=self.url_text, why=f"schema {u.schema!r} does not exist"))
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{u.schema}"')

    def close(self) -> None:
        self.factory.close()

    def state_of(self, alias: str) -> str:
        """``state_column`` of the events table under an alias (``"e."``)."""
        return f"CAST({alias}state AS BLOB)" if self.dialect == "sqlite" else f"{alias}state"

    def columns(self, table: str) -> list[str]:
        """The column names of one of the ledger's tables."""
        with self.read() as tx:
            if self.dialect == "sqlite":
                return [str(r[1]) for r in tx.execute(f"PRAGMA table_info({table})").fetchall()]
            tx.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                       (self.url.schema, table))
            return [str(r[0]) for r in tx.fetchall()]

    def can_fork(self) -> bool:
        """Whether a forked process can open this store too (an in-memory SQLite cannot)."""
        return hasattr(os, "fork") and not (self.dialect == "sqlite" and ":memory:" in self.url.sqlite_path)

    # -- transactions ----------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One serialised write transaction: a whole batch commits or nothing does.

        The events table is locked first (SQLite: the database write lock, taken by the
        first statement being a write; PostgreSQL: the library's own EXCLUSIVE table lock,
        through LOCK_FUNCTION), so concurrent clerks queue and each batch sees every batch
        before it.
        """
        try:
            with self.datastore.transaction(commit=True) as cursor:
                tx = Tx(cursor, self.dialect)
                self._set_search_path(tx)
                if self.dialect == "sqlite":
                    # A large batch touches pages of several indexes at random (ids, streams,
                    # times); SQLite's default 2 MB page cache made it re-read them from disk
                    # (``SQLITE_WRITE_CACHE_KIB``).
                    tx.execute(f"PRAGMA cache_size = -{SQLITE_WRITE_CACHE_KIB}")
                    tx.execute("UPDATE ledger_writer SET n = n + 1")
                else:
                    self.recorder._lock_table(cursor)
                yield tx
        except PersistenceError as exc:
            # A reader role appending, or a clerk role missing a grant: say so plainly.
            if not _lacks_privilege(exc):
                raise
            raise StoreError(f"role {self.url.user!r} may not write to this ledger ({exc}); a committee's role "
                             "only reads, and a clerk's gets its rights from the owner with `ledger db roles`") from exc

    def leave_checkpoint(self, tx: Tx) -> None:
        """SQLite: the commit of this transaction leaves its pages in the write-ahead log.

        Committed pages are durable in the WAL; copying them into the database file (SQLite's
        checkpoint, which the commit would otherwise run at once) is left to ``checkpoint``,
        which a large batch's writer process runs after the clerk has its answer. Should that
        never run, the next commit of any connection, or the last one to close, checkpoints.
        """
        if self.dialect == "sqlite":
            tx.execute("PRAGMA wal_autocheckpoint = 0")

    def checkpoint(self) -> tuple[int, int] | None:
        """SQLite: copy the write-ahead log into the database file, waiting on no reader or
        writer (``PASSIVE``); (frames in the log, frames copied). None on PostgreSQL.

        Once all of it is copied, the log is cut to nothing if no reader is still on it
        (``TRUNCATE``, not waiting either): a million-line batch leaves a log of ~700 MB, which
        would otherwise stay on disk until the last connection to the ledger closes.
        """
        if self.dialect != "sqlite":
            return None
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("PRAGMA wal_autocheckpoint = 1000")  # SQLite's default, back for what follows
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            _, log, copied = cursor.fetchone()
            if log == copied:
                cursor.execute("PRAGMA busy_timeout")
                timeout = cursor.fetchone()[0]
                cursor.execute("PRAGMA busy_timeout = 0")
                try:
                    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    cursor.execute(f"PRAGMA busy_timeout = {int(timeout)}")
            return int(log), int(copied)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self.datastore.transaction(commit=False) as cursor:
            tx = Tx(cursor, self.dialect)
            self._set_search_path(tx)
            if self.dialect == "sqlite":
                # A reader answering many questions keeps the index pages it walks (default 2 MB),
                # and reads the file through a memory map instead of a system call per page.
                tx.execute(f"PRAGMA cache_size = -{SQLITE_READ_CACHE_KIB}")
                tx.execute(f"PRAGMA mmap_size = {SQLITE_READ_MMAP_BYTES}")
            yield tx

    def _set_search_path(self, tx: Tx) -> None:
        if self.dialect == "postgresql":
            tx.cursor.execute(f'SET LOCAL search_path TO "{self.url.schema}"')

    def create_schema(self, statements: Sequence[str]) -> None:
        """Create the library's tables and the ledger's own (idempotent)."""
        if self.dialect == "postgresql":
            self._create_pg_schema(statements)
            return
        self.recorder.create_table()
        self.tracking.create_table()
        with self.datastore.transaction(commit=True) as cursor:
            tx = Tx(cursor, self.dialect)
            self._set_search_path(tx)
            if self.dialect == "sqlite":
                tx.execute("CREATE TABLE IF NOT EXISTS ledger_writer (n INTEGER NOT NULL)")
                if tx.execute("SELECT COUNT(*) FROM ledger_writer").fetchone() == (0,):
                    tx.execute("INSERT INTO ledger_writer VALUES (0)")
            for statement in statements:
                tx.execute(statement)

    def _create_pg_schema(self, statements: Sequence[str]) -> None:
        """PostgreSQL: the owner creates what is missing; other roles check it is all there."""
        with self.read() as tx:
            tx.execute(
                "SELECT pg_has_role(c.relowner, 'USAGE'), c.relowner::regrole::text,"
                " to_regclass(?) IS NOT NULL FROM pg_class c WHERE c.oid = to_regclass(?)",
                (self._pg_name(self.tracking_table), self._pg_name(self.events_table)),
            )
            row = tx.fetchone()
        if row is not None and not row[0]:
            self._check_pg_schema(statements, owner=str(row[1]))
            return
        try:
            self._create_pg_tables(statements, create_library_tables=row is None or not row[2])
        except PersistenceError as exc:
            if not _lacks_privilege(exc):
                raise
            raise StoreError(f"role {self.url.user!r} may not create the ledger in schema {self.url.schema!r}"
                             f" ({exc}): its owner creates it with its first `ledger append` (or any command "
                             "that records)") from exc

    def _create_pg_tables(self, statements: Sequence[str], create_library_tables: bool) -> None:
        if create_library_tables:
            # Only when missing: the library's DDL includes CREATE OR REPLACE FUNCTION, which
            # fails ("tuple concurrently updated") when several clerks open the ledger at once.
            self.recorder.create_table()
            self.tracking.create_table()
        fn = f'"{self.url.schema}".{LOCK_FUNCTION}()'
        with self.datastore.transaction(commit=True) as cursor:
            tx = Tx(cursor, self.dialect)
            self._set_search_path(tx)
            tx.execute(
                "DO $ledger$ BEGIN"
                f" IF to_regprocedure('{fn}') IS NULL THEN"
                f" CREATE FUNCTION {fn} RETURNS void LANGUAGE plpgsql SECURITY DEFINER"
                " SET search_path = pg_catalog, pg_temp AS $body$ BEGIN"
                f" LOCK TABLE {self._pg_name(self.events_table)} IN EXCLUSIVE MODE; END $body$;"
                f" REVOKE ALL ON FUNCTION {fn} FROM PUBLIC;"
                " END IF; END $ledger$"
            )
            for statement in statements:
                tx.execute(statement)

    def _check_pg_schema(self, statements: Sequence[str], owner: str) -> None:
        """A role that does not own the ledger opens it only if every table is already there."""
        names = [self.events_table, self.tracking_table]
        names += re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", "\n".join(statements))
        with self.read() as tx:
            missing = [
                n for n in names if tx.execute("SELECT to_regclass(?)", (self._pg_name(n),)).fetchone() == (None,)
            ]
            fn = f'"{self.url.schema}".{LOCK_FUNCTION}()'
            if tx.execute("SELECT to_regprocedure(?)", (fn,)).fetchone() == (None,):
                missing.append(LOCK_FUNCTION + "()")
        if missing:
            raise StoreError(
                f"the ledger in schema {self.url.schema!r} lacks {', '.join(missing)}, and role "
                f"{self.url.user!r} may not create them: open it once as its owner {owner!r} "
                "(for example with `ledger verify`)"
            )

    def _pg_name(self, table: str) -> str:
        return f'"{self.url.schema}"."{table}"'

    # -- events ----------------------------------------------------------------------

    def insert(self, tx: Tx, rows: Sequence[tuple[str, int, str, bytes]], top: int) -> list[int]:
        """Insert events (stream, version, type, state) after the head ``top``; their sequence numbers.

        SQLite: inside our serialised write transaction each row is given its rowid (the next
        after the head) in one ``executemany`` (the library's recorder inserts row by row to
        learn each rowid). PostgreSQL: the library's recorder, which returns the ids the
        sequence gave.
        """
        if not rows:
            return []
        if self.dialect == "sqlite":
            seqs = list(range(top + 1, top + 1 + len(rows)))
            tx.cursor.executemany(
                f"INSERT INTO {self.events_table} (rowid, originator_id, originator_version, topic, state)"
                " VALUES (?, ?, ?, ?, ?)",
                [(seq, *row) for seq, row in zip(seqs, rows, strict=True)],
            )
            return seqs
        # PostgreSQL: COPY (the library's insert builds one array of composite values in Python,
        # which took half a large batch's time). Inside our transaction, holding the library's
        # EXCLUSIVE lock on the table, the new rows are exactly those past the head, and the
        # sequence numbered them in the order they were copied.
        self.recorder._notify_channel(tx.cursor)  # as the library's insert does, for its listeners
        tx.bulk_insert(self.events_table, ("originator_id", "originator_version", "topic", "state"), rows)
        tx.execute(f"SELECT notification_id FROM {self.events_table} WHERE notification_id > ?"
                   " ORDER BY notification_id", (top,))
        seqs = [int(r[0]) for r in tx.fetchall()]
        if len(seqs) != len(rows):
            raise StoreError(f"inserted {len(rows)} events but found {len(seqs)} new rows")
        return seqs

    def stream_rows(self, tx: Tx, streams: Sequence[str]) -> list[tuple[int, str, int, bytes]]:
        """(seq, stream, version, state) of every event in the given streams."""
        rows: list[tuple[int, str, int, bytes]] = []
        for i in range(0, len(streams), 512):
            chunk = padded(streams[i:i + 512], "")
            marks = ",".join("?" * len(chunk))
            tx.execute(
                f"SELECT {self.seq_column}, originator_id, originator_version, {self.state_column} "
                f"FROM {self.events_table} WHERE originator_id IN ({marks})",
                chunk,
            )
            rows.extend((int(s), str(o), int(v), state_bytes(s, o, st)) for s, o, v, st in tx.fetchall())
        return rows

    def rows_by_seq(self, tx: Tx, seqs: Sequence[int]) -> list[tuple[int, str, int, bytes]]:
        """(seq, stream, version, state) of the events with these sequence numbers."""
        rows: list[tuple[int, str, int, bytes]] = []
        for i in range(0, len(seqs), 512):
            chunk = padded(seqs[i:i + 512], -1)
            tx.execute(
                f"SELECT {self.seq_column}, originator_id, originator_version, {self.state_column} "
                f"FROM {self.events_table} WHERE {self.seq_column} IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            rows.extend((int(s), str(o), int(v), state_bytes(s, o, st)) for s, o, v, st in tx.fetchall())
        return rows

    def rows_holding(self, tx: Tx, needle: bytes, after: int, limit: int) -> list[tuple[int, str, int, bytes]]:
        """(seq, stream, version, state) of the events not retracted whose stored bytes hold
        ``needle``, after ``after``, in order: a scan of the whole log, for the rare question of
        which events name something (the caller decodes them to be sure)."""
        holds = ("instr(CAST(e.state AS BLOB), CAST(? AS BLOB)) > 0" if self.dialect == "sqlite"
                 else "position(CAST(? AS bytea) in e.state) > 0")
        # The log is scanned in order from ``after``, the few retracted positions set apart once
        # a query (ledger_ids has no index by position: joined to it, each page scanned it whole).
        tx.execute(
            f"SELECT e.{self.seq_column}, e.originator_id, e.originator_version, {self.state_of('e.')}"
            f" FROM {self.events_table} e"
            f" WHERE e.{self.seq_column} > ? AND {holds}"
            f" AND e.{self.seq_column} NOT IN (SELECT seq FROM ledger_ids WHERE retracted = 1)"
            f" ORDER BY e.{self.seq_column} LIMIT ?",
            (after, needle, limit),
        )
        return [(int(s), str(o), int(v), state_bytes(s, o, st)) for s, o, v, st in tx.fetchall()]

    def streams_like(self, tx: Tx, prefix: str) -> list[str]:
        """Names of the streams starting with ``prefix`` (e.g. ``post:``)."""
        tx.execute(
            f"SELECT DISTINCT originator_id FROM {self.events_table} "
            "WHERE originator_id >= ? AND originator_id < ?",
            (prefix, prefix + "\uffff"),
        )
        return [str(r[0]) for r in tx.fetchall()]

    def stream_versions(self, tx: Tx, streams: Sequence[str]) -> dict[str, int]:
        versions: dict[str, int] = {}
        for i in range(0, len(streams), 500):
            chunk = list(streams[i:i + 500])
            marks = ",".join("?" * len(chunk))
            tx.execute(
                f"SELECT originator_id, MAX(originator_version) FROM {self.events_table} "
                f"WHERE originator_id IN ({marks}) GROUP BY originator_id",
                chunk,
            )
            versions.update({str(o): int(v) for o, v in tx.fetchall()})
        return versions

    def rows_between(
        self, tx: Tx, after: int, upto: int | None = None, limit: int = 10_000
    ) -> list[tuple[int, str, int, bytes]]:
        """Notification log page: (seq, stream, version, state) with after < seq <= upto."""
        sql = (
            f"SELECT {self.seq_column}, originator_id, originator_version, {self.state_column} "
            f"FROM {self.events_table} WHERE {self.seq_column} > ?"
        )
        params: list[Any] = [after]
        if upto is not None:
            sql += f" AND {self.seq_column} <= ?"
            params.append(upto)
        sql += f" ORDER BY {self.seq_column} LIMIT ?"
        params.append(limit)
        tx.execute(sql, params)
        return [(int(s), str(o), int(v), state_bytes(s, o, st)) for s, o, v, st in tx.fetchall()]

    def log_page(self, tx: Tx, after: int, upto: int, limit: int,
                 wanted: str = "1 = 1") -> list[tuple[int, str, str, bytes]]:
        """A page of the notification log, of the records where the SQL condition ``wanted``
        holds: (seq, stream, type, state) with after < seq <= upto, in order, at most ``limit``."""
        tx.execute(
            f"SELECT {self.seq_column}, originator_id, topic, {self.state_column} FROM {self.events_table}"
            f" WHERE {self.seq_column} > ? AND {self.seq_column} <= ? AND ({wanted})"
            f" ORDER BY {self.seq_column} LIMIT ?",
            (after, upto, limit),
        )
        return tx.fetchall()

    def head_row(self, tx: Tx) -> tuple[int, bytes] | None:
        tx.execute(
            f"SELECT {self.seq_column}, {self.state_column} FROM {self.events_table} "
            f"ORDER BY {self.seq_column} DESC LIMIT 1"
        )
        row = tx.fetchone()
        return None if row is None else (int(row[0]), state_bytes(row[0], "", row[1]))

    def max_seq(self, tx: Tx) -> int:
        tx.execute(f"SELECT MAX({self.seq_column}) FROM {self.events_table}")
        row = tx.fetchone()
        return int(row[0]) if row and row[0] is not None else 0
