"""Contract: every list's pages (by number and by keyset, both directions, with totals) match the
filters' reference semantics (``matches``) on every store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from kitflow.domain.catalog import Item, ItemFilter
from kitflow.domain.kit import KitFilter
from kitflow.domain.order import Order, OrderFilter, OrderItem, OrderStatus, PlaceOrder
from kitflow.domain.paging import Page, PageSpec
from kitflow.domain.patient import PatientFilter, SiteDraft, SiteFilter
from kitflow.domain.ports import Transaction, UnitOfWork
from kitflow.domain.values import MAX_ID
from tests.contract.rows import T0, kit, moved, new_customer, new_item, new_site, order, patient

T = TypeVar("T")

FIRST_NAMES = ["Ada", "ada", "Ångström", "STRASSE", "Straße", "Zoë", "Bob", "O'Brien", 'Say "hi"', "x", "İlker"]
LAST_NAMES = ["Lovelace", "LÖVELACE", "Smith", "SS", "ß", "de la Cruz", "ǅemal", "x\x00y"]
NEEDLES = [
    "a", "ad", "ADA", "da lo", "a l", "ångs", "ÅNGSTRÖM", "strasse", "ss", "ß", "SS", "zoë", "o'b",
    '"hi"', 'y "h', "e a", "x", "qqq", "  ", " la c", "ǆ", "i̇l", "\x00y", "x\x00y", "smith", "ada lovelace",
]
EMAILS = ["ada@x.example", "ADA@X.example", "bob@y.example", "Ærø@z.example"]
EMAIL_FILTERS = [*EMAILS, " ada@x.EXAMPLE ", "ærø@z.example", "nobody@z.example"]
TIMES = [T0, T0 + dt.timedelta(milliseconds=1), T0 + dt.timedelta(hours=1), T0 + dt.timedelta(days=1)]
BOUNDS = [*TIMES, T0 + dt.timedelta(microseconds=500), T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=9)]


def specs(ids: Sequence[int] = ()) -> st.SearchStrategy[PageSpec]:
    """Pages by number (offsets around the data) and by keyset (positions at, between and beyond ids)."""
    positions = st.integers(min_value=0, max_value=MAX_ID)
    if ids:
        positions = positions | st.sampled_from(list(ids)) | st.sampled_from([i + 1 for i in ids])
    return st.builds(
        PageSpec,
        size=st.integers(min_value=1, max_value=4),
        descending=st.booleans(),
        offset=st.integers(min_value=0, max_value=12),
    ) | st.builds(
        PageSpec, size=st.integers(min_value=1, max_value=4), descending=st.booleans(), after=positions
    )


def reference(rows: Sequence[T], matches: Callable[[T], bool], spec: PageSpec) -> Page[T]:
    """The page a store must answer, computed from every row the caller can see."""
    hits = sorted((r for r in rows if matches(r)), key=lambda r: r.id, reverse=spec.descending)  # type: ignore[attr-defined]
    if spec.after is not None:
        rest = [r for r in hits if (r.id < spec.after if spec.descending else r.id > spec.after)]  # type: ignore[attr-defined]
    else:
        rest = hits[spec.offset :]
    return Page(items=tuple(rest[: spec.size]), total=len(hits), more=len(rest) > spec.size)


def walk(store: UnitOfWork, fetch: Callable[[Transaction, PageSpec], Page[Any]], *, size: int, descending: bool) -> list[Any]:
    """Every row of a list, page after page by keyset from the first page by number."""
    seen: list[Any] = []
    spec = PageSpec(size=size, descending=descending)
    while True:
        with store.begin() as tx:
            page = fetch(tx, spec)
        seen.extend(page.items)
        if not page.more:
            return seen
        spec = PageSpec(size=size, descending=descending, after=page.items[-1].id)


def agree(
    store: UnitOfWork,
    rows: Sequence[Any],
    matches: Callable[[Any], bool],
    fetch: Callable[[Transaction, PageSpec], Page[Any]],
    spec: PageSpec,
) -> None:
    """The store's page equals the reference page, and walking by keyset meets every match once."""
    with store.begin() as tx:
        assert fetch(tx, spec) == reference(rows, matches, spec)
    everything = reference(rows, matches, PageSpec(size=250, descending=spec.descending)).items
    assert walk(store, fetch, size=spec.size, descending=spec.descending) == list(everything)


def test_patient_pages_match_the_filter(store: UnitOfWork) -> None:
    stranger = new_customer(store)
    strangers_site = new_site(store, stranger).id
    with store.begin(write=True) as tx:  # another customer's lookalikes, never listed
        for first in FIRST_NAMES:
            tx.patients.add(patient(stranger, first_name=first, external_identifier=first, site_id=strangers_site))
    people = st.lists(
        st.fixed_dictionaries(
            {
                "first_name": st.sampled_from(FIRST_NAMES),
                "last_name": st.sampled_from(LAST_NAMES),
                "email": st.none() | st.sampled_from(EMAILS),
                "site": st.sampled_from([None, 0, 1]),
                "archived": st.booleans(),
                "enrolled": st.booleans(),
                "external_identifier": st.none() | st.sampled_from(["e1", "e2", "E1"]),
            }
        ),
        max_size=10,
        unique_by=lambda fields: fields["external_identifier"] or object(),
    )

    @settings(max_examples=30)
    @given(people=people, data=st.data())
    def check(people: list[dict[str, Any]], data: st.DataObject) -> None:
        owner = new_customer(store)
        sites = [new_site(store, owner).id, new_site(store, owner).id]
        with store.begin(write=True) as tx:
            rows = [
                tx.patients.add(
                    patient(owner, **{k: v for k, v in fields.items() if k != "site"},
                            site_id=None if fields["site"] is None else sites[fields["site"]])
                )
                for fields in people
            ]
        where = data.draw(
            st.builds(
                PatientFilter,
                external_identifier=st.none() | st.sampled_from(["e1", "e2", "E1", "e9"]),
                email=st.none() | st.sampled_from(EMAIL_FILTERS),
                name=st.none() | st.sampled_from(NEEDLES),
                site_id=st.none() | st.sampled_from([*sites, strangers_site, 10**9]),
                archived=st.none() | st.booleans(),
                enrolled=st.none() | st.booleans(),
            )
        )
        spec = data.draw(specs([r.id for r in rows]))
        agree(store, rows, where.matches, lambda tx, s: tx.patients.page(owner, where, s), spec)

    check()


def test_site_pages_match_the_filter(store: UnitOfWork) -> None:
    stranger = new_customer(store)
    for name in FIRST_NAMES:
        new_site(store, stranger, SiteDraft(name=name))
    places = st.lists(st.tuples(st.sampled_from([*FIRST_NAMES, *LAST_NAMES]), st.booleans()), max_size=10)

    @settings(max_examples=25)
    @given(places=places, data=st.data())
    def check(places: list[tuple[str, bool]], data: st.DataObject) -> None:
        owner = new_customer(store)
        rows = [new_site(store, owner, SiteDraft(name=name, active=active)) for name, active in places]
        where = data.draw(st.builds(SiteFilter, name=st.none() | st.sampled_from(NEEDLES), active=st.none() | st.booleans()))
        spec = data.draw(specs([r.id for r in rows]))
        agree(store, rows, where.matches, lambda tx, s: tx.sites.page(owner, where, s), spec)

    check()


def test_kit_pages_match_the_filter(store: UnitOfWork) -> None:
    items = [new_item(store).id for _ in range(4)]
    stranger = new_customer(store)
    with store.begin(write=True) as tx:
        tx.kits.add(kit(stranger, items))
    bundles = st.lists(
        st.tuples(st.lists(st.sampled_from(items), min_size=1, max_size=3, unique=True), st.booleans()), max_size=8
    )

    @settings(max_examples=25)
    @given(bundles=bundles, data=st.data())
    def check(bundles: list[tuple[list[int], bool]], data: st.DataObject) -> None:
        owner = new_customer(store)
        with store.begin(write=True) as tx:
            rows = [tx.kits.add(kit(owner, lines, archived=archived)) for lines, archived in bundles]
        where = data.draw(
            st.builds(KitFilter, item_id=st.none() | st.sampled_from([*items, 10**9]), archived=st.none() | st.booleans())
        )
        spec = data.draw(specs([r.id for r in rows]))
        agree(store, rows, where.matches, lambda tx, s: tx.kits.page(owner, where, s), spec)

    check()


def test_item_pages_match_the_filter(store: UnitOfWork) -> None:
    catalog: list[Item] = []

    @settings(max_examples=30)
    @given(orderable=st.lists(st.booleans(), max_size=6), data=st.data())
    def check(orderable: list[bool], data: st.DataObject) -> None:
        catalog.extend(new_item(store, orderable=flag) for flag in orderable)
        where = data.draw(st.builds(ItemFilter, orderable=st.none() | st.booleans()))
        spec = data.draw(specs([i.id for i in catalog]))
        agree(store, catalog, where.matches, lambda tx, s: tx.items.page(where, s), spec)

    check()


def test_order_pages_match_the_filter(store: UnitOfWork) -> None:
    item = new_item(store).id
    stranger = new_customer(store)
    strangers_site = new_site(store, stranger).id
    with store.begin(write=True) as tx:
        tx.orders.add(order(stranger, PlaceOrder(site_id=strangers_site, order_items=(OrderItem(item_id=item),),
                                                 external_order_ids=("x1",))))
    paths = [(), (OrderStatus.CANCELLED,), (OrderStatus.PROCESSING,), (OrderStatus.PROCESSING, OrderStatus.SHIPPED)]
    placed = st.lists(
        st.fixed_dictionaries(
            {
                "recipient": st.sampled_from([("patient", 0), ("patient", 1), ("site", 0)]),
                "at": st.sampled_from(TIMES),
                "path": st.sampled_from(paths),
                "external": st.lists(st.sampled_from(["x1", "x2", "X1", "x3"]), max_size=2, unique=True),
            }
        ),
        max_size=10,
    )

    @settings(max_examples=30)
    @given(placed=placed, data=st.data())
    def check(placed: list[dict[str, Any]], data: st.DataObject) -> None:
        owner = new_customer(store)
        people = [patient(owner) for _ in range(2)]
        site = new_site(store, owner).id
        rows: list[Order] = []
        taken: set[str] = set()
        with store.begin(write=True) as tx:
            patient_ids = [tx.patients.add(p).id for p in people]
            for fields in placed:
                kind, index = fields["recipient"]
                external = tuple(e for e in fields["external"] if e not in taken)
                taken.update(external)
                command = PlaceOrder(
                    patient_id=patient_ids[index] if kind == "patient" else None,
                    site_id=site if kind == "site" else None,
                    order_items=(OrderItem(item_id=item),),
                    external_order_ids=external,
                )
                stored = tx.orders.add(order(owner, command, at=fields["at"]))
                if fields["path"]:
                    stored = moved(stored, *fields["path"], at=fields["at"])
                    tx.orders.update(stored)
                rows.append(stored)
        ids = [r.id for r in rows]
        where = data.draw(
            st.builds(
                OrderFilter,
                status=st.none() | st.sampled_from(OrderStatus),
                patient_id=st.none() | st.sampled_from([*patient_ids, 10**9]),
                site_id=st.none() | st.sampled_from([site, strangers_site]),
                external_order_id=st.none() | st.sampled_from(["x1", "x2", "X1", "x9"]),
                created_from=st.none() | st.sampled_from(BOUNDS),
                created_to=st.none() | st.sampled_from(BOUNDS),
                ids=st.lists(st.sampled_from([*ids, 10**9]) if ids else st.just(10**9), max_size=4).map(tuple),
            )
        )
        spec = data.draw(specs(ids))
        agree(store, rows, where.matches, lambda tx, s: tx.orders.page(owner, where, s), spec)

    check()


def test_a_keyset_walk_stays_whole_while_rows_are_added(store: UnitOfWork) -> None:
    owner = new_customer(store)
    site = new_site(store, owner).id
    item = new_item(store).id
    command = PlaceOrder(site_id=site, order_items=(OrderItem(item_id=item),))

    def add() -> Order:
        with store.begin(write=True) as tx:
            return tx.orders.add(order(owner, command))

    before = [add().id for _ in range(7)]
    seen: list[int] = []
    spec = PageSpec(size=3)
    while True:
        with store.begin() as tx:
            page = tx.orders.page(owner, OrderFilter(), spec)
        seen.extend(o.id for o in page.items)
        add()
        if not page.more:
            break
        spec = PageSpec(size=3, after=page.items[-1].id)
    assert seen[: len(before)] == before
    assert len(seen) == len(set(seen)) and seen == sorted(seen)


def test_every_name_needle_finds_exactly_what_matches_finds(store: UnitOfWork) -> None:
    """Each needle against every pair of tricky first and last names (and each site name)."""
    owner = new_customer(store)
    with store.begin(write=True) as tx:
        people = [tx.patients.add(patient(owner, first_name=f, last_name=l)) for f in FIRST_NAMES for l in LAST_NAMES]
    places = [new_site(store, owner, SiteDraft(name=name)) for name in [*FIRST_NAMES, *LAST_NAMES]]
    spec = PageSpec(size=250)
    for needle in NEEDLES:
        who, where = PatientFilter(name=needle), SiteFilter(name=needle)
        with store.begin() as tx:
            assert tx.patients.page(owner, who, spec) == reference(people, who.matches, spec), needle
            assert tx.sites.page(owner, where, spec) == reference(places, where.matches, spec), needle
