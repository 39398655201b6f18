"""One transaction on one pooled connection: its round trips, its locks, and error translation.

Connections run in autocommit mode and the session sends ``BEGIN`` itself, in the same round trip
as the transaction's first statement (a pipeline). Until that first statement has run nothing of
the transaction reached the server, so a connection found broken there is replaced and the
statement retried: the one retry that is always safe. Kitflow's write transactions neither deadlock
nor fail serialization among themselves (their locks are taken in one order, see ``repository``);
what the server cannot do now (a lost connection, a timeout, a deadlock with another writer) is
DatabaseUnavailable, the core's retryable Unavailable, with the transaction rolled back.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Final

import psycopg
from psycopg import errors as pgerrors
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from kitflow.domain.errors import Conflict, InvalidInput, Unavailable

READ: Final = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
"""A read transaction: one snapshot for every statement (a page and its total agree)."""
WRITE: Final = "BEGIN ISOLATION LEVEL READ COMMITTED"
"""A write transaction: each statement sees what others committed; locks make the checks hold."""
_LOCK: Final = "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k"

_CONFLICTS: Final = {
    "patients_external_identifier": ("duplicate_external_identifier", "another patient has this external identifier"),
    "items_sku": ("duplicate_sku", "another item has this sku"),
    "order_external_ids_key": ("duplicate_external_order_id", "another order has this external order id"),
    "manufacturers_name": ("duplicate_manufacturer", "a manufacturer of this name exists"),
    "api_keys_prefix": ("duplicate_key_prefix", "a key with this prefix exists"),
}
"""Unique constraints and the Conflict each stands for (reached only when a caller skipped the
locked check a use case makes first; the repositories report these cases themselves)."""

Statement = tuple[str, Sequence[Any] | None]
log = logging.getLogger("kitflow.postgres")


class DatabaseUnavailable(Unavailable):
    """PostgreSQL could not serve the transaction now: no pooled connection was free in time, the
    connection was lost, or the server cancelled a statement (a lock or statement timeout, a
    deadlock with a writer outside Kitflow, a shutdown). The transaction is rolled back: nothing of
    it was stored, and a retry may succeed."""


Lock = tuple[str, str]
"""An advisory lock by name: a namespace (``sku``, ``order-external-id``, ...) and a value in it."""


def lock_key(schema: str, namespace: str, value: str) -> int:
    """The advisory lock of ``value`` in ``namespace`` for the Kitflow schema ``schema`` (advisory
    locks are database-wide; schemas never share one): a signed 64-bit hash, whose rare collisions
    only make two unrelated keys wait for each other."""
    name = f"{schema}\x00{namespace}\x00{value}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big", signed=True)


class Session:
    """One transaction of one thread: the connection it holds from the pool until ``end``. With
    ``alone``, a read of one statement instead, which needs no transaction: no ``BEGIN``, no
    ``COMMIT`` (the connection is in autocommit), one round trip."""

    __slots__ = ("_pool", "_schema", "conn", "write", "alone", "started", "seen")

    def __init__(self, pool: ConnectionPool, *, schema: str, write: bool, timeout: float, alone: bool = False) -> None:
        self._pool = pool
        self._schema = schema
        self.write = write
        self.alone = alone
        self.started = False
        self.seen: dict[tuple[str, int], Any] = {}
        """Rows this transaction read, by table and id (see ``Repository._many``)."""
        try:
            self.conn: psycopg.Connection = pool.getconn(timeout)
        except PoolTimeout:
            log.warning("no PostgreSQL connection was free within %g s (pool of %d)", timeout, pool.max_size)
            raise DatabaseUnavailable(detail="the database is busy; retry shortly") from None

    def writing(self) -> None:
        """Raises RuntimeError unless this is a write transaction (as the memory store does)."""
        if not self.write:
            raise RuntimeError("a write in a read-only transaction")

    def run(self, query: str, params: Sequence[Any] | None = None, *, locks: Iterable[Lock] = ()) -> psycopg.Cursor:
        """Execute ``query`` after taking the advisory ``locks`` (write transactions only; in one
        order, so that transactions wait for each other instead of deadlocking), in one round trip.
        Raises Conflict or InvalidInput for what the database refuses on their account, and
        DatabaseUnavailable when it cannot serve the statement now."""
        prelude: list[Statement] = []
        if self.write:
            keys = sorted({lock_key(self._schema, namespace, value) for namespace, value in locks})
            if keys:
                prelude.append((_LOCK, (keys,)))
        return self.run_all([*prelude, (query, params)])[-1]

    def run_all(self, statements: Sequence[Statement]) -> list[psycopg.Cursor]:
        """Execute ``statements`` in order in one round trip (a pipeline); returns their cursors."""
        try:
            if not self.started:
                return self._first(statements)
            if len(statements) == 1:
                query, params = statements[0]
                return [self.conn.execute(query, params)]  # type: ignore[arg-type]
            return self._pipeline(statements)
        except pgerrors.UniqueViolation as error:
            raise _conflict(error) from None
        except psycopg.DataError as error:
            if "NUL" in str(error):
                raise InvalidInput(detail="text must not contain NUL characters") from None
            raise
        except psycopg.OperationalError as error:  # lost connection, timeouts, deadlock, shutdown
            log.warning("PostgreSQL could not serve a statement: %s", str(error).strip())
            raise DatabaseUnavailable(detail="the database could not serve the request now; retry shortly") from error

    def _pipeline(self, statements: Sequence[Statement]) -> list[psycopg.Cursor]:
        with self.conn.pipeline():
            return [self.conn.execute(query, params) for query, params in statements]  # type: ignore[arg-type]

    def _first(self, statements: Sequence[Statement]) -> list[psycopg.Cursor]:
        """The transaction's first round trip, with its BEGIN. On a connection found broken there
        (a server restart, a dropped link, an idle connection a firewall cut) nothing of the
        transaction happened yet, so it is retried on another."""
        begin: list[Statement] = [] if self.alone else [(WRITE if self.write else READ, None)]
        self.started = True
        for _ in range(self._pool.max_size):  # after a server restart, every pooled connection is dead
            try:
                return self._pipeline([*begin, *statements])[len(begin):]
            except psycopg.OperationalError:
                if not self.conn.broken:
                    raise
                self._pool.putconn(self.conn)  # the pool discards it and opens another
                self.conn = self._pool.getconn()
        return self._pipeline([*begin, *statements])[len(begin):]

    def end(self, *, commit: bool) -> None:
        """Commit (or roll back) and give the connection back to the pool. Raises what the commit
        raises, and RuntimeError when asked to commit a transaction that a failed statement
        aborted (PostgreSQL would silently roll it back); a failed rollback is ignored (the pool
        discards a broken connection)."""
        try:
            if self.started and not self.alone:
                if commit and self.conn.info.transaction_status == TransactionStatus.INERROR:
                    self.conn.execute("ROLLBACK", prepare=False)
                    raise RuntimeError("a statement of this transaction failed; it was rolled back")
                if commit:
                    self.conn.execute("COMMIT", prepare=False)
                else:
                    try:
                        self.conn.execute("ROLLBACK", prepare=False)
                    except psycopg.Error:
                        pass
        finally:
            self._pool.putconn(self.conn)


def _conflict(error: pgerrors.UniqueViolation) -> Conflict:
    name = error.diag.constraint_name or ""
    code, detail = _CONFLICTS.get(name, ("conflict", f"a uniqueness rule was broken ({name})"))
    return Conflict(code, detail)
