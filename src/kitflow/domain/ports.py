"""The ports: what the core needs from a store and from the world, as Protocols.

Every store implements these with real transactions. Reads of one customer's data take the
customer's id and behave exactly as if another customer's rows did not exist. No method needs a full
scan to answer one page: ``page`` is served by indexes (keyset when ``spec.after`` is set).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Hashable, Mapping
from contextlib import AbstractContextManager
from typing import Protocol, TypeVar, runtime_checkable

from kitflow.domain.catalog import Item, ItemFilter, Manufacturer
from kitflow.domain.identity import ApiKey, Customer
from kitflow.domain.idempotency import IdempotencyRecord
from kitflow.domain.kit import Kit, KitFilter
from kitflow.domain.order import Order, OrderFilter
from kitflow.domain.paging import Page, PageSpec
from kitflow.domain.patient import Patient, PatientFilter, Site, SiteFilter
from kitflow.domain.values import CustomerId, ItemId, KitId, ManufacturerId, OrderId, PatientId, SiteId

T = TypeVar("T")


@runtime_checkable
class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, UTC, millisecond precision."""
        ...


class Customers(Protocol):
    def add(self, customer: Customer) -> Customer:
        """Store a new customer (its id 0); returns it with the id the store gave it."""
        ...

    def get(self, customer_id: CustomerId) -> Customer:
        """The customer. Raises NotFound."""
        ...


class ApiKeys(Protocol):
    def add(self, key: ApiKey) -> None:
        """Store a key record. Raises Conflict(``duplicate_key_prefix``) when its prefix is taken."""
        ...

    def find(self, prefix: str) -> ApiKey | None:
        """The key record with this prefix, revoked or not, or None."""
        ...

    def revoke(self, prefix: str, at: dt.datetime) -> None:
        """Mark the key revoked at ``at``. Raises NotFound when no such key exists."""
        ...

    def has_operator_key(self) -> bool:
        """Whether an operator key (revoked or not) is stored."""
        ...


class Patients(Protocol):
    def add(self, patient: Patient) -> Patient:
        """Store a new patient (id 0); returns it with its id.
        Raises Conflict(``duplicate_external_identifier``) when the customer has that identifier."""
        ...

    def update(self, patient: Patient) -> None:
        """Replace the stored patient with the same id and customer. Raises NotFound, and Conflict
        (``duplicate_external_identifier``) like ``add``."""
        ...

    def get(self, customer_id: CustomerId, patient_id: PatientId) -> Patient:
        """The customer's patient. Raises NotFound, also for another customer's patient."""
        ...

    def get_many(self, customer_id: CustomerId, ids: Collection[PatientId]) -> dict[PatientId, Patient]:
        """Those of ``ids`` that are the customer's patients, by id."""
        ...

    def id_by_external_identifier(self, customer_id: CustomerId, external_identifier: str) -> PatientId | None:
        """The id of the customer's patient with this external identifier, or None."""
        ...

    def page(self, customer_id: CustomerId, where: PatientFilter, spec: PageSpec) -> Page[Patient]:
        """The customer's patients matching ``where``, one page by id."""
        ...


class Sites(Protocol):
    def add(self, site: Site) -> Site:
        """Store a new site (id 0); returns it with its id."""
        ...

    def update(self, site: Site) -> None:
        """Replace the stored site with the same id and customer. Raises NotFound."""
        ...

    def get(self, customer_id: CustomerId, site_id: SiteId) -> Site:
        """The customer's site. Raises NotFound, also for another customer's site."""
        ...

    def get_many(self, customer_id: CustomerId, ids: Collection[SiteId]) -> dict[SiteId, Site]:
        """Those of ``ids`` that are the customer's sites, by id."""
        ...

    def page(self, customer_id: CustomerId, where: SiteFilter, spec: PageSpec) -> Page[Site]:
        """The customer's sites matching ``where``, one page by id."""
        ...


class Manufacturers(Protocol):
    def add(self, name: str) -> Manufacturer:
        """Store a new manufacturer. Names are unique; the caller checks with ``by_name`` first."""
        ...

    def by_name(self, name: str) -> Manufacturer | None:
        """The manufacturer with exactly this name, or None."""
        ...

    def get_many(self, ids: Collection[ManufacturerId]) -> dict[ManufacturerId, Manufacturer]:
        """Those of ``ids`` that exist, by id."""
        ...


class Items(Protocol):
    def add(self, item: Item) -> Item:
        """Store a new catalog item (id 0); returns it with its id.
        Raises Conflict(``duplicate_sku``) when the sku is taken."""
        ...

    def update(self, item: Item) -> None:
        """Replace the stored item with the same id. Raises NotFound, and Conflict like ``add``."""
        ...

    def get(self, item_id: ItemId) -> Item:
        """The item. Raises NotFound."""
        ...

    def get_many(self, ids: Collection[ItemId]) -> dict[ItemId, Item]:
        """Those of ``ids`` that exist, by id."""
        ...

    def id_by_sku(self, sku: str) -> ItemId | None:
        """The id of the item with this sku, or None."""
        ...

    def page(self, where: ItemFilter, spec: PageSpec) -> Page[Item]:
        """Catalog items matching ``where``, one page by id."""
        ...


class Kits(Protocol):
    def add(self, kit: Kit) -> Kit:
        """Store a new kit (id 0) with its lines; returns it with its id."""
        ...

    def update(self, kit: Kit) -> None:
        """Replace the stored kit's name, archive flag and times (its lines never change).
        Raises NotFound."""
        ...

    def get(self, customer_id: CustomerId, kit_id: KitId) -> Kit:
        """The customer's kit. Raises NotFound, also for another customer's kit."""
        ...

    def get_many(self, customer_id: CustomerId, ids: Collection[KitId]) -> dict[KitId, Kit]:
        """Those of ``ids`` that are the customer's kits, by id."""
        ...

    def page(self, customer_id: CustomerId, where: KitFilter, spec: PageSpec) -> Page[Kit]:
        """The customer's kits matching ``where``, one page by id."""
        ...


class Orders(Protocol):
    def add(self, order: Order) -> Order:
        """Store a new order (id 0) with its lines, events, notes and external ids; returns it with
        its id. Raises Conflict(``duplicate_external_order_id``) when one of its external ids is on
        another order of the customer."""
        ...

    def update(self, order: Order) -> None:
        """Store the order's new status, events, tracking numbers and ``updated_at``. Raises NotFound."""
        ...

    def get(self, customer_id: CustomerId | None, order_id: OrderId) -> Order:
        """The customer's order (any customer's when ``customer_id`` is None, for the operator).
        Raises NotFound, also for another customer's order."""
        ...

    def ids_by_external_ids(self, customer_id: CustomerId, external_ids: Collection[str]) -> dict[str, OrderId]:
        """For each of ``external_ids`` already on an order of the customer, that order's id."""
        ...

    def page(self, customer_id: CustomerId, where: OrderFilter, spec: PageSpec) -> Page[Order]:
        """The customer's orders matching ``where``, one page by id."""
        ...

    def version(self, customer_id: CustomerId) -> Hashable | None:
        """A token of everything a list of the customer's orders shows: it changes in the very
        transaction that changes one of the customer's orders, or any patient, site, kit, item or
        manufacturer, and never comes back, so equal tokens mean equal lists. None when the store
        keeps no such token (then nothing may be remembered)."""
        ...


class IdempotencyRecords(Protocol):
    def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        """The record of this caller's key, or None."""
        ...

    def put(self, record: IdempotencyRecord) -> None:
        """Insert or replace the record of ``(record.scope, record.key)``."""
        ...

    def delete(self, scope: str, key: str, token: str) -> None:
        """Delete the record if it still carries ``token`` (a claim that was not taken over)."""
        ...

    def purge(self, before: dt.datetime) -> int:
        """Delete every record created before ``before``; returns how many."""
        ...


class Settings(Protocol):
    def get_or_create(self, name: str, make: Callable[[], str]) -> str:
        """The service-wide setting ``name``; made with ``make`` and stored when missing."""
        ...


class Transaction(Protocol):
    """One atomic unit of work over every repository."""

    customers: Customers
    keys: ApiKeys
    patients: Patients
    sites: Sites
    manufacturers: Manufacturers
    items: Items
    kits: Kits
    orders: Orders
    idempotency: IdempotencyRecords
    settings: Settings

    def derived(
        self, kind: str, scope: int, ids: Collection[int], make: Callable[[set[int]], Mapping[int, T]]
    ) -> Mapping[int, T]:
        """Values of ``kind`` for ``ids`` (within ``scope``: a customer's id, or 0 for the catalog),
        by id: ``make(ids)``, which must make each only from what orders show (patients, sites,
        kits, items, manufacturers) as this transaction reads them. A store may give values it made
        earlier instead, while none of those changed (``make`` then runs for the others only)."""
        ...


@runtime_checkable
class UnitOfWork(Protocol):
    """Opens transactions on a store.

    ``begin(write=True)`` takes the store's write lock at once (SQLite ``BEGIN IMMEDIATE``), so
    checks and writes inside it are atomic against every other writer. The block commits when it
    ends normally and rolls back when it raises. A ``begin`` inside an open transaction of the same
    thread joins it (a write inside a read-only transaction raises RuntimeError).
    """

    def begin(self, *, write: bool = False) -> AbstractContextManager[Transaction]:
        ...

    def find_key(self, prefix: str) -> ApiKey | None:
        """``ApiKeys.find`` as a read of its own (one statement is atomic: it needs no transaction of
        its own), or inside the transaction open on this thread."""
        ...

    def close(self) -> None:
        """Release the store's connections."""
        ...
