"""Idempotency records: a request's first answer, kept 24 hours to replay it."""

from __future__ import annotations

import datetime as dt
from typing import Final

import msgspec

from kitflow.domain.errors import check

RETENTION: Final = dt.timedelta(hours=24)
"""How long a key and its answer are kept."""
LEASE: Final = dt.timedelta(seconds=60)
"""How long an unfinished claim blocks its key; after that (a crashed worker) it may be claimed again."""
MAX_KEY_LENGTH: Final = 255


class StoredResponse(msgspec.Struct, frozen=True, kw_only=True):
    """An answer as it is replayed: status, content type and body."""

    status: int
    content_type: str
    body: bytes


class IdempotencyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One key of one caller: the request's fingerprint, the claim, and the answer once given."""

    scope: str
    key: str
    fingerprint: str
    token: str
    created_at: dt.datetime
    response: StoredResponse | None = None

    def expired(self, now: dt.datetime) -> bool:
        return now - self.created_at >= RETENTION

    def in_flight(self, now: dt.datetime) -> bool:
        """Whether the first request still holds the key (answer not stored, lease not run out)."""
        return self.response is None and now - self.created_at < LEASE


def idempotency_key(value: str) -> str:
    """``value`` when it is a valid key: 1..255 printable ASCII characters. Raises InvalidInput."""
    check(
        1 <= len(value) <= MAX_KEY_LENGTH and all(" " <= ch <= "~" for ch in value),
        f"must be 1..{MAX_KEY_LENGTH} printable ASCII characters",
        field="Idempotency-Key",
    )
    return value
