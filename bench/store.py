"""The stores, in process: orders created through the use case, fetched, and listed by cursor and by
page number, on the SQLite, memory and PostgreSQL stores. Run on demand, never in the test suite:

    .venv/bin/python bench/store.py --orders 100000 [--stores sqlite,memory,postgresql] [--dir /tmp]
        [--postgres postgresql://postgres@127.0.0.1:5432/kitflow_bench]

The PostgreSQL store runs on the database ``--postgres`` names, dropped and made again first.

For each store: seed the reference data (``bench.http.seed``: a customer, 20 items, 20 sites, 200
patients, 10 kits), then create ``--orders`` orders one ``place_order`` each (one write transaction
each, as a request makes them); fetch orders by id (``get_order``); walk the whole list by cursor
(``list_orders``, 25 a page, as the API's default-sized pages) and, below the use case, through the
store's port alone (``orders.page``, 250 a page); then time page 1, the cursor page 800 pages deep
and page 800 by number, taking turns. Latencies are medians; the deep pages are also given as a ratio
to page 1, which is what stays comparable between machines.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: ``bench.http`` lives beside this file
    sys.path.insert(0, str(ROOT))

from bench.database import POSTGRES_URL, fresh_store  # noqa: E402
from bench.http.seed import Seeded, seed  # noqa: E402
from kitflow.domain.identity import customer  # noqa: E402
from kitflow.domain.order import OrderFilter, OrderItem, OrderKit, PlaceOrder  # noqa: E402
from kitflow.domain.paging import PageSpec  # noqa: E402
from kitflow.domain.ports import UnitOfWork  # noqa: E402
from kitflow.services.clock import SystemClock  # noqa: E402
from kitflow.services.listing import ListRequest  # noqa: E402
from kitflow.services.orders import get_order, list_orders, place_order  # noqa: E402

SIZE = 25
DEPTH = 800
REPEATS = 200


class Figures(msgspec.Struct, kw_only=True):
    store: str
    orders: int
    create_per_s: float
    create_p50_ms: float
    create_p99_ms: float
    fetch_per_s: float
    walk_orders_per_s: float
    walk_pages: int
    walk_complete: bool
    port_walk_orders_per_s: float
    page1_ms: float
    cursor_deep_ms: float
    number_deep_ms: float
    file_mb: float | None

    @property
    def cursor_ratio(self) -> float:
        return self.cursor_deep_ms / self.page1_ms

    @property
    def number_ratio(self) -> float:
        return self.number_deep_ms / self.page1_ms


def _command(n: int, seeded: Seeded, rng: random.Random) -> PlaceOrder:
    """A realistic order: mostly for a patient, every tenth for a site; one or two item lines, a kit
    line on every other order; an external order id on each."""
    recipient = {"site_id": rng.choice(seeded.sites)} if n % 10 == 0 else {"patient_id": rng.choice(seeded.patients)}
    return PlaceOrder(
        **recipient,
        order_items=tuple(OrderItem(item_id=item, count=2) for item in rng.sample(seeded.items, 1 + n % 2)),
        order_kits=(OrderKit(kit_id=rng.choice(seeded.kits)),) if n % 2 else (),
        external_order_ids=(f"bench-{n:08d}",),
    )


def _medians_ms(actions: list[Callable[[], object]], repeats: int = REPEATS) -> list[float]:
    """The median time of each action, in milliseconds; the actions take turns, so that a change in
    the machine's load meanwhile touches them all alike."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(repeats):
        for action, kept in zip(actions, times):
            started = time.perf_counter()
            action()
            kept.append(time.perf_counter() - started)
    return [statistics.median(kept) * 1000 for kept in times]


def _progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def measure(name: str, uow: UnitOfWork, *, orders: int, walk_budget: float, path: Path | None) -> Figures:
    """Every figure for one store; ``walk_budget`` bounds the seconds of the cursor walk."""
    seeded = seed(uow, orders=0)
    caller, clock, rng = customer(seeded.customer_id), SystemClock(), random.Random(7)
    latencies = []
    ids = []
    started = time.perf_counter()
    for n in range(orders):
        command = _command(n, seeded, rng)
        began = time.perf_counter()
        ids.append(place_order(command, caller=caller, uow=uow, clock=clock).id)
        latencies.append(time.perf_counter() - began)
        if n and n % 20_000 == 0:
            _progress(f"{name}: {n:,} orders created")
    create_s = time.perf_counter() - started
    latencies.sort()

    fetched = [rng.choice(ids) for _ in range(5000)]
    started = time.perf_counter()
    for order_id in fetched:
        get_order(order_id, caller=caller, uow=uow)
    fetch_per_s = len(fetched) / (time.perf_counter() - started)

    _progress(f"{name}: walking by cursor")
    walked, pages, cursor = 0, 0, None
    started = time.perf_counter()
    while True:
        listing = list_orders(OrderFilter(), ListRequest(size=SIZE, cursor=cursor), caller=caller, uow=uow)
        walked += len(listing.content)
        pages += 1
        cursor = listing.next_cursor
        if cursor is None or time.perf_counter() - started > walk_budget:
            break
    walk_s = time.perf_counter() - started
    complete = cursor is None and walked == orders

    port_walked, after = 0, None
    started = time.perf_counter()
    while time.perf_counter() - started < walk_budget:
        with uow.begin() as tx:
            page = tx.orders.page(seeded.customer_id, OrderFilter(), PageSpec(size=250, after=after))
        port_walked += len(page.items)
        if not page.more:
            break
        after = page.items[-1].id
    port_s = time.perf_counter() - started

    _progress(f"{name}: timing page 1 and the pages {DEPTH} deep")
    deep = list_orders(OrderFilter(), ListRequest(page=DEPTH - 1, size=SIZE), caller=caller, uow=uow).next_cursor
    repeats = REPEATS if name != "memory" else 20  # the memory store filters every row for each page
    page1, cursor_deep, number_deep = _medians_ms(
        [
            lambda: list_orders(OrderFilter(), ListRequest(size=SIZE), caller=caller, uow=uow),
            lambda: list_orders(OrderFilter(), ListRequest(cursor=deep), caller=caller, uow=uow),
            lambda: list_orders(OrderFilter(), ListRequest(page=DEPTH, size=SIZE), caller=caller, uow=uow),
        ],
        repeats,
    )
    size = None
    if path is not None:
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
    return Figures(
        store=name,
        orders=orders,
        create_per_s=orders / create_s,
        create_p50_ms=latencies[len(latencies) // 2] * 1000,
        create_p99_ms=latencies[int(len(latencies) * 0.99)] * 1000,
        fetch_per_s=fetch_per_s,
        walk_orders_per_s=walked / walk_s,
        walk_pages=pages,
        walk_complete=complete,
        port_walk_orders_per_s=port_walked / port_s,
        page1_ms=page1,
        cursor_deep_ms=cursor_deep,
        number_deep_ms=number_deep,
        file_mb=size,
    )


def table(rows: list[Figures]) -> str:
    """The figures as a Markdown table, one column a store."""
    lines = [
        ("orders created", lambda f: f"{f.orders:,}"),
        ("create (use case), orders/s", lambda f: f"{f.create_per_s:,.0f}"),
        ("create latency p50 / p99, ms", lambda f: f"{f.create_p50_ms:.2f} / {f.create_p99_ms:.2f}"),
        ("fetch by id (use case), orders/s", lambda f: f"{f.fetch_per_s:,.0f}"),
        (
            f"walk by cursor (use case, {SIZE}/page), orders/s",
            lambda f: f"{f.walk_orders_per_s:,.0f}" + ("" if f.walk_complete else f" ({f.walk_pages:,} pages, cut)"),
        ),
        ("walk by keyset (store port, 250/page), orders/s", lambda f: f"{f.port_walk_orders_per_s:,.0f}"),
        ("page 1, ms (median)", lambda f: f"{f.page1_ms:.2f}"),
        (f"cursor page {DEPTH} deep, ms (ratio to page 1)", lambda f: f"{f.cursor_deep_ms:.2f} ({f.cursor_ratio:.2f}x)"),
        (f"page {DEPTH} by number, ms (ratio to page 1)", lambda f: f"{f.number_deep_ms:.2f} ({f.number_ratio:.2f}x)"),
        ("database file (with WAL), MiB", lambda f: "-" if f.file_mb is None else f"{f.file_mb:,.0f}"),
    ]
    out = ["| | " + " | ".join(f.store for f in rows) + " |", "|---" * (len(rows) + 1) + "|"]
    out += [f"| {label} | " + " | ".join(show(f) for f in rows) + " |" for label, show in lines]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--stores", default="sqlite,memory")
    parser.add_argument("--dir", type=Path, default=None, help="where the SQLite file goes (a fresh temporary folder)")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="the PostgreSQL database (dropped and made again)")
    parser.add_argument("--walk-seconds", type=float, default=60.0, help="bound on each cursor walk")
    args = parser.parse_args(argv)
    if args.orders < DEPTH * SIZE:
        parser.error(f"--orders must be at least {DEPTH * SIZE} for a page {DEPTH} deep")
    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for name in args.stores.split(","):
            uow, path = fresh_store(name, Path(folder), postgres=args.postgres)
            try:
                rows.append(measure(name, uow, orders=args.orders, walk_budget=args.walk_seconds, path=path))
            finally:
                uow.close()
    print(table(rows))


if __name__ == "__main__":
    main()
