"""Contract: units of work — commit, rollback, joined transactions, read-only transactions, and
write transactions that exclude each other — on every store."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitflow.domain.errors import NotFound
from kitflow.domain.idempotency import IdempotencyRecord
from kitflow.domain.paging import PageSpec
from kitflow.domain.patient import PatientFilter
from kitflow.domain.ports import UnitOfWork
from tests.contract.rows import T0, new_customer, patient


class Boom(Exception):
    pass


def test_an_error_inside_a_write_transaction_stores_nothing(store: UnitOfWork) -> None:
    customer_id = new_customer(store)

    @settings(max_examples=20)
    @given(count=st.integers(min_value=1, max_value=5))
    def check(count: int) -> None:
        ids: list[int] = []
        with pytest.raises(Boom), store.begin(write=True) as tx:
            for n in range(count):
                ids.append(tx.patients.add(patient(customer_id, external_identifier=f"boom-{n}")).id)
            raise Boom
        with store.begin() as tx:
            assert tx.patients.get_many(customer_id, ids) == {}
            assert tx.patients.id_by_external_identifier(customer_id, "boom-0") is None

    check()


def test_a_write_transaction_commits_when_its_block_ends(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    with store.begin(write=True) as tx:
        stored = tx.patients.add(patient(customer_id))
    with store.begin() as tx:
        assert tx.patients.get(customer_id, stored.id) == stored


def test_a_nested_begin_joins_the_open_transaction(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    with pytest.raises(Boom), store.begin(write=True) as outer:
        with store.begin(write=True) as inner:
            stored = inner.patients.add(patient(customer_id))
        with store.begin() as reader:  # joins too: sees the uncommitted patient
            assert reader.patients.get(customer_id, stored.id) == stored
        assert outer.patients.get(customer_id, stored.id) == stored
        raise Boom  # the outer block decides: everything rolls back
    with store.begin() as tx, pytest.raises(NotFound):
        tx.patients.get(customer_id, stored.id)


def test_an_error_caught_inside_a_joined_block_leaves_the_outer_transaction_going(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    with store.begin(write=True) as outer:
        kept = outer.patients.add(patient(customer_id))
        with pytest.raises(Boom), store.begin(write=True):
            raise Boom
        after = outer.patients.add(patient(customer_id))
    with store.begin() as tx:
        assert tx.patients.get_many(customer_id, [kept.id, after.id]) == {kept.id: kept, after.id: after}


def test_a_read_only_transaction_refuses_writes(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    with store.begin() as tx:
        with pytest.raises(RuntimeError):
            tx.patients.add(patient(customer_id))
        with pytest.raises(RuntimeError), store.begin(write=True):
            pass
    with store.begin() as tx:
        assert tx.patients.page(customer_id, PatientFilter(), PageSpec(size=10)).total == 0


def test_the_store_is_usable_after_a_refused_transaction(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    with pytest.raises(Boom), store.begin(write=True):
        raise Boom
    with pytest.raises(RuntimeError), store.begin() as tx:
        tx.patients.add(patient(customer_id))
    with store.begin(write=True) as tx:
        stored = tx.patients.add(patient(customer_id))
    with store.begin() as tx:
        assert tx.patients.get(customer_id, stored.id) == stored


def test_write_transactions_of_many_threads_never_lose_an_update(store: UnitOfWork) -> None:
    """Eight threads each add 1 to one counter 25 times, read-modify-write in a write transaction:
    the counter ends at 200 only if write transactions exclude each other from the first read."""
    key = ("counter", "n")
    with store.begin(write=True) as tx:
        tx.idempotency.put(IdempotencyRecord(scope=key[0], key=key[1], fingerprint="0", token="t", created_at=T0))
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(25):
                with store.begin(write=True) as tx:
                    record = tx.idempotency.get(*key)
                    assert record is not None
                    tx.idempotency.put(
                        IdempotencyRecord(scope=key[0], key=key[1], fingerprint=str(int(record.fingerprint) + 1),
                                          token="t", created_at=T0)
                    )
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.begin() as tx:
        record = tx.idempotency.get(*key)
    assert record is not None and record.fingerprint == "200"


def test_a_read_transaction_sees_one_moment(store: UnitOfWork) -> None:
    """What a read transaction reads twice is the same, whatever commits meanwhile elsewhere."""
    customer_id = new_customer(store)
    started, written = threading.Event(), threading.Event()

    def writer() -> None:
        started.wait(10)
        with store.begin(write=True) as tx:
            tx.patients.add(patient(customer_id))
        written.set()

    thread = threading.Thread(target=writer)
    thread.start()
    with store.begin() as tx:
        first = repr(tx.patients.page(customer_id, PatientFilter(), PageSpec(size=10)))
        started.set()
        written.wait(0.5)  # a store that serialises every transaction makes the writer wait instead
        assert repr(tx.patients.page(customer_id, PatientFilter(), PageSpec(size=10))) == first
    thread.join()
    with store.begin() as tx:
        assert tx.patients.page(customer_id, PatientFilter(), PageSpec(size=10)).total == 1

