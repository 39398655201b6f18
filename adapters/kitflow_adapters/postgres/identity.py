"""Customers and their API keys."""

from __future__ import annotations

import datetime as dt

from kitflow.domain.errors import Conflict, NotFound
from kitflow.domain.identity import ApiKey, Customer, Role
from kitflow_adapters.postgres.repository import Repository, Row
from kitflow_adapters.postgres.text import loaded, stored

_KEY = "prefix, digest, role, customer_id, created_at, revoked_at"


def _key(row: Row) -> ApiKey:
    return ApiKey(
        prefix=loaded(row[0]), digest=row[1], role=Role(row[2]), customer_id=row[3], created_at=row[4], revoked_at=row[5]
    )


class PostgresCustomers(Repository):
    __slots__ = ()

    def add(self, customer: Customer) -> Customer:
        self._s.writing()
        row = self._one(
            "INSERT INTO customers (name, created_at) VALUES (%s, %s) RETURNING id", (stored(customer.name), customer.created_at)
        )
        assert row is not None
        return Customer(id=row[0], name=customer.name, created_at=customer.created_at)

    def get(self, customer_id: int) -> Customer:
        row = self._one("SELECT id, name, created_at FROM customers WHERE id = %s", (customer_id,))
        if row is None:
            raise NotFound(detail="no such customer")
        return Customer(id=row[0], name=loaded(row[1]), created_at=row[2])


class PostgresApiKeys(Repository):
    __slots__ = ()

    def add(self, key: ApiKey) -> None:
        self._s.writing()
        row = self._one(
            f"INSERT INTO api_keys ({_KEY}) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT ON CONSTRAINT api_keys_prefix DO NOTHING RETURNING prefix",
            (stored(key.prefix), key.digest, key.role.value, key.customer_id, key.created_at, key.revoked_at),
        )
        if row is None:
            raise Conflict("duplicate_key_prefix", "a key with this prefix exists")

    def find(self, prefix: str) -> ApiKey | None:
        row = self._one(f"SELECT {_KEY} FROM api_keys WHERE prefix = %s", (stored(prefix),), locks=(("key", prefix),))
        return None if row is None else _key(row)

    def revoke(self, prefix: str, at: dt.datetime) -> None:
        self._s.writing()
        if self._s.run("UPDATE api_keys SET revoked_at = %s WHERE prefix = %s", (at, stored(prefix))).rowcount == 0:
            raise NotFound(detail="no such key")

    def has_operator_key(self) -> bool:
        row = self._one(
            "SELECT EXISTS (SELECT 1 FROM api_keys WHERE role = 'operator')", (), locks=(("operator-key", ""),)
        )
        return bool(row and row[0])
