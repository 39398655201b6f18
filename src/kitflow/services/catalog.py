"""Use cases of the item catalog (the operator's) and of kits (each customer's)."""

from __future__ import annotations

import msgspec

from kitflow.domain.catalog import (
    sku_taken,
    Item,
    ItemDetail,
    ItemDraft,
    ItemFilter,
    ItemPatch,
    ManufacturerRef,
    check_item_patch,
    item_draft,
)
from kitflow.domain.changes import patched, promoted
from kitflow.domain.errors import InvalidInput, RuleBroken
from kitflow.domain.identity import Principal
from kitflow.domain.kit import Kit, KitDetail, KitDraft, KitFilter, KitPatch, check_kit_patch
from kitflow.domain.ports import Clock, Transaction, UnitOfWork
from kitflow.domain.values import ItemId, KitId, ManufacturerId
from kitflow.services.listing import ListRequest, Listing, list_page
from kitflow.services.views import item_details, kit_details


def _manufacturer(tx: Transaction, ref: ManufacturerRef | None) -> ManufacturerId | None:
    """The id of the manufacturer ``ref`` names: an existing id, or a name (made if new)."""
    if ref is None:
        return None
    if ref.id is not None:
        if not tx.manufacturers.get_many({ref.id}):
            raise InvalidInput(detail=f"manufacturer {ref.id} does not exist", field="manufacturer.id")
        return ref.id
    assert ref.name is not None
    found = tx.manufacturers.by_name(ref.name)
    return (found or tx.manufacturers.add(ref.name)).id


def _free_sku(tx: Transaction, sku: str, *, own: ItemId = 0) -> None:
    holder = tx.items.id_by_sku(sku)
    if holder is not None and holder != own:
        raise sku_taken(holder)


def _item(draft: ItemDraft, *, item_id: ItemId, manufacturer_id: ManufacturerId | None) -> Item:
    return Item(
        id=item_id, name=draft.name, sku=draft.sku, model=draft.model,
        manufacturer_id=manufacturer_id, orderable=draft.orderable,
    )


def create_item(draft: ItemDraft, *, caller: Principal, uow: UnitOfWork) -> ItemDetail:
    """Add an item to the catalog. Raises Forbidden unless the operator calls, InvalidInput
    (unknown manufacturer id), Conflict(duplicate_sku)."""
    caller.operator()
    with uow.begin(write=True) as tx:
        maker = _manufacturer(tx, draft.manufacturer)
        _free_sku(tx, draft.sku)
        stored = tx.items.add(_item(draft, item_id=0, manufacturer_id=maker))
        return item_details(tx, [stored])[0]


def patch_item(item_id: ItemId, patch: ItemPatch, *, caller: Principal, uow: UnitOfWork) -> ItemDetail:
    """Change only the fields sent. Raises as ``create_item``, and NotFound."""
    caller.operator()
    check_item_patch(patch)
    with uow.begin(write=True) as tx:
        old = tx.items.get(item_id)
        draft = patched(item_draft(old), patch)
        maker = _manufacturer(tx, draft.manufacturer)
        _free_sku(tx, draft.sku, own=item_id)
        new = _item(draft, item_id=item_id, manufacturer_id=maker)
        tx.items.update(new)
        return item_details(tx, [new])[0]


def get_item(item_id: ItemId, *, caller: Principal, uow: UnitOfWork) -> ItemDetail:
    """A catalog item (any caller may read the catalog). Raises NotFound."""
    with uow.begin() as tx:
        return item_details(tx, [tx.items.get(item_id)])[0]


def list_items(where: ItemFilter, request: ListRequest, *, caller: Principal, uow: UnitOfWork) -> Listing[ItemDetail]:
    """A page of the catalog. Raises InvalidInput (page, size, cursor)."""
    return list_page(
        request, caller=caller, resource="item", where=where, uow=uow,
        fetch=lambda tx, spec: tx.items.page(where, spec), show=item_details, key=lambda i: i.id,
    )


def create_kit(draft: KitDraft, *, caller: Principal, uow: UnitOfWork, clock: Clock) -> KitDetail:
    """Create a kit of the calling customer. Raises Forbidden, RuleBroken(item_does_not_exist)."""
    customer_id = caller.customer()
    now = clock.now()
    with uow.begin(write=True) as tx:
        known = tx.items.get_many({line.item_id for line in draft.kit_items})
        for index, line in enumerate(draft.kit_items):
            if line.item_id not in known:
                raise RuleBroken(
                    "item_does_not_exist", f"item {line.item_id} does not exist",
                    field=f"kit_items[{index}].item_id",
                )
        stored = tx.kits.add(promoted(draft, Kit, id=0, customer_id=customer_id, created_at=now, updated_at=now))
        return kit_details(tx, [stored])[0]


def get_kit(kit_id: KitId, *, caller: Principal, uow: UnitOfWork) -> KitDetail:
    """The caller's kit. Raises Forbidden, NotFound (also for another customer's)."""
    customer_id = caller.customer()
    with uow.begin() as tx:
        return kit_details(tx, [tx.kits.get(customer_id, kit_id)])[0]


def patch_kit(kit_id: KitId, patch: KitPatch, *, caller: Principal, uow: UnitOfWork, clock: Clock) -> KitDetail:
    """Rename or (un)archive a kit. Raises Forbidden, InvalidInput, NotFound."""
    customer_id = caller.customer()
    now = clock.now()
    check_kit_patch(patch)
    with uow.begin(write=True) as tx:
        old = tx.kits.get(customer_id, kit_id)
        draft = patched(KitDraft(name=old.name, kit_items=old.kit_items, archived=old.archived), patch)
        new = msgspec.structs.replace(old, name=draft.name, archived=draft.archived, updated_at=now)
        tx.kits.update(new)
        return kit_details(tx, [new])[0]


def list_kits(where: KitFilter, request: ListRequest, *, caller: Principal, uow: UnitOfWork) -> Listing[KitDetail]:
    """A page of the caller's kits. Raises Forbidden, InvalidInput (page, size, cursor)."""
    customer_id = caller.customer()
    return list_page(
        request, caller=caller, resource="kit", where=where, uow=uow,
        fetch=lambda tx, spec: tx.kits.page(customer_id, where, spec), show=kit_details, key=lambda k: k.id,
    )
