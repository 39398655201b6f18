"""Connections with Kitflow's settings, and waiting out other writers instead of failing.

Every connection: WAL journal (set once on the file), ``synchronous`` as chosen in ADR 0002,
foreign keys on, ``busy_timeout``, a large statement cache (queries are prepared once per
connection), autocommit mode so that the store issues BEGIN/COMMIT itself.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from typing import Final, TypeVar

from kitflow.domain.errors import Unavailable
from kitflow_adapters.sqlite.checkpoint import BACKSTOP_PAGES

T = TypeVar("T")

BUSY_TIMEOUT: Final = 5.0
"""Seconds SQLite's own busy handler waits for a lock before a statement fails with SQLITE_BUSY."""
LOCK_TIMEOUT: Final = 120.0
"""Seconds the store keeps retrying to take the write lock before it gives up with StoreBusy."""
SYNCHRONOUS: Final = ("OFF", "NORMAL", "FULL", "EXTRA")
PAGE_SIZE: Final = 2048
"""Bytes per page of a database Kitflow creates (SQLite's default is 4096). A commit writes each
page it changed whole to the WAL, checksummed: a create changes seven or eight (the order's row,
four or five indexes, the external id, the totals), so half-size pages halve what every write copies, sums and
later checkpoints (docs/performance.md). An existing file keeps the size it was made with."""


class StoreBusy(Unavailable):
    """Other connections held the database's write lock for longer than the store waits (the
    core's Unavailable: the HTTP API answers 503, and nothing was written)."""


PAGE_CACHE_KIB: Final = 8000
"""SQLite's page cache per connection. Reads beyond it come from the OS's cache of the file; a
larger one mostly holds random order rows a worker read once (it filled 16 MB in a minute of
fetches over a million orders) and is memory every worker keeps."""


def connect(path: str, *, synchronous: str) -> sqlite3.Connection:
    """A connection to the database file at ``path`` with Kitflow's settings. It may be closed from
    another thread (``check_same_thread`` off); the store uses each connection from one thread only."""
    conn = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=512,
    )
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")  # the store's checkpoint thread does it sooner
    return conn


def use_wal(conn: sqlite3.Connection, *, timeout: float = LOCK_TIMEOUT) -> None:
    """Put the database in WAL mode (persistent: done once per file). Raises RuntimeError when the
    file system cannot hold a WAL database, StoreBusy when the database stays locked."""
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # takes effect only on a file with no page yet
    mode = retrying(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0], timeout=timeout)
    if mode != "wal":
        raise RuntimeError(f"the database cannot use WAL mode (journal mode is {mode!r})")
    conn.execute("PRAGMA journal_size_limit = 67108864")


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether ``error`` is SQLITE_BUSY or SQLITE_LOCKED (another connection holds a lock)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)


def retrying(action: Callable[[], T], *, timeout: float = LOCK_TIMEOUT) -> T:
    """``action()``, tried again after a short random pause while it fails because the database is
    busy. Raises StoreBusy after ``timeout`` seconds; any other error at once."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            return action()
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise
            if time.monotonic() >= deadline:
                raise StoreBusy(detail=f"the database stayed locked for {timeout:g} s") from error
        time.sleep(random.uniform(0, pause))
        pause = min(pause * 2, 0.05)
