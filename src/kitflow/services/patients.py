"""Use cases of patients and sites."""

from __future__ import annotations

import datetime as dt

from kitflow.domain.changes import draft_of, patched, promoted
from kitflow.domain.errors import NotFound, RuleBroken
from kitflow.domain.identity import Principal
from kitflow.domain.patient import (
    external_identifier_taken,
    Patient,
    PatientDetail,
    PatientDraft,
    PatientFilter,
    PatientPatch,
    Site,
    SiteDraft,
    SiteFilter,
    SitePatch,
    check_patient_patch,
    check_site_patch,
)
from kitflow.domain.ports import Clock, Transaction, UnitOfWork
from kitflow.domain.values import CustomerId, PatientId, SiteId
from kitflow.services.listing import ListRequest, Listing, list_page
from kitflow.services.views import patient_details


def _check_references(tx: Transaction, customer_id: CustomerId, draft: PatientDraft, *, own: PatientId = 0) -> None:
    """The site exists for the customer; the external identifier is free (but for patient ``own``)."""
    if draft.site_id is not None:
        try:
            tx.sites.get(customer_id, draft.site_id)
        except NotFound:
            raise RuleBroken("site_does_not_exist", f"site {draft.site_id} does not exist", field="site_id") from None
    if draft.external_identifier is not None:
        holder = tx.patients.id_by_external_identifier(customer_id, draft.external_identifier)
        if holder is not None and holder != own:
            raise external_identifier_taken(holder)


def _detail(tx: Transaction, patient: Patient) -> PatientDetail:
    return patient_details(tx, [patient])[0]


def create_patient(draft: PatientDraft, *, caller: Principal, uow: UnitOfWork, clock: Clock) -> PatientDetail:
    """Create a patient of the calling customer. Raises Forbidden, InvalidInput (a future date of
    birth), RuleBroken(site_does_not_exist), Conflict(duplicate_external_identifier)."""
    customer_id = caller.customer()
    now = clock.now()
    draft.check_birth_date(now.date())
    with uow.begin(write=True) as tx:
        _check_references(tx, customer_id, draft)
        stored = tx.patients.add(
            promoted(draft, Patient, id=0, customer_id=customer_id, created_at=now, updated_at=now)
        )
        return _detail(tx, stored)


def get_patient(patient_id: PatientId, *, caller: Principal, uow: UnitOfWork) -> PatientDetail:
    """The caller's patient. Raises Forbidden, NotFound (also for another customer's)."""
    customer_id = caller.customer()
    with uow.begin() as tx:
        return _detail(tx, tx.patients.get(customer_id, patient_id))


def _store_patient(tx: Transaction, old: Patient, draft: PatientDraft, *, now: dt.datetime) -> PatientDetail:
    _check_references(tx, old.customer_id, draft, own=old.id)
    new = promoted(draft, Patient, id=old.id, customer_id=old.customer_id, created_at=old.created_at, updated_at=now)
    tx.patients.update(new)
    return _detail(tx, new)


def replace_patient(
    patient_id: PatientId, draft: PatientDraft, *, caller: Principal, uow: UnitOfWork, clock: Clock
) -> PatientDetail:
    """Replace every writable field (PUT). Raises as ``create_patient``, and NotFound."""
    customer_id = caller.customer()
    now = clock.now()
    draft.check_birth_date(now.date())
    with uow.begin(write=True) as tx:
        old = tx.patients.get(customer_id, patient_id)
        return _store_patient(tx, old, draft, now=now)


def patch_patient(
    patient_id: PatientId, patch: PatientPatch, *, caller: Principal, uow: UnitOfWork, clock: Clock
) -> PatientDetail:
    """Change only the fields sent (PATCH). Raises as ``replace_patient``."""
    customer_id = caller.customer()
    now = clock.now()
    check_patient_patch(patch, today=now.date())
    with uow.begin(write=True) as tx:
        old = tx.patients.get(customer_id, patient_id)
        return _store_patient(tx, old, patched(draft_of(old, PatientDraft), patch), now=now)


def list_patients(
    where: PatientFilter, request: ListRequest, *, caller: Principal, uow: UnitOfWork
) -> Listing[PatientDetail]:
    """A page of the caller's patients. Raises Forbidden, InvalidInput (page, size, cursor)."""
    customer_id = caller.customer()
    return list_page(
        request, caller=caller, resource="patient", where=where, uow=uow,
        fetch=lambda tx, spec: tx.patients.page(customer_id, where, spec),
        show=patient_details, key=lambda p: p.id,
    )


def create_site(draft: SiteDraft, *, caller: Principal, uow: UnitOfWork, clock: Clock) -> Site:
    """Create a site of the calling customer. Raises Forbidden."""
    customer_id = caller.customer()
    now = clock.now()
    with uow.begin(write=True) as tx:
        return tx.sites.add(promoted(draft, Site, id=0, customer_id=customer_id, created_at=now, updated_at=now))


def get_site(site_id: SiteId, *, caller: Principal, uow: UnitOfWork) -> Site:
    """The caller's site. Raises Forbidden, NotFound (also for another customer's)."""
    customer_id = caller.customer()
    with uow.begin() as tx:
        return tx.sites.get(customer_id, site_id)


def _store_site(tx: Transaction, old: Site, draft: SiteDraft, *, now: dt.datetime) -> Site:
    new = promoted(draft, Site, id=old.id, customer_id=old.customer_id, created_at=old.created_at, updated_at=now)
    tx.sites.update(new)
    return new


def replace_site(site_id: SiteId, draft: SiteDraft, *, caller: Principal, uow: UnitOfWork, clock: Clock) -> Site:
    """Replace every writable field (PUT). Raises Forbidden, NotFound."""
    customer_id = caller.customer()
    now = clock.now()
    with uow.begin(write=True) as tx:
        return _store_site(tx, tx.sites.get(customer_id, site_id), draft, now=now)


def patch_site(site_id: SiteId, patch: SitePatch, *, caller: Principal, uow: UnitOfWork, clock: Clock) -> Site:
    """Change only the fields sent (PATCH). Raises Forbidden, InvalidInput, NotFound."""
    customer_id = caller.customer()
    now = clock.now()
    check_site_patch(patch)
    with uow.begin(write=True) as tx:
        old = tx.sites.get(customer_id, site_id)
        return _store_site(tx, old, patched(draft_of(old, SiteDraft), patch), now=now)


def list_sites(where: SiteFilter, request: ListRequest, *, caller: Principal, uow: UnitOfWork) -> Listing[Site]:
    """A page of the caller's sites. Raises Forbidden, InvalidInput (page, size, cursor)."""
    customer_id = caller.customer()
    return list_page(
        request, caller=caller, resource="site", where=where, uow=uow,
        fetch=lambda tx, spec: tx.sites.page(customer_id, where, spec),
        show=lambda tx, rows: rows, key=lambda s: s.id,
    )
