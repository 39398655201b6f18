"""Concurrency on a real server with several worker processes on one database: 16 clients create 200
orders each while others fetch, filter and walk the lists by cursor. Every order answered 201 is
there exactly once and reads back exactly as it was answered, no answer is a 5xx, the totals are
exact, and every cursor walk sees each row once, in order, including every row acknowledged before
it started. On PostgreSQL each client makes 100 orders (a create costs its server more than twice the
CPU, and the suite must stay quick); KITFLOW_LOAD_CLIENTS and KITFLOW_LOAD_ORDERS set both loads."""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.served import Served
from tests.e2e.api import Tenant, World, world
from tests.reliability.figures import Tally, record
from tests.reliability.service import DATABASES, Raw, database_url, serve

CLIENTS = int(os.environ.get("KITFLOW_LOAD_CLIENTS", "16"))
ORDERS = {
    store: int(os.environ.get("KITFLOW_LOAD_ORDERS", default)) for store, default in (("sqlite", 200), ("postgres", 100))
}
"""Orders each client makes, by store."""
WORKERS = 2
READERS = 2
SHIPPING = ("standard", "expedited", "overnight")


def order_body(w: World, tenant: Tenant, client: int, n: int) -> dict[str, Any]:
    """The ``n``-th order of ``client``: for the patient or the site, with items, a kit or both."""
    body: dict[str, Any] = {
        "externalOrderIds": [f"load-{client}-{n}", f"batch-{client}-{n}-{tenant.id}"],
        "shippingOption": SHIPPING[n % 3],
        "orderNotes": [{"note": f"client {client}, order {n}"}],
    }
    body["patient" if n % 2 == 0 else "site"] = {"id": tenant.patient if n % 2 == 0 else tenant.site}
    if n % 4 != 3:
        body["orderItems"] = [{"item": {"id": w.item}, "count": n % 5 + 1}, {"item": {"id": w.item2}, "count": 1}]
    if n % 4 in (2, 3):
        body["orderKits"] = [{"kit": {"id": tenant.kit}, "count": n % 3 + 1}]
    return body


class Ledger:
    """What the clients were told: each acknowledged order's 201 body, by tenant; and every problem."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: dict[int, dict[int, bytes]] = {}
        self.problems: list[str] = []

    def ack(self, customer: int, order_id: int, body: bytes) -> None:
        with self.lock:
            mine = self.acked.setdefault(customer, {})
            if order_id in mine:
                self.problems.append(f"order {order_id} was answered 201 twice")
            mine[order_id] = body

    def snapshot(self, customer: int) -> set[int]:
        with self.lock:
            return set(self.acked.get(customer, {}))

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


def _call(tally: Tally, ledger: Ledger, send: Callable[[], httpx.Response], what: str) -> httpx.Response | None:
    try:
        response = send()
    except httpx.TransportError as error:
        tally.count(None)
        ledger.problem(f"{what}: no answer ({error!r})")
        return None
    tally.count(response)
    if response.status_code >= 500:
        ledger.problem(f"{what}: {response.status_code} {response.text[:200]}")
    return response


def cursor_walk(client: httpx.Client, *, descending: bool = False, size: int = 100,
                call: Callable[[Callable[[], httpx.Response], str], httpx.Response | None]) -> tuple[list[dict[str, Any]], int] | None:
    """Every order of the client's customer, page by page through ``nextCursor``, with the first
    page's total; None when an answer was missing or not 200 (``call`` has noted why)."""
    params: dict[str, Any] = {"size": size, "sortDescending": str(descending).lower()}
    rows: list[dict[str, Any]] = []
    total = None
    while True:
        response = call(lambda p=dict(params): client.get("/api/v3/order", params=p), "cursor walk")
        if response is None or response.status_code != 200:
            return None
        page = response.json()
        total = page["total"] if total is None else total
        rows.extend(page["content"])
        if page["nextCursor"] is None:
            return rows, total
        params = {"cursor": page["nextCursor"], "sortDescending": str(descending).lower()}


def _check_walk(ids: list[int], known: set[int], *, descending: bool, ledger: Ledger) -> None:
    if len(ids) != len(set(ids)):
        ledger.problem(f"a cursor walk saw a row twice ({len(ids) - len(set(ids))} repeats)")
    if ids != sorted(ids, reverse=descending):
        ledger.problem("a cursor walk was out of order")
    if missed := known - set(ids):
        ledger.problem(f"a cursor walk missed {len(missed)} orders acknowledged before it started")


def test_concurrent_clients_lose_double_and_mix_nothing(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    tally, ledger = Tally(), Ledger()
    with database_url(database, tmp_path) as url, serve(url, tmp_path, workers=WORKERS) as server, \
            server.client() as http:
        w = world(http)
        tenants = [w.a, w.b]
        writing = threading.Event()
        writing.set()
        walks = fetches = 0

        def write(client: int) -> None:
            tenant = tenants[client % 2]
            connection = Raw(server.base)  # http.client: the lightest client, so that the server is what is loaded
            try:
                for n in range(ORDERS[database]):
                    try:
                        status, _, body = connection.call(
                            "POST", "/api/v3/order", key=tenant.key, body=order_body(w, tenant, client, n))
                    except (OSError, HTTPException) as error:
                        tally.note(0)
                        ledger.problem(f"create: no answer ({error!r})")
                        connection.close()
                        connection = Raw(server.base)
                        continue
                    tally.note(status)
                    if status != 201:
                        ledger.problem(f"create: {status} {body[:200]!r}")
                        continue
                    ledger.ack(tenant.id, json.loads(body)["id"], body)
            finally:
                connection.close()

        def read(reader: int) -> None:
            nonlocal walks, fetches
            tenant = tenants[reader % 2]
            rng = random.Random(reader)
            call = lambda send, what: _call(tally, ledger, send, what)  # noqa: E731
            with server.client(tenant.key) as own:
                while writing.is_set():
                    known = ledger.snapshot(tenant.id)
                    descending = rng.random() < 0.5
                    walked = cursor_walk(own, descending=descending, size=rng.choice((50, 250)), call=call)
                    if walked is not None:
                        _check_walk([row["id"] for row in walked[0]], known, descending=descending, ledger=ledger)
                        walks += 1
                    with ledger.lock:
                        sample = rng.sample(sorted(ledger.acked.get(tenant.id, {}).items()), min(10, len(known)))
                    for order_id, acked in sample:
                        fetched = call(lambda i=order_id: own.get(f"/api/v3/order/{i}"), "fetch")
                        if fetched is not None and fetched.content != acked:
                            ledger.problem(f"order {order_id} read back unlike its 201: {fetched.text[:200]}")
                        external = acked_external(acked)
                        found = call(lambda e=external: own.get("/api/v3/order", params={"externalOrderId": e}),
                                     "filter")
                        if found is not None and [o["id"] for o in found.json()["content"]] != [order_id]:
                            ledger.problem(f"externalOrderId={external} found {found.text[:200]}")
                        fetches += 1

        writers = [threading.Thread(target=write, args=(c,)) for c in range(CLIENTS)]
        readers = [threading.Thread(target=read, args=(r,)) for r in range(READERS)]
        for thread in writers + readers:
            thread.start()
        for thread in writers:
            thread.join()
        writing.clear()
        for thread in readers:
            thread.join()

        final = _verify_final(server, tenants, ledger, tally)
        assert not ledger.problems, "\n".join(ledger.problems[:30])
        assert tally.server_errors == 0 and tally.statuses[0] == 0
        acked = sum(len(orders) for orders in ledger.acked.values())
        assert acked == CLIENTS * ORDERS[database]
    record(request, f"concurrency[{database}]", requests=tally.sent, failures=len(ledger.problems),
           by_status=tally.summary(), workers=WORKERS, clients=CLIENTS, orders_acknowledged=acked,
           concurrent_cursor_walks=walks, concurrent_fetches_and_filters=fetches, final_rows_compared=final,
           checked="every 201 order listed exactly once per tenant, byte-identical to its 201; totals "
                   "exact; walks ordered, without repeats, missing nothing acknowledged before them")


def acked_external(body: bytes) -> str:
    """The first external order id of an order's JSON."""
    return str(json.loads(body)["externalOrderIds"][0])


def _verify_final(server: Served, tenants: list[Tenant], ledger: Ledger, tally: Tally) -> int:
    """After the load: each tenant's full walk, both ways, is exactly its acknowledged orders."""
    compared = 0
    call = lambda send, what: _call(tally, ledger, send, what)  # noqa: E731
    for tenant in tenants:
        acked = ledger.acked.get(tenant.id, {})
        with server.client(tenant.key) as own:
            for descending in (False, True):
                walked = cursor_walk(own, descending=descending, size=250, call=call)
                assert walked is not None, ledger.problems
                rows, total = walked
                ids = [row["id"] for row in rows]
                _check_walk(ids, set(acked), descending=descending, ledger=ledger)
                assert total == len(acked) == len(ids), (total, len(acked), len(ids))
                assert set(ids) == set(acked)
            by_id = {row["id"]: row for row in rows}
            for order_id, body in acked.items():
                if by_id[order_id] != json.loads(body):
                    ledger.problem(f"order {order_id} listed unlike its 201")
                compared += 1
            last = own.get("/api/v3/order", params={"page": -(-len(acked) // 250), "size": 250}).json()
            assert last["total"] == len(acked) and last["last"]
    return compared


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    return str(request.param)
