"""What every repository shares: its session, the locks a write transaction takes, and keyset pages.

Locks (write transactions only; a read transaction is one snapshot and takes none):
- a row read by id before it may be changed (``get``): ``FOR NO KEY UPDATE``, so read-modify-write
  use cases on one row take turns instead of losing an update;
- rows read as references (``get_many``): ``FOR SHARE``, so a kit or item cannot be archived or
  changed under an order that is being placed with it, nor the order placed under the change;
- a lookup by natural key (sku, external ids, idempotency key, ...): a transaction-scoped advisory
  lock on the key, whether or not a row holds it, so a check that it is free stays true until the
  transaction that made it commits. The unique constraints stay as the last line of defence.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Final, TypeVar

import msgspec

from kitflow.domain.errors import NotFound
from kitflow.domain.paging import Page, PageSpec, cut
from kitflow_adapters.postgres.session import Lock, Session

T = TypeVar("T")
Row = tuple[Any, ...]
Filter = tuple[str, tuple[Any, ...]]
"""A condition of a list query and its parameters."""

json = msgspec.json.Encoder()


def encode(value: object) -> str:
    """``value`` as JSON text for a ``json`` parameter."""
    return json.encode(value).decode()


def contains(key: str) -> str:
    """A LIKE pattern matching any text that contains ``key`` (wildcards in it escaped)."""
    return "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_SIGN: Final = {False: ">", True: "<"}
_ORDER: Final = {False: "ASC", True: "DESC"}


class Repository:
    """A repository over one transaction's session. ``table`` is aliased ``t`` in its queries."""

    __slots__ = ("_s",)

    def __init__(self, session: Session) -> None:
        self._s = session

    @property
    def _for_update(self) -> str:
        return " FOR NO KEY UPDATE OF t" if self._s.write else ""

    @property
    def _for_share(self) -> str:
        return " FOR SHARE OF t" if self._s.write else ""

    def _page(
        self,
        *,
        table: str,
        columns: str,
        filters: Sequence[Filter],
        spec: PageSpec,
        decode: Callable[[Row], T],
        total: Filter | None = None,
    ) -> Page[T]:
        """One page of ``table`` (aliased ``t``) by ``t.id``: the rows matching ``filters``, one
        more than asked to tell whether more follow, and the total (counted, unless the query
        ``total`` gives it), in one round trip. A keyset page (``spec.after``) is a bounded range of
        an index ending in id; a numbered page skips its offset among ids only, then reads its rows."""
        where = " AND ".join(condition for condition, _ in filters) or "TRUE"
        params = [value for _, values in filters for value in values]
        order = f"ORDER BY t.id {_ORDER[spec.descending]}"
        if spec.after is not None:
            query = f"SELECT {columns} FROM {table} t WHERE {where} AND t.id {_SIGN[spec.descending]} %s {order} LIMIT %s"
            rows_params = [*params, spec.after, spec.size + 1]
        elif spec.offset:
            query = (
                f"SELECT {columns} FROM (SELECT t.id FROM {table} t WHERE {where} {order} LIMIT %s OFFSET %s) AS page"
                f" JOIN {table} t ON t.id = page.id {order}"
            )
            rows_params = [*params, spec.size + 1, spec.offset]
        else:
            query = f"SELECT {columns} FROM {table} t WHERE {where} {order} LIMIT %s"
            rows_params = [*params, spec.size + 1]
        counted, rows = self._s.run_all(
            [total or (f"SELECT count(*) FROM {table} t WHERE {where}", params), (query, rows_params)]
        )
        found = counted.fetchone()
        return cut([decode(row) for row in rows.fetchall()], spec=spec, total=found[0] if found else 0)

    def _many(
        self, table: str, ids: Collection[int], fetch: Callable[[list[int]], list[Row]], decode: Callable[[Row], T],
        *, owner: int | None = None,
    ) -> dict[int, T]:
        """The rows of ``ids`` (of ``owner`` when given) by id: those this transaction read already
        from its memory, the others with ``fetch`` (which remembers them). What a transaction read
        cannot change under it until it ends: a read transaction reads one snapshot, and a write
        transaction holds a lock on every row it read; its own updates forget the row."""
        seen = self._s.seen
        found: dict[int, T] = {}
        missing: list[int] = []
        for row_id in ids:
            known = seen.get((table, row_id))
            if known is not None and (owner is None or known.customer_id == owner):
                found[row_id] = known
            else:
                missing.append(row_id)
        if missing:
            for row in fetch(missing):
                found[row[0]] = seen[(table, row[0])] = decode(row)
        return found

    def _remember(self, table: str, row_id: int, value: T) -> T:
        self._s.seen[(table, row_id)] = value
        return value

    def _forget(self, table: str, row_id: int) -> None:
        self._s.seen.pop((table, row_id), None)

    def _one(self, query: str, params: Sequence[Any], *, locks: Sequence[Lock] = ()) -> Row | None:
        return self._s.run(query, params, locks=locks).fetchone()

    def _all(self, query: str, params: Sequence[Any], *, locks: Sequence[Lock] = ()) -> list[Row]:
        return self._s.run(query, params, locks=locks).fetchall()


class Owned(Repository):
    """Rows of one customer in ``table``, read by id."""

    __slots__ = ()
    table: str
    columns: str
    what: str

    def _decode(self, row: Row) -> object:
        raise NotImplementedError

    def get(self, customer_id: int, row_id: int) -> object:
        row = self._one(
            f"SELECT {self.columns} FROM {self.table} t WHERE t.id = %s AND t.customer_id = %s{self._for_update}",
            (row_id, customer_id),
        )
        if row is None:
            raise NotFound(detail=f"no such {self.what}")
        return self._remember(self.table, row_id, self._decode(row))

    def get_many(self, customer_id: int, ids: Collection[int]) -> dict[int, object]:
        query = (
            f"SELECT {self.columns} FROM {self.table} t WHERE t.customer_id = %s AND t.id = ANY(%s::bigint[])"
            f" ORDER BY t.id{self._for_share}"
        )
        return self._many(
            self.table, ids, lambda missing: self._all(query, (customer_id, missing)), self._decode, owner=customer_id
        )
