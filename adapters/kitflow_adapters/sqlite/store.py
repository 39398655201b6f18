"""The SQLite store: a unit of work over one database file, one connection per thread.

A write transaction is ``BEGIN IMMEDIATE``: it takes the database's write lock before its first
read, so the checks and writes of a use case are atomic against every other writer, in this process
or another. Threads of one process queue for the lock on a Python lock (no polling); processes wait
for each other through SQLite's busy handler and a retry loop, so ``database is locked`` never
reaches a caller. A read transaction is a deferred ``BEGIN``: one consistent snapshot (WAL), never
blocked by writers. A ``begin`` inside an open transaction of the same thread joins it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Collection, Mapping
from contextlib import suppress
from types import TracebackType
from typing import Final, TypeVar

from kitflow.domain.catalog import Manufacturer
from kitflow.domain.identity import ApiKey
from kitflow_adapters.sqlite.catalog import SqliteItems, SqliteKits, SqliteManufacturers
from kitflow_adapters.sqlite.checkpoint import Checkpointer
from kitflow_adapters.sqlite.connection import LOCK_TIMEOUT, SYNCHRONOUS, StoreBusy, connect, is_busy, retrying, use_wal
from kitflow_adapters.sqlite.identity import SqliteApiKeys, SqliteCustomers
from kitflow_adapters.sqlite.orders import SqliteOrders
from kitflow_adapters.sqlite.people import SqlitePatients, SqliteSites
from kitflow_adapters.sqlite.records import SqliteIdempotencyRecords, SqliteSettings
from kitflow_adapters.sqlite.repository import KEYS, REFERENCE, Shown, remembered
from kitflow_adapters.sqlite.schema import has_key_triggers, migrate, pending


T = TypeVar("T")
_UNREAD: Final = -1
_DATA_VERSION: Final = "PRAGMA data_version"
KNOWN_KEYS: Final = 1024
"""Keys a connection keeps at most (found ones only: an unknown prefix is read each time)."""


class SqliteTransaction:
    """Every repository over one thread's connection. One transaction is open on it at a time;
    ``write`` tells whether it is a write transaction."""

    __slots__ = (
        "write", "makers", "shown", "cursor", "_conn", "_version", "keep_keys", "_known", "_data_version",
        "_keys_version",
        "customers", "keys", "patients", "sites", "manufacturers", "items", "kits", "orders", "idempotency",
        "settings",
    )

    def __init__(self, conn: sqlite3.Connection, shown: Shown, cursor: sqlite3.Cursor, *, keep_keys: bool) -> None:
        self.write = False
        self.makers: dict[int, Manufacturer] = {}
        self.shown = shown
        self.cursor = cursor
        self._conn = conn
        self._version: int | None = _UNREAD
        self.keep_keys = keep_keys
        """Whether the file had the triggers that keep the ``keys`` version when the connection opened."""
        self._known: dict[str, ApiKey] = {}
        self._data_version: int | None = None
        self._keys_version: int | None = None
        self.customers = SqliteCustomers(conn, self)
        self.keys = SqliteApiKeys(conn, self)
        self.patients = SqlitePatients(conn, self)
        self.sites = SqliteSites(conn, self)
        self.manufacturers = SqliteManufacturers(conn, self)
        self.items = SqliteItems(conn, self)
        self.kits = SqliteKits(conn, self)
        self.orders = SqliteOrders(conn, self)
        self.idempotency = SqliteIdempotencyRecords(conn, self)
        self.settings = SqliteSettings(conn, self)

    def started(self, *, write: bool) -> None:
        """A new transaction begins on the connection."""
        self.write = write
        self.makers.clear()
        self._version = _UNREAD

    def reference(self) -> int | None:
        version = self._version
        if version == _UNREAD:
            version = self._version = self.cursor.execute(REFERENCE).fetchone()[0]
        return version

    def read_reference(self, version: int) -> None:
        if self._version == _UNREAD:
            self._version = version

    def changed_shown(self) -> None:
        self._version = None

    def known_key(self, prefix: str) -> ApiKey | None:
        """The key with ``prefix`` as a read would find it now (see ``SqliteStore.find_key``): kept
        from an earlier read while nothing can have changed ``api_keys`` since. That holds while no
        other connection has committed (``PRAGMA data_version``, a statement that reads no table)
        and this one has written no key (``forget_keys``); once another has committed, while the
        ``keys`` version (set to a new random value by triggers on any change to ``api_keys``, so a
        file restored to an older state cannot bring back a value seen before) is the one it was
        read under. A write transaction reads the row (its own changes may yet roll back), and so
        does a store whose file lacks those triggers (``keep_keys``)."""
        if not self.keep_keys or self.write and self._conn.in_transaction:
            return self.keys.find(prefix)
        cursor = self.cursor
        data_version = cursor.execute(_DATA_VERSION).fetchone()[0]
        if data_version != self._data_version:
            row = cursor.execute(KEYS).fetchone()
            keys_version = None if row is None else row[0]
            if keys_version is None or keys_version != self._keys_version:
                self._known.clear()
            self._keys_version = keys_version
            self._data_version = data_version
        record = self._known.get(prefix)
        if record is None:
            record = self.keys.find(prefix)
            if record is not None and self._keys_version is not None and len(self._known) < KNOWN_KEYS:
                self._known[prefix] = record
        return record

    def forget_keys(self) -> None:
        """This connection writes a key (``SqliteApiKeys``, the one writer of ``api_keys``): forget
        the kept keys, and read the ``keys`` version again next time (this connection's own
        commits leave ``data_version`` as it was)."""
        self._known.clear()
        self._data_version = self._keys_version = None

    def derived(
        self, kind: str, scope: int, ids: Collection[int], make: Callable[[set[int]], Mapping[int, T]]
    ) -> Mapping[int, T]:
        """See ``Transaction.derived``: remembered in ``Shown`` beside the entities they are made of
        (under a name no table has)."""
        return remembered(self, "derived " + kind, scope, ids, make)


class _Link:
    """One thread's connection, its repositories, and whether a transaction is open on it."""

    __slots__ = ("conn", "control", "tx", "open", "generation", "__weakref__")

    def __init__(self, conn: sqlite3.Connection, generation: int, shown: Shown) -> None:
        self.conn = conn
        self.control = conn.cursor()  # runs BEGIN and COMMIT: kept, not made for each
        self.tx = SqliteTransaction(conn, shown, self.control, keep_keys=has_key_triggers(conn))
        self.open = False
        self.generation = generation


class _Scope:
    """The context manager ``begin`` returns: opens (or joins) the thread's transaction, and
    commits it when the block ends normally or rolls it back when the block raises."""

    __slots__ = ("_store", "_write", "_link")

    def __init__(self, store: SqliteStore, write: bool) -> None:
        self._store = store
        self._write = write
        self._link: _Link | None = None

    def __enter__(self) -> SqliteTransaction:
        link = self._store._thread_link()
        if link.open:
            if self._write and not link.tx.write:
                raise RuntimeError("a write transaction inside a read-only one")
            return link.tx
        if self._write:
            self._store._begin_write(link)
        else:
            link.control.execute("BEGIN")
        link.tx.started(write=self._write)
        link.open = True
        self._link = link
        return link.tx

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        link = self._link
        if link is None:
            return
        self._link = None
        link.open = False
        conn = link.conn
        try:
            if kind is None:
                try:
                    link.control.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
                if self._write:
                    self._store._wrote()
            else:
                _rollback(conn)
        finally:
            if self._write:
                self._store._writer.release()


def _rollback(conn: sqlite3.Connection) -> None:
    # A failed ROLLBACK (the connection is gone) must not hide the error that caused it.
    if conn.in_transaction:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


_STORES: Final[weakref.WeakSet[SqliteStore]] = weakref.WeakSet()
_INHERITED: Final[list[sqlite3.Connection]] = []
"""Connections a forked child inherited: kept, never used or closed (SQLite forbids both)."""


def _after_fork_in_child() -> None:
    for store in list(_STORES):
        store._forget_connections()


os.register_at_fork(after_in_child=_after_fork_in_child)


class SqliteStore:
    """A unit of work over the SQLite database file at ``path``, created or migrated on opening
    (safe when several threads or processes open it at once).

    ``synchronous`` is SQLite's setting (ADR 0002: ``NORMAL``, every committed write survives the
    death of the process; ``FULL`` also survives power loss, at an fsync per commit).
    ``lock_timeout`` is how long a writer waits for the write lock before raising StoreBusy.
    Raises SchemaTooNew when a newer Kitflow migrated the database, RuntimeError when the file
    cannot hold a WAL database, sqlite3.Error when it is not a database.
    """

    def __init__(self, path: str, *, synchronous: str = "NORMAL", lock_timeout: float = LOCK_TIMEOUT) -> None:
        if synchronous.upper() not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}")
        self.path = path
        self._synchronous = synchronous.upper()
        self._lock_timeout = lock_timeout
        self._local = threading.local()
        self._links: list[tuple[weakref.ref[threading.Thread], _Link]] = []
        self._links_lock = threading.Lock()
        self._writer = threading.Lock()
        self._generation = 0
        self._shown = Shown()
        self._checkpointer: Checkpointer | None = None
        _STORES.add(self)
        link = self._thread_link()
        conn = link.conn
        use_wal(conn, timeout=lock_timeout)
        if pending(conn):  # an up-to-date database opens without waiting for its writers
            self._begin_write(link)
            try:
                migrate(conn)
            except BaseException:
                _rollback(conn)
                self._writer.release()
                raise
            conn.execute("COMMIT")
            self._writer.release()
        link.tx.keep_keys = has_key_triggers(conn)  # (the link was made before the migrations)

    def begin(self, *, write: bool = False) -> _Scope:
        """A transaction over every repository (see ``UnitOfWork``). Raises RuntimeError for a
        write inside a read-only transaction, StoreBusy when the write lock stays taken."""
        return _Scope(self, write)

    def close(self) -> None:
        """Close every thread's connection; a later ``begin`` opens new ones."""
        with self._links_lock:
            links, self._links = self._links, []
            self._generation += 1
            self._shown = Shown()  # the file may be another by the next begin
            checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        for _, link in links:
            link.conn.close()

    def _wrote(self) -> None:
        """After a write commits: have the checkpoint thread (started on the first write) fold the
        WAL into the database soon, off this thread (see ``checkpoint``)."""
        checkpointer = self._checkpointer
        if checkpointer is None:
            with self._links_lock:
                if self._checkpointer is None:
                    self._checkpointer = Checkpointer(lambda: connect(self.path, synchronous=self._synchronous))
                checkpointer = self._checkpointer
        checkpointer.wrote()

    def find_key(self, prefix: str) -> ApiKey | None:
        """See ``UnitOfWork.find_key``: the thread's connection keeps the keys it has read while no
        change to ``api_keys`` can have been committed since (``SqliteTransaction.known_key``), so a
        request checks that with ``PRAGMA data_version`` instead of reading the key's row; outside
        a transaction, in autocommit (its own snapshot), without the ``BEGIN`` and ``COMMIT`` a read
        transaction costs."""
        return self._thread_link().tx.known_key(prefix)

    def _thread_link(self) -> _Link:
        link: _Link | None = getattr(self._local, "link", None)
        if link is not None and link.generation == self._generation:
            return link
        with self._links_lock:
            alive = []
            for thread, other in self._links:
                if thread() is None or not thread().is_alive():  # type: ignore[union-attr]
                    other.conn.close()
                else:
                    alive.append((thread, other))
            link = _Link(connect(self.path, synchronous=self._synchronous), self._generation, self._shown)
            alive.append((weakref.ref(threading.current_thread()), link))
            self._links = alive
        self._local.link = link
        return link

    def _begin_write(self, link: _Link) -> None:
        """Take this process's writer lock, then the database's (``BEGIN IMMEDIATE`` on the link's
        kept cursor), waiting out other writers. Raises StoreBusy after ``lock_timeout``."""
        if not self._writer.acquire(True, self._lock_timeout):  # (positional: a keyword costs ~1,600 instructions)
            raise StoreBusy(detail=f"another thread held the write lock for {self._lock_timeout:g} s")
        control = link.control
        try:
            try:
                control.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    raise
                retrying(lambda: control.execute("BEGIN IMMEDIATE"), timeout=self._lock_timeout)
        except BaseException:
            self._writer.release()
            raise

    def _forget_connections(self) -> None:
        """In a forked child: drop the parent's connections (and locks) without touching them."""
        _INHERITED.extend(link.conn for _, link in self._links)
        self._links = []
        self._checkpointer = None  # its thread stayed in the parent
        self._generation += 1
        self._shown = Shown()  # its lock may have been held by another thread of the parent
        self._links_lock = threading.Lock()
        self._writer = threading.Lock()
