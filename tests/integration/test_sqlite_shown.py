"""The SQLite store remembers the entities orders show (``Shown``), and the details made of them
(``derived``), across transactions while the database's ``reference`` version holds: what a
transaction gets is always what it would have read, whoever changed the file, and a transaction
sees its own changes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitflow.domain.errors import NotFound
from kitflow.domain.identity import customer as customer_principal
from kitflow.domain.order import OrderItem, OrderKit, PlaceOrder
from kitflow.services import orders
from kitflow_adapters.sqlite import SqliteStore
from tests.contract.rows import new_customer, new_item, new_kit, new_patient, new_site, order, unique

_names = itertools.count()


class _Files(msgspec.Struct):
    path: str
    reader: SqliteStore
    writer: SqliteStore
    customer: int
    other: int
    patients: list[int]
    sites: list[int]
    items: list[int]
    kits: list[int]
    orders: list[int]


def _open(path: str) -> _Files:
    """A reader and a writer on one file (two connections, as two processes have), with rows: and
    orders for a patient and for a site, of items and the kit."""
    writer = SqliteStore(path)
    customer, other = new_customer(writer), new_customer(writer, "Other")
    items = [new_item(writer).id for _ in range(3)]
    patients = [new_patient(writer, customer).id for _ in range(3)]
    sites = [new_site(writer, customer).id for _ in range(2)]
    kits = [new_kit(writer, customer, items[:2]).id]
    lines = (OrderItem(item_id=items[2]), OrderItem(item_id=items[0], count=2))
    with writer.begin(write=True) as tx:
        placed = [
            tx.orders.add(order(customer, PlaceOrder(patient_id=patients[0], order_items=lines, order_kits=(OrderKit(kit_id=kits[0]),)))).id,
            tx.orders.add(order(customer, PlaceOrder(site_id=sites[1], order_kits=(OrderKit(kit_id=kits[0], count=3),)))).id,
        ]
    return _Files(
        path=path, reader=SqliteStore(path), writer=writer, customer=customer, other=other,
        patients=patients, sites=sites, items=items, kits=kits, orders=placed,
    )


def _close(f: _Files) -> None:
    f.reader.close()
    f.writer.close()


@pytest.fixture
def files(tmp_path: Path) -> Iterator[_Files]:
    made = _open(str(tmp_path / "kitflow.db"))
    yield made
    _close(made)


def _everything(store: SqliteStore, f: _Files) -> dict[str, Any]:
    with store.begin() as tx:
        items = tx.items.get_many(f.items)
        return {
            "patients": tx.patients.get_many(f.customer, f.patients),
            "patient": tx.patients.get(f.customer, f.patients[0]),
            "sites": tx.sites.get_many(f.customer, f.sites),
            "items": items,
            "item": tx.items.get(f.items[0]),
            "kits": tx.kits.get_many(f.customer, f.kits),
            "makers": tx.manufacturers.get_many({i.manufacturer_id for i in items.values() if i.manufacturer_id}),
            "orders": [orders.get_order(o, caller=customer_principal(f.customer), uow=store) for o in f.orders],
        }


def _change(f: _Files, what: str, index: int) -> None:
    n = next(_names)
    with f.writer.begin(write=True) as tx:
        if what == "patient":
            old = tx.patients.get(f.customer, f.patients[index % 3])
            tx.patients.update(msgspec.structs.replace(old, first_name=f"P{n}"))
        elif what == "site":
            old = tx.sites.get(f.customer, f.sites[index % 2])
            tx.sites.update(msgspec.structs.replace(old, name=f"S{n}"))
        elif what == "item":
            maker = tx.manufacturers.add(unique("Maker"))
            old = tx.items.get(f.items[index % 3])
            tx.items.update(msgspec.structs.replace(old, name=f"I{n}", manufacturer_id=maker.id))
        elif what == "kit":
            old = tx.kits.get(f.customer, f.kits[0])
            tx.kits.update(msgspec.structs.replace(old, name=f"K{n}", archived=not old.archived))


@settings(max_examples=30)
@given(steps=st.lists(st.tuples(st.sampled_from(["patient", "site", "item", "kit", "read"]), st.integers(0, 5)), max_size=10))
def test_what_a_transaction_gets_is_what_the_file_holds(tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int]]) -> None:
    f = _open(str(tmp_path_factory.mktemp("shown") / "kitflow.db"))
    try:
        for what, index in steps:
            if what != "read":
                _change(f, what, index)
            fresh = SqliteStore(f.path)  # nothing remembered: reads the file
            try:
                assert _everything(f.reader, f) == _everything(fresh, f)
                assert _everything(f.reader, f) == _everything(fresh, f)  # asked again: remembered
            finally:
                fresh.close()
    finally:
        _close(f)


@pytest.mark.parametrize("read_first", [False, True])
def test_a_transaction_sees_its_own_change_and_a_rollback_leaves_nothing(files: _Files, read_first: bool) -> None:
    f = files
    before = _everything(f.writer, f)["patient"]
    with pytest.raises(RuntimeError), f.writer.begin(write=True) as tx:
        if read_first:
            assert tx.patients.get(f.customer, before.id) == before
        tx.patients.update(msgspec.structs.replace(before, first_name="Uncommitted"))
        assert tx.patients.get(f.customer, before.id).first_name == "Uncommitted"
        shown = orders.get_order(f.orders[0], caller=customer_principal(f.customer), uow=f.writer)
        assert shown.patient is not None and shown.patient.first_name == "Uncommitted"
        raise RuntimeError("roll back")
    assert _everything(f.writer, f)["patient"] == before
    assert _everything(f.reader, f)["patient"] == before
    _change(f, "patient", 0)  # committed: the version the rolled-back change had for a moment
    fresh = SqliteStore(f.path)
    try:
        assert _everything(f.writer, f) == _everything(fresh, f) == _everything(f.reader, f)
    finally:
        fresh.close()


def test_another_customer_never_gets_a_remembered_row(files: _Files) -> None:
    f = files
    _everything(f.reader, f)  # remembered for their customer
    with f.reader.begin() as tx:
        assert tx.patients.get_many(f.other, f.patients) == {}
        assert tx.kits.get_many(f.other, f.kits) == {}
        with pytest.raises(NotFound):
            tx.sites.get(f.other, f.sites[0])


def test_entities_read_again_come_from_memory(files: _Files) -> None:
    f = files
    statements: list[str] = []
    _everything(f.reader, f)
    f.reader._thread_link().conn.set_trace_callback(statements.append)  # this thread's connection
    again = _everything(f.reader, f)
    assert again == _everything(f.writer, f)
    reads = [s for s in statements if s.startswith("SELECT") and "versions" not in s and "FROM orders" not in s]
    assert reads == [], reads  # only BEGIN, the version, the orders (never remembered) and COMMIT
    _change(f, "patient", 0)
    statements.clear()
    _everything(f.reader, f)
    assert any("FROM patients" in s for s in statements)  # the version moved: read again


def test_details_made_again_come_from_memory(files: _Files) -> None:
    f = files
    first = _everything(f.reader, f)["orders"]
    again = _everything(f.reader, f)["orders"]
    assert again == first
    assert again[0].patient is first[0].patient  # the same detail, not made again
    assert again[0].order_kits[0].kit is first[0].order_kits[0].kit
    assert again[0].order_items[0].item is first[0].order_items[0].item
    _change(f, "item", 0)  # an item of the kit and of the order: both details made again
    moved = _everything(f.reader, f)["orders"]
    assert moved[0].order_kits[0].kit is not first[0].order_kits[0].kit
    assert moved[0].order_items[1].item.name != first[0].order_items[1].item.name
    assert moved[0].order_kits[0].kit.kit_items[0].item == moved[0].order_items[1].item


def test_a_derived_kind_named_as_a_table_is_never_taken_for_its_rows(files: _Files) -> None:
    f = files
    with f.reader.begin() as tx:
        assert tx.derived("patients", f.customer, {f.patients[0]}, lambda ids: {i: "made" for i in ids}) == {f.patients[0]: "made"}
        assert tx.patients.get(f.customer, f.patients[0]).id == f.patients[0]  # the row, not "made"
    with f.reader.begin() as tx:
        assert tx.patients.get(f.customer, f.patients[0]).id == f.patients[0]
        assert tx.derived("patients", f.customer, {f.patients[0]}, lambda ids: {i: "again" for i in ids}) == {f.patients[0]: "made"}
