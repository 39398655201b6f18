"""Details: entities with what they reference, as they are now, fetched in batches."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar

import msgspec

from kitflow.domain.catalog import Item, ItemDetail, Manufacturer
from kitflow.domain.kit import ITEM_ID, Kit, KitDetail, KitItemDetail
from kitflow.domain.order import KIT_ID, Order, OrderDetail, OrderItemDetail, OrderKitDetail
from kitflow.domain.patient import Patient, PatientDetail, Site
from kitflow.domain.ports import Transaction
from kitflow.domain.stored import Restorer
from kitflow.domain.values import CustomerId

T = TypeVar("T")
_NONE: Mapping[int, Any] = MappingProxyType({})
_PATIENT_DETAIL: Restorer[PatientDetail] = Restorer(PatientDetail)


@functools.lru_cache(maxsize=1024)
def _item_detail(item: Item, maker: Manufacturer | None) -> ItemDetail:
    """The detail of ``item`` with its manufacturer ``maker``; remembered, as ``_patient_detail``."""
    return ItemDetail(**msgspec.structs.asdict(item), manufacturer=maker)


def item_details(tx: Transaction, items: Sequence[Item]) -> list[ItemDetail]:
    makers = tx.manufacturers.get_many({i.manufacturer_id for i in items if i.manufacturer_id is not None})
    return [
        _item_detail(item, makers.get(item.manufacturer_id) if item.manufacturer_id is not None else None)
        for item in items
    ]


def _items_by_id(tx: Transaction, ids: set[int], known: Mapping[int, Item] = _NONE) -> dict[int, ItemDetail]:
    return {detail.id: detail for detail in item_details(tx, list(_read(known, ids, tx.items.get_many).values()))}


def _read(known: Mapping[int, T], ids: set[int], read: Callable[[set[int]], Mapping[int, T]]) -> dict[int, T]:
    """The entities of ``ids``: those in ``known`` as they are, the others read with ``read``."""
    if not known:
        return dict(read(ids))
    missing = ids - known.keys()
    found = {i: known[i] for i in ids if i in known}
    if missing:
        found.update(read(missing))
    return found


def kit_details(tx: Transaction, kits: Sequence[Kit], *, items: Mapping[int, ItemDetail] | None = None) -> list[KitDetail]:
    if items is None:
        items = _items_by_id(tx, {line.item_id for kit in kits for line in kit.kit_items})
    return [
        KitDetail(
            id=kit.id,
            name=kit.name,
            archived=kit.archived,
            kit_items=tuple(KitItemDetail(item=items[line.item_id], count=line.count) for line in kit.kit_items),
            created_at=kit.created_at,
            updated_at=kit.updated_at,
        )
        for kit in kits
    ]


@functools.lru_cache(maxsize=1024)
def _patient_detail(patient: Patient, site: Site | None) -> PatientDetail:
    """The detail of ``patient`` with its ``site``, not checked again (the patient was when it was
    made). Remembered: it is a function of two frozen values, and hashing them costs a tenth of
    making it (a page shows the same patients again and again)."""
    return _PATIENT_DETAIL(**msgspec.structs.asdict(patient), site=site)


def patient_details(tx: Transaction, patients: Sequence[Patient]) -> list[PatientDetail]:
    by_customer: dict[CustomerId, set[int]] = {}
    for patient in patients:
        if patient.site_id is not None:
            by_customer.setdefault(patient.customer_id, set()).add(patient.site_id)
    sites = {
        site_id: site
        for customer_id, ids in by_customer.items()
        for site_id, site in tx.sites.get_many(customer_id, ids).items()
    }
    return [
        _patient_detail(patient, sites.get(patient.site_id) if patient.site_id is not None else None)
        for patient in patients
    ]


def order_details(
    tx: Transaction,
    orders: Sequence[Order],
    *,
    patients: Mapping[int, Patient] = _NONE,
    kits: Mapping[int, Kit] = _NONE,
    items: Mapping[int, Item] = _NONE,
) -> list[OrderDetail]:
    """Details of ``orders`` (all of one customer) with a constant number of store reads.
    ``patients``, ``kits`` and ``items`` are entities the caller has just read in ``tx``: they are
    used as they are instead of being read again. The details of what orders show are made through
    ``tx.derived``: a store may give the ones it made before, while what they are made of holds."""
    if not orders:
        return []
    customer_id = orders[0].customer_id
    patient_ids: set[int] = set()
    site_ids: set[int] = set()
    lines: set[int] = set()
    kit_ids: set[int] = set()
    for order in orders:  # one pass (on Python 3.11 each comprehension is a function made and called)
        if order.patient_id:
            patient_ids.add(order.patient_id)
        if order.site_id:
            site_ids.add(order.site_id)
        lines.update(map(ITEM_ID, order.order_items))
        kit_ids.update(map(KIT_ID, order.order_kits))
    people = tx.derived(
        "patient_detail",
        customer_id,
        patient_ids,
        lambda ids: {
            p.id: p
            for p in patient_details(tx, list(_read(patients, ids, lambda m: tx.patients.get_many(customer_id, m)).values()))
        },
    )
    sites = tx.sites.get_many(customer_id, site_ids) if site_ids else _NONE
    made: dict[int, ItemDetail] = {}

    def make_kits(ids: set[int]) -> dict[int, KitDetail]:
        # the items of the kits made and of the orders' own lines, in one read
        bundle = _read(kits, ids, lambda m: tx.kits.get_many(customer_id, m))
        made.update(_item_details_by_id(tx, lines | {i.item_id for k in bundle.values() for i in k.kit_items}, items))
        return {detail.id: detail for detail in kit_details(tx, list(bundle.values()), items=made)}

    bundles = tx.derived("kit_detail", customer_id, kit_ids, make_kits)
    shown = made if lines <= made.keys() else _item_details_by_id(tx, lines, items)
    return [
        OrderDetail(
            id=order.id,
            external_order_ids=order.external_order_ids,
            patient=people.get(order.patient_id) if order.patient_id else None,
            site=sites.get(order.site_id) if order.site_id else None,
            current_status=order.current_status,
            order_items=tuple([OrderItemDetail(item=shown[l.item_id], count=l.count) for l in order.order_items]),
            order_kits=tuple([OrderKitDetail(kit=bundles[l.kit_id], count=l.count) for l in order.order_kits]),
            order_events=order.order_events,
            order_notes=order.order_notes,
            tracking_numbers=order.tracking_numbers,
            shipping_option=order.shipping_option,
            created_at=order.created_at,
            updated_at=order.updated_at,
        )
        for order in orders
    ]


def _item_details_by_id(tx: Transaction, ids: set[int], known: Mapping[int, Item]) -> Mapping[int, ItemDetail]:
    return tx.derived("item_detail", 0, ids, lambda missing: _items_by_id(tx, missing, known))
