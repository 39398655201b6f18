"""Small values shared by several entities: text rules, ids, the address, timestamps."""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Any, Final

import msgspec

from kitflow.domain.errors import InvalidInput, check

MAX_TEXT: Final = 255
MAX_NOTE: Final = 1000
MAX_ID: Final = 2**63 - 1
MAX_COUNT: Final = 10_000

CustomerId = int
PatientId = int
SiteId = int
ItemId = int
ManufacturerId = int
KitId = int
OrderId = int


def text(value: str, *, field: str, limit: int = MAX_TEXT) -> str:
    """``value`` trimmed; raises ``InvalidInput`` when blank or longer than ``limit``."""
    trimmed = value.strip()
    if not trimmed:
        check(False, "must not be blank", field=field)
    if len(trimmed) > limit:  # messages are made only for a value that fails
        check(False, f"must be at most {limit} characters", field=field)
    return trimmed


def optional_text(value: str | None, *, field: str, limit: int = MAX_TEXT) -> str | None:
    """``value`` trimmed, or None when absent; a blank optional string counts as absent."""
    if value is None:
        return None
    trimmed = value.strip()
    if trimmed == "":
        return None
    if len(trimmed) > limit:
        check(False, f"must be at most {limit} characters", field=field)
    return trimmed


def identifier(value: int, *, field: str) -> int:
    """``value`` when it is an id (1..2^63-1); raises ``InvalidInput`` otherwise."""
    if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID):
        check(False, f"must be an integer from 1 to {MAX_ID}", field=field)
    return value


def count(value: int, *, field: str) -> int:
    """``value`` when it is a line count (1..10000); raises ``InvalidInput`` otherwise."""
    if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_COUNT):
        check(False, f"must be an integer from 1 to {MAX_COUNT}", field=field)
    return value


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def email(value: str | None, *, field: str = "email") -> str | None:
    """A trimmed e-mail address (one ``@`` with text on both sides), or None."""
    trimmed = optional_text(value, field=field)
    if trimmed is not None:
        check(bool(_EMAIL.match(trimmed)), "must be an e-mail address", field=field)
    return trimmed


_UNDER_A_MILLISECOND: Final = tuple(dt.timedelta(microseconds=n) for n in range(1000))
"""What a time has beyond its millisecond, by its microseconds modulo 1000: a subtraction costs a
fifth of ``replace(microsecond=...)``, whose keyword parsing is the dearest part of reading the clock."""


def utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC with millisecond precision (naive means UTC)."""
    if moment.tzinfo is not dt.timezone.utc:  # (the clock's times are UTC already)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        moment = moment.astimezone(dt.timezone.utc)
    return moment - _UNDER_A_MILLISECOND[moment.microsecond % 1000]


def normalise(struct: msgspec.Struct, **values: Any) -> None:
    """Set normalised values on a frozen struct during ``__post_init__``."""
    for name, value in values.items():
        msgspec.structs.force_setattr(struct, name, value)


class Address(msgspec.Struct, frozen=True, kw_only=True, cache_hash=True):
    """A postal address; line one, city, state, zip code and country are required."""

    line_one: str
    city: str
    state: str
    zip_code: str
    country: str
    line_two: str | None = None
    line_three: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        normalise(
            self,
            line_one=text(self.line_one, field="line_one"),
            city=text(self.city, field="city"),
            state=text(self.state, field="state"),
            zip_code=text(self.zip_code, field="zip_code"),
            country=text(self.country, field="country"),
            line_two=optional_text(self.line_two, field="line_two"),
            line_three=optional_text(self.line_three, field="line_three"),
            note=optional_text(self.note, field="note", limit=MAX_NOTE),
        )


class Sex(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


UNSET = msgspec.UNSET
"""Marks a field a patch leaves alone (distinct from None, which clears it)."""
