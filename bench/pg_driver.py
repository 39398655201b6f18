"""The PostgreSQL drivers measured on this machine (ADR 0005), and the Kitflow store's concurrency
within one process. Run on demand, never in the test suite (asyncpg comes with the ``bench`` extra):

    .venv/bin/python bench/pg_driver.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
                                        [--rows 10000] [--threads 1,4,16] [--repeat 3]

1. Drivers, one connection: ``--rows`` single-row inserts (``INSERT ... RETURNING id``, each its own
   transaction) and ``--rows`` primary-key fetches, through psycopg 3 (sync, as Kitflow's use cases
   are synchronous) and through asyncpg (awaited one after the other in an event loop). Both use
   prepared statements (psycopg prepares a statement from its 5th run, asyncpg always).
2. Drivers, many clients in one process: the same fetches from N threads on a psycopg_pool pool of
   N connections, and from N asyncio tasks on an asyncpg pool of N connections.
3. The store: ``get_order`` (one read transaction: the order and everything it references, 7 round
   trips) from N threads on one PostgresStore whose pool holds N connections, in one process: what
   the HTTP layer gets when it runs use cases in a thread pool.
4. Deep pages (``--deep-orders``, default 1,000,000, bulk-loaded by SQL, nine in ten for one
   customer): the store's ``orders.page`` for page 1, the keyset page 800 pages of 25 deep, and page
   800 by number, each the median of 30 read transactions, and as a ratio to page 1.

Every figure is the median of ``--repeat`` runs, in operations per second; ratios to psycopg (or to
one thread) are what compare between machines. The tables are printed as Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: ``bench.http`` lives beside this file
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import psycopg  # noqa: E402
from psycopg_pool import ConnectionPool  # noqa: E402

from bench.http.seed import seed  # noqa: E402
from kitflow.domain.identity import customer  # noqa: E402
from kitflow.domain.order import OrderFilter  # noqa: E402
from kitflow.domain.paging import PageSpec  # noqa: E402
from kitflow.services.orders import get_order  # noqa: E402
from kitflow_adapters.postgres import PostgresStore  # noqa: E402

FETCH = "SELECT id, name, created_at FROM bench_rows WHERE id = $1"
INSERT = "INSERT INTO bench_rows (name, created_at) VALUES ($1, $2) RETURNING id"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _psycopg(sql: str) -> str:
    return sql.replace("$1", "%s").replace("$2", "%s")


class Figure(NamedTuple):
    rate: float
    """operations per second (wall clock), median of the repeats"""
    cpu: float
    """microseconds of this process's CPU per operation, median of the repeats"""


def _interleaved(count: int, runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, Figure]:
    """Each of ``runs`` (doing ``count`` operations) ``repeat`` times, taking turns, so that a
    machine shared with other work disturbs them alike."""
    rates: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            rates[name].append(count / (time.perf_counter() - wall))
            cpus[name].append((time.process_time() - cpu) / count * 1e6)
    return {name: Figure(statistics.median(rates[name]), statistics.median(cpus[name])) for name in runs}


def _schema_url(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-c search_path={schema}')}"


def _server(url: str) -> tuple[str, dict[str, str]]:
    """asyncpg's form of ``url``: the URL without libpq's options, and the search_path setting."""
    return url.split("?")[0], {"search_path": url.split("search_path%3D")[-1]}


def drivers(url: str, rows: int, clients: list[int], repeat: int) -> dict[str, Figure]:
    """Inserts and fetches on one connection, and fetches from each number of ``clients`` in one
    process (threads on a psycopg_pool pool, tasks on an asyncpg pool), by driver."""
    ids = list(range(1, rows + 1))
    target, settings = _server(url)
    runner = asyncio.Runner()
    conn = psycopg.connect(url, autocommit=True)
    aconn = runner.run(asyncpg.connect(target, server_settings=settings))

    def sync_inserts() -> None:
        for n in range(rows):
            conn.execute(_psycopg(INSERT), (f"row {n}", NOW)).fetchone()

    def sync_fetches() -> None:
        for row_id in ids:
            conn.execute(_psycopg(FETCH), (row_id,)).fetchone()

    async def async_inserts() -> None:
        for n in range(rows):
            await aconn.fetchrow(INSERT, f"row {n}", NOW)

    async def async_fetches() -> None:
        for row_id in ids:
            await aconn.fetchrow(FETCH, row_id)

    try:
        figures = _interleaved(
            rows,
            {
                "psycopg inserts": sync_inserts,
                "asyncpg inserts": lambda: runner.run(async_inserts()),
                "psycopg fetches": sync_fetches,
                "asyncpg fetches": lambda: runner.run(async_fetches()),
            },
            repeat,
        )
        for count in clients:
            share = [ids[n::count] for n in range(count)]
            pool = ConnectionPool(url, min_size=count, max_size=count, kwargs={"autocommit": True})
            pool.wait()
            apool = asyncpg.create_pool(target, min_size=count, max_size=count, server_settings=settings)

            async def opened(apool: asyncpg.Pool = apool) -> asyncpg.Pool:
                return await apool

            runner.run(opened())

            def client(part: list[int], pool: ConnectionPool = pool) -> None:
                with pool.connection() as conn:
                    for row_id in part:
                        conn.execute(_psycopg(FETCH), (row_id,)).fetchone()

            def threads(count: int = count, share: list[list[int]] = share) -> None:
                with ThreadPoolExecutor(count) as executor:
                    list(executor.map(client, share))

            async def task(part: list[int], apool: asyncpg.Pool = apool) -> None:
                async with apool.acquire() as aconn:
                    for row_id in part:
                        await aconn.fetchrow(FETCH, row_id)

            async def tasks(share: list[list[int]] = share) -> None:
                await asyncio.gather(*(task(part) for part in share))

            try:
                figures |= _interleaved(
                    rows,
                    {
                        f"psycopg fetches, {count} threads": threads,
                        f"asyncpg fetches, {count} tasks": lambda: runner.run(tasks()),
                    },
                    repeat,
                )
            finally:
                pool.close()
                runner.run(apool.close())
        return figures
    finally:
        conn.close()
        runner.run(aconn.close())
        runner.close()


def store_threads(url: str, threads: list[int], fetches: int, repeat: int) -> dict[int, Figure]:
    """``get_order`` per second through one PostgresStore from each number of threads, on the
    bench's seeded data (``bench.http.seed``, 1,000 orders)."""
    store = PostgresStore(url)
    try:
        seeded = seed(store, orders=1000)
    finally:
        store.close()
    caller = customer(seeded.customer_id)
    order_ids = list(range(seeded.first_order, seeded.last_order + 1))
    results: dict[int, Figure] = {}
    for count in threads:
        store = PostgresStore(url, pool_min=count, pool_max=count)
        share = fetches // count

        def client(offset: int, store: PostgresStore = store, share: int = share) -> None:
            for n in range(share):
                get_order(order_ids[(offset * share + n) % len(order_ids)], caller=caller, uow=store)

        def run(store: PostgresStore = store, count: int = count) -> None:
            with ThreadPoolExecutor(count) as pool:
                list(pool.map(client, range(count)))

        try:
            results[count] = _interleaved(share * count, {"store": run}, repeat)["store"]
        finally:
            store.close()
    return results


_DEEP_FILL = """
INSERT INTO customers (name, created_at) VALUES ('Big', now()), ('Other', now());
INSERT INTO sites (customer_id, name, name_key, active, created_at, updated_at)
    VALUES (1, 'S', 's', true, now(), now()), (2, 'S', 's', true, now(), now());
INSERT INTO items (name, sku, orderable) VALUES ('Scale', 'deep-1', true);
INSERT INTO orders (customer_id, site_id, status, shipping_option, events, notes, tracking, created_at, updated_at)
    SELECT 1 + (n %% 10 = 0)::int, 1 + (n %% 10 = 0)::int, 'received', 'standard', '[]', '[]', '[]', now(), now()
    FROM generate_series(1, %(orders)s) n;
INSERT INTO order_items (order_id, position, item_id, count) SELECT id, 1, 1, 1 FROM orders;
INSERT INTO order_counts (customer_id, slot, total) SELECT customer_id, id %% 16, count(*) FROM orders
    GROUP BY customer_id, id %% 16;
"""


def deep_pages(url: str, orders: int) -> dict[str, float]:
    """Milliseconds (median of 30) of page 1, the keyset page 800 deep and page 800 by number."""
    PostgresStore(url).close()  # the schema
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in _DEEP_FILL.strip().split(";\n"):
            conn.execute(statement, {"orders": orders})  # type: ignore[arg-type]
        conn.execute("VACUUM ANALYZE")
        ids = [row_id for (row_id,) in conn.execute("SELECT id FROM orders WHERE customer_id = 1 ORDER BY id LIMIT 20000")]
    store = PostgresStore(url)
    specs = {
        "page 1": PageSpec(size=25),
        "keyset page 800 deep": PageSpec(size=25, after=ids[25 * 799 - 1]),
        "page 800 by number": PageSpec(size=25, offset=25 * 799),
    }
    results: dict[str, float] = {}
    try:
        for name, spec in specs.items():
            times = []
            for _ in range(30):
                start = time.perf_counter()
                with store.begin() as tx:
                    tx.orders.page(1, OrderFilter(), spec)
                times.append((time.perf_counter() - start) * 1000)
            results[name] = statistics.median(times)
    finally:
        store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--threads", default="1,4,16", help="client counts for parts 2 and 3")
    parser.add_argument("--store-fetches", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--deep-orders", type=int, default=1_000_000, help="0 leaves part 4 out")
    args = parser.parse_args()
    threads = [int(n) for n in args.threads.split(",")]
    schema = f"kitflow_driver_bench_{os.getpid()}"
    with psycopg.connect(args.url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        admin.execute(
            f"CREATE TABLE {schema}.bench_rows (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
            " name text NOT NULL, created_at timestamptz NOT NULL)"
        )
    url = _schema_url(args.url, schema)
    try:
        print(f"PostgreSQL driver measurement: {args.rows:,} operations each, median of {args.repeat} interleaved"
              f" runs, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start\n")
        figures = drivers(url, args.rows, threads, args.repeat)
        print("| operation | psycopg 3 (sync) ops/s | asyncpg ops/s | asyncpg / psycopg | psycopg CPU µs/op | asyncpg CPU µs/op |")
        print("|---|---:|---:|---:|---:|---:|")
        rows = [("insert, one connection", "psycopg inserts", "asyncpg inserts"),
                ("fetch by key, one connection", "psycopg fetches", "asyncpg fetches")]
        rows += [(f"fetch by key, {n} clients in one process", f"psycopg fetches, {n} threads",
                  f"asyncpg fetches, {n} tasks") for n in threads]
        for label, sync, other in rows:
            a, b = figures[sync], figures[other]
            print(f"| {label} | {a.rate:,.0f} | {b.rate:,.0f} | {b.rate / a.rate:.2f} | {a.cpu:.0f} | {b.cpu:.0f} |")
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
            admin.execute(f"CREATE SCHEMA {schema}")
        print("\n| threads on one PostgresStore (pool = threads) | get_order/s | ratio to 1 thread | CPU µs/op |")
        print("|---:|---:|---:|---:|")
        measured = store_threads(url, threads, args.store_fetches, args.repeat)
        first = measured[threads[0]].rate
        for count, figure in measured.items():
            print(f"| {count} | {figure.rate:,.0f} | {figure.rate / first:.2f} | {figure.cpu:.0f} |")
        if args.deep_orders:
            with psycopg.connect(args.url, autocommit=True) as admin:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")
                admin.execute(f"CREATE SCHEMA {schema}")
            pages = deep_pages(url, args.deep_orders)
            print(f"\n| {args.deep_orders:,} orders ({args.deep_orders - args.deep_orders // 10:,} of one customer) | ms | ratio to page 1 |")
            print("|---|---:|---:|")
            for name, ms in pages.items():
                print(f"| {name} | {ms:.2f} | {ms / pages['page 1']:.2f} |")
    finally:
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
