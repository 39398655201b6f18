"""WAL checkpoints off the request path: a background thread copies committed pages into the
database file, so that no request waits for a checkpoint's fsyncs.

Left to itself, SQLite checkpoints inside the COMMIT that takes the WAL past ``wal_autocheckpoint``
pages: that one commit then fsyncs the WAL and the database (milliseconds on a virtual disk), and on
an event loop every request in flight waits with it. Here the store's connections checkpoint only
as a backstop (``BACKSTOP_PAGES``, far past what the thread lets the WAL grow to), and a daemon
thread with its own connection runs ``PRAGMA wal_checkpoint(PASSIVE)`` after every ``EVERY`` write
transactions, or a ``PAUSE`` after the last write: about as often as SQLite would (each checkpoint
costs two fsyncs, so not after every write), but never on a request's thread. A passive checkpoint
never blocks readers or writers, and SQLite releases the GIL while it works. Durability is
unchanged: a commit is in the WAL before COMMIT returns, checkpointed or not.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Final

BACKSTOP_PAGES: Final = 10_000
"""``wal_autocheckpoint`` of the store's connections: they checkpoint only if the thread falls this far behind."""
EVERY: Final = 200
"""Write transactions between two checkpoints under a steady write load (a few pages each)."""
PAUSE: Final = 1.0
"""Seconds after the last write when what is left in the WAL is checkpointed."""
IDLE: Final = 10.0
"""Seconds without writes after which the thread ends (the next write starts another)."""


_IN_SQLITE: Final = threading.Lock()
"""Held by a checkpoint thread while it is inside SQLite (opening its connection, checkpointing,
closing), and by ``os.fork`` meanwhile: a child forked while another thread holds one of SQLite's
own mutexes (its allocator's, its open files' list) would wait on it for ever at its first call."""
os.register_at_fork(before=_IN_SQLITE.acquire, after_in_parent=_IN_SQLITE.release, after_in_child=_IN_SQLITE.release)


class Checkpointer:
    """Checkpoints, on a connection of its own from ``connect``, as ``wrote`` is called, in a daemon
    thread that runs only while writes keep coming."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._writes = 0
        self._thread: threading.Thread | None = None
        self._stopping = False

    def wrote(self) -> None:
        """Note that a write transaction committed; start the thread if it is not running."""
        self._writes += 1
        if self._writes >= EVERY:
            self._due.set()
        with self._lock:
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, name="kitflow-sqlite-checkpoint", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Checkpoint what is pending and end the thread."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._due.set()
        if thread is not None:
            thread.join()

    def _end(self) -> bool:
        """Whether the thread may end: stopping, or no write since the last checkpoint."""
        with self._lock:
            if self._writes and not self._stopping:
                return False
            self._thread = None
            return True

    def _run(self) -> None:
        with _IN_SQLITE:
            conn = self._connect()
        quiet_since = time.monotonic()
        try:
            while True:
                self._due.wait(PAUSE)
                self._due.clear()
                if self._writes:
                    self._writes = 0
                    try:
                        with _IN_SQLITE:
                            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.Error:
                        pass  # busy or gone: the next round tries again, and the backstop holds meanwhile
                    quiet_since = time.monotonic()
                if (self._stopping or time.monotonic() - quiet_since > IDLE) and self._end():
                    return
        finally:
            with _IN_SQLITE:
                conn.close()
