"""Idempotent requests: the first answer to a key is kept 24 hours and replayed (API.md 5)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import msgspec

from kitflow.domain.errors import Conflict, DomainError, IdempotencyKeyReused
from kitflow.domain.identity import Principal
from kitflow.domain.idempotency import RETENTION, IdempotencyRecord, StoredResponse, idempotency_key
from kitflow.domain.ports import Clock, UnitOfWork


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    response: StoredResponse
    replayed: bool


class _Claim(msgspec.Struct, frozen=True, kw_only=True):
    record: IdempotencyRecord | None = None
    replay: StoredResponse | None = None


def _claim(caller: Principal, key: str, fingerprint: str, *, uow: UnitOfWork, clock: Clock) -> _Claim:
    now = clock.now()
    with uow.begin(write=True) as tx:
        found = tx.idempotency.get(caller.scope, key)
        if found is not None and not found.expired(now):
            if found.fingerprint != fingerprint:
                raise IdempotencyKeyReused(detail="this Idempotency-Key was used with another request")
            if found.response is not None:
                return _Claim(replay=found.response)
            if found.in_flight(now):
                raise Conflict("idempotency_key_in_use", "a request with this Idempotency-Key is in flight")
        record = IdempotencyRecord(
            scope=caller.scope, key=key, fingerprint=fingerprint, token=secrets.token_hex(16), created_at=now
        )
        tx.idempotency.put(record)
    return _Claim(record=record)


def _finish(record: IdempotencyRecord, response: StoredResponse, *, uow: UnitOfWork) -> None:
    """Store the answer on the claim, inside the caller's open write transaction when there is one.
    Raises Conflict(idempotency_key_in_use) when the claim was taken over meanwhile."""
    with uow.begin(write=True) as tx:
        current = tx.idempotency.get(record.scope, record.key)
        if current is None or current.token != record.token:
            raise Conflict("idempotency_key_in_use", "this Idempotency-Key was taken over by another request")
        tx.idempotency.put(msgspec.structs.replace(record, response=response))


def _release(record: IdempotencyRecord, *, uow: UnitOfWork) -> None:
    with uow.begin(write=True) as tx:
        tx.idempotency.delete(record.scope, record.key, record.token)


def execute_once(
    key: str,
    fingerprint: str,
    *,
    caller: Principal,
    perform: Callable[[], StoredResponse],
    render: Callable[[DomainError], StoredResponse | None],
    uow: UnitOfWork,
    clock: Clock,
) -> Outcome:
    """Run ``perform`` at most once per caller, key and 24 hours, and keep its answer.

    ``fingerprint`` identifies the request (method, path, canonical body). The same key with the
    same fingerprint replays the first answer; with another raises IdempotencyKeyReused; while the
    first is in flight raises Conflict(idempotency_key_in_use). ``perform`` runs inside the write
    transaction that stores its answer, so an answer is kept exactly when its writes commit.
    A DomainError from ``perform`` is kept as ``render`` makes it, or, when ``render`` gives None,
    releases the key and propagates. Any other error releases the key and propagates.
    """
    claim = _claim(caller, idempotency_key(key), fingerprint, uow=uow, clock=clock)
    if claim.replay is not None:
        return Outcome(response=claim.replay, replayed=True)
    record = claim.record
    assert record is not None
    try:
        with uow.begin(write=True):
            response = perform()
            _finish(record, response, uow=uow)
        return Outcome(response=response, replayed=False)
    except DomainError as error:
        if error.code == "idempotency_key_in_use":
            raise
        kept = render(error)
        if kept is None:
            _release(record, uow=uow)
            raise
        _finish(record, kept, uow=uow)
        return Outcome(response=kept, replayed=False)
    except BaseException:
        _release(record, uow=uow)
        raise


def purge_idempotency_records(*, uow: UnitOfWork, clock: Clock) -> int:
    """Delete records older than the retention period; returns how many."""
    with uow.begin(write=True) as tx:
        return tx.idempotency.purge(clock.now() - RETENTION)
