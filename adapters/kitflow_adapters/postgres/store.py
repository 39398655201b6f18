"""The PostgreSQL store: a unit of work over one database, for many processes on many machines.

One connection pool per store; a transaction holds one pooled connection for its duration, and a
``begin`` inside an open transaction of the same thread joins it. A read transaction is
``REPEATABLE READ READ ONLY``: one snapshot, so a page and its total agree. A write transaction is
``READ COMMITTED``, made atomic against every other writer, in this process or on another machine,
by the locks its reads take (see ``repository``) and by the unique constraints of the schema (see
docs/decisions/0005-postgresql-driver.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from types import TracebackType
from typing import Final, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.adapt import Loader
from psycopg_pool import ConnectionPool

from kitflow.domain.identity import ApiKey
from kitflow_adapters.postgres.catalog import PostgresItems, PostgresKits, PostgresManufacturers
from kitflow_adapters.postgres.identity import PostgresApiKeys, PostgresCustomers
from kitflow_adapters.postgres.orders import PostgresOrders
from kitflow_adapters.postgres.people import PostgresPatients, PostgresSites
from kitflow_adapters.postgres.records import PostgresIdempotencyRecords, PostgresSettings
from kitflow_adapters.postgres.schema import migrate
from kitflow_adapters.postgres.session import Session

T = TypeVar("T")

POOL_MIN: Final = 1
POOL_MAX: Final = 10
"""Connections per store (per server process) unless the URL's ``pool_min``/``pool_max`` say otherwise."""
TIMEOUT: Final = 30.0
"""Seconds to wait for a connection (at start, or from a busy pool) before giving up."""


class PostgresTransaction:
    """Every repository over one transaction's session; ``write`` tells whether it may write."""

    __slots__ = (
        "session", "customers", "keys", "patients", "sites", "manufacturers", "items", "kits", "orders",
        "idempotency", "settings",
    )

    def __init__(self, session: Session) -> None:
        self.session = session
        self.customers = PostgresCustomers(session)
        self.keys = PostgresApiKeys(session)
        self.patients = PostgresPatients(session)
        self.sites = PostgresSites(session)
        self.manufacturers = PostgresManufacturers(session)
        self.items = PostgresItems(session)
        self.kits = PostgresKits(session)
        self.orders = PostgresOrders(session)
        self.idempotency = PostgresIdempotencyRecords(session)
        self.settings = PostgresSettings(session)

    @property
    def write(self) -> bool:
        return self.session.write

    @staticmethod
    def derived(
        kind: str, scope: int, ids: Collection[int], make: Callable[[set[int]], Mapping[int, T]]
    ) -> Mapping[int, T]:
        """See ``Transaction.derived``: always made (this store keeps no version to remember by)."""
        return make(set(ids))


class _RawJson(Loader):
    """``json`` values as the JSON text the server sends, for msgspec to decode into structs."""

    def load(self, data: bytes | bytearray | memoryview) -> bytes:
        return bytes(data)


def _configure(conn: psycopg.Connection) -> None:
    conn.execute("SET TIME ZONE 'UTC'")
    conn.adapters.register_loader("json", _RawJson)


def _split_url(url: str) -> tuple[str, int, int]:
    """The libpq URL without Kitflow's own query parameters, and the pool sizes they give.
    Raises ValueError for sizes that are not whole numbers with 1 <= pool_min <= pool_max."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {name: value for name, value in query if name in {"pool_min", "pool_max"}}
    rest = [(name, value) for name, value in query if name not in ours]
    try:
        low = int(ours.get("pool_min", POOL_MIN))
        high = int(ours.get("pool_max", max(POOL_MAX, low)))
    except ValueError:
        raise ValueError(f"pool_min and pool_max must be whole numbers in {url!r}") from None
    if not 1 <= low <= high:
        raise ValueError(f"the pool sizes must satisfy 1 <= pool_min <= pool_max, not {low} and {high}")
    kept = url if not ours else urlunsplit(parts._replace(query=urlencode(rest, quote_via=quote)))
    return kept, low, high


class _Scope:
    """What ``begin`` returns: opens (or joins) the thread's transaction; commits it when the
    block ends normally, rolls it back when the block raises."""

    __slots__ = ("_store", "_write", "_tx")

    def __init__(self, store: PostgresStore, write: bool) -> None:
        self._store = store
        self._write = write
        self._tx: PostgresTransaction | None = None

    def __enter__(self) -> PostgresTransaction:
        local = self._store._local
        joined: PostgresTransaction | None = getattr(local, "tx", None)
        if joined is not None:
            if self._write and not joined.write:
                raise RuntimeError("a write transaction inside a read-only one")
            return joined
        store = self._store
        tx = PostgresTransaction(Session(store._pool, schema=store.schema, write=self._write, timeout=store.timeout))
        local.tx = self._tx = tx
        return tx

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        tx = self._tx
        if tx is None:
            return
        self._tx = None
        self._store._local.tx = None
        tx.session.end(commit=kind is None)


class PostgresStore:
    """A unit of work over the PostgreSQL database ``url`` names (a libpq URL such as
    ``postgresql://user:password@host:5432/kitflow``; ``pool_min`` and ``pool_max`` query parameters
    size this process's pool). Opening it migrates the schema. Thread-safe.

    Raises ValueError for a malformed URL, ConnectionError when the server cannot be reached or
    refuses the login, and SchemaTooNew when a newer Kitflow migrated the database."""

    def __init__(
        self, url: str, *, pool_min: int | None = None, pool_max: int | None = None, timeout: float = TIMEOUT
    ) -> None:
        conninfo, low, high = _split_url(url)
        low = pool_min if pool_min is not None else low
        high = max(pool_max if pool_max is not None else high, low)
        self.timeout = timeout
        self._local = threading.local()
        try:
            psycopg.conninfo.conninfo_to_dict(conninfo)
        except psycopg.ProgrammingError as error:
            raise ValueError(f"not a PostgreSQL URL: {error}") from None
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=max(1, int(timeout))) as conn:
                migrate(conn)
                found = conn.execute("SELECT current_schema()").fetchone()
        except psycopg.OperationalError as error:
            raise ConnectionError(f"cannot reach PostgreSQL: {str(error).strip()}") from None
        self.schema: str = found[0] if found else "public"
        self._pool = ConnectionPool(
            conninfo,
            min_size=low,
            max_size=high,
            kwargs={"autocommit": True},
            configure=_configure,
            timeout=timeout,
            name="kitflow",
            open=True,
        )

    def begin(self, *, write: bool = False) -> _Scope:
        return _Scope(self, write)

    def find_key(self, prefix: str) -> ApiKey | None:
        """See ``UnitOfWork.find_key``: outside a transaction, one statement on a pooled connection
        in autocommit (one round trip instead of the two a transaction costs)."""
        joined: PostgresTransaction | None = getattr(self._local, "tx", None)
        if joined is not None:
            return joined.keys.find(prefix)
        session = Session(self._pool, schema=self.schema, write=False, timeout=self.timeout, alone=True)
        try:
            return PostgresApiKeys(session).find(prefix)
        finally:
            session.end(commit=True)

    @property
    def pool_size(self) -> tuple[int, int]:
        """The pool's least and greatest number of connections."""
        return self._pool.min_size, self._pool.max_size

    def close(self) -> None:
        """Close every connection of the pool (transactions in flight finish first)."""
        self._pool.close()
