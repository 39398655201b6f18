"""Every list query of the SQLite store, pinned with EXPLAIN QUERY PLAN: a keyset page is a bounded
range of the filter's index (no sort, whatever its depth), a page by number skips rows in a covering
index, a total counts a covering index (or reads the kept order total), a ``name`` of three
characters or more is driven by the FTS5 trigram index, and no list ever scans a table."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kitflow.domain.catalog import ItemFilter
from kitflow.domain.kit import KitFilter
from kitflow.domain.order import OrderFilter, OrderItem, OrderStatus, PlaceOrder
from kitflow.domain.paging import PageSpec
from kitflow.domain.changes import promoted
from kitflow.domain.patient import PatientFilter, Site, SiteDraft, SiteFilter
from kitflow.domain.values import MAX_ID
from kitflow_adapters.sqlite import SqliteStore, SqliteTransaction
from tests.contract.rows import T0, kit, moved, new_customer, new_item, new_site, order, patient

ROWS = 30
C = 0  # the customer's id, set by the fixture


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    global C
    store = SqliteStore(str(tmp_path_factory.mktemp("plans") / "kitflow.db"))
    C = new_customer(store)
    items = [new_item(store).id for _ in range(3)]
    site = new_site(store, C, SiteDraft(name="Ångström Clinic")).id
    with store.begin(write=True) as tx:
        for n in range(ROWS):
            tx.patients.add(
                patient(C, first_name=f"Ada{n}", email=f"a{n % 3}@x.example", site_id=site, external_identifier=f"e{n}")
            )
            tx.sites.add(_site(n))
            tx.kits.add(kit(C, items[: n % 3 + 1], archived=n % 2 == 0))
            recipient = {"site_id": site} if n % 3 == 0 else {"patient_id": 1 + n % 2}
            placed = tx.orders.add(
                order(C, PlaceOrder(**recipient, order_items=(OrderItem(item_id=items[0]),),
                                    external_order_ids=(f"x{n}",)), at=T0 + dt.timedelta(minutes=n))
            )
            if n % 2:
                tx.orders.update(moved(placed, OrderStatus.PROCESSING))
    yield store
    store.close()


def _site(n: int) -> Site:
    draft = SiteDraft(name=f"Site {n}", active=n % 2 == 0)
    return promoted(draft, Site, id=0, customer_id=C, created_at=T0, updated_at=T0)


Fetch = Callable[[SqliteTransaction, PageSpec], Any]
DAY = dt.timedelta(days=1)
# label: (fetch, the index the page query searches, the index the total counts, or None when the
# total is not counted)
CASES: dict[str, tuple[Fetch, str, str | None]] = {
    "orders": (lambda tx, s: tx.orders.page(C, OrderFilter(), s), "INDEX orders_customer (customer_id=?", None),
    "orders by status": (
        lambda tx, s: tx.orders.page(C, OrderFilter(status=OrderStatus.PROCESSING), s),
        "INDEX orders_status (customer_id=? AND status=?",
        "COVERING INDEX orders_status (customer_id=? AND status=?)",
    ),
    "orders by patient": (
        lambda tx, s: tx.orders.page(C, OrderFilter(patient_id=1), s),
        "INDEX orders_patient (customer_id=? AND patient_id=?",
        "COVERING INDEX orders_patient (customer_id=? AND patient_id=?)",
    ),
    "orders by site": (
        lambda tx, s: tx.orders.page(C, OrderFilter(site_id=1), s),
        "INDEX orders_site (customer_id=? AND site_id=?",
        "COVERING INDEX orders_site (customer_id=? AND site_id=?)",
    ),
    "orders by external id": (
        lambda tx, s: tx.orders.page(C, OrderFilter(external_order_id="x3"), s),
        "order_external_ids USING PRIMARY KEY (customer_id=? AND external_id=?)",
        "order_external_ids USING PRIMARY KEY (customer_id=? AND external_id=?)",
    ),
    "orders by creation time": (
        lambda tx, s: tx.orders.page(C, OrderFilter(created_from=T0, created_to=T0 + DAY), s),
        "INDEX orders_",
        "COVERING INDEX orders_created (customer_id=? AND created_at>? AND created_at<?)",
    ),
    "orders by id": (
        lambda tx, s: tx.orders.page(C, OrderFilter(ids=(1, 2, 3)), s),
        "json_each",
        "json_each",
    ),
    "patients": (
        lambda tx, s: tx.patients.page(C, PatientFilter(), s),
        "INDEX patients_customer (customer_id=?",
        "COVERING INDEX patients_",
    ),
    "patients by name": (
        lambda tx, s: tx.patients.page(C, PatientFilter(name="ADA1"), s),
        "SCAN patient_names VIRTUAL TABLE",
        "SCAN patient_names VIRTUAL TABLE",
    ),
    "patients by a short name": (
        lambda tx, s: tx.patients.page(C, PatientFilter(name="a1"), s),
        "INDEX patients_customer (customer_id=?",
        "INDEX patients_",
    ),
    "patients by email": (
        lambda tx, s: tx.patients.page(C, PatientFilter(email="A1@X.example"), s),
        "INDEX patients_email (customer_id=? AND email_key=?",
        "COVERING INDEX patients_email (customer_id=? AND email_key=?)",
    ),
    "patients by external identifier": (
        lambda tx, s: tx.patients.page(C, PatientFilter(external_identifier="e1"), s),
        "INDEX patients_external (customer_id=? AND external_identifier=?",
        "COVERING INDEX patients_external (customer_id=? AND external_identifier=?)",
    ),
    "patients by site": (
        lambda tx, s: tx.patients.page(C, PatientFilter(site_id=1), s),
        "INDEX patients_site (customer_id=? AND site_id=?",
        "COVERING INDEX patients_site (customer_id=? AND site_id=?)",
    ),
    "patients by archive flag": (
        lambda tx, s: tx.patients.page(C, PatientFilter(archived=False), s),
        "INDEX patients_archived (customer_id=? AND archived=?",
        "COVERING INDEX patients_archived (customer_id=? AND archived=?)",
    ),
    "patients by enrolment": (
        lambda tx, s: tx.patients.page(C, PatientFilter(enrolled=True), s),
        "INDEX patients_enrolled (customer_id=? AND enrolled=?",
        "COVERING INDEX patients_enrolled (customer_id=? AND enrolled=?)",
    ),
    "sites": (
        lambda tx, s: tx.sites.page(C, SiteFilter(), s), "INDEX sites_customer (customer_id=?", "COVERING INDEX sites_"
    ),
    "sites by name": (
        lambda tx, s: tx.sites.page(C, SiteFilter(name="site 1"), s),
        "SCAN site_names VIRTUAL TABLE",
        "SCAN site_names VIRTUAL TABLE",
    ),
    "sites by active flag": (
        lambda tx, s: tx.sites.page(C, SiteFilter(active=True), s),
        "INDEX sites_active (customer_id=? AND active=?",
        "COVERING INDEX sites_active (customer_id=? AND active=?)",
    ),
    "kits": (
        lambda tx, s: tx.kits.page(C, KitFilter(), s), "INDEX kits_customer (customer_id=?", "COVERING INDEX kits_"
    ),
    "kits by item": (
        lambda tx, s: tx.kits.page(C, KitFilter(item_id=2), s),
        "COVERING INDEX kit_items_item (item_id=?)",
        "COVERING INDEX kit_items_item (item_id=?)",
    ),
    "kits by archive flag": (
        lambda tx, s: tx.kits.page(C, KitFilter(archived=True), s),
        "INDEX kits_archived (customer_id=? AND archived=?",
        "COVERING INDEX kits_archived (customer_id=? AND archived=?)",
    ),
    "items": (lambda tx, s: tx.items.page(ItemFilter(), s), "items", "COVERING INDEX"),
    "items by orderable flag": (
        lambda tx, s: tx.items.page(ItemFilter(orderable=True), s),
        "INDEX items_orderable (orderable=?",
        "COVERING INDEX items_orderable (orderable=?)",
    ),
}
SPECS = {
    "first page": PageSpec(size=1),
    "keyset, ascending": PageSpec(size=1, after=0),
    "keyset, descending": PageSpec(size=1, descending=True, after=MAX_ID),
    "page by number": PageSpec(size=1, offset=1),
}
TABLE_SCAN = re.compile(r"^SCAN (customers|patients|sites|items|kits|orders)\b(?! USING COVERING INDEX)")
SORTED = {"orders by creation time", "kits by item"}
"""Lists whose page is read from the filter's matches and sorted by id: its cost is that of the
matches (a time range; the kits holding one item), as the total's is anyway."""
ROWID_ORDER = {"items"}
"""The unfiltered catalog reads its table in id order: for a rowid table that b-tree is the id index,
so ``SCAN items`` with a LIMIT is a bounded range (and the catalog is the operator's short list)."""


def _plans(store: SqliteStore, fetch: Fetch, spec: PageSpec) -> list[tuple[str, list[str]]]:
    """Each SELECT the list ran, with its query plan."""
    conn = store._thread_link().conn
    ran: list[str] = []
    conn.set_trace_callback(ran.append)
    try:
        with store.begin() as tx:
            fetch(tx, spec)
    finally:
        conn.set_trace_callback(None)
    return [
        (sql, [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")])
        for sql in ran
        if sql.startswith("SELECT")
    ]


@pytest.mark.parametrize("mode", SPECS)
@pytest.mark.parametrize("case", CASES)
def test_the_list_query_plan_is_pinned(store: SqliteStore, case: str, mode: str) -> None:
    fetch, searched, counted = CASES[case]
    spec = SPECS[mode]
    plans = _plans(store, fetch, spec)
    page_plan = plans[0][1]
    assert any(searched in line for line in page_plan), page_plan
    if case not in ROWID_ORDER:
        for sql, plan in plans:
            assert not any(TABLE_SCAN.match(line) for line in plan), (sql, plan)
    if spec.offset:
        assert "OFFSET" in plans[0][0]
        # the rows skipped are read from an index only; the table is read for the page's rows
        assert page_plan[0].endswith("USING INTEGER PRIMARY KEY (rowid=?)"), page_plan
    elif case not in SORTED:
        assert not any("TEMP B-TREE" in line for line in page_plan), page_plan  # a bounded range, no sort
    totals = plans[1:]
    if counted is None:
        assert [sql.split(" WHERE")[0] for sql, _ in totals] in ([], ["SELECT total FROM order_totals"])
    elif totals or spec.after is not None:  # a first page that is not full shows its total itself
        assert len(totals) == 1 and totals[0][0].startswith("SELECT count(*)")
        assert any(counted in line for line in totals[0][1]), totals[0][1]


def test_a_deep_keyset_page_takes_as_many_steps_as_the_first(store: SqliteStore) -> None:
    """The virtual machine steps of a keyset page (rows and total) do not grow with its depth."""
    owner = new_customer(store)
    site = new_site(store, owner).id
    command = PlaceOrder(site_id=site, order_items=(OrderItem(item_id=new_item(store).id),))
    with store.begin(write=True) as tx:
        ids = [tx.orders.add(order(owner, command)).id for _ in range(3000)]
    conn = store._thread_link().conn
    steps: list[int] = []
    for after in (0, ids[1500], ids[-5]):
        counter = [0]

        def tick() -> int:
            counter[0] += 1
            return 0

        conn.set_progress_handler(tick, 1)
        try:
            with store.begin() as tx:
                page = tx.orders.page(owner, OrderFilter(), PageSpec(size=3, after=after))
        finally:
            conn.set_progress_handler(None, 1)
        assert len(page.items) == 3 and page.total == 3000
        steps.append(counter[0])
    assert max(steps) - min(steps) <= max(steps) // 10, steps
