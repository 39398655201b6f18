"""A small world for use-case tests: the operator, two customers, a catalog, sites, patients and kits."""

from __future__ import annotations

import msgspec

from kitflow.domain.catalog import ItemDraft, ManufacturerRef
from kitflow.domain.identity import OPERATOR, Principal, customer
from kitflow.domain.kit import KitDraft, KitItem
from kitflow.domain.order import OrderItem, PlaceOrder
from kitflow.domain.patient import PatientDraft, SiteDraft
from kitflow.domain.ports import Clock, UnitOfWork
from kitflow.domain.values import Address
from kitflow.services import access, catalog, patients

ADDRESS = Address(line_one="1 Main St", city="Springfield", state="IL", zip_code="62701", country="US")


class Tenant(msgspec.Struct, kw_only=True):
    caller: Principal
    key: str
    site: int
    inactive_site: int
    patient: int
    archived_patient: int
    kit: int
    archived_kit: int
    kit_with_unorderable: int


class World(msgspec.Struct, kw_only=True):
    uow: UnitOfWork
    clock: Clock
    item: int
    item2: int
    unorderable: int
    a: Tenant
    b: Tenant

    def order(self, tenant: Tenant, **fields: object) -> PlaceOrder:
        """A valid order for ``tenant``'s patient, with ``fields`` changed."""
        base: dict[str, object] = {"patient_id": tenant.patient, "order_items": (OrderItem(item_id=self.item),)}
        return PlaceOrder(**{**base, **fields})


def _tenant(name: str, *, uow: UnitOfWork, clock: Clock, item: int, unorderable: int) -> Tenant:
    made = access.create_customer(name, caller=OPERATOR, uow=uow, clock=clock)
    me = customer(made.id)
    kw = {"caller": me, "uow": uow, "clock": clock}
    site = patients.create_site(SiteDraft(name=f"{name} clinic"), **kw).id
    inactive = patients.create_site(SiteDraft(name=f"{name} closed", active=False), **kw).id
    patient = patients.create_patient(PatientDraft(first_name="Ada", last_name=name, address=ADDRESS, site_id=site), **kw).id
    archived = patients.create_patient(
        PatientDraft(first_name="Old", last_name=name, address=ADDRESS, archived=True), **kw
    ).id
    kit = catalog.create_kit(KitDraft(name="BP kit", kit_items=(KitItem(item_id=item, count=2),)), **kw).id
    archived_kit = catalog.create_kit(
        KitDraft(name="Old kit", kit_items=(KitItem(item_id=item),), archived=True), **kw
    ).id
    bad_kit = catalog.create_kit(
        KitDraft(name="Mixed", kit_items=(KitItem(item_id=item), KitItem(item_id=unorderable))), **kw
    ).id
    return Tenant(
        caller=me, key=made.api_key, site=site, inactive_site=inactive, patient=patient,
        archived_patient=archived, kit=kit, archived_kit=archived_kit, kit_with_unorderable=bad_kit,
    )


def build_world(uow: UnitOfWork, clock: Clock) -> World:
    """Two customers with everything an order can reference, on ``uow``."""
    item = catalog.create_item(ItemDraft(name="BP cuff", sku="BP-1", manufacturer=ManufacturerRef(name="Omron")),
                               caller=OPERATOR, uow=uow).id
    item2 = catalog.create_item(ItemDraft(name="Scale", sku="SC-1"), caller=OPERATOR, uow=uow).id
    unorderable = catalog.create_item(ItemDraft(name="Retired", sku="RT-1", orderable=False), caller=OPERATOR, uow=uow).id
    return World(
        uow=uow, clock=clock, item=item, item2=item2, unorderable=unorderable,
        a=_tenant("Acme", uow=uow, clock=clock, item=item, unorderable=unorderable),
        b=_tenant("Bravo", uow=uow, clock=clock, item=item, unorderable=unorderable),
    )
