"""The benchmark's database: 1 customer, 20 items, 200 patients, 20 sites, 10 kits and N orders.

Everything but the orders is made through the core's use cases (so every rule holds for it); the
orders go through the store's ports (``tx.orders.add``) in large write transactions, so that a
million of them take a minute, not an hour. Each order is built by the domain (``PlaceOrder`` then
``Order.new``) from references the use cases just made, so it is an order the API could have placed.

Run alone: ``python -m bench.http.seed --orders 20000 --database bench/results/seed.db``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

import msgspec

from kitflow.domain.catalog import ItemDraft, ManufacturerRef
from kitflow.domain.identity import OPERATOR, customer
from kitflow.domain.kit import KitDraft, KitItem
from kitflow.domain.order import Order, OrderItem, OrderKit, PlaceOrder, ShippingOption
from kitflow.domain.patient import PatientDraft, SiteDraft
from kitflow.domain.ports import UnitOfWork
from kitflow.domain.values import Address, Sex
from kitflow.services import access, catalog, patients
from kitflow.services.clock import SystemClock
from kitflow_adapters.bootstrap import open_store

VERSION = 1
"""Bumped whenever what the seed makes changes, so that a cached database is made again."""
ITEMS, SITES, PATIENTS, KITS = 20, 20, 200, 10
BATCH = 20_000
"""Orders per write transaction."""
MAKERS = ("Omron Healthcare", "Masimo", "Withings", "Roche Diabetes Care", "iHealth Labs")
SEX = (Sex.FEMALE, Sex.MALE, Sex.OTHER, Sex.UNKNOWN)


class Seeded(msgspec.Struct, kw_only=True):
    """What a seeded database holds, for the load to reference: the key and the ids."""

    version: int
    orders: int
    customer_id: int
    api_key: str
    items: list[int]
    sites: list[int]
    patients: list[int]
    kits: list[int]
    first_order: int
    last_order: int
    seconds: float


def _address(n: int) -> Address:
    return Address(
        line_one=f"{100 + n} Harbour Road",
        line_two=f"Apt {n % 40 + 1}" if n % 3 == 0 else None,
        city=("Springfield", "Riverton", "Lakeside", "Fairview")[n % 4],
        state=("IL", "OR", "MN", "TX")[n % 4],
        zip_code=f"{60000 + n:05d}",
        country="US",
    )


def _reference_data(uow: UnitOfWork, rng: random.Random) -> Seeded:
    """The customer, catalog, sites, patients and kits, through the use cases."""
    clock = SystemClock()
    made = access.create_customer("Bench Remote Care", caller=OPERATOR, uow=uow, clock=clock)
    me = customer(made.id)
    items = [
        catalog.create_item(
            ItemDraft(
                name=f"Monitoring device {n}",
                sku=f"BENCH-{n:04d}",
                model=f"M{n}",
                manufacturer=ManufacturerRef(name=MAKERS[n % len(MAKERS)]),
            ),
            caller=OPERATOR,
            uow=uow,
        ).id
        for n in range(ITEMS)
    ]
    sites = [
        patients.create_site(
            SiteDraft(name=f"Clinic {n}", phone_number=f"+1-555-01{n:02d}", address=_address(n)),
            caller=me, uow=uow, clock=clock,
        ).id
        for n in range(SITES)
    ]
    people = [
        patients.create_patient(
            PatientDraft(
                first_name=f"Patient{n}",
                last_name=("Lovelace", "Hopper", "Turing", "Noether", "Curie")[n % 5],
                address=_address(n),
                external_identifier=f"mrn-{n:06d}",
                date_of_birth=dt.date(1940 + n % 60, n % 12 + 1, n % 28 + 1),
                email=f"patient{n}@example.org",
                sex=SEX[n % len(SEX)],
                site_id=sites[n % SITES] if n % 2 else None,
            ),
            caller=me, uow=uow, clock=clock,
        ).id
        for n in range(PATIENTS)
    ]
    kits = [
        catalog.create_kit(
            KitDraft(
                name=f"Kit {n}",
                kit_items=tuple(KitItem(item_id=item, count=rng.randint(1, 3)) for item in rng.sample(items, 3)),
            ),
            caller=me, uow=uow, clock=clock,
        ).id
        for n in range(KITS)
    ]
    return Seeded(
        version=VERSION, orders=0, customer_id=made.id, api_key=made.api_key, items=items, sites=sites,
        patients=people, kits=kits, first_order=0, last_order=0, seconds=0.0,
    )


def _command(n: int, seeded: Seeded, rng: random.Random) -> PlaceOrder:
    """The ``n``-th order: most for a patient, one in ten for a site; one or two item lines and,
    every other order, a kit line; an external order id on most."""
    recipient = {"site_id": rng.choice(seeded.sites)} if n % 10 == 0 else {"patient_id": rng.choice(seeded.patients)}
    items = rng.sample(seeded.items, 1 + n % 2)
    return PlaceOrder(
        **recipient,
        order_items=tuple(OrderItem(item_id=item, count=rng.randint(1, 4)) for item in items),
        order_kits=(OrderKit(kit_id=rng.choice(seeded.kits)),) if n % 2 else (),
        external_order_ids=(f"ehr-{n:08d}",) if n % 4 else (),
        shipping_option=(ShippingOption.STANDARD, ShippingOption.EXPEDITED, ShippingOption.OVERNIGHT)[n % 3],
        order_notes=("leave at the front desk",) if n % 5 == 0 else (),
    )


def seed(uow: UnitOfWork, *, orders: int, progress: bool = False) -> Seeded:
    """Fill the empty store ``uow`` with the benchmark's data and ``orders`` orders, created over
    the last ``orders`` seconds (one a second, oldest first). Raises whatever the store raises."""
    started = time.perf_counter()
    rng = random.Random(7)
    seeded = _reference_data(uow, rng)
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(seconds=orders)
    first = last = 0
    for batch in range(0, orders, BATCH):
        with uow.begin(write=True) as tx:
            for n in range(batch, min(batch + BATCH, orders)):
                at = start + dt.timedelta(seconds=n)
                order = tx.orders.add(Order.new(_command(n, seeded, rng), customer_id=seeded.customer_id, now=at))
                first = first or order.id
                last = order.id
        if progress:
            print(f"  seeded {min(batch + BATCH, orders):,} of {orders:,} orders", file=sys.stderr, flush=True)
    seeded.orders, seeded.first_order, seeded.last_order = orders, first, last
    seeded.seconds = round(time.perf_counter() - started, 1)
    return seeded


def seeded_database(folder: Path, *, orders: int) -> tuple[Path, Seeded]:
    """The seeded database file for ``orders`` orders in ``folder``, made only when missing or made
    by an older seed (a database of a million orders takes a while). Returns its path and contents."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"seed-{orders}.db"
    meta = folder / f"seed-{orders}.json"
    if path.exists() and meta.exists():
        known = msgspec.json.decode(meta.read_bytes(), type=Seeded)
        if known.version == VERSION and known.orders == orders:
            return path, known
    for stale in (path, meta, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    print(f"Seeding {path} with {orders:,} orders (made once, then reused)...", file=sys.stderr, flush=True)
    partial = folder / f"seed-{orders}.partial.db"
    for stale in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        stale.unlink(missing_ok=True)
    uow = open_store(f"sqlite:///{partial}")
    try:
        seeded = seed(uow, orders=orders, progress=orders > BATCH)
    finally:
        uow.close()
    _checkpoint(partial)
    os.replace(partial, path)
    meta.write_bytes(msgspec.json.encode(seeded))
    print(f"Seeded in {seeded.seconds:g} s.", file=sys.stderr, flush=True)
    return path, seeded


def _checkpoint(path: Path) -> None:
    """Fold the WAL of the closed database at ``path`` into its file (so the file alone is a copy)."""
    import sqlite3  # bench code, outside the layered packages: a plain checkpoint, no store logic

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--folder", type=Path, default=Path("bench/results/db"))
    args = parser.parse_args(argv)
    path, seeded = seeded_database(args.folder, orders=args.orders)
    print(json.dumps({"database": str(path), "orders": seeded.orders, "seconds": seeded.seconds}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
