"""Rows read by their ids (``repository.by_ids``): whichever statement reads them (one lookup,
lookups joined by UNION ALL, ``json_each`` beyond ``UNITED`` ids), they are the rows of the ids
that exist, and only the customer's."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitflow_adapters.sqlite import SqliteStore
from kitflow_adapters.sqlite.people import SqlitePatients
from kitflow_adapters.sqlite.repository import UNITED, by_ids
from tests.contract.rows import new_customer, new_item, new_patient

ENOUGH = UNITED + 8


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SqliteStore, Path, list[int]]]:
    path = tmp_path_factory.mktemp("by-ids") / "k.db"
    store = SqliteStore(str(path))
    customers = [new_customer(store, "A"), new_customer(store, "B")]
    for n in range(ENOUGH):
        new_patient(store, customers[n % 2])
    for _ in range(5):
        new_item(store)
    yield store, path, customers
    store.close()


ids = st.lists(st.integers(min_value=0, max_value=ENOUGH + 3), max_size=ENOUGH + 4)


@settings(max_examples=60, deadline=None)
@given(wanted=ids, which=st.integers(min_value=0, max_value=1))
def test_the_rows_of_any_ids_are_those_that_exist_and_are_the_customers(
    world: tuple[SqliteStore, Path, list[int]], wanted: list[int], which: int
) -> None:
    store, path, customers = world
    customer_id = customers[which]
    with sqlite3.connect(path) as conn:
        owned = {row[0] for row in conn.execute("SELECT id FROM patients WHERE customer_id = ?", (customer_id,))}
        rows = list(
            by_ids(conn, wanted, one=SqlitePatients._get, many=SqlitePatients._get_many, params=(customer_id,))
        )
        assert {row[0] for row in rows} == owned & set(wanted)
        assert len(rows) == len([i for i in wanted if i in owned]) or len(wanted) > UNITED
        items = {row[0] for row in by_ids(conn, wanted, one="SELECT id FROM items WHERE id = ?",
                                          many="SELECT id FROM items WHERE id IN (SELECT value FROM json_each(?))")}
        assert items == {row[0] for row in conn.execute("SELECT id FROM items")} & set(wanted)
    with store.begin() as tx:
        found = tx.patients.get_many(customer_id, set(wanted))
        assert set(found) == owned & set(wanted)
        assert all(tx.patients.get(customer_id, i) == patient for i, patient in found.items())
