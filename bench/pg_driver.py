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
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: ``bench.http`` lives beside this file
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import psycopg  # noqa: E402
from psycopg_pool import ConnectionPool  # noqa: E402

from bench.http.seed import seed  # noqa: E402
from kitflow.domain.identity import customer  # noqa: E402
from kitflow.services.orders import get_order  # noqa: E402
from kitflow_adapters.postgres import PostgresStore  # noqa: E402

FETCH = "SELECT id, name, created_at FROM bench_rows WHERE id = $1"
INSERT = "INSERT INTO bench_rows (name, created_at) VALUES ($1, $2) RETURNING id"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _psycopg(sql: str) -> str:
    return sql.replace("$1", "%s").replace("$2", "%s")


def _rate(count: int, run: Callable[[], object], repeat: int) -> float:
    """Operations per second of ``run`` (which does ``count`` operations), median of ``repeat``."""
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def _schema_url(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-c search_path={schema}')}"


def drivers_alone(url: str, rows: int, repeat: int) -> dict[str, tuple[float, float]]:
    """Inserts and fetches per second on one connection: {driver: (inserts, fetches)}."""
    ids = list(range(1, rows + 1))
    with psycopg.connect(url, autocommit=True) as conn:

        def inserts() -> None:
            for n in range(rows):
                conn.execute(_psycopg(INSERT), (f"row {n}", NOW)).fetchone()

        def fetches() -> None:
            for row_id in ids:
                conn.execute(_psycopg(FETCH), (row_id,)).fetchone()

        results = {"psycopg 3 (sync)": (_rate(rows, inserts, repeat), _rate(rows, fetches, repeat))}

    async def measure() -> tuple[float, float]:
        conn = await asyncpg.connect(url.split("?")[0], server_settings={"search_path": url_schema(url)})
        loop = asyncio.get_running_loop()

        async def timed(work: Callable[[], object]) -> float:
            rates = []
            for _ in range(repeat):
                start = loop.time()
                await work()  # type: ignore[misc]
                rates.append(rows / (loop.time() - start))
            return statistics.median(rates)

        async def inserts() -> None:
            for n in range(rows):
                await conn.fetchrow(INSERT, f"row {n}", NOW)

        async def fetches() -> None:
            for row_id in ids:
                await conn.fetchrow(FETCH, row_id)

        try:
            return await timed(inserts), await timed(fetches)
        finally:
            await conn.close()

    results["asyncpg (event loop)"] = asyncio.run(measure())
    return results


def url_schema(url: str) -> str:
    return url.split("search_path%3D")[-1]


def drivers_together(url: str, rows: int, clients: int, repeat: int) -> dict[str, float]:
    """Fetches per second from ``clients`` concurrent clients in one process: {driver: fetches}."""
    share = [list(range(1 + n, rows + 1, clients)) for n in range(clients)]
    with ConnectionPool(url, min_size=clients, max_size=clients, kwargs={"autocommit": True}) as pool:
        pool.wait()

        def client(ids: list[int]) -> None:
            with pool.connection() as conn:
                for row_id in ids:
                    conn.execute(_psycopg(FETCH), (row_id,)).fetchone()

        def fetches() -> None:
            with ThreadPoolExecutor(clients) as threads:
                list(threads.map(client, share))

        results = {"psycopg 3 (threads)": _rate(rows, fetches, repeat)}

    async def measure() -> float:
        pool = await asyncpg.create_pool(
            url.split("?")[0], min_size=clients, max_size=clients, server_settings={"search_path": url_schema(url)}
        )

        async def client(ids: list[int]) -> None:
            async with pool.acquire() as conn:
                for row_id in ids:
                    await conn.fetchrow(FETCH, row_id)

        rates = []
        try:
            for _ in range(repeat):
                start = time.perf_counter()
                await asyncio.gather(*(client(ids) for ids in share))
                rates.append(rows / (time.perf_counter() - start))
        finally:
            await pool.close()
        return statistics.median(rates)

    results["asyncpg (tasks)"] = asyncio.run(measure())
    return results


def store_threads(url: str, threads: list[int], fetches: int, repeat: int) -> dict[int, float]:
    """``get_order`` per second through one PostgresStore from each number of threads, on the
    bench's seeded data (``bench.http.seed``, 1,000 orders)."""
    store = PostgresStore(url)
    try:
        seeded = seed(store, orders=1000)
    finally:
        store.close()
    caller = customer(seeded.customer_id)
    order_ids = list(range(seeded.first_order, seeded.last_order + 1))
    results: dict[int, float] = {}
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
            results[count] = _rate(share * count, run, repeat)
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
        print(f"PostgreSQL driver measurement: {args.rows} operations each, median of {args.repeat}, "
              f"{os.cpu_count()} cores, {threading.active_count()} thread(s) at start\n")
        alone = drivers_alone(url, args.rows, args.repeat)
        base_insert, base_fetch = alone["psycopg 3 (sync)"]
        print("| driver, one connection | inserts/s | ratio | fetches/s | ratio |")
        print("|---|---:|---:|---:|---:|")
        for name, (inserts, fetched) in alone.items():
            print(f"| {name} | {inserts:,.0f} | {inserts / base_insert:.2f} | {fetched:,.0f} | {fetched / base_fetch:.2f} |")
        print("\n| clients in one process | psycopg 3 threads fetches/s | asyncpg tasks fetches/s | ratio |")
        print("|---:|---:|---:|---:|")
        for count in threads:
            together = drivers_together(url, args.rows, count, args.repeat)
            sync, concurrent = together["psycopg 3 (threads)"], together["asyncpg (tasks)"]
            print(f"| {count} | {sync:,.0f} | {concurrent:,.0f} | {concurrent / sync:.2f} |")
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
            admin.execute(f"CREATE SCHEMA {schema}")
        print("\n| threads on one PostgresStore (pool = threads) | get_order/s | ratio to 1 thread |")
        print("|---:|---:|---:|")
        measured = store_threads(url, threads, args.store_fetches, args.repeat)
        first = measured[threads[0]]
        for count, rate in measured.items():
            print(f"| {count} | {rate:,.0f} | {rate / first:.2f} |")
    finally:
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
