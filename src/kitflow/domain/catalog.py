"""The item catalog: devices the operator offers, and their manufacturers."""

from __future__ import annotations

import msgspec

from kitflow.domain.changes import patched
from kitflow.domain.errors import Conflict, InvalidInput
from kitflow.domain.values import ItemId, ManufacturerId, identifier, normalise, optional_text, text


class Manufacturer(msgspec.Struct, frozen=True, kw_only=True, cache_hash=True):
    id: ManufacturerId
    name: str


class ManufacturerRef(msgspec.Struct, frozen=True, kw_only=True):
    """A manufacturer named by id (an existing one) or by name (made if new); the id wins."""

    id: ManufacturerId | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.id is not None:
            identifier(self.id, field="id")
            return
        if self.name is None:
            raise InvalidInput(detail="give the manufacturer's id or name", field="name")
        normalise(self, name=text(self.name, field="name"))


class ItemDraft(msgspec.Struct, frozen=True, kw_only=True):
    """The fields of a catalog item as the operator writes them."""

    name: str
    sku: str
    model: str | None = None
    manufacturer: ManufacturerRef | None = None
    orderable: bool = True

    def __post_init__(self) -> None:
        normalise(
            self,
            name=text(self.name, field="name"),
            sku=text(self.sku, field="sku"),
            model=optional_text(self.model, field="model"),
        )


class Item(msgspec.Struct, frozen=True, kw_only=True, cache_hash=True):
    id: ItemId
    name: str
    sku: str
    model: str | None = None
    manufacturer_id: ManufacturerId | None = None
    orderable: bool = True


class ItemDetail(Item, frozen=True, kw_only=True):
    """An item with its manufacturer."""

    manufacturer: Manufacturer | None = None


class ItemPatch(msgspec.Struct, frozen=True, kw_only=True):
    """Fields a PATCH sends; UNSET leaves a field alone."""

    name: str | None | msgspec.UnsetType = msgspec.UNSET
    sku: str | None | msgspec.UnsetType = msgspec.UNSET
    model: str | None | msgspec.UnsetType = msgspec.UNSET
    manufacturer: ManufacturerRef | None | msgspec.UnsetType = msgspec.UNSET
    orderable: bool | None | msgspec.UnsetType = msgspec.UNSET


def sku_taken(holder: ItemId) -> Conflict:
    """The error of a sku that item ``holder`` already has."""
    return Conflict("duplicate_sku", f"item {holder} already has this sku", field="sku")


class ItemFilter(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    orderable: bool | None = None

    def matches(self, item: Item) -> bool:
        return self.orderable is None or item.orderable == self.orderable


_PLACEHOLDER_ITEM = ItemDraft(name="-", sku="-")


def check_item_patch(patch: ItemPatch) -> None:
    """Raises InvalidInput for any field ``patch`` sends with a bad value (before any lookup)."""
    patched(_PLACEHOLDER_ITEM, patch)


def item_draft(item: Item) -> ItemDraft:
    """The writable fields of a stored item."""
    maker = ManufacturerRef(id=item.manufacturer_id) if item.manufacturer_id is not None else None
    return ItemDraft(name=item.name, sku=item.sku, model=item.model, manufacturer=maker, orderable=item.orderable)
