"""Demo data: a believable customer with a catalog, sites, patients, kits and orders, made only
through the core's use cases, so that every rule of the domain holds for it."""

from __future__ import annotations

import datetime as dt

import msgspec

from kitflow.domain.catalog import ItemDraft, ItemFilter, ManufacturerRef
from kitflow.domain.errors import NotFound
from kitflow.domain.identity import OPERATOR, customer
from kitflow.domain.kit import KitDraft, KitItem
from kitflow.domain.order import MoveOrder, OrderItem, OrderKit, OrderStatus, PlaceOrder, ShippingOption, TrackingNumber
from kitflow.domain.patient import PatientDraft, SiteDraft
from kitflow.domain.ports import Clock, UnitOfWork
from kitflow.domain.values import Address, Sex
from kitflow.services import access, catalog, orders, patients
from kitflow.services.listing import ListRequest

CUSTOMER = "Lakeside Remote Care"

# name, model, sku, manufacturer, orderable
ITEMS = (
    ("Upper-arm blood pressure monitor", "BP7250", "OMR-BP7250", "Omron Healthcare", True),
    ("Blood pressure cuff, large adult (42-50 cm)", "CL-LG", "OMR-CUFF-LG", "Omron Healthcare", True),
    ("Wrist blood pressure monitor", "BP4350", "OMR-BP4350", "Omron Healthcare", False),
    ("Fingertip pulse oximeter", "MightySat Rx", "MAS-MSRX", "Masimo", True),
    ("Cellular body weight scale", "Body Cell", "WTH-BODYCELL", "Withings", True),
    ("Blood glucose meter", "Guide Me", "ACC-GUIDEME", "Roche Diabetes Care", True),
    ("Glucose test strips, 50 count", "Guide", "ACC-STRIPS-50", "Roche Diabetes Care", True),
    ("Lancets, 100 count", "Softclix", "ACC-LANCETS-100", "Roche Diabetes Care", True),
    ("No-touch forehead thermometer", "PT3", "IHL-PT3", "iHealth Labs", True),
)


class DemoCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """What the demo made: its customer and that customer's key (shown once), and counts."""

    id: int
    name: str
    api_key: str
    items: int
    sites: int
    patients: int
    kits: int
    orders: int


def has_data(uow: UnitOfWork) -> bool:
    """Whether the store holds a customer or a catalog item (customer and item ids start at 1
    and nothing is ever deleted, so the first of each tells)."""
    listed = catalog.list_items(ItemFilter(), ListRequest(size=1), caller=OPERATOR, uow=uow)
    if listed.total:
        return True
    with uow.begin() as tx:
        try:
            tx.customers.get(1)
        except NotFound:
            return False
    return True


def _address(line_one: str, city: str, state: str, zip_code: str, **extra: str) -> Address:
    return Address(line_one=line_one, city=city, state=state, zip_code=zip_code, country="US", **extra)


def seed_demo(*, uow: UnitOfWork, clock: Clock) -> DemoCustomer | None:
    """Fill an empty store with the demo; returns what was made, or None (and changes nothing)
    when the store already holds data. Raises DomainError only on a bug in the demo data."""
    if has_data(uow):
        return None
    item: dict[str, int] = {}
    for name, model, sku, maker, orderable in ITEMS:
        draft = ItemDraft(name=name, model=model, sku=sku, manufacturer=ManufacturerRef(name=maker), orderable=orderable)
        item[sku] = catalog.create_item(draft, caller=OPERATOR, uow=uow).id

    made = access.create_customer(CUSTOMER, caller=OPERATOR, uow=uow, clock=clock)
    me = {"caller": customer(made.id), "uow": uow, "clock": clock}

    made_sites: list[int] = []
    made_patients: list[int] = []
    made_orders: list[int] = []

    def site(draft: SiteDraft) -> int:
        made_sites.append(patients.create_site(draft, **me).id)
        return made_sites[-1]

    riverside = site(SiteDraft(name="Riverside Cardiology Clinic", phone_number="+1 503 555 0142",
                               address=_address("2200 River Pkwy", "Portland", "OR", "97201", line_two="Suite 310")))
    northgate = site(SiteDraft(name="Northgate Community Health Center", phone_number="+1 206 555 0188",
                               address=_address("10501 Meridian Ave N", "Seattle", "WA", "98133")))
    site(SiteDraft(name="Old Mill Satellite Office", active=False,
                   address=_address("41 Mill St", "Oregon City", "OR", "97045")))

    def patient(first: str, last: str, mrn: str, born: str, sex: Sex, address: Address, **more: object) -> int:
        draft = PatientDraft(
            first_name=first, last_name=last, external_identifier=mrn, date_of_birth=dt.date.fromisoformat(born),
            email=f"{first}.{last}@example.org".lower(), phone_number="+1 503 555 01" + mrn[-2:], sex=sex,
            address=address, **more,  # type: ignore[arg-type]
        )
        made_patients.append(patients.create_patient(draft, **me).id)
        return made_patients[-1]

    maria = patient("Maria", "Alvarez", "MRN-100231", "1956-03-14", Sex.FEMALE,
                    _address("1840 SE Harrison St", "Portland", "OR", "97214"), site_id=riverside)
    james = patient("James", "Okafor", "MRN-100245", "1961-11-02", Sex.MALE,
                    _address("77 Alder Ln", "Beaverton", "OR", "97005", note="ring the side door"), site_id=riverside)
    lin = patient("Lin", "Chen", "MRN-100262", "1948-07-29", Sex.FEMALE,
                  _address("5120 Roosevelt Way NE", "Seattle", "WA", "98105", line_two="Apt 4B"), site_id=northgate)
    samuel = patient("Samuel", "Brooks", "MRN-100270", "1972-01-18", Sex.MALE,
                     _address("309 Cedar St", "Tacoma", "WA", "98402"))
    ayesha = patient("Ayesha", "Rahman", "MRN-100288", "1983-09-05", Sex.FEMALE,
                     _address("12 Orchard Ct", "Vancouver", "WA", "98661"), site_id=northgate)
    patient("Robert", "Lindqvist", "MRN-100293", "1939-05-21", Sex.MALE,
            _address("880 Elm St", "Salem", "OR", "97301"), archived=True, enrolled=False)

    kits = [catalog.create_kit(KitDraft(name="Hypertension starter kit", kit_items=(
        KitItem(item_id=item["OMR-BP7250"]), KitItem(item_id=item["OMR-CUFF-LG"]), KitItem(item_id=item["WTH-BODYCELL"]),
    )), **me).id, catalog.create_kit(KitDraft(name="Diabetes care kit", kit_items=(
        KitItem(item_id=item["ACC-GUIDEME"]), KitItem(item_id=item["ACC-STRIPS-50"], count=2),
        KitItem(item_id=item["ACC-LANCETS-100"]),
    )), **me).id]
    hypertension, diabetes = kits

    def order(moves: tuple[MoveOrder, ...] = (), **fields: object) -> None:
        placed = orders.place_order(PlaceOrder(**fields), **me)  # type: ignore[arg-type]
        made_orders.append(placed.id)
        for move in moves:
            orders.move_order(placed.id, move, caller=OPERATOR, uow=uow, clock=clock)

    processing = MoveOrder(status=OrderStatus.PROCESSING)
    shipped = MoveOrder(status=OrderStatus.SHIPPED, tracking_number=TrackingNumber(carrier="UPS", value="1Z999AA10123456784"))
    order(patient_id=maria, order_kits=(OrderKit(kit_id=hypertension),), external_order_ids=("ehr-4471",),
          order_notes=("leave at the front desk",))
    order((processing,), patient_id=james, order_kits=(OrderKit(kit_id=diabetes),), external_order_ids=("ehr-4472",))
    order((processing, shipped), patient_id=lin, order_items=(
        OrderItem(item_id=item["MAS-MSRX"]), OrderItem(item_id=item["IHL-PT3"]),
    ), shipping_option=ShippingOption.EXPEDITED, external_order_ids=("ehr-4475",))
    order((processing, shipped, MoveOrder(status=OrderStatus.DELIVERED)), patient_id=samuel,
          order_items=(OrderItem(item_id=item["WTH-BODYCELL"]),))
    order((processing, MoveOrder(status=OrderStatus.AVAILABLE_FOR_PICKUP)), site_id=riverside, order_items=(
        OrderItem(item_id=item["OMR-BP7250"], count=5), OrderItem(item_id=item["OMR-CUFF-LG"], count=10),
    ), order_notes=("restock for the Tuesday clinic",))
    order((MoveOrder(status=OrderStatus.CANCELLED),), patient_id=ayesha,
          order_items=(OrderItem(item_id=item["ACC-GUIDEME"]),), order_notes=("duplicate of a phone order",))
    order(site_id=northgate, order_items=(OrderItem(item_id=item["MAS-MSRX"], count=4),),
          shipping_option=ShippingOption.OVERNIGHT, external_order_ids=("po-88120",))

    return DemoCustomer(
        id=made.id, name=made.name, api_key=made.api_key, items=len(item),
        sites=len(made_sites), patients=len(made_patients), kits=len(kits), orders=len(made_orders),
    )
