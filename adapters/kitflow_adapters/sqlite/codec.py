"""How domain values sit in SQLite columns: times as integer milliseconds, structures as msgspec JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Generic, TypeVar

import msgspec

T = TypeVar("T")

EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MS: Final = dt.timedelta(milliseconds=1)
_ENCODER: Final = msgspec.json.Encoder()


def to_ms(moment: dt.datetime) -> int:
    """A UTC, millisecond-precision time (as the domain's clock gives it) as milliseconds since 1970.
    Raises TypeError for a naive time."""
    return (moment - EPOCH) // _MS


def ceil_ms(moment: dt.datetime) -> int:
    """The smallest whole millisecond at or after ``moment``: a filter bound that keeps ``>=`` and
    ``<`` against stored milliseconds exact. Raises TypeError for a naive time."""
    return -((EPOCH - moment) // _MS)


def from_ms(ms: int) -> dt.datetime:
    """The UTC time ``ms`` milliseconds after 1970."""
    return EPOCH + dt.timedelta(milliseconds=ms)


def maybe_ms(moment: dt.datetime | None) -> int | None:
    return None if moment is None else to_ms(moment)


def maybe_time(ms: int | None) -> dt.datetime | None:
    return None if ms is None else EPOCH + dt.timedelta(milliseconds=ms)


def to_json(value: Any) -> str:
    """``value`` (structs, tuples, dates) as JSON text."""
    return _ENCODER.encode(value).decode("utf-8")


class JsonColumn(Generic[T]):
    """A column holding JSON of one type; decoding checks it (and runs the structs' own checks)."""

    def __init__(self, kind: type[T]) -> None:
        self._decoder = msgspec.json.Decoder(kind)

    def decode(self, text: str) -> T:
        return self._decoder.decode(text)

    def maybe(self, text: str | None) -> T | None:
        return None if text is None else self._decoder.decode(text)
