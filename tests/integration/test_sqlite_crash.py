"""Every acknowledged write survives ``kill -9``: a child process places orders and prints each one
after ``place_order`` returns; the parent kills it mid-stream with SIGKILL, reopens the file and
finds every printed order exactly as printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec

from kitflow.domain.identity import customer
from kitflow.domain.order import OrderDetail, OrderFilter
from kitflow.services.listing import ListRequest
from kitflow.services.orders import get_order, list_orders
from kitflow_adapters.sqlite import SqliteStore
from tests.contract.rows import new_customer, new_item, new_patient

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import sys
import msgspec
from kitflow.domain.identity import customer
from kitflow.domain.order import OrderItem, PlaceOrder
from kitflow.services.clock import SystemClock
from kitflow.services.orders import place_order
from kitflow_adapters.sqlite import SqliteStore

path, customer_id, patient_id, item_id = sys.argv[1], *map(int, sys.argv[2:5])
store = SqliteStore(path)
clock = SystemClock()
n = 0
while True:
    n += 1
    command = PlaceOrder(patient_id=patient_id, order_items=(OrderItem(item_id=item_id, count=n % 100 + 1),),
                         external_order_ids=(f"crash-{n}",), order_notes=(f"note {n}",))
    placed = place_order(command, caller=customer(customer_id), uow=store, clock=clock)
    sys.stdout.buffer.write(msgspec.json.encode(placed) + b"\\n")
    sys.stdout.flush()
"""
ACKNOWLEDGED = 150


def test_every_order_acknowledged_before_kill_9_is_intact(tmp_path: Path) -> None:
    path = str(tmp_path / "kitflow.db")
    store = SqliteStore(path)
    customer_id = new_customer(store)
    patient_id, item_id = new_patient(store, customer_id).id, new_item(store).id
    store.close()

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, path, str(customer_id), str(patient_id), str(item_id)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert child.stdout is not None
    printed: list[OrderDetail] = []
    deadline = time.monotonic() + 120
    while len(printed) < ACKNOWLEDGED and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        printed.append(msgspec.json.decode(line, type=OrderDetail))
    os.kill(child.pid, signal.SIGKILL)  # mid-stream: the child is placing the next order right now
    child.wait(30)
    printed.extend(msgspec.json.decode(line, type=OrderDetail) for line in child.stdout.read().splitlines())
    assert child.returncode == -signal.SIGKILL
    assert len(printed) >= ACKNOWLEDGED

    reopened = SqliteStore(path)
    try:
        caller = customer(customer_id)
        for acknowledged in printed:
            assert get_order(acknowledged.id, caller=caller, uow=reopened) == acknowledged
        total = list_orders(OrderFilter(), ListRequest(), caller=caller, uow=reopened).total
        assert total in (len(printed), len(printed) + 1)  # at most the one committed but not yet printed
    finally:
        reopened.close()
