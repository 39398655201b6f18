"""Idempotency records and service-wide settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from kitflow.domain.idempotency import IdempotencyRecord, StoredResponse
from kitflow_adapters.postgres.repository import Repository
from kitflow_adapters.postgres.text import loaded, stored

_RECORD = "scope, key, fingerprint, token, created_at, status, content_type, body"


class PostgresIdempotencyRecords(Repository):
    __slots__ = ()

    def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        row = self._one(
            f"SELECT {_RECORD} FROM idempotency_records WHERE scope = %s AND key = %s",
            (scope, stored(key)),
            locks=(("idempotency", f"{scope}\x00{key}"),),
        )
        if row is None:
            return None
        response = None if row[5] is None else StoredResponse(status=row[5], content_type=row[6], body=bytes(row[7]))
        return IdempotencyRecord(
            scope=row[0], key=loaded(row[1]), fingerprint=row[2], token=row[3], created_at=row[4], response=response
        )

    def put(self, record: IdempotencyRecord) -> None:
        self._s.writing()
        answer = record.response
        self._s.run(
            f"INSERT INTO idempotency_records ({_RECORD}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, token = excluded.token,"
            " created_at = excluded.created_at, status = excluded.status,"
            " content_type = excluded.content_type, body = excluded.body",
            (
                record.scope, stored(record.key), record.fingerprint, record.token, record.created_at,
                None if answer is None else answer.status,
                None if answer is None else answer.content_type,
                None if answer is None else answer.body,
            ),
        )

    def delete(self, scope: str, key: str, token: str) -> None:
        self._s.writing()
        self._s.run("DELETE FROM idempotency_records WHERE scope = %s AND key = %s AND token = %s", (scope, stored(key), token))

    def purge(self, before: dt.datetime) -> int:
        self._s.writing()
        return self._s.run("DELETE FROM idempotency_records WHERE created_at < %s", (before,)).rowcount


class PostgresSettings(Repository):
    __slots__ = ()

    def get_or_create(self, name: str, make: Callable[[], str]) -> str:
        query = "SELECT value FROM settings WHERE name = %s"
        row = self._one(query, (name,), locks=(("setting", name),))
        if row is not None:
            return row[0]
        self._s.writing()
        value = make()
        self._s.run("INSERT INTO settings (name, value) VALUES (%s, %s)", (name, value))
        return value
