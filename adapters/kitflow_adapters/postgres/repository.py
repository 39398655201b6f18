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
        source: str,
        columns: str,
        filters: Sequence[Filter],
        spec: PageSpec,
        decode: Callable[[Row], T],
    ) -> Page[T]:
        """One page of ``source`` (``table t``) by ``t.id``: the rows matching ``filters`` strictly
        after ``spec.after`` (a bounded range of an index ending in id) or after ``spec.offset``
        rows, one more than asked to tell whether more follow, and the total, in one round trip."""
        where = " AND ".join(condition for condition, _ in filters) or "TRUE"
        params = [value for _, values in filters for value in values]
        rows_params = list(params)
        keyset = ""
        if spec.after is not None:
            keyset = f" AND t.id {_SIGN[spec.descending]} %s"
            rows_params.append(spec.after)
        tail = " LIMIT %s"
        rows_params.append(spec.size + 1)
        if spec.after is None and spec.offset:
            tail += " OFFSET %s"
            rows_params.append(spec.offset)
        total, rows = self._s.run_all(
            [
                (f"SELECT count(*) FROM {source} WHERE {where}", params),
                (f"SELECT {columns} FROM {source} WHERE {where}{keyset} ORDER BY t.id {_ORDER[spec.descending]}{tail}", rows_params),
            ]
        )
        counted = total.fetchone()
        return cut([decode(row) for row in rows.fetchall()], spec=spec, total=counted[0] if counted else 0)

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
        return self._decode(row)

    def get_many(self, customer_id: int, ids: Collection[int]) -> dict[int, object]:
        if not ids:
            return {}
        rows = self._all(
            f"SELECT {self.columns} FROM {self.table} t WHERE t.customer_id = %s AND t.id = ANY(%s::bigint[])"
            f" ORDER BY t.id{self._for_share}",
            (customer_id, list(ids)),
        )
        return {row[0]: self._decode(row) for row in rows}
