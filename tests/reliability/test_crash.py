"""A crash during a write load: ``kill -9`` of a serving ``kitflow serve`` (the supervisor and every
worker) while clients create orders. After a restart on the same database, every order whose 201
reached its client is there and reads back exactly as it was answered; every order that is there
is whole (its lines, its received event, its external ids, its notes, as sent); the totals agree with
the rows; the SQLite file passes its integrity and foreign-key checks."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.api import World, world
from tests.processes import kill_all
from tests.reliability.figures import Tally, record
from tests.reliability.service import DATABASES, database_url, serve
from tests.reliability.test_concurrency import cursor_walk, order_body

WRITERS = 8
WORKERS = 2
ACKED_BEFORE_KILL = 300
"""The kill comes once this many orders are acknowledged (and the writers are still going)."""
PATIENCE = 120.0


def _whole(order: dict[str, Any], sent: dict[str, Any], w: World) -> list[str]:
    """How a stored order differs from the body it was made from (nothing, for a whole order)."""
    problems = []
    if order["currentStatus"] != "received" or [e["name"] for e in order["orderEvents"]] != ["received"]:
        problems.append("status or events")
    items = [(line["item"]["id"], line["count"]) for line in order["orderItems"]]
    if items != [(line["item"]["id"], line["count"]) for line in sent.get("orderItems", [])]:
        problems.append(f"items {items}")
    kits = [(line["kit"]["id"], line["count"]) for line in order["orderKits"]]
    if kits != [(line["kit"]["id"], line["count"]) for line in sent.get("orderKits", [])]:
        problems.append(f"kits {kits}")
    if not items and not kits:
        problems.append("no lines")
    if order["externalOrderIds"] != sent["externalOrderIds"]:
        problems.append(f"external ids {order['externalOrderIds']}")
    if [n["note"] for n in order["orderNotes"]] != [n["note"] for n in sent["orderNotes"]]:
        problems.append("notes")
    recipient = (order["patient"] or {}).get("id"), (order["site"] or {}).get("id")
    if recipient != ((sent.get("patient") or {}).get("id"), (sent.get("site") or {}).get("id")):
        problems.append(f"recipient {recipient}")
    if order["shippingOption"] != sent["shippingOption"]:
        problems.append("shipping option")
    return problems


def test_kill_9_during_writes_loses_no_acknowledged_order_and_leaves_none_half_written(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    tally = Tally()
    sent: dict[str, dict[str, Any]] = {}
    acked: dict[int, bytes] = {}
    in_doubt: set[str] = set()
    refused: list[str] = []
    lock = threading.Lock()
    with database_url(database, tmp_path) as url:
        with serve(url, tmp_path, workers=WORKERS) as server, server.client() as http:
            w = world(http)

            def write(client: int) -> None:
                with server.client(w.a.key) as own:
                    for n in range(10**6):  # until the server is gone
                        body = order_body(w, w.a, client, n)
                        external = body["externalOrderIds"][0]
                        with lock:
                            sent[external] = body
                        try:
                            response = own.post("/api/v3/order", json=body)
                        except httpx.ConnectError:
                            tally.count(None)
                            return  # the server is gone; this request never reached it
                        except httpx.TransportError:
                            tally.count(None)
                            with lock:
                                in_doubt.add(external)  # cut by the kill: stored or not, but whole
                            return
                        tally.count(response)
                        with lock:
                            if response.status_code == 201:
                                acked[response.json()["id"]] = response.content
                            else:
                                refused.append(f"{response.status_code} {response.text[:200]}")

            writers = [threading.Thread(target=write, args=(c,)) for c in range(WRITERS)]
            for thread in writers:
                thread.start()
            deadline = time.monotonic() + PATIENCE
            while len(acked) < ACKED_BEFORE_KILL and time.monotonic() < deadline:
                time.sleep(0.01)
            killed = kill_all(server.process.pid)
            for thread in writers:
                thread.join(PATIENCE)
            assert not refused, refused[:10]
            assert len(acked) >= ACKED_BEFORE_KILL, "the load never got going"
            assert server.process.wait(PATIENCE) == -9
        with serve(url, tmp_path, workers=WORKERS) as restarted, restarted.client(w.a.key) as own:
            walked = cursor_walk(own, size=250, call=lambda send, what: tally.count(send()))
            assert walked is not None
            rows, total = walked
    by_id = {row["id"]: row for row in rows}
    assert len(by_id) == len(rows) == total, "rows repeated, or a total unlike the rows"
    lost = [order_id for order_id in acked if order_id not in by_id]
    assert not lost, f"{len(lost)} acknowledged orders are gone after the crash: {lost[:10]}"
    changed = [order_id for order_id, body in acked.items() if json.loads(body) != by_id[order_id]]
    assert not changed, f"acknowledged orders read back otherwise after the crash: {changed[:10]}"
    half = {row["id"]: problems for row in rows
            if (problems := _whole(row, sent[row["externalOrderIds"][0]], w))}
    assert not half, f"half-written orders: {dict(list(half.items())[:5])}"
    unacknowledged = set(by_id) - set(acked)
    assert {by_id[i]["externalOrderIds"][0] for i in unacknowledged} <= in_doubt
    if database == "sqlite":
        _sqlite_is_sound(tmp_path / "kitflow.db")
    record(request, f"crash[{database}]", requests=tally.sent, failures=len(lost) + len(changed) + len(half),
           by_status=tally.summary(), processes_killed=len(killed) + 1, orders_acknowledged=len(acked),
           requests_cut_by_the_kill=len(in_doubt), cut_requests_found_stored=len(unacknowledged),
           rows_after_restart=len(rows),
           checked="every acknowledged order present and identical to its 201; every stored order whole "
                   "(lines, event, external ids, notes, recipient as sent); total = rows; file integrity")


def _sqlite_is_sound(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    return str(request.param)
