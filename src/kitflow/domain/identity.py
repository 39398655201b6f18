"""Customers, their API keys and the principal a key resolves to."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
from typing import Final

import msgspec

from kitflow.domain.errors import Forbidden
from kitflow.domain.values import CustomerId, normalise, text

KEY_PREFIX_LENGTH: Final = 8


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    OPERATOR = "operator"


class Customer(msgspec.Struct, frozen=True, kw_only=True):
    id: CustomerId
    name: str
    created_at: dt.datetime

    def __post_init__(self) -> None:
        normalise(self, name=text(self.name, field="name"))


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """A stored key: its public prefix and the hash of the whole key, never the key itself."""

    prefix: str
    digest: str
    role: Role
    customer_id: CustomerId | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    def matches(self, key: str) -> bool:
        """Whether ``key`` is this key, compared in constant time."""
        return hmac.compare_digest(self.digest, digest(key))

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class IssuedKey(msgspec.Struct, frozen=True, kw_only=True):
    """A key as issued: the secret (shown once) and the record that is stored."""

    secret: str
    record: ApiKey


def digest(key: str) -> str:
    """The stored form of a key: SHA-256 (keys carry 256 random bits; see ADR 0003)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key(*, role: Role, customer_id: CustomerId | None, now: dt.datetime) -> IssuedKey:
    """A fresh random key (256 bits, URL-safe) with its stored record."""
    secret = secrets.token_urlsafe(32)
    record = ApiKey(
        prefix=secret[:KEY_PREFIX_LENGTH],
        digest=digest(secret),
        role=role,
        customer_id=customer_id,
        created_at=now,
    )
    return IssuedKey(secret=secret, record=record)


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: the operator, or one customer."""

    role: Role
    customer_id: CustomerId | None = None

    @property
    def scope(self) -> str:
        """The caller's name for scoping idempotency keys and cursors."""
        return "operator" if self.role is Role.OPERATOR else f"customer:{self.customer_id}"

    def customer(self) -> CustomerId:
        """The calling customer's id. Raises Forbidden for the operator."""
        if self.role is not Role.CUSTOMER or self.customer_id is None:
            raise Forbidden(detail="this endpoint is for customers")
        return self.customer_id

    def operator(self) -> None:
        """Raises Forbidden unless the caller is the operator."""
        if self.role is not Role.OPERATOR:
            raise Forbidden(detail="this endpoint is for the operator")


OPERATOR: Final = Principal(role=Role.OPERATOR)


def customer(customer_id: CustomerId) -> Principal:
    """The principal of one customer."""
    return Principal(role=Role.CUSTOMER, customer_id=customer_id)
