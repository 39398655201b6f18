"""Service-wide records: idempotency keys with their answers, and settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from kitflow.domain.idempotency import IdempotencyRecord, StoredResponse
from kitflow_adapters.sqlite.codec import ceil_ms, from_ms, to_ms
from kitflow_adapters.sqlite.repository import Repository


class SqliteIdempotencyRecords(Repository):
    __slots__ = ()

    def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        row = self._conn.execute(
            "SELECT fingerprint, token, created_at, status, content_type, body"
            " FROM idempotency_records WHERE scope = ? AND key = ?",
            (scope, key),
        ).fetchone()
        if row is None:
            return None
        response = None
        if row[3] is not None:
            response = StoredResponse(status=row[3], content_type=row[4], body=row[5])
        return IdempotencyRecord(
            scope=scope, key=key, fingerprint=row[0], token=row[1], created_at=from_ms(row[2]), response=response
        )

    def put(self, record: IdempotencyRecord) -> None:
        response = record.response
        self._writing().execute(
            "INSERT INTO idempotency_records (scope, key, fingerprint, token, created_at, status, content_type, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET"
            " fingerprint = excluded.fingerprint, token = excluded.token, created_at = excluded.created_at,"
            " status = excluded.status, content_type = excluded.content_type, body = excluded.body",
            (
                record.scope,
                record.key,
                record.fingerprint,
                record.token,
                to_ms(record.created_at),
                None if response is None else response.status,
                None if response is None else response.content_type,
                None if response is None else bytes(response.body),
            ),
        )

    def delete(self, scope: str, key: str, token: str) -> None:
        self._writing().execute(
            "DELETE FROM idempotency_records WHERE scope = ? AND key = ? AND token = ?", (scope, key, token)
        )

    def purge(self, before: dt.datetime) -> int:
        return self._writing().execute(
            "DELETE FROM idempotency_records WHERE created_at < ?", (ceil_ms(before),)
        ).rowcount


class SqliteSettings(Repository):
    __slots__ = ()

    def get_or_create(self, name: str, make: Callable[[], str]) -> str:
        row = self._conn.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return row[0]
        self._writing()
        value = make()
        self._conn.execute("INSERT INTO settings (name, value) VALUES (?, ?)", (name, value))
        return value
