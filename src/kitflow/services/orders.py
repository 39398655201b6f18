"""Use cases of orders: placing, reading, cancelling, and the operator's fulfilment moves."""

from __future__ import annotations

from collections.abc import Hashable

from kitflow.domain.catalog import Item
from kitflow.domain.errors import RuleBroken
from kitflow.domain.identity import Principal
from kitflow.domain.kit import ITEM_ID, Kit
from kitflow.domain.order import (
    KIT_ID,
    MoveOrder,
    Order,
    OrderDetail,
    OrderFilter,
    OrderStatus,
    PlaceOrder,
)
from kitflow.domain.patient import Patient
from kitflow.domain.ports import Clock, Transaction, UnitOfWork
from kitflow.domain.values import CustomerId, ItemId, KitId, OrderId
from kitflow.services.listing import ListRequest, Listing, list_page
from kitflow.services.views import order_details


def _check_recipient(tx: Transaction, customer_id: CustomerId, command: PlaceOrder) -> dict[int, Patient]:
    """The order's patient (by id; none for a site order), checked. Read as a reference, like its
    kits and items (``get_many``; ``get`` is the read before a change, whose stronger lock on
    PostgreSQL made concurrent orders of one site or patient deadlock on their counters)."""
    if command.patient_id is not None:
        patient = tx.patients.get_many(customer_id, [command.patient_id]).get(command.patient_id)
        if patient is None:
            raise RuleBroken(
                "patient_does_not_exist", f"patient {command.patient_id} does not exist", field="patient_id"
            )
        if patient.archived:
            raise RuleBroken("patient_archived", f"patient {patient.id} is archived", field="patient_id")
        return {patient.id: patient}
    if command.site_id is not None:
        site = tx.sites.get_many(customer_id, [command.site_id]).get(command.site_id)
        if site is None:
            raise RuleBroken("site_does_not_exist", f"site {command.site_id} does not exist", field="site_id")
        if not site.active:
            raise RuleBroken("site_inactive", f"site {site.id} is inactive", field="site_id")
    return {}


def _check_lines(
    tx: Transaction, customer_id: CustomerId, command: PlaceOrder
) -> tuple[dict[KitId, Kit], dict[ItemId, Item]]:
    """The order's kits and every item it names (its own lines' and its kits'), checked."""
    kits = tx.kits.get_many(customer_id, set(map(KIT_ID, command.order_kits)))
    wanted = set(map(ITEM_ID, command.order_items))
    for kit in kits.values():
        wanted.update(kit.item_ids)
    items = tx.items.get_many(wanted)
    for index, line in enumerate(command.order_items):  # (a field's path is made only for an error)
        item = items.get(line.item_id)
        if item is None:
            raise RuleBroken(
                "item_does_not_exist", f"item {line.item_id} does not exist", field=f"order_items[{index}].item_id"
            )
        if not item.orderable:
            raise RuleBroken(
                "item_not_orderable", f"item {item.id} is not orderable", field=f"order_items[{index}].item_id"
            )
    for index, kit_line in enumerate(command.order_kits):
        kit = kits.get(kit_line.kit_id)
        if kit is None:
            raise RuleBroken(
                "kit_does_not_exist", f"kit {kit_line.kit_id} does not exist", field=f"order_kits[{index}].kit_id"
            )
        if kit.archived:
            raise RuleBroken("kit_archived", f"kit {kit.id} is archived", field=f"order_kits[{index}].kit_id")
        for item_id in kit.item_ids:
            if not items[item_id].orderable:
                raise RuleBroken(
                    "item_not_orderable",
                    f"item {item_id} of kit {kit.id} is not orderable",
                    field=f"order_kits[{index}].kit_id",
                )
    return kits, items


def place_order(command: PlaceOrder, *, caller: Principal, uow: UnitOfWork, clock: Clock) -> OrderDetail:
    """Place an order for the calling customer, checking references, then uniqueness, in one write
    transaction (API.md 5, checks 3-4). Raises Forbidden; RuleBroken with ``patient_does_not_exist``,
    ``patient_archived``, ``site_does_not_exist``, ``site_inactive``, ``item_does_not_exist``,
    ``item_not_orderable``, ``kit_does_not_exist``, ``kit_archived``; Conflict
    (``duplicate_external_order_id``). On any error nothing is stored."""
    customer_id = caller.customer()
    now = clock.now()
    with uow.begin(write=True) as tx:
        patients = _check_recipient(tx, customer_id, command)
        kits, items = _check_lines(tx, customer_id, command)
        # uniqueness last: ``add`` claims the external ids, or raises the Conflict naming their order
        stored = tx.orders.add(Order.new(command, customer_id=customer_id, now=now))
        return order_details(tx, [stored], patients=patients, kits=kits, items=items)[0]


def get_order(order_id: OrderId, *, caller: Principal, uow: UnitOfWork) -> OrderDetail:
    """The caller's order. Raises Forbidden, NotFound (also for another customer's)."""
    customer_id = caller.customer()
    with uow.begin() as tx:
        return order_details(tx, [tx.orders.get(customer_id, order_id)])[0]


def list_orders(where: OrderFilter, request: ListRequest, *, caller: Principal, uow: UnitOfWork) -> Listing[OrderDetail]:
    """A page of the caller's orders. Raises Forbidden, InvalidInput (page, size, cursor)."""
    customer_id = caller.customer()
    return list_page(
        request, caller=caller, resource="order", where=where, uow=uow,
        fetch=lambda tx, spec: tx.orders.page(customer_id, where, spec), show=order_details, key=lambda o: o.id,
    )


def orders_version(*, caller: Principal, uow: UnitOfWork) -> Hashable | None:
    """The store's token of everything the caller's order lists show (``Orders.version``): while
    it is unchanged, a list asked again is the same list. Raises Forbidden."""
    customer_id = caller.customer()
    with uow.begin() as tx:
        return tx.orders.version(customer_id)


def _move(tx: Transaction, order: Order, move: MoveOrder, *, clock: Clock) -> OrderDetail:
    moved = order.moved(move.status, now=clock.now(), tracking=move.tracking_number)
    tx.orders.update(moved)
    return order_details(tx, [moved])[0]


def cancel_order(order_id: OrderId, *, caller: Principal, uow: UnitOfWork, clock: Clock) -> OrderDetail:
    """Cancel the caller's own order. Raises Forbidden, NotFound, Conflict(invalid_transition)."""
    customer_id = caller.customer()
    with uow.begin(write=True) as tx:
        return _move(tx, tx.orders.get(customer_id, order_id), MoveOrder(status=OrderStatus.CANCELLED), clock=clock)


def move_order(order_id: OrderId, move: MoveOrder, *, caller: Principal, uow: UnitOfWork, clock: Clock) -> OrderDetail:
    """The operator moves any order along its lifecycle, adding a tracking number when given.
    Raises Forbidden unless the operator calls, NotFound, Conflict(invalid_transition)."""
    caller.operator()
    with uow.begin(write=True) as tx:
        return _move(tx, tx.orders.get(None, order_id), move, clock=clock)
