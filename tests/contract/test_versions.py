"""Contract: ``Orders.version``, the token of everything a customer's order lists show, on every
store. A store may keep none (None, always); a store that keeps one changes it with each write of
what an order shows, never gives an earlier token again, and does not change it by reading."""

from __future__ import annotations

from collections.abc import Hashable

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from kitflow.domain.order import OrderFilter, OrderItem, OrderStatus, PlaceOrder
from kitflow.domain.paging import PageSpec
from kitflow.domain.ports import UnitOfWork
from tests.contract.rows import moved, new_customer, new_item, new_kit, new_patient, new_site, order, unique


def _version(store: UnitOfWork, customer_id: int) -> Hashable | None:
    with store.begin() as tx:
        return tx.orders.version(customer_id)


class _Writes:
    """One write of each kind an order list shows, on a small world of one customer."""

    def __init__(self, store: UnitOfWork) -> None:
        self.store = store
        self.customer_id = new_customer(store)
        self.patient = new_patient(store, self.customer_id)
        self.site = new_site(store, self.customer_id)
        self.item = new_item(store)
        self.kit = new_kit(store, self.customer_id, [self.item.id])
        self.order = self._place()

    def _place(self) -> object:
        command = PlaceOrder(patient_id=self.patient.id, order_items=(OrderItem(item_id=self.item.id),))
        with self.store.begin(write=True) as tx:
            return tx.orders.add(order(self.customer_id, command))

    def place_order(self) -> None:
        self.order = self._place()

    def move_order(self) -> None:
        with self.store.begin(write=True) as tx:
            tx.orders.update(moved(self.order, OrderStatus.CANCELLED))  # type: ignore[arg-type]

    def rename_patient(self) -> None:
        with self.store.begin(write=True) as tx:
            self.patient = msgspec.structs.replace(self.patient, first_name=self.patient.first_name + "a")
            tx.patients.update(self.patient)

    def add_patient(self) -> None:
        new_patient(self.store, self.customer_id)

    def rename_site(self) -> None:
        with self.store.begin(write=True) as tx:
            self.site = msgspec.structs.replace(self.site, name=self.site.name + "a")
            tx.sites.update(self.site)

    def rename_item(self) -> None:
        with self.store.begin(write=True) as tx:
            self.item = msgspec.structs.replace(self.item, name=self.item.name + "a")
            tx.items.update(self.item)

    def add_manufacturer(self) -> None:
        with self.store.begin(write=True) as tx:
            tx.manufacturers.add(unique("Maker"))

    def rename_kit(self) -> None:
        with self.store.begin(write=True) as tx:
            self.kit = msgspec.structs.replace(self.kit, name=self.kit.name + "a")
            tx.kits.update(self.kit)

    def read(self) -> None:
        with self.store.begin() as tx:
            tx.orders.page(self.customer_id, OrderFilter(), PageSpec(size=25))
            tx.orders.get(self.customer_id, self.order.id)  # type: ignore[attr-defined]


WRITES: list[str] = [
    "place_order", "move_order", "rename_patient", "add_patient", "rename_site", "rename_item",
    "add_manufacturer", "rename_kit",
]


def test_each_write_of_what_an_order_list_shows_changes_the_version(store: UnitOfWork) -> None:
    world = _Writes(store)
    seen = [_version(store, world.customer_id)]
    for name in WRITES:
        getattr(world, name)()
        seen.append(_version(store, world.customer_id))
    if seen[0] is None:  # the store keeps no token: it says so every time
        assert seen == [None] * len(seen)
        return
    assert len(set(seen)) == len(seen), seen


def test_a_version_never_comes_back_and_reading_keeps_it(store: UnitOfWork) -> None:
    world = _Writes(store)

    @settings(max_examples=15)
    @given(steps=st.lists(st.sampled_from([*WRITES, "read"]), min_size=1, max_size=8))
    def check(steps: list[str]) -> None:
        seen = [_version(store, world.customer_id)]
        for name in steps:
            before = _version(store, world.customer_id)
            getattr(world, name)()
            after = _version(store, world.customer_id)
            if name == "read":
                assert after == before
            elif after is not None:
                assert after not in seen
            seen.append(after)

    check()
