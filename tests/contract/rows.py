"""Rows for the contract suite, written straight through the ports (no use case in between)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from hypothesis import strategies as st

from kitflow.domain.catalog import Item
from kitflow.domain.changes import promoted
from kitflow.domain.identity import Customer
from kitflow.domain.kit import Kit, KitDraft, KitItem
from kitflow.domain.order import Order, OrderStatus, PlaceOrder
from kitflow.domain.patient import Patient, PatientDraft, Site, SiteDraft
from kitflow.domain.ports import UnitOfWork
from kitflow.domain.values import Address, utc

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
ADDRESS = Address(line_one="1 Main Street", city="Springfield", state="IL", zip_code="62701", country="US")
_serial = itertools.count(1)


def times() -> st.SearchStrategy[dt.datetime]:
    """Times as the domain's clock gives them: UTC, millisecond precision, any century nearby."""
    return st.datetimes(
        min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.timezone.utc)
    ).map(utc)


def unique(prefix: str) -> str:
    """A string no other call in this process returns (for service-wide unique values: skus, names)."""
    return f"{prefix}-{next(_serial)}"


def new_customer(store: UnitOfWork, name: str = "Acme") -> int:
    with store.begin(write=True) as tx:
        return tx.customers.add(Customer(id=0, name=name, created_at=T0)).id


def new_site(store: UnitOfWork, customer_id: int, draft: SiteDraft | None = None, *, at: dt.datetime = T0) -> Site:
    draft = draft or SiteDraft(name="Clinic")
    with store.begin(write=True) as tx:
        return tx.sites.add(promoted(draft, Site, id=0, customer_id=customer_id, created_at=at, updated_at=at))


def patient(customer_id: int, draft: PatientDraft | None = None, *, at: dt.datetime = T0, **fields: Any) -> Patient:
    """An unsaved patient (id 0) of ``draft``, or of a plain draft with ``fields``."""
    draft = draft or PatientDraft(**{"first_name": "Ada", "last_name": "Lovelace", "address": ADDRESS, **fields})
    return promoted(draft, Patient, id=0, customer_id=customer_id, created_at=at, updated_at=at)


def new_patient(store: UnitOfWork, customer_id: int, draft: PatientDraft | None = None, **fields: Any) -> Patient:
    with store.begin(write=True) as tx:
        return tx.patients.add(patient(customer_id, draft, **fields))


def new_item(store: UnitOfWork, *, orderable: bool = True, sku: str | None = None) -> Item:
    with store.begin(write=True) as tx:
        return tx.items.add(Item(id=0, name="Scale", sku=sku or unique("sku"), orderable=orderable))


def kit(customer_id: int, item_ids: list[int], *, name: str = "Kit", archived: bool = False) -> Kit:
    draft = KitDraft(name=name, kit_items=tuple(KitItem(item_id=i, count=2) for i in item_ids), archived=archived)
    return promoted(draft, Kit, id=0, customer_id=customer_id, created_at=T0, updated_at=T0)


def new_kit(store: UnitOfWork, customer_id: int, item_ids: list[int], **fields: Any) -> Kit:
    with store.begin(write=True) as tx:
        return tx.kits.add(kit(customer_id, item_ids, **fields))


def order(customer_id: int, command: PlaceOrder, *, at: dt.datetime = T0) -> Order:
    """An unsaved (id 0), received order of ``command``."""
    return Order.new(command, customer_id=customer_id, now=at)


def moved(stored: Order, *statuses: OrderStatus, at: dt.datetime = T0) -> Order:
    """``stored`` moved along the lifecycle through ``statuses``."""
    for status in statuses:
        stored = stored.moved(status, now=at)
    return stored
