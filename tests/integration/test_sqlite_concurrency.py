"""Real threads and real processes placing orders on one SQLite file through the use case: no
``database is locked`` reaches a caller, no order is lost or doubled, and an external order id is
never taken twice."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kitflow.domain.errors import Conflict, RuleBroken
from kitflow.domain.identity import customer
from kitflow.domain.kit import KitDraft, KitItem, KitPatch
from kitflow.domain.order import OrderFilter, OrderItem, OrderKit, PlaceOrder
from kitflow.domain.paging import PageSpec
from kitflow.services.catalog import create_kit, patch_kit
from kitflow.services.clock import SystemClock
from kitflow.services.listing import ListRequest
from kitflow.services.orders import get_order, list_orders, place_order
from kitflow_adapters.sqlite import SqliteStore
from tests.contract.rows import new_customer, new_item, new_patient

THREADS = 8
PROCESSES = 4
EACH = 25
RACED = 10


class World(msgspec.Struct, frozen=True):
    path: str
    customer_id: int
    patient_id: int
    item_id: int


@pytest.fixture
def world(tmp_path: Path) -> World:
    path = str(tmp_path / "kitflow.db")
    store = SqliteStore(path)
    try:
        customer_id = new_customer(store)
        return World(path, customer_id, new_patient(store, customer_id).id, new_item(store).id)
    finally:
        store.close()


def _place(store: SqliteStore, world: World, external_ids: tuple[str, ...] = ()) -> int:
    command = PlaceOrder(
        patient_id=world.patient_id, order_items=(OrderItem(item_id=world.item_id),), external_order_ids=external_ids
    )
    return place_order(command, caller=customer(world.customer_id), uow=store, clock=SystemClock()).id


def _place_many(store: SqliteStore, world: World, tag: str) -> list[tuple[str, int]]:
    """``EACH`` orders, each with an external id of its own: (external id, order id) of each."""
    return [(f"{tag}-{n}", _place(store, world, (f"{tag}-{n}",))) for n in range(EACH)]


def _race(store: SqliteStore, world: World, tag: str) -> list[tuple[str, int | str]]:
    """One attempt at each of the ``RACED`` shared external ids: the order id, or the error code."""
    outcomes: list[tuple[str, int | str]] = []
    for n in range(RACED):
        external_id = f"race-{n}"
        try:
            outcomes.append((external_id, _place(store, world, (external_id, f"{tag}-only-{n}"))))
        except Conflict as error:
            outcomes.append((external_id, error.code))
    return outcomes


def _in_process(job: str, world: World, tag: str) -> list[Any]:
    """Run ``job`` in a process of its own, on a store it opens itself."""
    store = SqliteStore(world.path)
    try:
        return JOBS[job](store, world, tag)  # type: ignore[no-any-return]
    finally:
        store.close()


JOBS: dict[str, Callable[[SqliteStore, World, str], list[Any]]] = {"place_many": _place_many, "race": _race}


def _everywhere(
    job: str, world: World, *, tags: list[str] | None = None, meanwhile: Callable[[], None] | None = None
) -> list[Any]:
    """``job`` at once in ``PROCESSES`` processes and in threads sharing one store, one a tag (``p…``
    tags name processes); ``meanwhile`` runs while they work."""
    tags = tags or [f"p{n}" for n in range(PROCESSES)] + [f"t{n}" for n in range(THREADS)]
    store = SqliteStore(world.path)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(tag: str) -> None:
        try:
            results.extend(JOBS[job](store, world, tag))
        except BaseException as error:  # reported below
            errors.append(error)

    in_processes = [tag for tag in tags if tag.startswith("p")]
    with multiprocessing.get_context("spawn").Pool(len(in_processes)) as pool:
        pending = pool.starmap_async(_in_process, [(job, world, tag) for tag in in_processes])
        threads = [threading.Thread(target=run, args=(tag,)) for tag in tags if tag not in in_processes]
        for thread in threads:
            thread.start()
        if meanwhile is not None:
            meanwhile()
        for thread in threads:
            thread.join()
        for outcome in pending.get(timeout=300):
            results.extend(outcome)
    store.close()
    assert errors == []
    return results


def test_threads_and_processes_placing_orders_lose_none_and_double_none(world: World) -> None:
    placed = _everywhere("place_many", world)
    assert len(placed) == (THREADS + PROCESSES) * EACH
    assert len({order_id for _, order_id in placed}) == len(placed)
    store = SqliteStore(world.path)
    try:
        caller = customer(world.customer_id)
        for external_id, order_id in placed:
            assert get_order(order_id, caller=caller, uow=store).external_order_ids == (external_id,)
        listing = list_orders(OrderFilter(), ListRequest(size=250), caller=caller, uow=store)
        assert listing.total == len(placed)
    finally:
        store.close()


def test_an_external_order_id_raced_for_everywhere_is_won_exactly_once(world: World) -> None:
    outcomes = _everywhere("race", world)
    attempts = THREADS + PROCESSES
    assert len(outcomes) == attempts * RACED
    store = SqliteStore(world.path)
    try:
        caller = customer(world.customer_id)
        for n in range(RACED):
            mine = [result for external_id, result in outcomes if external_id == f"race-{n}"]
            winners = [result for result in mine if isinstance(result, int)]
            assert len(winners) == 1
            assert sorted(r for r in mine if not isinstance(r, int)) == ["duplicate_external_order_id"] * (attempts - 1)
            stored = list_orders(OrderFilter(external_order_id=f"race-{n}"), ListRequest(), caller=caller, uow=store)
            assert [o.id for o in stored.content] == winners
        assert list_orders(OrderFilter(), ListRequest(), caller=caller, uow=store).total == RACED
    finally:
        store.close()


def test_readers_go_on_while_a_writer_holds_the_lock(world: World) -> None:
    """A read transaction is never blocked by an open write transaction (WAL): it sees the last commit."""
    store = SqliteStore(world.path)
    first = _place(store, world)
    holding, release = threading.Event(), threading.Event()
    seen: list[int] = []

    def writer() -> None:
        with store.begin(write=True) as tx:
            tx.orders.get(world.customer_id, first)
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(30)
        other = SqliteStore(world.path)
        with other.begin() as tx:
            seen.append(tx.orders.get(world.customer_id, first).id)
        other.close()
    finally:
        release.set()
        thread.join()
        store.close()
    assert seen == [first]


def test_close_releases_every_threads_connection_and_a_later_begin_reopens(world: World) -> None:
    store = SqliteStore(world.path)
    placed: list[int] = []
    threads = [threading.Thread(target=lambda: placed.append(_place(store, world))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    links = [link for _, link in store._links]
    assert len(links) >= 3
    store.close()
    for link in links:
        with pytest.raises(Exception, match="closed"):
            link.conn.execute("SELECT 1")
    try:
        with store.begin() as tx:
            assert set(tx.orders.get_many(world.customer_id, placed)) == set(placed)
    finally:
        store.close()


def _order_kits_until_archived(store: SqliteStore, world: World, tag: str) -> list[Any]:
    """Place orders of the kit ``tag`` names (``writer:kit``) until one is refused: (the order ids
    placed, the refusal's code). Each order carries the external id ``writer-n``."""
    name, kit = tag.split(":")
    caller, clock, placed = customer(world.customer_id), SystemClock(), []
    while True:
        command = PlaceOrder(
            patient_id=world.patient_id, order_kits=(OrderKit(kit_id=int(kit)),),
            external_order_ids=(f"{name}-{len(placed)}",),
        )
        try:
            placed.append(place_order(command, caller=caller, uow=store, clock=clock).id)
        except RuleBroken as error:
            return [(placed, error.code)]


JOBS["kits"] = _order_kits_until_archived


def test_no_order_takes_a_kit_after_its_archiving_commits(world: World) -> None:
    """Threads and processes order one kit while it is archived: every order that has the kit was
    committed before the archiving (whose transaction notes the last order id), and every orderer
    is then refused with ``kit_archived``."""
    store = SqliteStore(world.path)
    caller = customer(world.customer_id)
    draft = KitDraft(name="Scale kit", kit_items=(KitItem(item_id=world.item_id),))
    kit_id = create_kit(draft, caller=caller, uow=store, clock=SystemClock()).id
    writers = ["p0", "p1", "t0", "t1", "t2", "t3"]
    last: list[int] = []

    def archive_once_every_writer_has_ordered() -> None:
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                with store.begin() as tx:
                    if len(tx.orders.ids_by_external_ids(world.customer_id, [f"{w}-2" for w in writers])) == 6:
                        break
                time.sleep(0.01)
        finally:
            with store.begin(write=True) as tx:  # patch_kit joins this transaction
                newest = tx.orders.page(world.customer_id, OrderFilter(), PageSpec(size=1, descending=True))
                last.append(newest.items[0].id)
                patch_kit(kit_id, KitPatch(archived=True), caller=caller, uow=store, clock=SystemClock())

    results = _everywhere(
        "kits", world, tags=[f"{w}:{kit_id}" for w in writers], meanwhile=archive_once_every_writer_has_ordered
    )
    store.close()
    assert [code for _, code in results] == ["kit_archived"] * 6
    assert all(len(ids) >= 3 for ids, _ in results)
    assert max(order_id for ids, _ in results for order_id in ids) <= last[0]


def test_a_child_forked_right_after_a_write_can_use_the_store(tmp_path: Path) -> None:
    """A write starts the checkpoint thread, which opens its connection at once: a fork at that
    moment must not leave the child waiting for ever on a mutex of SQLite's that the thread held."""
    import os

    store = SqliteStore(str(tmp_path / "kitflow.db"))
    try:
        for attempt in range(20):  # (without the lock, about one attempt in three hung)
            new_customer(store, f"Acme {attempt}")  # a write: the checkpoint thread starts (again)
            child = os.fork()
            if child == 0:  # pragma: no cover - the child's outcome is its exit status
                status = 1
                try:
                    with store.begin(write=True) as tx:
                        tx.customers.get(1)
                    status = 0
                finally:
                    os._exit(status)
            deadline = time.monotonic() + 20
            while (done := os.waitpid(child, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            if done[0] == 0:
                os.kill(child, 9)
                os.waitpid(child, 0)
                pytest.fail(f"the child forked after write {attempt + 1} hung")
            assert os.waitstatus_to_exitcode(done[1]) == 0
            store.close()  # ends the checkpoint thread, so that the next write starts one again
    finally:
        store.close()
