"""Details remembered by ``kitflow.services.views``: a patient's detail made once for a patient and
site (an item's for an item and manufacturer) is, for any of them, the detail made afresh; another
patient, site, item or manufacturer (even one equal in every field but one) gives its own detail."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitflow.domain.catalog import Item, ItemDetail, Manufacturer
from kitflow.domain.patient import Patient, PatientDetail, PatientDraft, Site, SiteDraft
from kitflow.services.views import _item_detail, _patient_detail
from kitflow.testing import item_details, patient_drafts, site_drafts, texts

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _patient(draft: PatientDraft, patient_id: int) -> Patient:
    return Patient(**msgspec.structs.asdict(draft), id=patient_id, customer_id=1, created_at=T0, updated_at=T0)


def _site(draft: SiteDraft) -> Site:
    return Site(**msgspec.structs.asdict(draft), id=7, customer_id=1, created_at=T0, updated_at=T0)


@given(
    patients=st.lists(patient_drafts(), min_size=1, max_size=4),
    site=st.none() | site_drafts().map(_site),
    renamed=texts(),
)
def test_a_remembered_detail_is_the_detail_made_afresh(
    patients: list[PatientDraft], site: Site | None, renamed: str
) -> None:
    for number, draft in enumerate(patients, start=1):
        patient = _patient(draft, number)
        fresh = PatientDetail(**msgspec.structs.asdict(patient), site=site)  # made and checked
        assert _patient_detail(patient, site) == fresh
        assert _patient_detail(msgspec.structs.replace(patient), site) is _patient_detail(patient, site)
        other = msgspec.structs.replace(patient, last_name=renamed)
        assert _patient_detail(other, site) == PatientDetail(**msgspec.structs.asdict(other), site=site)
        assert _patient_detail(patient, None).site is None


@given(details=st.lists(item_details(), min_size=1, max_size=4), renamed=texts())
def test_a_remembered_item_detail_is_the_detail_made_afresh(details: list[ItemDetail], renamed: str) -> None:
    for detail in details:
        fields = msgspec.structs.asdict(detail)
        maker = fields.pop("manufacturer")
        item = Item(**fields)
        assert _item_detail(item, maker) == ItemDetail(**fields, manufacturer=maker) == detail
        assert _item_detail(msgspec.structs.replace(item), maker) is _item_detail(item, maker)
        if maker is not None:
            other = Manufacturer(id=maker.id, name=renamed)
            assert _item_detail(item, other) == ItemDetail(**fields, manufacturer=other)


def test_an_orders_items_and_its_kits_items_are_read_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a store that makes every detail (memory, PostgreSQL), the items an order shows (its own
    lines' and its kits') are one read, and their manufacturers another: a round trip each on
    PostgreSQL, however many kits and lines."""
    from kitflow.domain.order import OrderItem, OrderKit, PlaceOrder
    from kitflow.services.views import order_details
    from kitflow_adapters.memory import MemoryStore
    from kitflow_adapters.memory.store import _Items, _Manufacturers
    from tests.contract.rows import new_customer, new_item, new_kit, new_patient, order

    store = MemoryStore()
    customer_id = new_customer(store)
    patient = new_patient(store, customer_id)
    items = [new_item(store).id for _ in range(4)]
    kits = [new_kit(store, customer_id, items[:2]).id, new_kit(store, customer_id, items[1:3]).id]
    with store.begin(write=True) as tx:
        placed = tx.orders.add(order(customer_id, PlaceOrder(
            patient_id=patient.id, order_items=(OrderItem(item_id=items[3]), OrderItem(item_id=items[0])),
            order_kits=tuple(OrderKit(kit_id=k) for k in kits),
        )))
    reads: list[str] = []
    for kind, repository in (("items", _Items), ("manufacturers", _Manufacturers)):
        monkeypatch.setattr(
            repository, "get_many",
            lambda self, ids, *, _real=repository.get_many, _kind=kind: (reads.append(_kind), _real(self, ids))[1],
        )
    with store.begin() as tx:
        (detail,) = order_details(tx, [placed])
    assert sorted(reads) == ["items", "manufacturers"]
    assert [line.item.id for line in detail.order_items] == [items[3], items[0]]
    assert [[i.item.id for i in line.kit.kit_items] for line in detail.order_kits] == [items[:2], items[1:3]]
