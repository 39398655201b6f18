"""Orders: a row each (lines, events, notes and tracking numbers as JSON columns), and the
customer's external order ids in their own table, unique per customer."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Any, Final

from kitflow.domain.order import (
    Order,
    OrderEvent,
    OrderFilter,
    OrderItem,
    OrderKit,
    OrderNote,
    OrderStatus,
    ShippingOption,
    TrackingNumber,
    check_external_ids_free,
)
from kitflow.domain.paging import Page, PageSpec
from kitflow_adapters.sqlite.codec import JsonColumn, ceil_ms, from_ms, to_json, to_ms
from kitflow_adapters.sqlite.paging import Where
from kitflow_adapters.sqlite.repository import REFERENCE, Owned, by_ids, found, json_array, violates, with_id

_ITEMS: Final = JsonColumn(tuple[OrderItem, ...])
_KITS: Final = JsonColumn(tuple[OrderKit, ...])
_EXTERNAL_IDS: Final = JsonColumn(tuple[str, ...])
_EVENTS: Final = JsonColumn(tuple[OrderEvent, ...])
_NOTES: Final = JsonColumn(tuple[OrderNote, ...])
_TRACKING: Final = JsonColumn(tuple[TrackingNumber, ...])
_STATUS: Final = {status.value: status for status in OrderStatus}
_SHIPPING: Final = {option.value: option for option in ShippingOption}
_TEXT: Final[dict[OrderStatus | ShippingOption, str]] = {
    member: member.value for members in (OrderStatus, ShippingOption) for member in members
}
"""Each status's and shipping option's stored text (an enum's ``value`` is a slow property)."""

_COLUMNS: Final = (
    "id, customer_id, patient_id, site_id, status, shipping_option, items, kits, external_ids, events, notes,"
    " tracking, created_at, updated_at"
)

_GET: Final = (
    f"SELECT {_COLUMNS}, ({REFERENCE}) FROM orders"
    " WHERE id = ? AND customer_id = ?"
)
"""A customer's order, with the ``reference`` version of the same snapshot: the entities it shows
are looked up next (``Shown``), and the transaction then needs no statement of its own for it."""
_TOTAL: Final = "SELECT total FROM order_totals WHERE customer_id = ?"
"""The customer's number of orders, kept by triggers (migration 0003)."""
_VERSION: Final = (
    "SELECT coalesce((SELECT version FROM order_totals WHERE customer_id = ?), 0),"
    f" ({REFERENCE})"
)
"""The counters triggers keep (migration 0004_versions): the customer's orders, and what they show."""


def _order(row: Any) -> Order:
    """The order a row holds. Not remembered, unlike the entities it references: a fetch or a page
    mostly reads orders not read lately (remembering them cost a cold fetch ~35,000 instructions), and
    an order may be large (a thousand notes)."""
    return Order(
        id=row[0],
        customer_id=row[1],
        patient_id=row[2],
        site_id=row[3],
        current_status=_STATUS[row[4]],
        shipping_option=_SHIPPING[row[5]],
        order_items=_ITEMS.decode(row[6]),
        order_kits=_KITS.decode(row[7]),
        external_order_ids=_EXTERNAL_IDS.decode(row[8]),
        order_events=_EVENTS.decode(row[9]),
        order_notes=_NOTES.decode(row[10]),
        tracking_numbers=_TRACKING.decode(row[11]),
        created_at=from_ms(row[12]),
        updated_at=from_ms(row[13]),
    )


_INSERT: Final = f"INSERT INTO orders ({_COLUMNS.removeprefix('id, ')}) VALUES (?{', ?' * 12})"


class SqliteOrders(Owned):
    __slots__ = ()
    table, what = "orders", "order"
    columns = _COLUMNS
    decode = staticmethod(_order)

    def add(self, order: Order) -> Order:
        self._writing()
        cur = self._tx.cursor  # no rows to read: the kept cursor (no cursor made and freed)
        cur.execute(
            _INSERT,
            (
                order.customer_id,
                order.patient_id,
                order.site_id,
                _TEXT[order.current_status],
                _TEXT[order.shipping_option],
                to_json(order.order_items),
                to_json(order.order_kits),
                to_json(order.external_order_ids),
                to_json(order.order_events),
                to_json(order.order_notes),
                to_json(order.tracking_numbers),
                to_ms(order.created_at),
                to_ms(order.updated_at),
            ),
        )
        order_id = cur.lastrowid
        assert order_id is not None
        for index, external_id in enumerate(order.external_order_ids):
            try:
                cur.execute(
                    "INSERT INTO order_external_ids (customer_id, external_id, order_id) VALUES (?, ?, ?)",
                    (order.customer_id, external_id, order_id),
                )
            except sqlite3.IntegrityError as error:
                if not violates(error, "order_external_ids.customer_id, order_external_ids.external_id"):
                    raise
                self._unclaim(order, order_id, order.external_order_ids[:index])
                holder = self.ids_by_external_ids(order.customer_id, (external_id,))[external_id]
                check_external_ids_free(order.external_order_ids, {external_id: holder})
                raise AssertionError("unreachable: the external id is taken")
        return with_id(order, order_id)

    def _unclaim(self, order: Order, order_id: int, external_ids: Collection[str]) -> None:
        """Take back the half-made order ``order_id`` and the external ids it claimed."""
        self._conn.executemany(
            "DELETE FROM order_external_ids WHERE customer_id = ? AND external_id = ?",
            [(order.customer_id, external_id) for external_id in external_ids],
        )
        self._conn.execute("DELETE FROM orders WHERE id = ?", (order_id,))

    def update(self, order: Order) -> None:
        cur = self._writing().execute(
            "UPDATE orders SET status = ?, events = ?, tracking = ?, updated_at = ? WHERE id = ? AND customer_id = ?",
            (
                _TEXT[order.current_status],
                to_json(order.order_events),
                to_json(order.tracking_numbers),
                to_ms(order.updated_at),
                order.id,
                order.customer_id,
            ),
        )
        if cur.rowcount == 0:
            found(None, self.what)

    def get(self, customer_id: int | None, order_id: int) -> Order:
        if customer_id is not None:
            row = found(self._tx.cursor.execute(_GET, (order_id, customer_id)).fetchone(), self.what)
            self._tx.read_reference(row[14])
            return _order(row)
        row = self._conn.execute(f"SELECT {_COLUMNS} FROM orders WHERE id = ?", (order_id,)).fetchone()
        return _order(found(row, self.what))

    def ids_by_external_ids(self, customer_id: int, external_ids: Collection[str]) -> dict[str, int]:
        if not external_ids:
            return {}
        rows = by_ids(
            self._conn,
            external_ids,
            one="SELECT external_id, order_id FROM order_external_ids WHERE external_id = ? AND customer_id = ?",
            many="SELECT external_id, order_id FROM order_external_ids"
            " WHERE external_id IN (SELECT value FROM json_each(?)) AND customer_id = ?",
            params=(customer_id,),
        )
        return dict(rows)

    def page(self, customer_id: int, where: OrderFilter, spec: PageSpec) -> Page[Order]:
        clause = Where().add("customer_id = ?", customer_id)
        if where.status is not None:
            clause.add("status = ?", OrderStatus(where.status).value)
        if where.patient_id is not None:
            clause.add("patient_id = ?", where.patient_id)
        if where.site_id is not None:
            clause.add("site_id = ?", where.site_id)
        if where.external_order_id is not None:
            clause.add(
                "id IN (SELECT order_id FROM order_external_ids WHERE customer_id = ? AND external_id = ?)",
                customer_id,
                where.external_order_id,
            )
        if where.created_from is not None:
            clause.add("created_at >= ?", ceil_ms(where.created_from))
        if where.created_to is not None:
            clause.add("created_at < ?", ceil_ms(where.created_to))
        if where.ids:
            clause.add("id IN (SELECT value FROM json_each(?))", json_array(where.ids))
        unfiltered = len(clause.terms) == 1
        return self._page(clause, spec, total_sql=(_TOTAL, (customer_id,)) if unfiltered else None)

    def version(self, customer_id: int) -> tuple[int, int]:
        orders, shown = self._tx.cursor.execute(_VERSION, (customer_id,)).fetchone()
        return orders, shown
