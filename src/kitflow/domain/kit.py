"""Kits: a customer's named bundles of catalog items."""

from __future__ import annotations

import datetime as dt
import operator
from typing import Final

import msgspec

from kitflow.domain.catalog import ItemDetail
from kitflow.domain.changes import patched
from kitflow.domain.errors import InvalidInput, check, within
from kitflow.domain.values import CustomerId, ItemId, KitId, count, identifier, normalise, text

MAX_KIT_LINES: Final = 100
ITEM_ID: Final = operator.attrgetter("item_id")
"""A line's item id: ``map(ITEM_ID, lines)`` makes no Python call, where a comprehension costs a
function made and called (Python 3.11)."""


class KitItem(msgspec.Struct, frozen=True, kw_only=True, cache_hash=True):
    """One line of a kit: an item and how many of it."""

    item_id: ItemId
    count: int = 1

    def __post_init__(self) -> None:
        identifier(self.item_id, field="item_id")
        count(self.count, field="count")


class KitDraft(msgspec.Struct, frozen=True, kw_only=True):
    """A new kit: 1..100 lines, no item twice. Its lines never change after creation."""

    name: str
    kit_items: tuple[KitItem, ...]
    archived: bool = False

    def __post_init__(self) -> None:
        normalise(self, name=text(self.name, field="name"))
        check(len(self.kit_items) >= 1, "a kit needs at least one item", field="kit_items")
        check(
            len(self.kit_items) <= MAX_KIT_LINES,
            f"a kit has at most {MAX_KIT_LINES} lines",
            field="kit_items",
        )
        seen: set[ItemId] = set()
        for index, line in enumerate(self.kit_items):
            if not isinstance(line, KitItem):
                raise InvalidInput(detail="must be a kit item", field=f"kit_items[{index}]")
            if line.item_id in seen:
                raise InvalidInput(detail="item appears twice in the kit", field=f"kit_items[{index}].item_id")
            seen.add(line.item_id)


class Kit(KitDraft, frozen=True, kw_only=True, cache_hash=True):
    id: KitId
    customer_id: CustomerId
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def item_ids(self) -> tuple[ItemId, ...]:
        return tuple(map(ITEM_ID, self.kit_items))


class KitPatch(msgspec.Struct, frozen=True, kw_only=True):
    """Fields a kit PATCH may send: only the name and the archive flag."""

    name: str | None | msgspec.UnsetType = msgspec.UNSET
    archived: bool | None | msgspec.UnsetType = msgspec.UNSET


class KitItemDetail(msgspec.Struct, frozen=True, kw_only=True, cache_hash=True):
    item: ItemDetail
    count: int


class KitDetail(msgspec.Struct, frozen=True, kw_only=True, cache_hash=True):
    """A kit with its items as they are now."""

    id: KitId
    name: str
    archived: bool
    kit_items: tuple[KitItemDetail, ...]
    created_at: dt.datetime
    updated_at: dt.datetime


class KitFilter(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    item_id: ItemId | None = None
    archived: bool | None = None

    def matches(self, kit: Kit) -> bool:
        return (self.item_id is None or self.item_id in kit.item_ids) and (
            self.archived is None or kit.archived == self.archived
        )


def kit_line(index: int, *, item_id: ItemId, count: int = 1) -> KitItem:
    """Kit line ``index``, its errors placed under ``kit_items[index]``."""
    with within(f"kit_items[{index}]"):
        return KitItem(item_id=item_id, count=count)


_PLACEHOLDER_KIT = KitDraft(name="-", kit_items=(KitItem(item_id=1),))


def check_kit_patch(patch: KitPatch) -> None:
    """Raises InvalidInput for any field ``patch`` sends with a bad value (before any lookup)."""
    patched(_PLACEHOLDER_KIT, patch)
