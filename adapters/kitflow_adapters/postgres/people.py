"""Patients and sites."""

from __future__ import annotations

from typing import Final

import msgspec

from kitflow.domain.errors import Conflict, NotFound
from kitflow.domain.paging import Page, PageSpec
from kitflow.domain.patient import (
    Patient,
    PatientFilter,
    Site,
    SiteFilter,
    external_identifier_taken,
    name_key,
    search_key,
)
from kitflow.domain.values import Address, Sex
from kitflow_adapters.postgres.session import Lock
from kitflow_adapters.postgres.repository import Filter, Owned, Row, contains, encode
from kitflow_adapters.postgres.text import folded, loaded, loaded_or_none, stored, stored_or_none

_ADDRESS: Final = msgspec.json.Decoder(Address)

_SITE: Final = "t.id, t.customer_id, t.name, t.active, t.phone_number, t.address, t.created_at, t.updated_at"
_PATIENT: Final = (
    "t.id, t.customer_id, t.first_name, t.last_name, t.external_identifier, t.date_of_birth, t.email,"
    " t.phone_number, t.sex, t.site_id, t.enrolled, t.archived, t.address, t.created_at, t.updated_at"
)
_PATIENT_VALUES: Final = (
    "first_name = %(first_name)s, last_name = %(last_name)s, name_key = %(name_key)s,"
    " external_identifier = %(external_identifier)s, date_of_birth = %(date_of_birth)s, email = %(email)s,"
    " email_key = %(email_key)s, phone_number = %(phone_number)s, sex = %(sex)s, site_id = %(site_id)s,"
    " enrolled = %(enrolled)s, archived = %(archived)s, address = %(address)s::json,"
    " created_at = %(created_at)s, updated_at = %(updated_at)s"
)


def _site(row: Row) -> Site:
    return Site(
        id=row[0], customer_id=row[1], name=loaded(row[2]), active=row[3], phone_number=loaded_or_none(row[4]),
        address=None if row[5] is None else _ADDRESS.decode(row[5]), created_at=row[6], updated_at=row[7],
    )


def _site_params(site: Site) -> tuple[object, ...]:
    return (
        stored(site.name), folded(site.name.casefold()), site.active, stored_or_none(site.phone_number),
        None if site.address is None else encode(site.address), site.created_at, site.updated_at,
    )


def _patient(row: Row) -> Patient:
    return Patient(
        id=row[0], customer_id=row[1], first_name=loaded(row[2]), last_name=loaded(row[3]),
        external_identifier=loaded_or_none(row[4]), date_of_birth=row[5], email=loaded_or_none(row[6]),
        phone_number=loaded_or_none(row[7]), sex=Sex(row[8]), site_id=row[9], enrolled=row[10], archived=row[11],
        address=_ADDRESS.decode(row[12]), created_at=row[13], updated_at=row[14],
    )


def _patient_params(patient: Patient) -> dict[str, object]:
    return {
        "id": patient.id, "customer_id": patient.customer_id,
        "first_name": stored(patient.first_name), "last_name": stored(patient.last_name),
        "name_key": folded(name_key(patient.first_name, patient.last_name)),
        "external_identifier": stored_or_none(patient.external_identifier), "date_of_birth": patient.date_of_birth,
        "email": stored_or_none(patient.email),
        "email_key": None if patient.email is None else folded(patient.email.casefold()),
        "phone_number": stored_or_none(patient.phone_number), "sex": patient.sex.value, "site_id": patient.site_id,
        "enrolled": patient.enrolled, "archived": patient.archived, "address": encode(patient.address),
        "created_at": patient.created_at, "updated_at": patient.updated_at,
    }


def _external_lock(customer_id: int, external_identifier: str) -> Lock:
    return ("patient-external-identifier", f"{customer_id}\x00{external_identifier}")


class PostgresSites(Owned):
    __slots__ = ()
    table, columns, what = "sites", _SITE, "site"

    def _decode(self, row: Row) -> Site:
        return _site(row)

    def add(self, site: Site) -> Site:
        self._s.writing()
        row = self._one(
            "INSERT INTO sites (customer_id, name, name_key, active, phone_number, address, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s::json, %s, %s) RETURNING id",
            (site.customer_id, *_site_params(site)),
        )
        assert row is not None
        return msgspec.structs.replace(site, id=row[0])

    def update(self, site: Site) -> None:
        self._s.writing()
        self._forget("sites", site.id)
        changed = self._s.run(
            "UPDATE sites SET name = %s, name_key = %s, active = %s, phone_number = %s, address = %s::json,"
            " created_at = %s, updated_at = %s WHERE id = %s AND customer_id = %s",
            (*_site_params(site), site.id, site.customer_id),
        ).rowcount
        if changed == 0:
            raise NotFound(detail="no such site")

    def page(self, customer_id: int, where: SiteFilter, spec: PageSpec) -> Page[Site]:
        filters: list[Filter] = [("t.customer_id = %s", (customer_id,))]
        if where.name is not None:
            filters.append(("t.name_key LIKE %s", (contains(folded(search_key(where.name))),)))
        if where.active is not None:
            filters.append(("t.active = %s", (where.active,)))
        return self._page(table="sites", columns=_SITE, filters=filters, spec=spec, decode=_site)


class PostgresPatients(Owned):
    __slots__ = ()
    table, columns, what = "patients", _PATIENT, "patient"

    def _decode(self, row: Row) -> Patient:
        return _patient(row)

    def _taken(self, customer_id: int, external_identifier: str) -> Conflict:
        holder = self.id_by_external_identifier(customer_id, external_identifier)
        assert holder is not None
        return external_identifier_taken(holder)

    def add(self, patient: Patient) -> Patient:
        self._s.writing()
        params = _patient_params(patient)
        row = self._one(
            "INSERT INTO patients (customer_id, first_name, last_name, name_key, external_identifier,"
            " date_of_birth, email, email_key, phone_number, sex, site_id, enrolled, archived, address,"
            " created_at, updated_at) VALUES (%(customer_id)s, %(first_name)s, %(last_name)s, %(name_key)s,"
            " %(external_identifier)s, %(date_of_birth)s, %(email)s, %(email_key)s, %(phone_number)s, %(sex)s,"
            " %(site_id)s, %(enrolled)s, %(archived)s, %(address)s::json, %(created_at)s, %(updated_at)s)"
            " ON CONFLICT ON CONSTRAINT patients_external_identifier DO NOTHING RETURNING id",
            params,  # type: ignore[arg-type]
        )
        if row is None:
            assert patient.external_identifier is not None
            raise self._taken(patient.customer_id, patient.external_identifier)
        return msgspec.structs.replace(patient, id=row[0])

    def update(self, patient: Patient) -> None:
        self._s.writing()
        self._forget("patients", patient.id)
        row = self._one(
            "WITH holder AS (SELECT id FROM patients WHERE customer_id = %(customer_id)s"
            " AND external_identifier = %(external_identifier)s AND id <> %(id)s),"
            f" changed AS (UPDATE patients SET {_PATIENT_VALUES} WHERE id = %(id)s"
            " AND customer_id = %(customer_id)s AND NOT EXISTS (SELECT FROM holder) RETURNING id)"
            " SELECT EXISTS (SELECT FROM changed),"
            " EXISTS (SELECT FROM patients WHERE id = %(id)s AND customer_id = %(customer_id)s)",
            _patient_params(patient),  # type: ignore[arg-type]
        )
        assert row is not None
        changed, exists = row
        if not exists:
            raise NotFound(detail="no such patient")
        if not changed:
            assert patient.external_identifier is not None
            raise self._taken(patient.customer_id, patient.external_identifier)

    def id_by_external_identifier(self, customer_id: int, external_identifier: str) -> int | None:
        row = self._one(
            "SELECT id FROM patients WHERE customer_id = %s AND external_identifier = %s",
            (customer_id, stored(external_identifier)),
            locks=(_external_lock(customer_id, external_identifier),),
        )
        return None if row is None else row[0]

    def page(self, customer_id: int, where: PatientFilter, spec: PageSpec) -> Page[Patient]:
        filters: list[Filter] = [("t.customer_id = %s", (customer_id,))]
        if where.external_identifier is not None:
            filters.append(("t.external_identifier = %s", (stored(where.external_identifier),)))
        if where.email is not None:
            filters.append(("t.email_key = %s", (folded(search_key(where.email)),)))
        if where.name is not None:
            filters.append(("t.name_key LIKE %s", (contains(folded(search_key(where.name))),)))
        if where.site_id is not None:
            filters.append(("t.site_id = %s", (where.site_id,)))
        if where.archived is not None:
            filters.append(("t.archived = %s", (where.archived,)))
        if where.enrolled is not None:
            filters.append(("t.enrolled = %s", (where.enrolled,)))
        return self._page(table="patients", columns=_PATIENT, filters=filters, spec=spec, decode=_patient)
