"""Details remembered by ``kitflow.services.views``: a patient's detail made once for a patient and
site (an item's for an item and manufacturer) is, for any of them, the detail made afresh; another
patient, site, item or manufacturer (even one equal in every field but one) gives its own detail."""

from __future__ import annotations

import datetime as dt

import msgspec
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
