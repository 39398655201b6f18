"""An in-memory store. One lock makes each transaction atomic and isolated; an undo log rolls back."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import msgspec

from kitflow.domain.catalog import Item, ItemFilter, Manufacturer, sku_taken
from kitflow.domain.errors import Conflict, NotFound
from kitflow.domain.identity import ApiKey, Customer, Role
from kitflow.domain.idempotency import IdempotencyRecord
from kitflow.domain.kit import Kit, KitFilter
from kitflow.domain.order import Order, OrderFilter, check_external_ids_free
from kitflow.domain.paging import Page, PageSpec, cut
from kitflow.domain.patient import Patient, PatientFilter, Site, SiteFilter, external_identifier_taken

T = TypeVar("T")
_MISSING: Any = object()


class _State:
    """Everything the store holds. Per-customer tables keep rows in id order."""

    def __init__(self) -> None:
        self.sequences: dict[str, itertools.count[int]] = {}
        self.customers: dict[int, Customer] = {}
        self.keys: dict[str, ApiKey] = {}
        self.patients: dict[int, dict[int, Patient]] = {}
        self.patient_external: dict[tuple[int, str], int] = {}
        self.sites: dict[int, dict[int, Site]] = {}
        self.manufacturers: dict[int, Manufacturer] = {}
        self.manufacturer_names: dict[str, int] = {}
        self.items: dict[int, Item] = {}
        self.skus: dict[str, int] = {}
        self.kits: dict[int, dict[int, Kit]] = {}
        self.orders: dict[int, dict[int, Order]] = {}
        self.order_owner: dict[int, int] = {}
        self.order_external: dict[tuple[int, str], int] = {}
        self.idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self.settings: dict[str, str] = {}
        self.writes = 0
        """Writes made so far (rolled back or not): the store's version token."""

    def next_id(self, name: str) -> int:
        return next(self.sequences.setdefault(name, itertools.count(1)))


class _Journal:
    """The writes of one transaction, to undo them on rollback."""

    def __init__(self, state: _State, *, write: bool) -> None:
        self.write = write
        self._state = state
        self._undo: list[tuple[dict[Any, Any], Any, Any]] = []

    def set(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        if not self.write:
            raise RuntimeError("a write in a read-only transaction")
        self._state.writes += 1
        self._undo.append((table, key, table.get(key, _MISSING)))
        table[key] = value

    def pop(self, table: dict[Any, Any], key: Any) -> None:
        if key in table:
            self.set(table, key, _MISSING)
            del table[key]

    def rollback(self) -> None:
        for table, key, old in reversed(self._undo):
            if old is _MISSING:
                table.pop(key, None)
            else:
                table[key] = old
        self._undo.clear()


def _page(rows: Iterable[T], *, spec: PageSpec, matches: Callable[[T], bool], key: Callable[[T], int]) -> Page[T]:
    """One page of ``rows`` (in ascending id order) that match."""
    hits = [row for row in rows if matches(row)]
    if spec.descending:
        hits.reverse()
    if spec.after is not None:
        ids = [key(row) for row in hits]
        if spec.descending:
            start = bisect.bisect_right([-i for i in ids], -spec.after)
        else:
            start = bisect.bisect_right(ids, spec.after)
    else:
        start = spec.offset
    return cut(hits[start : start + spec.size + 1], spec=spec, total=len(hits))


class _Repository:
    def __init__(self, state: _State, journal: _Journal) -> None:
        self._s = state
        self._j = journal


class _Customers(_Repository):
    def add(self, customer: Customer) -> Customer:
        stored = _with_id(customer, self._s.next_id("customer"))
        self._j.set(self._s.customers, stored.id, stored)
        return stored

    def get(self, customer_id: int) -> Customer:
        return _found(self._s.customers.get(customer_id), "customer")


class _Keys(_Repository):
    def add(self, key: ApiKey) -> None:
        if key.prefix in self._s.keys:
            raise Conflict("duplicate_key_prefix", "a key with this prefix exists")
        self._j.set(self._s.keys, key.prefix, key)

    def find(self, prefix: str) -> ApiKey | None:
        return self._s.keys.get(prefix)

    def revoke(self, prefix: str, at: dt.datetime) -> None:
        key = _found(self._s.keys.get(prefix), "key")
        self._j.set(self._s.keys, prefix, _replace(key, revoked_at=at))

    def has_operator_key(self) -> bool:
        return any(key.role is Role.OPERATOR for key in self._s.keys.values())


class _Owned(_Repository):
    """Rows kept per customer: ``table`` maps customer id to {id: row}."""

    table: str
    what: str

    def _rows(self, customer_id: int) -> dict[int, Any]:
        return getattr(self._s, self.table).get(customer_id, {})

    def _put(self, row: Any) -> None:
        owner = getattr(self._s, self.table)
        if row.customer_id not in owner:
            self._j.set(owner, row.customer_id, {})
        self._j.set(owner[row.customer_id], row.id, row)

    def get(self, customer_id: int, row_id: int) -> Any:
        return _found(self._rows(customer_id).get(row_id), self.what)

    def get_many(self, customer_id: int, ids: Collection[int]) -> dict[int, Any]:
        rows = self._rows(customer_id)
        return {i: rows[i] for i in ids if i in rows}

    def _existing(self, row: Any) -> Any:
        return self.get(row.customer_id, row.id)

    def page(self, customer_id: int, where: Any, spec: PageSpec) -> Page[Any]:
        return _page(self._rows(customer_id).values(), spec=spec, matches=where.matches, key=lambda r: r.id)


class _Patients(_Owned):
    table, what = "patients", "patient"

    def _claim(self, patient: Patient, *, previous: Patient | None) -> None:
        index = self._s.patient_external
        if previous is not None and previous.external_identifier is not None:
            self._j.pop(index, (previous.customer_id, previous.external_identifier))
        if patient.external_identifier is not None:
            slot = (patient.customer_id, patient.external_identifier)
            if slot in index:
                raise external_identifier_taken(index[slot])
            self._j.set(index, slot, patient.id)

    def add(self, patient: Patient) -> Patient:
        stored = _with_id(patient, self._s.next_id("patient"))
        self._claim(stored, previous=None)
        self._put(stored)
        return stored

    def update(self, patient: Patient) -> None:
        self._claim(patient, previous=self._existing(patient))
        self._put(patient)

    def id_by_external_identifier(self, customer_id: int, external_identifier: str) -> int | None:
        return self._s.patient_external.get((customer_id, external_identifier))

    def page(self, customer_id: int, where: PatientFilter, spec: PageSpec) -> Page[Patient]:
        return super().page(customer_id, where, spec)


class _Sites(_Owned):
    table, what = "sites", "site"

    def add(self, site: Site) -> Site:
        stored = _with_id(site, self._s.next_id("site"))
        self._put(stored)
        return stored

    def update(self, site: Site) -> None:
        self._existing(site)
        self._put(site)

    def page(self, customer_id: int, where: SiteFilter, spec: PageSpec) -> Page[Site]:
        return super().page(customer_id, where, spec)


class _Manufacturers(_Repository):
    def add(self, name: str) -> Manufacturer:
        if name in self._s.manufacturer_names:
            raise Conflict("duplicate_manufacturer", "a manufacturer of this name exists")
        maker = Manufacturer(id=self._s.next_id("manufacturer"), name=name)
        self._j.set(self._s.manufacturers, maker.id, maker)
        self._j.set(self._s.manufacturer_names, name, maker.id)
        return maker

    def by_name(self, name: str) -> Manufacturer | None:
        found = self._s.manufacturer_names.get(name)
        return None if found is None else self._s.manufacturers[found]

    def get_many(self, ids: Collection[int]) -> dict[int, Manufacturer]:
        return {i: self._s.manufacturers[i] for i in ids if i in self._s.manufacturers}


class _Items(_Repository):
    def _claim(self, item: Item, *, previous: Item | None) -> None:
        if previous is not None:
            self._j.pop(self._s.skus, previous.sku)
        holder = self._s.skus.get(item.sku)
        if holder is not None:
            raise sku_taken(holder)
        self._j.set(self._s.skus, item.sku, item.id)

    def add(self, item: Item) -> Item:
        stored = _with_id(item, self._s.next_id("item"))
        self._claim(stored, previous=None)
        self._j.set(self._s.items, stored.id, stored)
        return stored

    def update(self, item: Item) -> None:
        self._claim(item, previous=self.get(item.id))
        self._j.set(self._s.items, item.id, item)

    def get(self, item_id: int) -> Item:
        return _found(self._s.items.get(item_id), "item")

    def get_many(self, ids: Collection[int]) -> dict[int, Item]:
        return {i: self._s.items[i] for i in ids if i in self._s.items}

    def id_by_sku(self, sku: str) -> int | None:
        return self._s.skus.get(sku)

    def page(self, where: ItemFilter, spec: PageSpec) -> Page[Item]:
        return _page(self._s.items.values(), spec=spec, matches=where.matches, key=lambda r: r.id)


class _Kits(_Owned):
    table, what = "kits", "kit"

    def add(self, kit: Kit) -> Kit:
        stored = _with_id(kit, self._s.next_id("kit"))
        self._put(stored)
        return stored

    def update(self, kit: Kit) -> None:
        old = self._existing(kit)
        self._put(_replace(old, name=kit.name, archived=kit.archived, updated_at=kit.updated_at))

    def page(self, customer_id: int, where: KitFilter, spec: PageSpec) -> Page[Kit]:
        return super().page(customer_id, where, spec)


class _Orders(_Owned):
    table, what = "orders", "order"

    def add(self, order: Order) -> Order:
        taken = self.ids_by_external_ids(order.customer_id, order.external_order_ids)
        check_external_ids_free(order.external_order_ids, taken)  # before an id is drawn: a refused order uses none
        stored = _with_id(order, self._s.next_id("order"))
        for external_id in stored.external_order_ids:
            self._j.set(self._s.order_external, (stored.customer_id, external_id), stored.id)
        self._j.set(self._s.order_owner, stored.id, stored.customer_id)
        self._put(stored)
        return stored

    def update(self, order: Order) -> None:
        old = self._existing(order)
        self._put(
            _replace(
                old,
                current_status=order.current_status,
                order_events=order.order_events,
                tracking_numbers=order.tracking_numbers,
                updated_at=order.updated_at,
            )
        )

    def get(self, customer_id: int | None, order_id: int) -> Order:
        if customer_id is None:
            customer_id = self._s.order_owner.get(order_id, 0)
        return super().get(customer_id, order_id)

    def ids_by_external_ids(self, customer_id: int, external_ids: Collection[str]) -> dict[str, int]:
        index = self._s.order_external
        return {e: index[(customer_id, e)] for e in external_ids if (customer_id, e) in index}

    def page(self, customer_id: int, where: OrderFilter, spec: PageSpec) -> Page[Order]:
        return super().page(customer_id, where, spec)

    def version(self, customer_id: int) -> int:
        return self._s.writes  # any write: coarser than the port asks, never stale


class _Idempotency(_Repository):
    def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        return self._s.idempotency.get((scope, key))

    def put(self, record: IdempotencyRecord) -> None:
        self._j.set(self._s.idempotency, (record.scope, record.key), record)

    def delete(self, scope: str, key: str, token: str) -> None:
        found = self._s.idempotency.get((scope, key))
        if found is not None and found.token == token:
            self._j.pop(self._s.idempotency, (scope, key))

    def purge(self, before: dt.datetime) -> int:
        old = [slot for slot, record in self._s.idempotency.items() if record.created_at < before]
        for slot in old:
            self._j.pop(self._s.idempotency, slot)
        return len(old)


class _Settings(_Repository):
    def get_or_create(self, name: str, make: Callable[[], str]) -> str:
        if name not in self._s.settings:
            self._j.set(self._s.settings, name, make())
        return self._s.settings[name]


class MemoryTransaction:
    """The repositories over the store's state, for one transaction."""

    def __init__(self, state: _State, *, write: bool) -> None:
        self.journal = _Journal(state, write=write)
        self.customers = _Customers(state, self.journal)
        self.keys = _Keys(state, self.journal)
        self.patients = _Patients(state, self.journal)
        self.sites = _Sites(state, self.journal)
        self.manufacturers = _Manufacturers(state, self.journal)
        self.items = _Items(state, self.journal)
        self.kits = _Kits(state, self.journal)
        self.orders = _Orders(state, self.journal)
        self.idempotency = _Idempotency(state, self.journal)
        self.settings = _Settings(state, self.journal)

    @staticmethod
    def derived(
        kind: str, scope: int, ids: Collection[int], make: Callable[[set[int]], Mapping[int, T]]
    ) -> Mapping[int, T]:
        """See ``Transaction.derived``: always made (reading this store costs no more)."""
        return make(set(ids))


class MemoryStore:
    """A unit of work over data kept in this process (lost when it ends). Thread-safe: one
    re-entrant lock serialises transactions; a ``begin`` inside an open one joins it."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.RLock()
        self._local = threading.local()

    @contextmanager
    def begin(self, *, write: bool = False) -> Iterator[MemoryTransaction]:
        open_tx: MemoryTransaction | None = getattr(self._local, "tx", None)
        if open_tx is not None:
            if write and not open_tx.journal.write:
                raise RuntimeError("a write transaction inside a read-only one")
            yield open_tx
            return
        with self._lock:
            tx = MemoryTransaction(self._state, write=write)
            self._local.tx = tx
            try:
                yield tx
            except BaseException:
                tx.journal.rollback()
                raise
            finally:
                self._local.tx = None

    def find_key(self, prefix: str) -> ApiKey | None:
        """See ``UnitOfWork.find_key``."""
        with self.begin() as tx:
            return tx.keys.find(prefix)

    def close(self) -> None:
        """Nothing to release."""


def _with_id(row: T, row_id: int) -> T:
    return _replace(row, id=row_id)


def _replace(row: T, **changes: Any) -> T:
    return msgspec.structs.replace(row, **changes)  # type: ignore[type-var]


def _found(row: T | None, what: str) -> T:
    if row is None:
        raise NotFound(detail=f"no such {what}")
    return row
