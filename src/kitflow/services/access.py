"""Customers and keys: issuing, revoking, and resolving a key to its caller."""

from __future__ import annotations

import hmac

import msgspec

from kitflow.domain.errors import Conflict, NotFound, Unauthorized
from kitflow.domain.identity import (
    KEY_PREFIX_LENGTH,
    OPERATOR,
    Customer,
    Principal,
    Role,
    customer,
    digest,
    new_key,
)
from kitflow.domain.ports import Clock, Transaction, UnitOfWork
from kitflow.domain.values import CustomerId

_ATTEMPTS = 8


class NewCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """A customer as created, with its first key (shown only here)."""

    id: CustomerId
    name: str
    api_key: str


def _issue(tx: Transaction, *, role: Role, customer_id: CustomerId | None, clock: Clock) -> str:
    """A new key stored in ``tx``; draws again on the rare clash of first 8 characters."""
    for _ in range(_ATTEMPTS):
        issued = new_key(role=role, customer_id=customer_id, now=clock.now())
        if tx.keys.find(issued.record.prefix) is None:
            tx.keys.add(issued.record)
            return issued.secret
    raise Conflict("key_prefix_exhausted", "could not draw a key with a free prefix")


def create_customer(name: str, *, caller: Principal, uow: UnitOfWork, clock: Clock) -> NewCustomer:
    """Create a customer and its first key. Raises Forbidden unless the caller is the operator,
    InvalidInput for a blank or overlong name."""
    caller.operator()
    draft = Customer(id=0, name=name, created_at=clock.now())
    with uow.begin(write=True) as tx:
        stored = tx.customers.add(draft)
        secret = _issue(tx, role=Role.CUSTOMER, customer_id=stored.id, clock=clock)
    return NewCustomer(id=stored.id, name=stored.name, api_key=secret)


def issue_key(customer_id: CustomerId, *, caller: Principal, uow: UnitOfWork, clock: Clock) -> str:
    """Another key for the customer. Raises Forbidden unless the operator calls, NotFound."""
    caller.operator()
    with uow.begin(write=True) as tx:
        tx.customers.get(customer_id)
        return _issue(tx, role=Role.CUSTOMER, customer_id=customer_id, clock=clock)


def revoke_key(prefix: str, *, caller: Principal, uow: UnitOfWork, clock: Clock) -> None:
    """Revoke the customer key whose first 8 characters are ``prefix``. Raises Forbidden unless the
    operator calls; NotFound for an unknown, already revoked or operator key."""
    caller.operator()
    with uow.begin(write=True) as tx:
        record = tx.keys.find(prefix) if len(prefix) == KEY_PREFIX_LENGTH else None
        if record is None or not record.active or record.role is not Role.CUSTOMER:
            raise NotFound(detail="no active customer key has this prefix")
        tx.keys.revoke(prefix, clock.now())


def authenticate(secret: str | None, *, uow: UnitOfWork, operator_digest: str | None = None) -> Principal:
    """The caller a key belongs to. ``operator_digest`` is the hash of a configured operator key;
    when it is set, stored operator keys are not accepted. Raises Unauthorized for a missing,
    unknown or revoked key. Every comparison of secrets takes constant time."""
    if not secret:
        raise Unauthorized(detail="send a valid Impilo-API-Key header")
    if operator_digest is not None and hmac.compare_digest(digest(secret), operator_digest):
        return OPERATOR
    record = uow.find_key(secret[:KEY_PREFIX_LENGTH])
    if (
        record is None
        or not record.matches(secret)
        or not record.active
        or (record.role is Role.OPERATOR and operator_digest is not None)
    ):
        raise Unauthorized(detail="the API key is unknown or revoked")
    if record.role is Role.OPERATOR:
        return OPERATOR
    assert record.customer_id is not None
    return customer(record.customer_id)


def ensure_operator_key(*, uow: UnitOfWork, clock: Clock) -> str | None:
    """Make and store an operator key when none is stored yet; returns it (to show once), or None."""
    with uow.begin(write=True) as tx:
        if tx.keys.has_operator_key():
            return None
        return _issue(tx, role=Role.OPERATOR, customer_id=None, clock=clock)
