"""Pages of a list: by page number or by keyset position."""

from __future__ import annotations

from typing import Final, Generic, TypeVar

import msgspec

from kitflow.domain.errors import check

T = TypeVar("T")

DEFAULT_SIZE: Final = 15
MAX_SIZE: Final = 250


class PageSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Which rows a store returns: ``size`` rows by id, ascending or descending, either after
    ``offset`` rows or (keyset) strictly after the id ``after`` in that order."""

    size: int
    descending: bool = False
    offset: int = 0
    after: int | None = None

    def __post_init__(self) -> None:
        check(1 <= self.size <= MAX_SIZE, f"must be 1..{MAX_SIZE}", field="size")
        check(self.offset >= 0, "must not be negative", field="page")


class Page(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """A store's answer: the rows, how many match in all, and whether more follow."""

    items: tuple[T, ...]
    total: int
    more: bool


def cut(rows: list[T], *, spec: PageSpec, total: int) -> Page[T]:
    """A page of ``rows`` fetched with one extra row (``spec.size + 1``) to tell whether more follow."""
    return Page(items=tuple(rows[: spec.size]), total=total, more=len(rows) > spec.size)
