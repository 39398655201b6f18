"""Customers and their API keys."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import msgspec

from kitflow.domain.errors import Conflict
from kitflow.domain.identity import ApiKey, Customer, Role
from kitflow_adapters.sqlite.codec import from_ms, maybe_ms, maybe_time, remembered, to_ms
from kitflow_adapters.sqlite.repository import Repository, found, violates


class SqliteCustomers(Repository):
    __slots__ = ()

    def add(self, customer: Customer) -> Customer:
        cur = self._writing().execute(
            "INSERT INTO customers (name, created_at) VALUES (?, ?)", (customer.name, to_ms(customer.created_at))
        )
        return msgspec.structs.replace(customer, id=cur.lastrowid)

    def get(self, customer_id: int) -> Customer:
        row = found(
            self._conn.execute("SELECT id, name, created_at FROM customers WHERE id = ?", (customer_id,)).fetchone(),
            "customer",
        )
        return Customer(id=row[0], name=row[1], created_at=from_ms(row[2]))


@remembered(64)
def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        prefix=row[0],
        digest=row[1],
        role=Role(row[2]),
        customer_id=row[3],
        created_at=from_ms(row[4]),
        revoked_at=maybe_time(row[5]),
    )


class SqliteApiKeys(Repository):
    """The one writer of ``api_keys``: every write makes the connection forget the keys it kept
    (``SqliteTransaction.known_key``)."""

    __slots__ = ()

    def _writing(self) -> sqlite3.Connection:
        conn = super()._writing()
        self._tx.forget_keys()
        return conn

    def add(self, key: ApiKey) -> None:
        try:
            self._writing().execute(
                "INSERT INTO api_keys (prefix, digest, role, customer_id, created_at, revoked_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key.prefix,
                    key.digest,
                    key.role.value,
                    key.customer_id,
                    to_ms(key.created_at),
                    maybe_ms(key.revoked_at),
                ),
            )
        except sqlite3.IntegrityError as error:
            if violates(error, "api_keys.prefix"):
                raise Conflict("duplicate_key_prefix", "a key with this prefix exists") from None
            raise

    def find(self, prefix: str) -> ApiKey | None:
        row = self._tx.cursor.execute(
            "SELECT prefix, digest, role, customer_id, created_at, revoked_at FROM api_keys WHERE prefix = ?",
            (prefix,),
        ).fetchone()
        return None if row is None else _api_key(row)

    def revoke(self, prefix: str, at: dt.datetime) -> None:
        cur = self._writing().execute("UPDATE api_keys SET revoked_at = ? WHERE prefix = ?", (to_ms(at), prefix))
        if cur.rowcount == 0:
            found(None, "key")

    def has_operator_key(self) -> bool:
        row = self._conn.execute("SELECT EXISTS (SELECT 1 FROM api_keys WHERE role = 'operator')").fetchone()
        return bool(row[0])
