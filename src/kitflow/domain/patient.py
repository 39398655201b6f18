"""Patients and sites: whom and where a customer ships to."""

from __future__ import annotations

import datetime as dt

import msgspec

from kitflow.domain.changes import patched
from kitflow.domain.errors import Conflict, InvalidInput, check
from kitflow.domain.values import (
    Address,
    CustomerId,
    PatientId,
    Sex,
    SiteId,
    email,
    identifier,
    normalise,
    optional_text,
    text,
)


class SiteDraft(msgspec.Struct, frozen=True, kw_only=True):
    """The writable fields of a site; creating and replacing take all of them."""

    name: str
    active: bool = True
    phone_number: str | None = None
    address: Address | None = None

    def __post_init__(self) -> None:
        normalise(
            self,
            name=text(self.name, field="name"),
            phone_number=optional_text(self.phone_number, field="phone_number"),
        )


class Site(SiteDraft, frozen=True, kw_only=True, cache_hash=True):
    id: SiteId
    customer_id: CustomerId
    created_at: dt.datetime
    updated_at: dt.datetime


class SitePatch(msgspec.Struct, frozen=True, kw_only=True):
    """Fields a PATCH sends; UNSET leaves a field alone."""

    name: str | None | msgspec.UnsetType = msgspec.UNSET
    active: bool | None | msgspec.UnsetType = msgspec.UNSET
    phone_number: str | None | msgspec.UnsetType = msgspec.UNSET
    address: Address | None | msgspec.UnsetType = msgspec.UNSET


class PatientDraft(msgspec.Struct, frozen=True, kw_only=True):
    """The writable fields of a patient; creating and replacing take all of them."""

    first_name: str
    last_name: str
    address: Address
    external_identifier: str | None = None
    date_of_birth: dt.date | None = None
    email: str | None = None
    phone_number: str | None = None
    sex: Sex = Sex.UNKNOWN
    site_id: SiteId | None = None
    enrolled: bool = True
    archived: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.address, Address):
            raise InvalidInput(detail="is required", field="address")
        normalise(
            self,
            first_name=text(self.first_name, field="first_name"),
            last_name=text(self.last_name, field="last_name"),
            external_identifier=optional_text(self.external_identifier, field="external_identifier"),
            email=email(self.email),
            phone_number=optional_text(self.phone_number, field="phone_number"),
            sex=Sex(self.sex),
        )
        if self.site_id is not None:
            identifier(self.site_id, field="site_id")

    def check_birth_date(self, today: dt.date) -> None:
        """Raises ``InvalidInput`` when the date of birth lies after ``today``."""
        if self.date_of_birth is not None:
            check(self.date_of_birth <= today, "must not be in the future", field="date_of_birth")


class Patient(PatientDraft, frozen=True, kw_only=True, cache_hash=True):
    id: PatientId
    customer_id: CustomerId
    created_at: dt.datetime
    updated_at: dt.datetime


class PatientPatch(msgspec.Struct, frozen=True, kw_only=True):
    """Fields a PATCH sends; UNSET leaves a field alone."""

    first_name: str | None | msgspec.UnsetType = msgspec.UNSET
    last_name: str | None | msgspec.UnsetType = msgspec.UNSET
    address: Address | None | msgspec.UnsetType = msgspec.UNSET
    external_identifier: str | None | msgspec.UnsetType = msgspec.UNSET
    date_of_birth: dt.date | None | msgspec.UnsetType = msgspec.UNSET
    email: str | None | msgspec.UnsetType = msgspec.UNSET
    phone_number: str | None | msgspec.UnsetType = msgspec.UNSET
    sex: Sex | None | msgspec.UnsetType = msgspec.UNSET
    site_id: SiteId | None | msgspec.UnsetType = msgspec.UNSET
    enrolled: bool | None | msgspec.UnsetType = msgspec.UNSET
    archived: bool | None | msgspec.UnsetType = msgspec.UNSET


class PatientDetail(Patient, frozen=True, kw_only=True):
    """A patient with its site as it is now."""

    site: Site | None = None


def external_identifier_taken(holder: PatientId) -> Conflict:
    """The error of a customer's external identifier that patient ``holder`` already has."""
    return Conflict(
        "duplicate_external_identifier",
        f"patient {holder} already has this external identifier",
        field="external_identifier",
    )


def name_key(first_name: str, last_name: str) -> str:
    """What the ``name`` filter searches: both names joined by one space, case-folded."""
    return f"{first_name} {last_name}".casefold()


def search_key(value: str) -> str:
    """A ``name`` or ``email`` filter value as stores compare it: trimmed and case-folded."""
    return value.strip().casefold()


class PatientFilter(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The filters of the patient list; None means not filtered."""

    external_identifier: str | None = None
    email: str | None = None
    name: str | None = None
    site_id: SiteId | None = None
    archived: bool | None = None
    enrolled: bool | None = None

    def matches(self, patient: Patient) -> bool:
        """Whether ``patient`` passes every filter (the reference semantics for every store)."""
        return (
            (self.external_identifier is None or patient.external_identifier == self.external_identifier)
            and (
                self.email is None
                or (patient.email is not None and patient.email.casefold() == search_key(self.email))
            )
            and (
                self.name is None
                or search_key(self.name) in name_key(patient.first_name, patient.last_name)
            )
            and (self.site_id is None or patient.site_id == self.site_id)
            and (self.archived is None or patient.archived == self.archived)
            and (self.enrolled is None or patient.enrolled == self.enrolled)
        )


class SiteFilter(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The filters of the site list; None means not filtered."""

    name: str | None = None
    active: bool | None = None

    def matches(self, site: Site) -> bool:
        return (self.name is None or search_key(self.name) in site.name.casefold()) and (
            self.active is None or site.active == self.active
        )


_PLACEHOLDER_ADDRESS = Address(line_one="-", city="-", state="-", zip_code="-", country="-")
_PLACEHOLDER_PATIENT = PatientDraft(first_name="-", last_name="-", address=_PLACEHOLDER_ADDRESS)
_PLACEHOLDER_SITE = SiteDraft(name="-")


def check_patient_patch(patch: PatientPatch, *, today: dt.date) -> None:
    """Raises InvalidInput for any field ``patch`` sends with a bad value (before any lookup)."""
    patched(_PLACEHOLDER_PATIENT, patch).check_birth_date(today)


def check_site_patch(patch: SitePatch) -> None:
    """Raises InvalidInput for any field ``patch`` sends with a bad value (before any lookup)."""
    patched(_PLACEHOLDER_SITE, patch)
