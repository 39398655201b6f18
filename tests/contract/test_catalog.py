"""Contract: manufacturers, catalog items and kits, on every store."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitflow.domain.catalog import Item
from kitflow.domain.changes import promoted
from kitflow.domain.errors import Conflict, NotFound
from kitflow.domain.kit import Kit, KitDraft
from kitflow.domain.ports import UnitOfWork
from kitflow.testing.strategies import kit_drafts, texts
from tests.contract.rows import T0, new_customer, new_item, new_kit, times, unique


def test_a_manufacturer_is_found_by_its_exact_name_and_by_id(store: UnitOfWork) -> None:
    @given(name=texts())
    def check(name: str) -> None:
        name = unique(name)
        with store.begin(write=True) as tx:
            made = tx.manufacturers.add(name)
        with store.begin() as tx:
            assert made.id > 0 and made.name == name
            assert tx.manufacturers.by_name(name) == made
            assert tx.manufacturers.by_name(name.upper() + "!") is None
            assert tx.manufacturers.get_many({made.id, 10**12}) == {made.id: made}

    check()


def test_a_manufacturer_name_is_unique(store: UnitOfWork) -> None:
    with store.begin(write=True) as tx:
        tx.manufacturers.add("Withings")
    with store.begin(write=True) as tx, pytest.raises(Conflict) as caught:
        tx.manufacturers.add("Withings")
    assert caught.value.code == "duplicate_manufacturer"
    with store.begin() as tx:
        assert tx.manufacturers.get_many([]) == {}


def test_an_item_is_read_back_as_stored_and_as_replaced(store: UnitOfWork) -> None:
    with store.begin(write=True) as tx:
        maker = tx.manufacturers.add("Omron")

    @given(
        name=texts(),
        model=st.none() | texts(max_size=20),
        orderable=st.booleans(),
        with_maker=st.booleans(),
        renamed=texts(),
    )
    def check(name: str, model: str | None, orderable: bool, with_maker: bool, renamed: str) -> None:
        unsaved = Item(
            id=0, name=name, sku=unique("sku"), model=model,
            manufacturer_id=maker.id if with_maker else None, orderable=orderable,
        )
        with store.begin(write=True) as tx:
            stored = tx.items.add(unsaved)
        assert stored == msgspec.structs.replace(unsaved, id=stored.id)
        with store.begin() as tx:
            assert tx.items.get(stored.id) == stored
            assert tx.items.get_many([stored.id]) == {stored.id: stored}
            assert tx.items.id_by_sku(stored.sku) == stored.id
        new = msgspec.structs.replace(stored, name=renamed, sku=unique("sku"), orderable=not orderable)
        with store.begin(write=True) as tx:
            tx.items.update(new)
        with store.begin() as tx:
            assert tx.items.get(stored.id) == new
            assert tx.items.id_by_sku(stored.sku) is None

    check()


def test_a_sku_is_unique(store: UnitOfWork) -> None:
    first = new_item(store, sku="S-1")
    second = new_item(store, sku="S-2")
    with store.begin(write=True) as tx, pytest.raises(Conflict) as caught:
        tx.items.add(Item(id=0, name="Other", sku="S-1"))
    assert caught.value.code == "duplicate_sku" and str(first.id) in caught.value.detail
    with store.begin(write=True) as tx, pytest.raises(Conflict) as caught:
        tx.items.update(msgspec.structs.replace(second, sku="S-1"))
    assert caught.value.code == "duplicate_sku"
    with store.begin(write=True) as tx:
        tx.items.update(msgspec.structs.replace(first, sku="S-3"))
        taker = tx.items.add(Item(id=0, name="Taker", sku="S-1"))
    with store.begin() as tx:
        assert tx.items.id_by_sku("S-1") == taker.id
        assert tx.items.get(second.id) == second


def test_unknown_items_are_not_found(store: UnitOfWork) -> None:
    with store.begin() as tx:
        with pytest.raises(NotFound):
            tx.items.get(777)
        assert tx.items.get_many({777}) == {}
        assert tx.items.id_by_sku("nope") is None
    with store.begin(write=True) as tx, pytest.raises(NotFound):
        tx.items.update(Item(id=777, name="Ghost", sku=unique("sku")))


def test_a_kit_is_read_back_as_stored_with_its_lines_in_order(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    item_ids = [new_item(store).id for _ in range(6)]

    @given(draft=kit_drafts(item_ids=item_ids), at=times())
    def check(draft: KitDraft, at: dt.datetime) -> None:
        unsaved = promoted(draft, Kit, id=0, customer_id=customer_id, created_at=at, updated_at=at)
        with store.begin(write=True) as tx:
            stored = tx.kits.add(unsaved)
        assert stored == msgspec.structs.replace(unsaved, id=stored.id)
        with store.begin() as tx:
            assert tx.kits.get(customer_id, stored.id) == stored
            assert tx.kits.get_many(customer_id, (stored.id,)) == {stored.id: stored}

    check()


def test_a_kit_update_changes_its_name_archive_flag_and_time_only(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    items = [new_item(store).id, new_item(store).id]
    stored = new_kit(store, customer_id, items)
    later = T0 + dt.timedelta(hours=1)
    with store.begin(write=True) as tx:
        tx.kits.update(
            msgspec.structs.replace(stored, name="Renamed", archived=True, updated_at=later, kit_items=stored.kit_items[:1])
        )
    with store.begin() as tx:
        assert tx.kits.get(customer_id, stored.id) == msgspec.structs.replace(
            stored, name="Renamed", archived=True, updated_at=later
        )


def test_another_customers_kit_is_invisible(store: UnitOfWork) -> None:
    acme, other = new_customer(store), new_customer(store)
    theirs = new_kit(store, other, [new_item(store).id])
    with store.begin() as tx:
        with pytest.raises(NotFound):
            tx.kits.get(acme, theirs.id)
        assert tx.kits.get_many(acme, [theirs.id]) == {}
    with store.begin(write=True) as tx, pytest.raises(NotFound):
        tx.kits.update(msgspec.structs.replace(theirs, customer_id=acme, name="Mine"))
    with store.begin() as tx:
        assert tx.kits.get(other, theirs.id) == theirs
