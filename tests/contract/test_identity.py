"""Contract: customers, API keys, settings and idempotency records, on every store."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitflow.domain.errors import Conflict, NotFound
from kitflow.domain.identity import ApiKey, Customer, Role, new_key
from kitflow.domain.idempotency import IdempotencyRecord, StoredResponse
from kitflow.domain.ports import UnitOfWork
from kitflow.testing.strategies import texts
from tests.contract.rows import T0, new_customer, times, unique


def test_a_customer_is_stored_with_a_new_id_and_read_back(store: UnitOfWork) -> None:
    @given(name=texts(), at=times())
    def check(name: str, at: dt.datetime) -> None:
        with store.begin(write=True) as tx:
            stored = tx.customers.add(Customer(id=0, name=name, created_at=at))
        assert stored.id > 0
        assert stored == Customer(id=stored.id, name=name, created_at=at)
        with store.begin() as tx:
            assert tx.customers.get(stored.id) == stored

    check()


def test_an_unknown_customer_is_not_found(store: UnitOfWork) -> None:
    with store.begin() as tx, pytest.raises(NotFound):
        tx.customers.get(424242)


def test_ids_are_new_for_each_customer(store: UnitOfWork) -> None:
    ids = [new_customer(store) for _ in range(5)]
    assert len(set(ids)) == 5 and ids == sorted(ids)


def _key(customer_id: int | None, *, role: Role = Role.CUSTOMER, at: dt.datetime = T0) -> ApiKey:
    return new_key(role=role, customer_id=customer_id, now=at).record


def test_a_key_record_is_found_by_its_prefix_as_stored(store: UnitOfWork) -> None:
    customer_id = new_customer(store)

    @given(at=times(), role=st.sampled_from(Role))
    def check(at: dt.datetime, role: Role) -> None:
        record = _key(customer_id if role is Role.CUSTOMER else None, role=role, at=at)
        with store.begin(write=True) as tx:
            tx.keys.add(record)
        with store.begin() as tx:
            assert tx.keys.find(record.prefix) == record
            assert tx.keys.find(record.prefix[::-1] + "~") is None
        assert store.find_key(record.prefix) == record  # a read of its own
        assert store.find_key(record.prefix[::-1] + "~") is None

    check()


def test_a_key_read_on_its_own_is_the_committed_one_or_its_transactions(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    record = _key(customer_id)
    with pytest.raises(RuntimeError), store.begin(write=True) as tx:
        tx.keys.add(record)
        assert store.find_key(record.prefix) == record  # inside the open transaction: its own key
        raise RuntimeError("roll back")
    assert store.find_key(record.prefix) is None
    with store.begin(write=True) as tx:
        tx.keys.add(record)
    assert store.find_key(record.prefix) == record
    with store.begin(write=True) as tx:
        tx.keys.revoke(record.prefix, T0)
    revoked = store.find_key(record.prefix)
    assert revoked is not None and not revoked.active  # at once, whatever was read before


def test_a_taken_prefix_is_a_conflict(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    first = _key(customer_id)
    with store.begin(write=True) as tx:
        tx.keys.add(first)
    with store.begin(write=True) as tx, pytest.raises(Conflict) as caught:
        tx.keys.add(msgspec.structs.replace(_key(customer_id), prefix=first.prefix))
    assert caught.value.code == "duplicate_key_prefix"
    with store.begin() as tx:
        assert tx.keys.find(first.prefix) == first


def test_revoking_marks_the_key_and_an_unknown_prefix_is_not_found(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    record = _key(customer_id)
    at = T0 + dt.timedelta(days=3, milliseconds=7)
    with store.begin(write=True) as tx:
        tx.keys.add(record)
        tx.keys.revoke(record.prefix, at)
    with store.begin() as tx:
        found = tx.keys.find(record.prefix)
    assert found == msgspec.structs.replace(record, revoked_at=at)
    assert found is not None and not found.active
    with store.begin(write=True) as tx, pytest.raises(NotFound):
        tx.keys.revoke("nosuchpr", at)


def test_an_operator_key_is_known_whether_revoked_or_not(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    with store.begin(write=True) as tx:
        tx.keys.add(_key(customer_id))
        assert not tx.keys.has_operator_key()
        operator = _key(None, role=Role.OPERATOR)
        tx.keys.add(operator)
        assert tx.keys.has_operator_key()
        tx.keys.revoke(operator.prefix, T0)
    with store.begin() as tx:
        assert tx.keys.has_operator_key()


def test_a_setting_is_made_once_and_then_kept(store: UnitOfWork) -> None:
    made: list[str] = []

    def make() -> str:
        made.append("x")
        return f"value-{len(made)}"

    with store.begin(write=True) as tx:
        assert tx.settings.get_or_create("secret", make) == "value-1"
    with store.begin(write=True) as tx:
        assert tx.settings.get_or_create("secret", make) == "value-1"
        assert tx.settings.get_or_create("other", make) == "value-2"
    with store.begin() as tx:
        assert tx.settings.get_or_create("secret", make) == "value-1"
    assert made == ["x", "x"]


def test_making_a_setting_in_a_read_only_transaction_is_refused(store: UnitOfWork) -> None:
    with store.begin() as tx, pytest.raises(RuntimeError):
        tx.settings.get_or_create("secret", lambda: "v")


def _records() -> st.SearchStrategy[IdempotencyRecord]:
    responses = st.none() | st.builds(
        StoredResponse,
        status=st.integers(min_value=100, max_value=599),
        content_type=st.sampled_from(["application/json", "application/problem+json"]),
        body=st.binary(max_size=300),
    )
    return st.builds(
        IdempotencyRecord,
        scope=st.sampled_from(["operator", "customer:1", "customer:2"]),
        key=st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=255),
        fingerprint=st.text(min_size=1, max_size=64, alphabet="0123456789abcdef"),
        token=st.text(min_size=1, max_size=32, alphabet="0123456789abcdef"),
        created_at=times(),
        response=responses,
    )


def test_an_idempotency_record_is_read_back_as_put_and_put_replaces(store: UnitOfWork) -> None:
    @given(first=_records(), second=_records())
    def check(first: IdempotencyRecord, second: IdempotencyRecord) -> None:
        second = msgspec.structs.replace(second, scope=first.scope, key=first.key)
        with store.begin(write=True) as tx:
            tx.idempotency.put(first)
        with store.begin() as tx:
            assert tx.idempotency.get(first.scope, first.key) == first
        with store.begin(write=True) as tx:
            tx.idempotency.put(second)
        with store.begin() as tx:
            assert tx.idempotency.get(first.scope, first.key) == second

    check()


def test_an_idempotency_record_is_deleted_only_with_its_token(store: UnitOfWork) -> None:
    record = IdempotencyRecord(scope="customer:1", key="k", fingerprint="f", token="mine", created_at=T0)
    with store.begin(write=True) as tx:
        tx.idempotency.put(record)
        tx.idempotency.delete("customer:1", "k", "theirs")
        tx.idempotency.delete("customer:2", "k", "mine")
    with store.begin() as tx:
        assert tx.idempotency.get("customer:1", "k") == record
        assert tx.idempotency.get("customer:2", "k") is None
    with store.begin(write=True) as tx:
        tx.idempotency.delete("customer:1", "k", "mine")
    with store.begin() as tx:
        assert tx.idempotency.get("customer:1", "k") is None


def test_purge_deletes_exactly_the_records_made_before_the_moment(store: UnitOfWork) -> None:
    @given(ages=st.lists(st.integers(min_value=-5, max_value=5), max_size=12), sub_ms=st.integers(0, 999))
    def check(ages: list[int], sub_ms: int) -> None:
        scope = unique("purge")
        cut = T0 + dt.timedelta(microseconds=sub_ms)
        records = [
            IdempotencyRecord(
                scope=scope, key=f"k{i}", fingerprint="f", token="t", created_at=T0 + dt.timedelta(milliseconds=age)
            )
            for i, age in enumerate(ages)
        ]
        with store.begin(write=True) as tx:
            tx.idempotency.purge(dt.datetime(2300, 1, 1, tzinfo=dt.timezone.utc))  # earlier examples' records
            for record in records:
                tx.idempotency.put(record)
            purged = tx.idempotency.purge(cut)
        assert purged == sum(1 for r in records if r.created_at < cut)
        with store.begin() as tx:
            kept = {r.key for r in records if tx.idempotency.get(scope, r.key) is not None}
        assert kept == {r.key for r in records if r.created_at >= cut}

    check()
