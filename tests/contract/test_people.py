"""Contract: patients and sites, on every store."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitflow.domain.changes import promoted
from kitflow.domain.errors import Conflict, NotFound
from kitflow.domain.patient import Patient, PatientDraft, Site, SiteDraft
from kitflow.domain.ports import UnitOfWork
from kitflow.testing.strategies import patient_drafts, site_drafts
from tests.contract.rows import T0, new_customer, new_patient, new_site, patient, times


def test_a_patient_is_read_back_as_stored(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    site_ids = [new_site(store, customer_id).id, new_site(store, customer_id).id]

    @given(draft=patient_drafts(site_ids=site_ids, external_identifiers=st.none()), created=times(), updated=times())
    def check(draft: PatientDraft, created: dt.datetime, updated: dt.datetime) -> None:
        unsaved = promoted(draft, Patient, id=0, customer_id=customer_id, created_at=created, updated_at=updated)
        with store.begin(write=True) as tx:
            stored = tx.patients.add(unsaved)
        assert stored.id > 0 and stored == msgspec.structs.replace(unsaved, id=stored.id)
        with store.begin() as tx:
            assert tx.patients.get(customer_id, stored.id) == stored
            assert tx.patients.get_many(customer_id, [stored.id, 10**12]) == {stored.id: stored}

    check()


def test_a_replaced_patient_is_read_back_as_replaced(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    site_ids = [new_site(store, customer_id).id]
    stored = new_patient(store, customer_id)

    @given(draft=patient_drafts(site_ids=site_ids), updated=times())
    def check(draft: PatientDraft, updated: dt.datetime) -> None:
        new = promoted(draft, Patient, id=stored.id, customer_id=customer_id, created_at=T0, updated_at=updated)
        with store.begin(write=True) as tx:
            tx.patients.update(new)
        with store.begin() as tx:
            assert tx.patients.get(customer_id, stored.id) == new
            if new.external_identifier is not None:
                assert tx.patients.id_by_external_identifier(customer_id, new.external_identifier) == stored.id

    check()


def test_an_external_identifier_is_unique_per_customer(store: UnitOfWork) -> None:
    acme, other = new_customer(store), new_customer(store)
    first = new_patient(store, acme, external_identifier="ehr-1")
    with store.begin(write=True) as tx, pytest.raises(Conflict) as caught:
        tx.patients.add(patient(acme, external_identifier="ehr-1", first_name="Bob"))
    assert caught.value.code == "duplicate_external_identifier"
    assert str(first.id) in caught.value.detail
    elsewhere = new_patient(store, other, external_identifier="ehr-1")
    second = new_patient(store, acme, external_identifier="ehr-2")
    with store.begin(write=True) as tx, pytest.raises(Conflict) as caught:
        tx.patients.update(msgspec.structs.replace(second, external_identifier="ehr-1"))
    assert caught.value.code == "duplicate_external_identifier"
    with store.begin() as tx:
        assert tx.patients.id_by_external_identifier(acme, "ehr-1") == first.id
        assert tx.patients.id_by_external_identifier(other, "ehr-1") == elsewhere.id
        assert tx.patients.id_by_external_identifier(acme, "ehr-3") is None
        assert tx.patients.get(acme, second.id) == second


def test_patients_without_external_identifier_never_clash(store: UnitOfWork) -> None:
    acme = new_customer(store)
    ids = {new_patient(store, acme).id for _ in range(3)}
    assert len(ids) == 3


def test_a_changed_external_identifier_frees_the_old_one(store: UnitOfWork) -> None:
    acme = new_customer(store)
    first = new_patient(store, acme, external_identifier="old")
    with store.begin(write=True) as tx:
        tx.patients.update(msgspec.structs.replace(first, external_identifier="new"))
        taker = tx.patients.add(patient(acme, external_identifier="old"))
    with store.begin() as tx:
        assert tx.patients.id_by_external_identifier(acme, "old") == taker.id
        assert tx.patients.id_by_external_identifier(acme, "new") == first.id


def test_another_customers_patient_is_invisible(store: UnitOfWork) -> None:
    acme, other = new_customer(store), new_customer(store)
    theirs = new_patient(store, other, external_identifier="x")
    with store.begin() as tx:
        with pytest.raises(NotFound):
            tx.patients.get(acme, theirs.id)
        assert tx.patients.get_many(acme, [theirs.id]) == {}
        assert tx.patients.id_by_external_identifier(acme, "x") is None
    with store.begin(write=True) as tx, pytest.raises(NotFound):
        tx.patients.update(msgspec.structs.replace(theirs, customer_id=acme))
    with store.begin(write=True) as tx, pytest.raises(NotFound):
        tx.patients.update(msgspec.structs.replace(theirs, id=theirs.id + 1000))
    with store.begin() as tx:
        assert tx.patients.get(other, theirs.id) == theirs


def test_a_site_is_read_back_as_stored_and_as_replaced(store: UnitOfWork) -> None:
    customer_id = new_customer(store)

    @given(draft=site_drafts(), again=site_drafts(), created=times(), updated=times())
    def check(draft: SiteDraft, again: SiteDraft, created: dt.datetime, updated: dt.datetime) -> None:
        stored = new_site(store, customer_id, draft, at=created)
        assert stored == promoted(draft, Site, id=stored.id, customer_id=customer_id, created_at=created,
                                  updated_at=created)
        with store.begin() as tx:
            assert tx.sites.get(customer_id, stored.id) == stored
            assert tx.sites.get_many(customer_id, {stored.id}) == {stored.id: stored}
        new = promoted(again, Site, id=stored.id, customer_id=customer_id, created_at=created, updated_at=updated)
        with store.begin(write=True) as tx:
            tx.sites.update(new)
        with store.begin() as tx:
            assert tx.sites.get(customer_id, stored.id) == new

    check()


def test_another_customers_site_is_invisible(store: UnitOfWork) -> None:
    acme, other = new_customer(store), new_customer(store)
    theirs = new_site(store, other)
    with store.begin() as tx:
        with pytest.raises(NotFound):
            tx.sites.get(acme, theirs.id)
        assert tx.sites.get_many(acme, [theirs.id]) == {}
    with store.begin(write=True) as tx, pytest.raises(NotFound):
        tx.sites.update(msgspec.structs.replace(theirs, customer_id=acme, name="Mine"))
    with store.begin() as tx:
        assert tx.sites.get(other, theirs.id) == theirs


def test_names_with_any_characters_are_kept_verbatim(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    hostile = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40).filter(
        lambda s: s.strip() != ""
    )

    @given(first=hostile, last=hostile, site=hostile)
    def check(first: str, last: str, site: str) -> None:
        stored = new_patient(store, customer_id, first_name=first, last_name=last)
        place = new_site(store, customer_id, SiteDraft(name=site))
        with store.begin() as tx:
            assert tx.patients.get(customer_id, stored.id) == stored
            assert tx.sites.get(customer_id, place.id) == place
        assert stored.first_name == first.strip() and place.name == site.strip()

    check()


def test_unknown_ids_in_get_many_are_left_out(store: UnitOfWork) -> None:
    customer_id = new_customer(store)
    stored = new_patient(store, customer_id)

    @given(ids=st.lists(st.integers(min_value=1, max_value=2**63 - 1), max_size=5))
    def check(ids: list[int]) -> None:
        with store.begin() as tx:
            found = tx.patients.get_many(customer_id, ids)
        assert found == ({stored.id: stored} if stored.id in ids else {})

    check()

