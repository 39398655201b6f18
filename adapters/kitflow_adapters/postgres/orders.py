"""Orders: one row each, with their lines and external ids in tables of their own."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

import msgspec

from kitflow.domain.errors import NotFound
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
from kitflow_adapters.postgres.session import Lock
from kitflow_adapters.postgres.repository import Filter, Owned, Row, encode
from kitflow_adapters.postgres.text import loaded, stored

_EVENTS: Final = msgspec.json.Decoder(tuple[OrderEvent, ...])
_NOTES: Final = msgspec.json.Decoder(tuple[OrderNote, ...])
_TRACKING: Final = msgspec.json.Decoder(tuple[TrackingNumber, ...])

_ORDER: Final = (
    "t.id, t.customer_id, t.patient_id, t.site_id, t.status, t.shipping_option,"
    " ARRAY(SELECT ARRAY[l.item_id, l.count] FROM order_items l WHERE l.order_id = t.id ORDER BY l.position),"
    " ARRAY(SELECT ARRAY[l.kit_id, l.count] FROM order_kits l WHERE l.order_id = t.id ORDER BY l.position),"
    " ARRAY(SELECT e.external_id FROM order_external_ids e WHERE e.order_id = t.id ORDER BY e.position),"
    " t.events, t.notes, t.tracking, t.created_at, t.updated_at"
)
SLOTS: Final = 16
"""Counters per customer in ``order_counts`` (an order counts in the slot of its id modulo SLOTS)."""
_ADD: Final = (
    # the order is written only when none of its external ids is taken: a refused order leaves nothing
    "WITH taken AS (SELECT external_id, order_id FROM order_external_ids"
    " WHERE customer_id = %(customer_id)s AND external_id = ANY(%(external_ids)s::text[])),"
    " o AS (INSERT INTO orders (customer_id, patient_id, site_id, status, shipping_option, events, notes,"
    " tracking, created_at, updated_at) SELECT %(customer_id)s, %(patient_id)s::bigint, %(site_id)s::bigint,"
    " %(status)s, %(shipping_option)s, %(events)s::json, %(notes)s::json, %(tracking)s::json,"
    " %(created_at)s::timestamptz, %(updated_at)s::timestamptz WHERE NOT EXISTS (SELECT FROM taken)"
    " RETURNING id, customer_id),"
    " i AS (INSERT INTO order_items (order_id, position, item_id, count)"
    " SELECT o.id, x.position, x.item_id, x.count"
    " FROM o, unnest(%(item_ids)s::bigint[], %(item_counts)s::integer[]) WITH ORDINALITY AS x (item_id, count, position)),"
    " k AS (INSERT INTO order_kits (order_id, position, customer_id, kit_id, count)"
    " SELECT o.id, x.position, o.customer_id, x.kit_id, x.count"
    " FROM o, unnest(%(kit_ids)s::bigint[], %(kit_counts)s::integer[]) WITH ORDINALITY AS x (kit_id, count, position)),"
    # sorted, so that two orders claiming the same ids wait for each other instead of deadlocking
    " e AS (INSERT INTO order_external_ids (customer_id, external_id, order_id, position)"
    " SELECT o.customer_id, x.external_id, o.id, x.position"
    " FROM o, unnest(%(external_ids)s::text[]) WITH ORDINALITY AS x (external_id, position) ORDER BY x.external_id"
    " ON CONFLICT ON CONSTRAINT order_external_ids_key DO NOTHING RETURNING external_id),"
    f" c AS (INSERT INTO order_counts (customer_id, slot, total) SELECT customer_id, id %% {SLOTS}, 1 FROM o"
    " ON CONFLICT (customer_id, slot) DO UPDATE SET total = order_counts.total + 1)"
    " SELECT (SELECT id FROM o), (SELECT count(*) FROM e), ARRAY(SELECT ARRAY[external_id, order_id::text] FROM taken)"
)
_UNDO: Final = (
    "WITH e AS (DELETE FROM order_external_ids WHERE order_id = %(id)s),"
    " i AS (DELETE FROM order_items WHERE order_id = %(id)s),"
    " k AS (DELETE FROM order_kits WHERE order_id = %(id)s),"
    f" c AS (UPDATE order_counts SET total = total - 1 WHERE customer_id = %(customer_id)s AND slot = %(id)s %% {SLOTS})"
    " DELETE FROM orders WHERE id = %(id)s"
)
_TOTAL: Final = "SELECT coalesce(sum(total), 0)::bigint FROM order_counts WHERE customer_id = %s"


def _order(row: Row) -> Order:
    return Order(
        id=row[0], customer_id=row[1], patient_id=row[2], site_id=row[3],
        current_status=OrderStatus(row[4]), shipping_option=ShippingOption(row[5]),
        order_items=tuple(OrderItem(item_id=item_id, count=count) for item_id, count in row[6]),
        order_kits=tuple(OrderKit(kit_id=kit_id, count=count) for kit_id, count in row[7]),
        external_order_ids=tuple(loaded(external_id) for external_id in row[8]),
        order_events=_EVENTS.decode(row[9]), order_notes=_NOTES.decode(row[10]),
        tracking_numbers=_TRACKING.decode(row[11]), created_at=row[12], updated_at=row[13],
    )


def _external_lock(customer_id: int, external_id: str) -> Lock:
    return ("order-external-id", f"{customer_id}\x00{external_id}")


class PostgresOrders(Owned):
    __slots__ = ()
    table, columns, what = "orders", _ORDER, "order"

    def _decode(self, row: Row) -> Order:
        return _order(row)

    def add(self, order: Order) -> Order:
        self._s.writing()
        # the insert is the claim: an id another order holds is seen (nothing is written) or, while
        # its transaction is open, waited for at the unique constraint (then this order is taken back)
        external_ids = [stored(external_id) for external_id in order.external_order_ids]
        row = self._one(
            _ADD,
            {
                "customer_id": order.customer_id, "patient_id": order.patient_id, "site_id": order.site_id,
                "status": order.current_status.value, "shipping_option": order.shipping_option.value,
                "events": encode(order.order_events), "notes": encode(order.order_notes),
                "tracking": encode(order.tracking_numbers), "created_at": order.created_at,
                "updated_at": order.updated_at,
                "item_ids": [line.item_id for line in order.order_items],
                "item_counts": [line.count for line in order.order_items],
                "kit_ids": [line.kit_id for line in order.order_kits],
                "kit_counts": [line.count for line in order.order_kits],
                "external_ids": external_ids,
            },  # type: ignore[arg-type]
        )
        assert row is not None
        order_id, claimed, taken = row
        holders = {loaded(external_id): int(holder) for external_id, holder in taken}
        if order_id is not None and claimed < len(set(external_ids)):
            # another transaction claimed one of them after this statement's snapshot was taken
            self._s.run(_UNDO, {"id": order_id, "customer_id": order.customer_id})  # type: ignore[arg-type]
            holders = self.ids_by_external_ids(order.customer_id, order.external_order_ids)
        check_external_ids_free(order.external_order_ids, holders)
        assert order_id is not None  # none of its external ids was taken, so the order was written
        return msgspec.structs.replace(order, id=order_id)

    def update(self, order: Order) -> None:
        self._s.writing()
        self._forget("orders", order.id)
        changed = self._s.run(
            "UPDATE orders SET status = %s, events = %s::json, tracking = %s::json, updated_at = %s"
            " WHERE id = %s AND customer_id = %s",
            (
                order.current_status.value, encode(order.order_events), encode(order.tracking_numbers),
                order.updated_at, order.id, order.customer_id,
            ),
        ).rowcount
        if changed == 0:
            raise NotFound(detail="no such order")

    def get(self, customer_id: int | None, order_id: int) -> Order:
        if customer_id is not None:
            return super().get(customer_id, order_id)  # type: ignore[return-value]
        row = self._one(f"SELECT {_ORDER} FROM orders t WHERE t.id = %s{self._for_update}", (order_id,))
        if row is None:
            raise NotFound(detail="no such order")
        return self._remember("orders", order_id, _order(row))

    def ids_by_external_ids(self, customer_id: int, external_ids: Collection[str]) -> dict[str, int]:
        if not external_ids:
            return {}
        rows = self._all(
            "SELECT external_id, order_id FROM order_external_ids WHERE customer_id = %s AND external_id = ANY(%s::text[])",
            (customer_id, [stored(external_id) for external_id in external_ids]),
            locks=[_external_lock(customer_id, external_id) for external_id in external_ids],
        )
        return {loaded(external_id): order_id for external_id, order_id in rows}

    def page(self, customer_id: int, where: OrderFilter, spec: PageSpec) -> Page[Order]:
        filters: list[Filter] = [("t.customer_id = %s", (customer_id,))]
        if where.status is not None:
            filters.append(("t.status = %s", (OrderStatus(where.status).value,)))
        if where.patient_id is not None:
            filters.append(("t.patient_id = %s", (where.patient_id,)))
        if where.site_id is not None:
            filters.append(("t.site_id = %s", (where.site_id,)))
        if where.external_order_id is not None:
            filters.append(
                ("t.id IN (SELECT e.order_id FROM order_external_ids e WHERE e.customer_id = %s AND e.external_id = %s)",
                 (customer_id, stored(where.external_order_id)))
            )
        if where.created_from is not None:
            filters.append(("t.created_at >= %s", (where.created_from,)))
        if where.created_to is not None:
            filters.append(("t.created_at < %s", (where.created_to,)))
        if where.ids:
            filters.append(("t.id = ANY(%s::bigint[])", (list(where.ids),)))
        total = (_TOTAL, (customer_id,)) if len(filters) == 1 else None  # no filter but the owner
        return self._page(table="orders", columns=_ORDER, filters=filters, spec=spec, decode=_order, total=total)

    def version(self, customer_id: int) -> None:
        """None: no token is kept. A counter row bumped by every write would serialise each
        customer's order writes across machines (what ``order_counts``' slots avoid)."""
        return None
