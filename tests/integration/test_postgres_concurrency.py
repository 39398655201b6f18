"""Two PostgresStore instances on one database stand for two server processes (or machines): use
cases run on them from many threads at once, and every rule that the memory store keeps by running
one transaction at a time still holds.

The lock tests hold one transaction open and watch the other one wait in ``pg_stat_activity``
(no sleeps, no timing): they show which lock makes a rule hold, and fail if it is not taken.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec
import psycopg
import pytest
from psycopg.pq import TransactionStatus

from kitflow.domain.catalog import ItemDraft
from kitflow.domain.errors import Conflict, DomainError, NotFound, RuleBroken
from kitflow.domain.identity import OPERATOR, Customer, Principal, customer
from kitflow.domain.idempotency import StoredResponse
from kitflow.domain.kit import KitDraft, KitItem, KitPatch
from kitflow.domain.order import MoveOrder, Order, OrderFilter, OrderItem, OrderKit, OrderStatus, PlaceOrder
from kitflow.domain.paging import PageSpec
from kitflow.domain.patient import PatientDraft, SiteDraft
from kitflow.domain.values import Address
from kitflow.services import access, catalog, idempotency, orders, patients
from kitflow.services.clock import SystemClock
from kitflow.services.listing import ListRequest
from kitflow_adapters.postgres import DatabaseUnavailable, PostgresStore
from kitflow_adapters.postgres.session import Session
from tests.postgres import SchemaStore, fresh_postgres_store

pytestmark = pytest.mark.postgres

CLOCK = SystemClock()
ADDRESS = Address(line_one="1 Main Street", city="Springfield", state="IL", zip_code="62701", country="US")


class World(msgspec.Struct):
    caller: Principal
    patient_id: int
    item_id: int
    kit_id: int


@pytest.fixture
def stores() -> Iterator[tuple[SchemaStore, PostgresStore]]:
    """Two stores on one schema, the second's connections named ``<schema>-second``."""
    first = fresh_postgres_store(pool_max=4)
    second = PostgresStore(f"{first.url}&application_name={first.schema}-second", pool_max=4)
    try:
        yield first, second
    finally:
        second.close()
        first.close()


def _world(store: PostgresStore) -> World:
    made = access.create_customer("Acme", caller=OPERATOR, uow=store, clock=CLOCK)
    caller = customer(made.id)
    draft = PatientDraft(first_name="Ada", last_name="Lovelace", address=ADDRESS)
    patient_id = patients.create_patient(draft, caller=caller, uow=store, clock=CLOCK).id
    item_id = catalog.create_item(ItemDraft(name="Scale", sku=f"sku-{made.id}"), caller=OPERATOR, uow=store).id
    kit = KitDraft(name="Starter", kit_items=(KitItem(item_id=item_id),))
    kit_id = catalog.create_kit(kit, caller=caller, uow=store, clock=CLOCK).id
    return World(caller=caller, patient_id=patient_id, item_id=item_id, kit_id=kit_id)


def _command(world: World, *external_ids: str, kit: bool = False) -> PlaceOrder:
    return PlaceOrder(
        patient_id=world.patient_id,
        order_items=(OrderItem(item_id=world.item_id),),
        order_kits=(OrderKit(kit_id=world.kit_id),) if kit else (),
        external_order_ids=external_ids,
    )


def _every_order(store: PostgresStore, world: World) -> list[int]:
    seen: list[int] = []
    listing = orders.list_orders(OrderFilter(), ListRequest(size=250), caller=world.caller, uow=store)
    while True:
        seen.extend(order.id for order in listing.content)
        if listing.next_cursor is None:
            return seen
        request = ListRequest(cursor=listing.next_cursor)
        listing = orders.list_orders(OrderFilter(), request, caller=world.caller, uow=store)


def _in_parallel(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(0..count-1)`` on ``count`` threads released together; their results in order."""
    start = threading.Barrier(count)

    def run(index: int) -> Any:
        start.wait()
        return work(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_orders_on_two_stores_keep_external_ids_unique_and_lose_nothing(
    stores: tuple[SchemaStore, PostgresStore],
) -> None:
    first, second = stores
    world = _world(first)
    names = [f"ext-{n}" for n in range(30)]

    def place(thread: int) -> tuple[list[tuple[int, tuple[str, ...]]], list[tuple[str, ...]]]:
        store = (first, second)[thread % 2]
        draw = random.Random(thread)
        made: list[tuple[int, tuple[str, ...]]] = []
        refused: list[tuple[str, ...]] = []
        for _ in range(20):
            wanted = tuple(draw.sample(names, draw.randint(0, 2)))
            try:
                detail = orders.place_order(_command(world, *wanted), caller=world.caller, uow=store, clock=CLOCK)
            except Conflict as error:
                assert error.code == "duplicate_external_order_id"
                refused.append(wanted)
            else:
                made.append((detail.id, detail.external_order_ids))
        return made, refused

    results = _in_parallel(8, place)
    made = [entry for thread_made, _ in results for entry in thread_made]
    refused = [entry for _, thread_refused in results for entry in thread_refused]
    assert len(made) + len(refused) == 8 * 20

    stored = _every_order(second, world)
    assert sorted(stored) == sorted(order_id for order_id, _ in made)  # none lost, none extra
    claims = [external_id for _, external_ids in made for external_id in external_ids]
    assert len(claims) == len(set(claims))  # each external id on one order at most
    with first.begin() as tx:
        holders = tx.orders.ids_by_external_ids(world.caller.customer(), names)
    assert holders == {external_id: order_id for order_id, ids in made for external_id in ids}
    for wanted in refused:  # a refusal names an id that an accepted order holds
        assert any(external_id in holders for external_id in wanted)


def test_a_cursor_walk_sees_every_row_once_while_another_store_inserts(
    stores: tuple[SchemaStore, PostgresStore],
) -> None:
    first, second = stores
    world = _world(first)
    existing = [
        orders.place_order(_command(world), caller=world.caller, uow=second, clock=CLOCK).id for _ in range(40)
    ]
    done = threading.Event()
    added: list[int] = []

    def insert() -> None:
        while not done.is_set():
            added.append(orders.place_order(_command(world), caller=world.caller, uow=second, clock=CLOCK).id)

    writer = threading.Thread(target=insert)
    writer.start()
    try:
        for descending in (False, True):
            walked: list[int] = []
            listing = orders.list_orders(
                OrderFilter(), ListRequest(size=7, descending=descending), caller=world.caller, uow=first
            )
            pages = 0
            while True:
                walked.extend(order.id for order in listing.content)
                if listing.next_cursor is None:
                    break
                pages += 1
                store = (first, second)[pages % 2]  # a cursor made by one process works on the other
                request = ListRequest(cursor=listing.next_cursor, descending=descending)
                listing = orders.list_orders(OrderFilter(), request, caller=world.caller, uow=store)
            assert len(walked) == len(set(walked))
            assert walked == sorted(walked, reverse=descending)
            assert set(existing) <= set(walked)
    finally:
        done.set()
        writer.join()
    assert added  # the walk really ran while orders were being inserted


def test_of_concurrent_moves_of_one_order_exactly_one_wins(stores: tuple[SchemaStore, PostgresStore]) -> None:
    first, second = stores
    world = _world(first)
    order_id = orders.place_order(_command(world), caller=world.caller, uow=first, clock=CLOCK).id

    def move(thread: int) -> str:
        store = (first, second)[thread % 2]
        try:
            if thread % 3 == 0:
                orders.cancel_order(order_id, caller=world.caller, uow=store, clock=CLOCK)
            else:
                orders.move_order(order_id, MoveOrder(status=OrderStatus.PROCESSING), caller=OPERATOR, uow=store, clock=CLOCK)
        except Conflict as error:
            return error.code
        return "moved"

    outcomes = _in_parallel(8, move)
    final = orders.get_order(order_id, caller=world.caller, uow=second)
    events = [event.name for event in final.order_events]
    # every move that succeeded is in the history, and the history is a path of the lifecycle
    assert len(events) - 1 == outcomes.count("moved")
    assert outcomes.count("moved") + outcomes.count("invalid_transition") == 8
    assert events[0] is OrderStatus.RECEIVED and events[-1] is final.current_status
    assert events in (
        [OrderStatus.RECEIVED, OrderStatus.PROCESSING],
        [OrderStatus.RECEIVED, OrderStatus.CANCELLED],
        [OrderStatus.RECEIVED, OrderStatus.PROCESSING, OrderStatus.CANCELLED],
    )


def test_one_idempotency_key_sent_to_two_stores_at_once_creates_one_order(
    stores: tuple[SchemaStore, PostgresStore],
) -> None:
    first, second = stores
    world = _world(first)

    def send(thread: int) -> str:
        store = (first, second)[thread % 2]

        def perform() -> StoredResponse:
            detail = orders.place_order(_command(world, "once"), caller=world.caller, uow=store, clock=CLOCK)
            return StoredResponse(status=201, content_type="application/json", body=str(detail.id).encode())

        try:
            outcome = idempotency.execute_once(
                "key-1", "POST /order {}", caller=world.caller, perform=perform,
                render=lambda error: None, uow=store, clock=CLOCK,
            )
        except DomainError as error:
            return error.code
        return "replayed" if outcome.replayed else "created"

    outcomes = _in_parallel(8, send)
    assert outcomes.count("created") == 1
    assert set(outcomes) <= {"created", "replayed", "idempotency_key_in_use"}
    assert len(_every_order(first, world)) == 1


def _waiting(store: SchemaStore, application: str, table_or_lock: str) -> Callable[[], bool]:
    """Whether a backend of ``application`` waits for a lock (a row of ``table_or_lock``, or an
    advisory lock when that is ``advisory``)."""

    def check() -> bool:
        with psycopg.connect(store.url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'"
                " AND (wait_event = %s OR query ILIKE %s)",
                (application, table_or_lock, f"%{table_or_lock}%"),
            ).fetchone()
        return bool(row and row[0])

    return check


def _until(condition: Callable[[], bool], worker: threading.Thread) -> None:
    """Poll ``condition`` until it holds; fails if ``worker`` finished first (it did not wait), or
    if ``condition`` never holds (it waits for something else: a guard against hanging)."""
    event = threading.Event()
    for _ in range(3000):
        if condition():
            return
        assert worker.is_alive(), "the other transaction did not wait for the lock"
        event.wait(0.01)
    raise AssertionError("the other transaction is not waiting for the expected lock")


def _background(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as error:  # handed to the test thread
            result.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_an_order_checked_while_its_kit_is_being_archived_waits_and_sees_the_archive(
    stores: tuple[SchemaStore, PostgresStore],
) -> None:
    first, second = stores
    world = _world(first)
    command = _command(world, kit=True)
    with first.begin(write=True) as tx:  # the archive, held open
        kit = tx.kits.get(world.caller.customer(), world.kit_id)
        tx.kits.update(msgspec.structs.replace(kit, archived=True))
        worker, result = _background(
            lambda: orders.place_order(command, caller=world.caller, uow=second, clock=CLOCK)
        )
        _until(_waiting(first, f"{first.schema}-second", "kits"), worker)
    worker.join()
    assert isinstance(result[0], RuleBroken) and result[0].code == "kit_archived"


def test_an_archive_waits_for_an_order_that_checked_the_kit(stores: tuple[SchemaStore, PostgresStore]) -> None:
    first, second = stores
    world = _world(first)
    with first.begin(write=True) as tx:  # an order's reference check, held open
        assert not tx.kits.get_many(world.caller.customer(), [world.kit_id])[world.kit_id].archived
        worker, result = _background(
            lambda: catalog.patch_kit(world.kit_id, KitPatch(archived=True), caller=world.caller, uow=second, clock=CLOCK)
        )
        _until(_waiting(first, f"{first.schema}-second", "kits"), worker)
    worker.join()
    assert result[0].archived


def test_a_second_claim_of_an_external_order_id_waits_then_names_the_first_order(
    stores: tuple[SchemaStore, PostgresStore],
) -> None:
    first, second = stores
    world = _world(first)
    draft = PatientDraft(first_name="Bob", last_name="Smith", address=ADDRESS)
    other = msgspec.structs.replace(
        world, patient_id=patients.create_patient(draft, caller=world.caller, uow=first, clock=CLOCK).id
    )  # (for another patient, so that the second order can wait on nothing but the id)
    with first.begin(write=True):  # place_order joins this open transaction
        held = orders.place_order(_command(world, "A-1"), caller=world.caller, uow=first, clock=CLOCK)
        worker, result = _background(
            lambda: orders.place_order(_command(other, "B-1", "A-1"), caller=world.caller, uow=second, clock=CLOCK)
        )
        _until(_waiting(first, f"{first.schema}-second", "order_external_ids"), worker)  # the claim
    worker.join()
    refused = result[0]
    assert isinstance(refused, Conflict) and refused.code == "duplicate_external_order_id"
    assert str(held.id) in refused.detail and refused.problems[0].field == "external_order_ids[1]"
    with second.begin() as tx:
        assert tx.orders.ids_by_external_ids(world.caller.customer(), ["A-1", "B-1"]) == {"A-1": held.id}


def _finishes_without_waiting(store: SchemaStore, application: str, worker: threading.Thread) -> None:
    """Poll until ``worker`` finishes; fails as soon as a backend of ``application`` waits for any lock."""

    def waiting() -> bool:
        with psycopg.connect(store.url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
                (application,),
            ).fetchone()
        return bool(row and row[0])

    event = threading.Event()
    for _ in range(3000):
        if not worker.is_alive():
            return
        assert not waiting(), "the other transaction waits for a lock"
        event.wait(0.01)
    raise AssertionError("the other transaction neither finished nor waited for a lock")


@pytest.mark.parametrize("held_for", ["site", "patient"])
def test_orders_for_one_recipient_do_not_wait_for_each_other(
    stores: tuple[SchemaStore, PostgresStore], held_for: str
) -> None:
    """An order reads its patient or site as a reference (FOR SHARE), as it reads its kits and items:
    an order held open makes no other order of the same patient or site wait. (With the recipient
    locked FOR NO KEY UPDATE, a patient order that had counted itself waited here for the site of
    its patient, while the site order held open could wait for its counter slot: a deadlock, 503.)"""
    first, second = stores
    world = _world(first)
    site_id = patients.create_site(SiteDraft(name="Clinic"), caller=world.caller, uow=first, clock=CLOCK).id
    draft = PatientDraft(first_name="Cy", last_name="Ward", address=ADDRESS, site_id=site_id)
    at_site = msgspec.structs.replace(
        world, patient_id=patients.create_patient(draft, caller=world.caller, uow=first, clock=CLOCK).id
    )
    by_site = PlaceOrder(site_id=site_id, order_items=(OrderItem(item_id=world.item_id),))
    held = by_site if held_for == "site" else _command(at_site)
    with first.begin(write=True):  # place_order joins this open transaction
        orders.place_order(held, caller=world.caller, uow=first, clock=CLOCK)
        worker, result = _background(
            lambda: orders.place_order(_command(at_site), caller=world.caller, uow=second, clock=CLOCK)
        )
        _finishes_without_waiting(first, f"{first.schema}-second", worker)
    worker.join()
    assert result[0].patient.site.id == site_id


def test_connections_the_server_dropped_are_replaced_without_a_failed_request() -> None:
    store = fresh_postgres_store(pool_min=3, pool_max=3)
    named = PostgresStore(f"{store.url}&application_name={store.schema}-dropped", pool_min=3, pool_max=3)
    try:
        world = _world(named)
        order_id = orders.place_order(_command(world), caller=world.caller, uow=named, clock=CLOCK).id
        with psycopg.connect(store.url, autocommit=True) as admin:  # a server restart, as the pool sees it
            dropped = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                (f"{store.schema}-dropped",),
            ).fetchone()
        assert dropped is not None and dropped[0] == 3
        for _ in range(4):
            assert orders.get_order(order_id, caller=world.caller, uow=named).id == order_id
        orders.place_order(_command(world), caller=world.caller, uow=named, clock=CLOCK)
    finally:
        named.close()
        store.close()


def test_an_order_that_loses_a_race_for_an_external_id_leaves_nothing(
    stores: tuple[SchemaStore, PostgresStore],
) -> None:
    """Straight through the port: the unique constraint decides, and the loser's order, lines and
    count are taken back."""
    first, second = stores
    world = _world(first)
    owner = world.caller.customer()

    def add(store: PostgresStore, *external_ids: str) -> Order:
        with store.begin(write=True) as tx:
            return tx.orders.add(Order.new(_command(world, *external_ids), customer_id=owner, now=CLOCK.now()))

    with first.begin(write=True) as tx:
        winner = tx.orders.add(Order.new(_command(world, "R-1"), customer_id=owner, now=CLOCK.now()))
        worker, result = _background(lambda: add(second, "R-0", "R-1"))
        _until(_waiting(first, f"{first.schema}-second", "order_external_ids"), worker)
    worker.join()
    assert isinstance(result[0], Conflict) and result[0].code == "duplicate_external_order_id"
    assert str(winner.id) in result[0].detail and result[0].problems[0].field == "external_order_ids[1]"
    with second.begin() as tx:
        assert tx.orders.ids_by_external_ids(owner, ["R-0", "R-1"]) == {"R-1": winner.id}
        page = tx.orders.page(owner, OrderFilter(), PageSpec(size=10))
        assert [order.id for order in page.items] == [winner.id] and page.total == 1
    assert add(second, "R-0").external_order_ids == ("R-0",)


def test_a_connection_lost_inside_a_transaction_is_a_retryable_error_and_stores_nothing() -> None:
    store = fresh_postgres_store()
    named = PostgresStore(f"{store.url}&application_name={store.schema}-lost", pool_max=1)
    try:
        with pytest.raises(DatabaseUnavailable), named.begin(write=True) as tx:
            tx.customers.add(Customer(id=0, name="Lost", created_at=CLOCK.now()))
            with psycopg.connect(store.url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                    (f"{store.schema}-lost",),
                )
            tx.customers.add(Customer(id=0, name="Lost too", created_at=CLOCK.now()))
        with named.begin() as tx:
            with pytest.raises(NotFound):
                tx.customers.get(1)
    finally:
        named.close()
        store.close()


def test_a_request_that_finds_every_connection_busy_is_a_retryable_error() -> None:
    store = fresh_postgres_store(pool_max=1, timeout=0.2)
    try:
        with store.begin(write=True) as tx:
            tx.customers.add(Customer(id=0, name="Busy", created_at=CLOCK.now()))
            worker, result = _background(lambda: store.begin().__enter__())
            worker.join()
        assert isinstance(result[0], DatabaseUnavailable) and result[0].code == "service_unavailable"
    finally:
        store.close()


def test_a_key_read_alone_opens_no_transaction_and_a_transaction_is_joined() -> None:
    store = fresh_postgres_store()
    try:
        customer_id = access.create_customer("Alone", caller=OPERATOR, uow=store, clock=CLOCK).id
        secret = access.issue_key(customer_id, caller=OPERATOR, uow=store, clock=CLOCK)
        states: list[Any] = []
        real = Session.end

        def end(session: Session, *, commit: bool) -> None:
            states.append((session.alone, session.conn.info.transaction_status))
            real(session, commit=commit)

        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(Session, "end", end)
            assert store.find_key(secret[:8]) is not None
            with store.begin() as tx:
                assert store.find_key(secret[:8]) == tx.keys.find(secret[:8])
        # alone: the statement ran in autocommit (idle after it); then one transaction, joined
        assert states == [(True, TransactionStatus.IDLE), (False, TransactionStatus.INTRANS)]
    finally:
        store.close()


def test_adding_orders_with_external_ids_holds_no_lock_per_id_until_commit(
    stores: tuple[SchemaStore, PostgresStore],
) -> None:
    """An import adds many orders in one transaction: claiming an external id must take no lock that
    lasts until commit, or a large one exhausts the server's shared lock table ("out of shared
    memory": advisory locks per id did, seeding 20,000 orders)."""
    first, _ = stores
    world = _world(first)
    owner = world.caller.customer()
    with first.begin(write=True) as tx:
        for n in range(50):
            tx.orders.add(Order.new(_command(world, f"bulk-{n}", f"bulk-{n}-b"), customer_id=owner, now=CLOCK.now()))
        backend = tx.session.conn.info.backend_pid
        with psycopg.connect(first.url, autocommit=True) as conn:
            held = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE pid = %s AND locktype = 'advisory'", (backend,)
            ).fetchone()
        assert held is not None and held[0] == 0
    with first.begin() as tx:
        assert tx.orders.page(owner, OrderFilter(), PageSpec(size=1)).total == 50
