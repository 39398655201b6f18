"""What every repository of the SQLite store shares: its connection, its transaction, and the
translation of SQLite's constraint errors into the domain's."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final, Protocol, TypeVar

import msgspec

from kitflow.domain.errors import NotFound
from kitflow.domain.paging import Page, PageSpec
from kitflow_adapters.sqlite.codec import to_json
from kitflow_adapters.sqlite.paging import Where, page

S = TypeVar("S", bound=msgspec.Struct)


REFERENCE: Final = "SELECT version FROM versions WHERE name = 'reference'"
"""The ``reference`` version (migration 0004_versions): alone, or as a column beside other rows."""
KEYS: Final = "SELECT version FROM versions WHERE name = 'keys'"
"""The ``keys`` version (migration 0006_key_version): a random value, new with every change to ``api_keys``."""


class Shown:
    """Entities orders show (patients, sites, kits, items, manufacturers), and values made of them
    (``Transaction.derived``), remembered by the store across transactions while the database's
    ``reference`` version (bumped by triggers in the transaction of any change to those tables) is
    the one they were read under. A transaction compares the version of its own snapshot, so what it
    gets is what it would read. Thread-safe; at most ``LIMIT`` values (all forgotten when more come)."""

    LIMIT: ClassVar[int] = 4096

    def __init__(self) -> None:
        self._held: tuple[int | None, dict[tuple[str, int, Any], Any]] = (None, {})
        """The version and what was read under it: replaced whole, so a reader needs no lock."""
        self._lock = threading.Lock()

    def values(
        self, version: int, table: str, scope: int, ids: Collection[Any], make: Callable[[set[Any]], Mapping[Any, Any]]
    ) -> dict[Any, Any]:
        """The values of ``ids`` (by id): those remembered under ``version``, the others made by
        ``make`` (and then remembered)."""
        held, rows = self._held
        if held != version:
            rows = {}
        hits: dict[Any, Any] = {}
        missing: set[Any] | None = None  # made for the first miss only
        for row_id in ids:
            value = rows.get((table, scope, row_id))
            if value is None:
                if missing is None:
                    missing = set()
                missing.add(row_id)
            else:
                hits[row_id] = value
        if missing:
            fresh = make(missing)
            self._keep(version, table, scope, fresh)
            hits.update(fresh)
        return hits

    def _keep(self, version: int, table: str, scope: int, values: Mapping[Any, Any]) -> None:
        """Remember ``values`` (by id), read under ``version``: a newer version forgets the rest;
        values of an older one than held are not kept."""
        if len(values) > self.LIMIT:
            return
        with self._lock:
            held, rows = self._held
            if version != held:
                if held is not None and version < held:
                    return
                rows = {}
            elif len(rows) + len(values) > self.LIMIT:
                rows = {}
            for row_id, value in values.items():
                rows[(table, scope, row_id)] = value
            self._held = (version, rows)


class Writable(Protocol):
    write: bool
    cursor: sqlite3.Cursor
    """The connection's kept cursor, for a statement that gives at most one row, read at once with
    ``fetchone`` (a statement left with rows unread would hold its snapshot until the cursor's next
    statement): no cursor is made and freed for it, as ``Connection.execute`` does each time."""
    makers: dict[int, Any]
    """Manufacturers read with their items in this transaction, by id (see ``SqliteItems.get_many``)."""
    shown: Shown

    def reference(self) -> int | None:
        """The ``reference`` version of this transaction's snapshot, or None once it changed a table
        orders show (its own change is not committed: nothing is remembered or used from then)."""
        ...

    def read_reference(self, version: int) -> None:
        """Note the ``reference`` version a statement of this transaction read along with its rows
        (in the same snapshot): ``reference`` then needs no statement of its own."""
        ...

    def changed_shown(self) -> None:
        """Note that this transaction writes to a table orders show."""
        ...

    def forget_keys(self) -> None:
        """Note that this transaction writes a key: the keys its connection kept are forgotten."""
        ...


class Repository:
    """A repository bound to one connection and the transaction open on it."""

    __slots__ = ("_conn", "_tx")
    shown: ClassVar[bool] = False
    """Whether orders show this repository's rows: its reads go through ``Shown``, its writes
    stop the transaction from using it."""

    def __init__(self, conn: sqlite3.Connection, tx: Writable) -> None:
        self._conn = conn
        self._tx = tx

    def _writing(self) -> sqlite3.Connection:
        """The connection, for a write. Raises RuntimeError inside a read-only transaction."""
        if not self._tx.write:
            raise RuntimeError("a write in a read-only transaction")
        if self.shown:
            self._tx.changed_shown()
        return self._conn

    def _remembered(
        self, table: str, scope: int, ids: Collection[int], read: Callable[[set[int]], dict[int, Any]]
    ) -> dict[int, Any]:
        """The rows of ``ids`` by id: those ``Shown`` holds for this transaction's version, the
        others by ``read`` (and then remembered)."""
        return remembered(self._tx, table, scope, ids, read)


def remembered(
    tx: Writable, kind: str, scope: int, ids: Collection[Any], make: Callable[[set[Any]], Mapping[Any, Any]]
) -> dict[Any, Any]:
    """The values of ``kind`` for ``ids`` by id: those ``Shown`` holds for ``tx``'s version, the
    others made by ``make`` (and then remembered); all made when ``tx`` changed what orders show."""
    version = tx.reference()
    if version is None:
        return dict(make(set(ids)))
    return tx.shown.values(version, kind, scope, ids, make)


def json_array(values: Collection[Any]) -> str:
    """``values`` as the JSON array that ``json_each(?)`` reads: one statement for any number of them."""
    return to_json(values if isinstance(values, (list, tuple, set, frozenset)) else list(values))


UNITED: Final = 32
"""Up to this many ids are read by one statement of ``one`` lookups joined by UNION ALL: reading
``json_each`` costs about what reading one more wide row does, each lookup only its row."""


@functools.lru_cache(maxsize=256)
def _united(one: str, count: int) -> str:
    return " UNION ALL ".join([one] * count)


def by_ids(
    conn: sqlite3.Connection, ids: Collection[Any], *, one: str, many: str, params: tuple[Any, ...] = ()
) -> Iterable[Any]:
    """The rows of ``ids``: by ``one`` (``id = ?``) for a single id, the common case; by ``count``
    of them joined by UNION ALL for up to ``UNITED`` (an id given twice gives its row twice); else
    by ``many`` (``id IN (SELECT value FROM json_each(?))``). Each takes its id(s) first, then ``params``."""
    count = len(ids)
    if count == 1:
        (only,) = ids
        return conn.execute(one, (only, *params))
    if count <= UNITED:
        values = [value for i in ids for value in (i, *params)] if params else list(ids)
        return conn.execute(_united(one, count), values)
    return conn.execute(many, (json_array(ids), *params))


def found(row: Any, what: str) -> Any:
    """``row``, or NotFound when it is None."""
    if row is None:
        raise NotFound(detail=f"no such {what}")
    return row


def violates(error: sqlite3.IntegrityError, constraint: str) -> bool:
    """Whether ``error`` is the UNIQUE (or PRIMARY KEY) violation of ``constraint``, which SQLite
    names by its columns (``items.sku``)."""
    return str(error).endswith(constraint) and "UNIQUE constraint failed" in str(error)


def with_id(row: S, row_id: int | None) -> S:
    """``row`` with the id the database gave it."""
    return msgspec.structs.replace(row, id=row_id)


class Owned(Repository):
    """Rows of one customer each, in a table with ``id`` and ``customer_id``."""

    __slots__ = ()
    table: ClassVar[str]
    columns: ClassVar[str]
    what: ClassVar[str]

    _get: ClassVar[str]
    _get_many: ClassVar[str]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._get = f"SELECT {cls.columns} FROM {cls.table} WHERE id = ? AND customer_id = ?"
        cls._get_many = (
            f"SELECT {cls.columns} FROM {cls.table} WHERE id IN (SELECT value FROM json_each(?)) AND customer_id = ?"
        )

    @staticmethod
    def decode(row: Any) -> Any:
        """The entity a row of ``columns`` holds (``id`` first)."""
        raise NotImplementedError

    def get(self, customer_id: int, row_id: int) -> Any:
        """The customer's row. Raises NotFound, also for another customer's."""
        if self.shown:
            return found(self.get_many(customer_id, (row_id,)).get(row_id), self.what)
        return self.decode(found(self._conn.execute(self._get, (row_id, customer_id)).fetchone(), self.what))

    def get_many(self, customer_id: int, ids: Collection[int]) -> dict[int, Any]:
        """Those of ``ids`` that are the customer's rows, by id."""
        if not ids:
            return {}
        if self.shown:
            return self._remembered(self.table, customer_id, ids, lambda some: self._read_many(customer_id, some))
        return self._read_many(customer_id, ids)

    def _read_many(self, customer_id: int, ids: Collection[int]) -> dict[int, Any]:
        rows = by_ids(self._conn, ids, one=self._get, many=self._get_many, params=(customer_id,))
        return {row[0]: self.decode(row) for row in rows}

    def _page(self, where: Where, spec: PageSpec, *, total_sql: tuple[str, Sequence[Any]] | None = None) -> Page[Any]:
        return page(
            self._conn, table=self.table, columns=self.columns, where=where, spec=spec, decode=self.decode,
            total_sql=total_sql,
        )
