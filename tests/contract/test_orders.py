"""Contract: orders and their external order ids, on every store."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitflow.domain.errors import Conflict, NotFound
from kitflow.domain.order import OrderEvent, OrderItem, OrderStatus, PlaceOrder, TrackingNumber
from kitflow.domain.ports import UnitOfWork
from kitflow.testing.strategies import place_orders, texts
from tests.contract.rows import T0, new_customer, new_item, new_kit, new_patient, new_site, order, times


def _world(store: UnitOfWork) -> tuple[int, list[int], list[int], list[int], list[int]]:
    customer_id = new_customer(store)
    patient_ids = [new_patient(store, customer_id).id for _ in range(2)]
    site_ids = [new_site(store, customer_id).id for _ in range(2)]
    item_ids = [new_item(store).id for _ in range(4)]
    kit_ids = [new_kit(store, customer_id, item_ids[:2]).id]
    return customer_id, patient_ids, site_ids, item_ids, kit_ids


def test_an_order_is_read_back_as_stored(store: UnitOfWork) -> None:
    customer_id, patient_ids, site_ids, item_ids, kit_ids = _world(store)
    commands = place_orders(patient_ids=patient_ids, site_ids=site_ids, item_ids=item_ids, kit_ids=kit_ids)

    @given(command=commands, at=times())
    def check(command: PlaceOrder, at: dt.datetime) -> None:
        unsaved = order(customer_id, command, at=at)
        try:
            with store.begin(write=True) as tx:
                stored = tx.orders.add(unsaved)
        except Conflict:  # an external id an earlier example took
            return
        assert stored.id > 0 and stored == msgspec.structs.replace(unsaved, id=stored.id)
        with store.begin() as tx:
            assert tx.orders.get(customer_id, stored.id) == stored
            assert tx.orders.get(None, stored.id) == stored
            assert tx.orders.get_many(customer_id, [stored.id]) == {stored.id: stored}
            assert tx.orders.ids_by_external_ids(customer_id, stored.external_order_ids) == {
                e: stored.id for e in stored.external_order_ids
            }

    check()


def test_an_order_update_stores_status_events_tracking_and_time_only(store: UnitOfWork) -> None:
    customer_id, patient_ids, _, item_ids, _ = _world(store)
    command = PlaceOrder(patient_id=patient_ids[0], order_items=(OrderItem(item_id=item_ids[0]),))
    with store.begin(write=True) as tx:
        stored = tx.orders.add(order(customer_id, command))

    @given(
        steps=st.lists(st.sampled_from(OrderStatus), max_size=4),
        tracking=st.lists(st.builds(TrackingNumber, carrier=texts(max_size=10), value=texts()), max_size=2),
        at=times(),
    )
    def check(steps: list[OrderStatus], tracking: list[TrackingNumber], at: dt.datetime) -> None:
        new = msgspec.structs.replace(
            stored,
            current_status=steps[-1] if steps else stored.current_status,
            order_events=stored.order_events + tuple(OrderEvent(name=s, event_timestamp=at) for s in steps),
            tracking_numbers=tuple(tracking),
            updated_at=at,
        )
        with store.begin(write=True) as tx:
            tx.orders.update(msgspec.structs.replace(new, order_notes=(), external_order_ids=("ignored",)))
        with store.begin() as tx:
            assert tx.orders.get(customer_id, stored.id) == new
            assert tx.orders.ids_by_external_ids(customer_id, ["ignored"]) == {}

    check()


def test_a_lifecycle_of_moves_is_kept_event_by_event(store: UnitOfWork) -> None:
    customer_id, _, site_ids, item_ids, _ = _world(store)
    command = PlaceOrder(site_id=site_ids[0], order_items=(OrderItem(item_id=item_ids[0]),))
    with store.begin(write=True) as tx:
        stored = tx.orders.add(order(customer_id, command))
    path = (OrderStatus.PROCESSING, OrderStatus.AVAILABLE_FOR_PICKUP, OrderStatus.DELIVERED)
    current = stored
    for step, status in enumerate(path, start=1):
        current = current.moved(
            status, now=T0 + dt.timedelta(minutes=step), tracking=TrackingNumber(carrier="UPS", value=f"1Z{step}")
        )
        with store.begin(write=True) as tx:
            tx.orders.update(current)
    with store.begin() as tx:
        final = tx.orders.get(customer_id, stored.id)
    assert final == current
    assert [event.name for event in final.order_events] == [OrderStatus.RECEIVED, *path]


def test_an_external_order_id_is_on_one_order_of_a_customer_only(store: UnitOfWork) -> None:
    customer_id, patient_ids, _, item_ids, _ = _world(store)
    other, other_patients, _, _, _ = _world(store)
    line = (OrderItem(item_id=item_ids[0]),)
    with store.begin(write=True) as tx:
        first = tx.orders.add(order(customer_id, PlaceOrder(patient_id=patient_ids[0], order_items=line,
                                                             external_order_ids=("a", "b"))))
    with store.begin(write=True) as tx:
        with pytest.raises(Conflict) as caught:
            tx.orders.add(order(customer_id, PlaceOrder(patient_id=patient_ids[1], order_items=line,
                                                         external_order_ids=("c", "b", "d"))))
        assert caught.value.code == "duplicate_external_order_id"
        assert str(first.id) in caught.value.detail and "'b'" in caught.value.detail
        # the refused order claimed nothing, also inside the transaction that saw it refused
        assert tx.orders.ids_by_external_ids(customer_id, ["a", "b", "c", "d"]) == {"a": first.id, "b": first.id}
        third = tx.orders.add(order(customer_id, PlaceOrder(patient_id=patient_ids[1], order_items=line,
                                                             external_order_ids=("c", "d"))))
        assert third.id == first.id + 1  # nor an id: the next order takes the one it would have had
    with store.begin(write=True) as tx:
        theirs = tx.orders.add(order(other, PlaceOrder(patient_id=other_patients[0], order_items=line,
                                                        external_order_ids=("a",))))
    with store.begin() as tx:
        assert tx.orders.ids_by_external_ids(customer_id, ["a", "c", "zzz"]) == {"a": first.id, "c": third.id}
        assert tx.orders.ids_by_external_ids(other, ["a", "b"]) == {"a": theirs.id}
        assert tx.orders.ids_by_external_ids(customer_id, []) == {}


def test_another_customers_order_is_invisible_but_the_operator_sees_it(store: UnitOfWork) -> None:
    acme = new_customer(store)
    other, patient_ids, _, item_ids, _ = _world(store)
    with store.begin(write=True) as tx:
        theirs = tx.orders.add(order(other, PlaceOrder(patient_id=patient_ids[0],
                                                        order_items=(OrderItem(item_id=item_ids[0]),))))
    with store.begin() as tx:
        with pytest.raises(NotFound):
            tx.orders.get(acme, theirs.id)
        assert tx.orders.get_many(acme, [theirs.id]) == {}
        assert tx.orders.get(None, theirs.id) == theirs
        with pytest.raises(NotFound):
            tx.orders.get(None, theirs.id + 1000)
    with store.begin(write=True) as tx, pytest.raises(NotFound):
        tx.orders.update(msgspec.structs.replace(theirs, customer_id=acme))
    with store.begin(write=True) as tx, pytest.raises(NotFound):
        tx.orders.update(msgspec.structs.replace(theirs, id=theirs.id + 1000))
