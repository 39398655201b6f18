"""The SQLite store remembers the values it decoded from rows (``codec.remembered``): for any entity,
the value read through the memory equals the value decoded afresh from the same row and the entity
as written; a row read again gives the remembered value; a row a write changed is read as changed,
never as the value remembered for its old row. Manufacturers read along with their items in a
transaction are those a fresh read gives."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitflow.domain.catalog import Item, ItemDraft
from kitflow.domain.changes import promoted
from kitflow.domain.identity import ApiKey, Role
from kitflow.domain.kit import Kit, KitDraft
from kitflow.domain.order import OrderStatus, PlaceOrder
from kitflow.domain.patient import Patient, PatientDraft, Site, SiteDraft
from kitflow.testing import item_drafts, kit_drafts, patient_drafts, place_orders, site_drafts, texts
from kitflow_adapters.sqlite import SqliteStore
from kitflow_adapters.sqlite.catalog import _ITEM_COLUMNS, _WITH_MAKER, SqliteKits, _item, _item_and_maker, _kit, _manufacturer
from kitflow_adapters.sqlite.identity import _api_key
from kitflow_adapters.sqlite.orders import _COLUMNS as _ORDER_COLUMNS
from kitflow_adapters.sqlite.orders import _order
from kitflow_adapters.sqlite.people import SqlitePatients, SqliteSites, _patient, _site
from tests.contract.rows import new_customer, new_item, new_site, order, times, unique

EXAMPLES = settings(max_examples=30, deadline=None)


class World(msgspec.Struct):
    store: SqliteStore
    path: Path
    customer_id: int
    site_ids: list[int]
    item_ids: list[int]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path = tmp_path_factory.mktemp("remembered") / "k.db"
    store = SqliteStore(str(path))
    customer_id = new_customer(store)
    site_ids = [new_site(store, customer_id).id for _ in range(2)]
    item_ids = [new_item(store).id for _ in range(4)]
    yield World(store=store, path=path, customer_id=customer_id, site_ids=site_ids, item_ids=item_ids)
    store.close()


def _row(world: World, sql: str, key: Any) -> tuple[Any, ...]:
    conn = sqlite3.connect(world.path)
    try:
        row = conn.execute(sql, (key,)).fetchone()
    finally:
        conn.close()
    assert row is not None
    return row  # type: ignore[no-any-return]


def _remembered(decode: Callable[[Any], Any], row: tuple[Any, ...]) -> Any:
    """The value of ``row`` through the memory, checked against a fresh decode of an equal row."""
    fresh = decode.__wrapped__(row)  # type: ignore[attr-defined]
    value = decode(row)
    assert value == fresh and type(value) is type(fresh)
    assert decode(tuple(list(row))) is value  # an equal row (another tuple) is the remembered value
    return value


@EXAMPLES
@given(draft=patient_drafts(external_identifiers=st.none()), at=times(), renamed=texts())
def test_patients_and_their_changes(world: World, draft: PatientDraft, at: dt.datetime, renamed: str) -> None:
    if draft.site_id is None:
        draft = msgspec.structs.replace(draft, site_id=world.site_ids[0])
    entity = promoted(draft, Patient, id=0, customer_id=world.customer_id, created_at=at, updated_at=at)
    with world.store.begin(write=True) as tx:
        stored = tx.patients.add(entity)
    sql = f"SELECT {SqlitePatients.columns} FROM patients WHERE id = ?"
    assert _remembered(_patient, _row(world, sql, stored.id)) == stored
    changed = msgspec.structs.replace(stored, first_name=renamed, archived=not stored.archived)
    with world.store.begin(write=True) as tx:
        tx.patients.update(changed)
    with world.store.begin() as tx:
        assert tx.patients.get(world.customer_id, stored.id) == changed
        assert tx.patients.get_many(world.customer_id, [stored.id]) == {stored.id: changed}
    assert _remembered(_patient, _row(world, sql, stored.id)) == changed


@EXAMPLES
@given(draft=site_drafts(), at=times())
def test_sites_and_their_changes(world: World, draft: SiteDraft, at: dt.datetime) -> None:
    entity = promoted(draft, Site, id=0, customer_id=world.customer_id, created_at=at, updated_at=at)
    with world.store.begin(write=True) as tx:
        stored = tx.sites.add(entity)
    sql = f"SELECT {SqliteSites.columns} FROM sites WHERE id = ?"
    assert _remembered(_site, _row(world, sql, stored.id)) == stored
    changed = msgspec.structs.replace(stored, active=not stored.active)
    with world.store.begin(write=True) as tx:
        tx.sites.update(changed)
    with world.store.begin() as tx:
        assert tx.sites.get(world.customer_id, stored.id) == changed
    assert _remembered(_site, _row(world, sql, stored.id)) == changed


@EXAMPLES
@given(draft=item_drafts())
def test_items_and_manufacturers(world: World, draft: ItemDraft) -> None:
    with world.store.begin(write=True) as tx:
        maker = None
        if draft.manufacturer is not None and draft.manufacturer.name is not None:
            maker = tx.manufacturers.by_name(draft.manufacturer.name) or tx.manufacturers.add(draft.manufacturer.name)
        stored = tx.items.add(
            Item(id=0, name=draft.name, sku=unique(draft.sku), model=draft.model,
                 manufacturer_id=None if maker is None else maker.id, orderable=draft.orderable)
        )
    assert _remembered(_item, _row(world, f"SELECT {_ITEM_COLUMNS} FROM items WHERE id = ?", stored.id)) == stored
    if maker is not None:
        assert _remembered(_manufacturer, _row(world, "SELECT id, name FROM manufacturers WHERE id = ?", maker.id)) == maker
    joined = _row(world, f"{_WITH_MAKER} WHERE items.id = ?", stored.id)
    assert _remembered(_item_and_maker, joined) == (stored, maker)
    changed = msgspec.structs.replace(stored, orderable=not stored.orderable, model=None)
    with world.store.begin(write=True) as tx:
        tx.items.update(changed)
    with world.store.begin() as tx:
        assert tx.items.get(stored.id) == changed
        assert tx.items.get_many([stored.id, world.item_ids[0]])[stored.id] == changed
        first = tx.items.get(world.item_ids[0])
        wanted = {m for m in (stored.manufacturer_id, first.manufacturer_id) if m is not None}
        along = tx.manufacturers.get_many(wanted)  # those read with the items
    with world.store.begin() as tx:
        assert along == tx.manufacturers.get_many(wanted)  # read afresh
    if maker is not None:
        assert along[maker.id] == maker
        with world.store.begin(write=True) as tx:  # one read along, one not: both are found
            other = tx.manufacturers.add(unique("maker"))
            tx.items.get_many([stored.id])
            assert tx.manufacturers.get_many({maker.id, other.id}) == {maker.id: maker, other.id: other}


@EXAMPLES
@given(data=st.data(), at=times())
def test_kits(world: World, data: st.DataObject, at: dt.datetime) -> None:
    draft: KitDraft = data.draw(kit_drafts(item_ids=world.item_ids))
    entity = promoted(draft, Kit, id=0, customer_id=world.customer_id, created_at=at, updated_at=at)
    with world.store.begin(write=True) as tx:
        stored = tx.kits.add(entity)
    sql = f"SELECT {SqliteKits.columns} FROM kits WHERE id = ?"
    assert _remembered(_kit, _row(world, sql, stored.id)) == stored
    changed = msgspec.structs.replace(stored, archived=not stored.archived)
    with world.store.begin(write=True) as tx:
        tx.kits.update(changed)
    with world.store.begin() as tx:
        assert tx.kits.get_many(world.customer_id, [stored.id]) == {stored.id: changed}


@EXAMPLES
@given(data=st.data(), at=times())
def test_orders_and_their_moves(world: World, data: st.DataObject, at: dt.datetime) -> None:
    with world.store.begin(write=True) as tx:
        patient_id = tx.patients.add(
            promoted(data.draw(patient_drafts(external_identifiers=st.none())), Patient, id=0,
                     customer_id=world.customer_id, created_at=at, updated_at=at)
        ).id
    command: PlaceOrder = data.draw(
        place_orders(patient_ids=[patient_id], site_ids=world.site_ids, item_ids=world.item_ids,
                     external_ids=st.builds(unique, st.just("ext")))
    )
    with world.store.begin(write=True) as tx:
        stored = tx.orders.add(order(world.customer_id, command, at=at))
    sql = f"SELECT {_ORDER_COLUMNS} FROM orders WHERE id = ?"
    row = _row(world, sql, stored.id)
    assert _order(row) == stored  # orders are decoded each time (not remembered)
    moved = stored.moved(OrderStatus.PROCESSING, now=at)
    with world.store.begin(write=True) as tx:
        tx.orders.update(moved)
    with world.store.begin() as tx:
        assert tx.orders.get(world.customer_id, stored.id) == moved
    row = _row(world, sql, stored.id)
    assert _order(row) == moved


@EXAMPLES
@given(at=times(), revoked=times())
def test_api_keys_and_their_revocation(world: World, at: dt.datetime, revoked: dt.datetime) -> None:
    key = ApiKey(prefix=unique("k")[-8:], digest=unique("digest"), role=Role.CUSTOMER,
                 customer_id=world.customer_id, created_at=at)
    with world.store.begin(write=True) as tx:
        tx.keys.add(key)
    sql = "SELECT prefix, digest, role, customer_id, created_at, revoked_at FROM api_keys WHERE prefix = ?"
    assert _remembered(_api_key, _row(world, sql, key.prefix)) == key
    with world.store.begin(write=True) as tx:
        tx.keys.revoke(key.prefix, revoked)
    with world.store.begin() as tx:
        assert tx.keys.find(key.prefix) == msgspec.structs.replace(key, revoked_at=revoked)

