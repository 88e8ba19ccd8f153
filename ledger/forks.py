"""Forked helper processes of the ledger: the append's writer (``ledger.application``) and the
export's second case worker (``projections.export``).

A forked process (``fork``) shares nothing it may touch with its parent: it opens a store
connection of its own (``own_store``), is killed with its parent (``die_with``), and sends back
errors that survive the pipe (``picklable``). It ends with ``os._exit``, so that no finaliser of
its parent's objects (connections, open files) runs in it.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable
from contextlib import suppress
from multiprocessing.connection import Connection

from ledger.store import Store, StoreError, release_inherited_sqlite

#: A forked process's copy of its parent's stores, kept (never finalised) until it ends.
_INHERITED: list[Store] = []


def fork(life: Callable[[Connection], int | None], duplex: bool = True) -> tuple[int, Connection]:
    """A helper process forked to run ``life`` with its end of a pipe; (its pid, this end).

    The helper is killed with this process (``die_with``) and ends with ``life``'s status (0 for
    None, 1 if it raised), by ``os._exit``. Not duplex: this end receives, the helper's sends.
    """
    ours, theirs = multiprocessing.Pipe(duplex)
    parent_pid = os.getpid()
    pid = os.fork()
    if pid == 0:  # the helper
        code = 1
        try:
            ours.close()
            die_with(parent_pid)
            code = life(theirs) or 0
        finally:
            os._exit(code)  # no cleanup of the parent's connections and files (they are not ours)
    theirs.close()
    return pid, ours


def own_store(inherited: Store) -> Store:
    """In a forked process: a connection of its own to the parent's store.

    The parent's store stays referenced and is never closed here: finalising it would close the
    parent's connections (PostgreSQL would end its session). Its SQLite connections are released
    first (``release_inherited_sqlite``), so that this process's connection takes real locks.
    """
    _INHERITED.append(inherited)
    release_inherited_sqlite()
    return Store(inherited.url_text)


def die_with(parent_pid: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux), so that a helper never
    outlives the command that started it (holding the write lock, or writing files)."""
    parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before that took effect
        os._exit(1)


def parent_death_signal(sig: int) -> None:
    """The signal the kernel sends this process when its parent dies (Linux; 0: none)."""
    with suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG


def picklable(exc: BaseException, who: str) -> BaseException:
    """``exc`` if it crosses a pipe intact, else a StoreError naming it (``who`` failed)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return StoreError(f"{who} failed: {type(exc).__name__}: {exc}")


__all__ = ["die_with", "fork", "own_store", "parent_death_signal", "picklable"]
