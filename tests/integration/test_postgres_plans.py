"""The plans PostgreSQL chooses for the store's list queries, pinned with EXPLAIN on a database
big enough for the planner to care: every filter is served by an index, and a keyset page is a
bounded range of an index ending in id (``id > after`` or ``id < after`` in its Index Cond), never
a scan of the customer's rows; the ``name`` filters use the trigram indexes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from kitflow.domain.catalog import ItemFilter
from kitflow.domain.kit import KitFilter
from kitflow.domain.order import OrderFilter, OrderStatus
from kitflow.domain.paging import PageSpec
from kitflow.domain.patient import PatientFilter, SiteFilter
from kitflow.domain.ports import Transaction
from kitflow_adapters.postgres import session as sessions
from tests.postgres import SchemaStore, fresh_postgres_store

pytestmark = pytest.mark.postgres

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
FILL = """
INSERT INTO customers (name, created_at) SELECT 'Customer ' || n, timestamptz '2026-01-01 00:00:00+00' FROM generate_series(1, 3) n;
INSERT INTO sites (customer_id, name, name_key, active, created_at, updated_at)
    SELECT 1 + n % 3, 'Site ' || md5(n::text), 'site ' || md5(n::text), n % 53 <> 0, timestamptz '2026-01-01 00:00:00+00',
        timestamptz '2026-01-01 00:00:00+00'
    FROM generate_series(1, 3000) n;
INSERT INTO patients (customer_id, first_name, last_name, name_key, external_identifier, email, email_key,
        sex, site_id, enrolled, archived, address, created_at, updated_at)
    SELECT 1 + n % 3, 'First' || n, 'Last' || md5(n::text), lower('first' || n || ' last' || md5(n::text)),
        'ext-' || n, CASE WHEN n % 2 = 0 THEN 'p' || n || '@x.example' END,
        CASE WHEN n % 2 = 0 THEN 'p' || n || '@x.example' END, 'unknown',
        CASE WHEN n % 50 = 0 THEN (SELECT min(id) FROM sites s WHERE s.customer_id = 1 + n % 3) END,
        n % 89 <> 0, n % 97 = 0, '{"line_one": "1", "city": "c", "state": "s", "zip_code": "z", "country": "US"}',
        timestamptz '2026-01-01 00:00:00+00', timestamptz '2026-01-01 00:00:00+00'
    FROM generate_series(1, 4500) n;
INSERT INTO items (name, sku, orderable) SELECT 'Item ' || n, 'sku-' || n, n % 71 <> 0 FROM generate_series(1, 1500) n;
INSERT INTO kits (customer_id, name, archived, created_at, updated_at)
    SELECT 1 + n % 3, 'Kit ' || n, n % 61 = 0, timestamptz '2026-01-01 00:00:00+00', timestamptz '2026-01-01 00:00:00+00' FROM generate_series(1, 1500) n;
INSERT INTO kit_items (kit_id, position, customer_id, item_id, count)
    SELECT k.id, p, k.customer_id, 1 + (k.id * 7 + p) % 1500, 1 FROM kits k, generate_series(1, 2) p;
INSERT INTO orders (customer_id, patient_id, status, shipping_option, events, notes, tracking, created_at, updated_at)
    SELECT p.customer_id, p.id, (ARRAY['received', 'processing', 'shipped', 'delivered', 'cancelled'])[1 + p.id % 5],
        'standard', '[]', '[]', '[]', timestamptz '2026-01-01 00:00:00+00' + p.id * interval '1 minute', timestamptz '2026-01-01 00:00:00+00'
    FROM patients p, generate_series(1, 2) r;
INSERT INTO orders (customer_id, site_id, status, shipping_option, events, notes, tracking, created_at, updated_at)
    SELECT s.customer_id, s.id, 'received', 'standard', '[]', '[]', '[]', timestamptz '2026-01-01 00:00:00+00', timestamptz '2026-01-01 00:00:00+00' FROM sites s;
INSERT INTO order_items (order_id, position, item_id, count) SELECT id, 1, 1 + id % 1500, 1 FROM orders;
INSERT INTO order_kits (order_id, position, customer_id, kit_id, count)
    SELECT o.id, 1, o.customer_id, (SELECT min(k.id) FROM kits k WHERE k.customer_id = o.customer_id), 1
    FROM orders o WHERE o.id % 3 = 0;
INSERT INTO order_external_ids (customer_id, external_id, order_id, position)
    SELECT customer_id, 'order-' || id, id, 1 FROM orders WHERE id % 2 = 0;
ANALYZE;
"""


@pytest.fixture(scope="module")
def filled() -> Iterator[SchemaStore]:
    store = fresh_postgres_store()
    try:
        with psycopg.connect(store.url, autocommit=True) as conn:
            conn.execute(FILL)  # type: ignore[arg-type]  # one script, no parameters
        yield store
    finally:
        store.close()


def _rows_statement(store: SchemaStore, fetch: Callable[[Transaction], Any], monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    """The statement that fetches the rows of a page (the second of the page's round trip)."""
    seen: list[list[sessions.Statement]] = []
    real = sessions.Session.run_all

    def recording(self: sessions.Session, statements: list[sessions.Statement]) -> list[psycopg.Cursor]:
        seen.append(list(statements))
        return real(self, statements)

    with monkeypatch.context() as patched:
        patched.setattr(sessions.Session, "run_all", recording)
        with store.begin() as tx:
            fetch(tx)
    pages = [statements for statements in seen if len(statements) == 2 and "ORDER BY t.id" in statements[1][0]]
    assert len(pages) == 1
    return pages[0][1]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _plan(store: SchemaStore, statement: tuple[str, Any]) -> list[dict[str, Any]]:
    query, params = statement
    with psycopg.connect(store.url, autocommit=True) as conn:
        row = conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()
    assert row is not None
    document = row[0] if not isinstance(row[0], (str, bytes)) else json.loads(row[0])
    return list(_nodes(document[0]["Plan"]))


AFTER = 700
MD5 = hashlib.md5(b"1000").hexdigest()  # in the names of patient 1000 and site 1000
CUSTOMER = 1
CASES: dict[str, tuple[Callable[[Transaction, PageSpec], Any], str | None]] = {
    # each filter picks rare rows, so that the planner prefers the filter's index to the id order
    "orders": (lambda tx, spec: tx.orders.page(CUSTOMER, OrderFilter(), spec), None),
    "orders by status": (
        lambda tx, spec: tx.orders.page(CUSTOMER, OrderFilter(status=OrderStatus.AVAILABLE_FOR_PICKUP), spec),
        "orders_status",
    ),
    "orders by patient": (lambda tx, spec: tx.orders.page(CUSTOMER, OrderFilter(patient_id=3), spec), "orders_patient"),
    "orders by site": (lambda tx, spec: tx.orders.page(CUSTOMER, OrderFilter(site_id=3), spec), "orders_site"),
    "orders by time": (
        lambda tx, spec: tx.orders.page(
            CUSTOMER, OrderFilter(created_from=T0 + dt.timedelta(days=2), created_to=T0 + dt.timedelta(days=2, hours=1)), spec
        ),
        "orders_created",
    ),
    "patients": (lambda tx, spec: tx.patients.page(CUSTOMER, PatientFilter(), spec), None),
    "patients by email": (
        lambda tx, spec: tx.patients.page(CUSTOMER, PatientFilter(email="P4@x.example"), spec), "patients_email"
    ),
    "patients by site": (lambda tx, spec: tx.patients.page(CUSTOMER, PatientFilter(site_id=3), spec), "patients_site"),
    "patients archived": (
        lambda tx, spec: tx.patients.page(CUSTOMER, PatientFilter(archived=True), spec), "patients_archived"
    ),
    "patients not enrolled": (
        lambda tx, spec: tx.patients.page(CUSTOMER, PatientFilter(enrolled=False), spec), "patients_enrolled"
    ),
    "sites": (lambda tx, spec: tx.sites.page(CUSTOMER, SiteFilter(), spec), None),
    "sites inactive": (lambda tx, spec: tx.sites.page(CUSTOMER, SiteFilter(active=False), spec), "sites_active"),
    "kits": (lambda tx, spec: tx.kits.page(CUSTOMER, KitFilter(), spec), None),
    "kits archived": (lambda tx, spec: tx.kits.page(CUSTOMER, KitFilter(archived=True), spec), "kits_archived"),
    "items": (lambda tx, spec: tx.items.page(ItemFilter(), spec), None),
    "items not orderable": (lambda tx, spec: tx.items.page(ItemFilter(orderable=False), spec), "items_orderable"),
}
LOOKUPS: dict[str, Callable[[Transaction, PageSpec], Any]] = {
    "orders by external id": lambda tx, spec: tx.orders.page(CUSTOMER, OrderFilter(external_order_id="order-4000"), spec),
    "orders by ids": lambda tx, spec: tx.orders.page(CUSTOMER, OrderFilter(ids=(3, 4000, 9001)), spec),
    "patients by external identifier": lambda tx, spec: tx.patients.page(
        CUSTOMER, PatientFilter(external_identifier="ext-4000"), spec
    ),
    "kits by item": lambda tx, spec: tx.kits.page(CUSTOMER, KitFilter(item_id=7), spec),
}


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_keyset_page_is_a_bounded_index_range(
    filled: SchemaStore, case: str, descending: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetch, index = CASES[case]
    spec = PageSpec(size=25, descending=descending, after=AFTER)
    nodes = _plan(filled, _rows_statement(filled, lambda tx: fetch(tx, spec), monkeypatch))
    assert not [node for node in nodes if node["Node Type"] == "Seq Scan"]
    bound = f"id {'<' if descending else '>'} "
    scans = [node for node in nodes if bound in node.get("Index Cond", "")]
    assert scans, nodes
    if index is not None:
        assert index in {scan["Index Name"] for scan in scans}, nodes


@pytest.mark.parametrize("case", sorted(LOOKUPS))
def test_a_filter_on_a_key_is_an_index_lookup(filled: SchemaStore, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = PageSpec(size=25, after=AFTER)
    nodes = _plan(filled, _rows_statement(filled, lambda tx: LOOKUPS[case](tx, spec), monkeypatch))
    assert not [node for node in nodes if node["Node Type"] == "Seq Scan"]
    assert any(node["Node Type"] in {"Index Scan", "Index Only Scan", "Bitmap Index Scan"} for node in nodes)


@pytest.mark.parametrize(
    ("case", "index"),
    [
        (lambda tx, spec: tx.patients.page(CUSTOMER, PatientFilter(name=MD5[:8].upper()), spec), "patients_name_trigram"),
        (lambda tx, spec: tx.sites.page(CUSTOMER, SiteFilter(name=MD5[2:9].upper()), spec), "sites_name_trigram"),
    ],
    ids=["patients", "sites"],
)
def test_the_name_filter_uses_the_trigram_index(
    filled: SchemaStore, case: Callable[[Transaction, PageSpec], Any], index: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = _plan(filled, _rows_statement(filled, lambda tx: case(tx, PageSpec(size=25)), monkeypatch))
    assert any(node.get("Index Name") == index for node in nodes), nodes
