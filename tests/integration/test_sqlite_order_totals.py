"""The SQLite store keeps each customer's number of orders (migration 0003), so that an unfiltered
order list reads its total from one row: the kept number always equals a count of the rows, after
inserts, after an insert taken back (a duplicate external order id), per customer, and on a database
that had orders before the migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kitflow.domain.errors import Conflict
from kitflow.domain.order import OrderFilter, OrderItem, OrderStatus, PlaceOrder
from kitflow.domain.paging import PageSpec
from kitflow_adapters.sqlite import SqliteStore
from kitflow_adapters.sqlite.schema import migrate
from tests.contract.rows import new_customer, new_item, new_patient, order


def _kept(path: Path) -> dict[int, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT customer_id, total FROM order_totals").fetchall())


def _counted(path: Path) -> dict[int, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT customer_id, count(*) FROM orders GROUP BY customer_id").fetchall())


def _place(store: SqliteStore, customer_id: int, patient_id: int, item_id: int, *external_ids: str) -> None:
    command = PlaceOrder(patient_id=patient_id, order_items=(OrderItem(item_id=item_id),), external_order_ids=external_ids)
    with store.begin(write=True) as tx:
        tx.orders.add(order(customer_id, command))


def test_the_kept_totals_equal_the_counted_ones_and_answer_unfiltered_lists(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = SqliteStore(str(path))
    try:
        item = new_item(store).id
        a, b = new_customer(store, "A"), new_customer(store, "B")
        pa, pb = new_patient(store, a).id, new_patient(store, b).id
        for n in range(7):
            _place(store, a, pa, item, f"a-{n}")
        _place(store, b, pb, item, "b-0")
        with pytest.raises(Conflict):  # the second external id is taken: the insert is taken back
            _place(store, a, pa, item, "fresh", "a-3")
        assert _kept(path) == _counted(path) == {a: 7, b: 1}
        with store.begin() as tx:
            full = tx.orders.page(a, OrderFilter(), PageSpec(size=2))
            deep = tx.orders.page(a, OrderFilter(), PageSpec(size=2, after=full.items[-1].id))
            filtered = tx.orders.page(a, OrderFilter(status=OrderStatus.RECEIVED), PageSpec(size=2))
            nobody = tx.orders.page(b + 1, OrderFilter(), PageSpec(size=2, offset=2))
        assert (full.total, deep.total, filtered.total, nobody.total) == (7, 7, 7, 0)
    finally:
        store.close()


def test_migrating_a_database_with_orders_counts_them(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    migrate(conn, stop_before="0003_order_totals")
    conn.execute("COMMIT")
    conn.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(
        """
        INSERT INTO customers (id, name, created_at) VALUES (1, 'Acme', 0), (2, 'Beta', 0);
        INSERT INTO sites (id, customer_id, name, active, created_at, updated_at) VALUES (1, 1, 'C', 1, 0, 0),
            (2, 2, 'D', 1, 0, 0);
        INSERT INTO orders (customer_id, site_id, status, shipping_option, items, kits, external_ids, events, notes,
                            tracking, created_at, updated_at)
        VALUES (1, 1, 'received', 'standard', '[]', '[]', '[]', '[]', '[]', '[]', 0, 0),
               (1, 1, 'received', 'standard', '[]', '[]', '[]', '[]', '[]', '[]', 0, 0),
               (2, 2, 'received', 'standard', '[]', '[]', '[]', '[]', '[]', '[]', 0, 0);
        """
    )
    conn.close()
    SqliteStore(str(path)).close()
    assert _kept(path) == _counted(path) == {1: 2, 2: 1}
