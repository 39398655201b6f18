"""Round trips the PostgreSQL store makes for a fetch: each one is a network wait, so the details an
order shows are read in as few as its shape allows (items with their manufacturers, an order's
items with its kits' items)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from kitflow.domain.catalog import Item
from kitflow.domain.identity import OPERATOR, customer
from kitflow.domain.order import OrderItem, OrderKit, PlaceOrder
from kitflow.services import access, orders
from kitflow.services.clock import SystemClock
from kitflow_adapters.postgres.session import Session
from tests.contract.rows import new_customer, new_kit, new_patient, unique
from tests.postgres import fresh_postgres_store


def test_a_fetch_reads_each_kind_of_row_once_and_manufacturers_with_their_items(monkeypatch: pytest.MonkeyPatch) -> None:
    store = fresh_postgres_store()
    try:
        customer_id = new_customer(store)
        patient = new_patient(store, customer_id)
        with store.begin(write=True) as tx:  # items of two manufacturers, and one of none
            makers = [tx.manufacturers.add(unique("Maker")).id for _ in range(2)]
            items = [
                tx.items.add(Item(id=0, name="Scale", sku=unique("sku"), manufacturer_id=maker)).id
                for maker in (makers[0], makers[1], None)
            ]
        kit = new_kit(store, customer_id, items[:2]).id
        caller = customer(customer_id)
        placed = orders.place_order(
            PlaceOrder(patient_id=patient.id, order_items=(OrderItem(item_id=items[2]),), order_kits=(OrderKit(kit_id=kit),)),
            caller=caller, uow=store, clock=SystemClock(),
        )
        secret = access.issue_key(customer_id, caller=OPERATOR, uow=store, clock=SystemClock())
        sent: list[list[str]] = []
        real = Session.run_all

        def run_all(session: Session, statements: Sequence[tuple[str, Any]]) -> Any:
            sent.append([query for query, _ in statements])
            return real(session, statements)

        monkeypatch.setattr(Session, "run_all", run_all)
        with store.begin():  # as GET /api/v3/order/{id} does: the key and the order in one snapshot
            assert access.authenticate(secret, uow=store) == caller
            detail = orders.get_order(placed.id, caller=caller, uow=store)
        assert detail == placed
        assert {line.item.manufacturer.id for line in detail.order_kits[0].kit.kit_items if line.item.manufacturer} == set(makers)
        queries = [q for trip in sent for q in trip]
        assert not any(q.lstrip().startswith("SELECT id, name FROM manufacturers") for q in queries), queries
        # BEGIN with the key, the order, the patient, the kit, the items (with their makers)
        assert len(sent) == 5, sent
    finally:
        store.close()
