"""How domain values sit in SQLite columns: times as integer milliseconds, structures as msgspec JSON."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar

import msgspec

from kitflow.domain.stored import Restorer, shadow

T = TypeVar("T")

EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MS: Final = dt.timedelta(milliseconds=1)
_ENCODER: Final = msgspec.json.Encoder()
Row = tuple[Any, ...]


def to_ms(moment: dt.datetime) -> int:
    """A UTC, millisecond-precision time (as the domain's clock gives it) as milliseconds since 1970.
    Raises TypeError for a naive time."""
    return (moment - EPOCH) // _MS


def ceil_ms(moment: dt.datetime) -> int:
    """The smallest whole millisecond at or after ``moment``: a filter bound that keeps ``>=`` and
    ``<`` against stored milliseconds exact. Raises TypeError for a naive time."""
    return -((EPOCH - moment) // _MS)


@functools.lru_cache(maxsize=4096)
def from_ms(ms: int) -> dt.datetime:
    """The UTC time ``ms`` milliseconds after 1970 (remembered: a row and a page repeat times)."""
    return EPOCH + dt.timedelta(milliseconds=ms)


def remembered(size: int) -> Callable[[Callable[[Row], T]], Callable[[Row], T]]:
    """A decoder of rows (the tuples of column values a query gives) that remembers its values for
    the last ``size`` rows seen. The value is frozen and a function of the row alone, so a row read
    again (an order's patient, a page's items) is not decoded again, and a changed row is another
    key: nothing to invalidate. The tables are STRICT: equal rows hold values of equal types."""
    return functools.lru_cache(maxsize=size)


def maybe_ms(moment: dt.datetime | None) -> int | None:
    return None if moment is None else to_ms(moment)


def maybe_time(ms: int | None) -> dt.datetime | None:
    return None if ms is None else EPOCH + dt.timedelta(milliseconds=ms)


def to_json(value: Any) -> str:
    """``value`` (structs, tuples, dates) as JSON text."""
    return _ENCODER.encode(value).decode("utf-8")


class JsonColumn(Generic[T]):
    """A column holding JSON of one type; decoding checks its types and runs the structs' own
    checks, except with ``recheck=False`` (a struct type whose checks cost more than its read): then
    the struct is made as stored (``kitflow.domain.stored``; its checks ran when it was written)."""

    def __init__(self, kind: type[T], *, recheck: bool = True) -> None:
        if recheck:
            self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(kind)
            self.decode = self._decoder.decode  # type: ignore[method-assign]  # no Python call in between
        else:
            self._decoder = msgspec.json.Decoder(shadow(kind))  # type: ignore[arg-type]
            self._restore = Restorer(kind).of  # type: ignore[arg-type]

    def decode(self, text: str) -> T:
        return self._restore(self._decoder.decode(text))  # type: ignore[no-any-return]

    def maybe(self, text: str | None) -> T | None:
        return None if text is None else self.decode(text)
