"""Patients and sites, each a customer's own."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any, Final

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
from kitflow.domain.stored import Restorer
from kitflow.domain.values import Address, Sex
from kitflow_adapters.sqlite.codec import JsonColumn, from_ms, remembered, to_json, to_ms
from kitflow_adapters.sqlite.paging import Where
from kitflow_adapters.sqlite.repository import Owned, found, violates, with_id

_ADDRESS: Final = JsonColumn(Address, recheck=False)
_PATIENT: Final = Restorer(Patient)
_SITE: Final = Restorer(Site)
_SEX: Final = {sex.value: sex for sex in Sex}
TRIGRAM: Final = 3
"""The shortest ``name`` needle the trigram index can serve; shorter ones scan the customer's rows."""


def name_filter(where: Where, needle: str | None, *, index: str) -> None:
    """Add the case-folded substring filter ``needle`` (``search_key``) over ``name_key``: through
    the FTS5 trigram ``index`` when it is long enough, and always checked exactly with ``instr``.
    The index's matches drive the query (the table is read by id only), so a page and its total
    cost what the matches cost, however many rows the customer has."""
    if needle is None:
        return
    key = search_key(needle)
    if not key:
        return
    if len(key) >= TRIGRAM and "\x00" not in key:  # FTS5 reads a query only up to a NUL
        phrase = '"' + key.replace('"', '""') + '"'
        where.add(f"id IN (SELECT rowid FROM {index} WHERE {index} MATCH ?)", phrase)
        where.hint = " NOT INDEXED"
    where.add("instr(name_key, ?) > 0", key)


@remembered(1024)
def _patient(row: Any) -> Patient:
    return _PATIENT(
        id=row[0],
        customer_id=row[1],
        external_identifier=row[2],
        first_name=row[3],
        last_name=row[4],
        address=_ADDRESS.decode(row[5]),
        date_of_birth=None if row[6] is None else dt.date.fromisoformat(row[6]),
        email=row[7],
        phone_number=row[8],
        sex=_SEX[row[9]],
        site_id=row[10],
        enrolled=bool(row[11]),
        archived=bool(row[12]),
        created_at=from_ms(row[13]),
        updated_at=from_ms(row[14]),
    )


def _patient_values(patient: Patient) -> tuple[Any, ...]:
    """The written columns, in the order of ``_WRITTEN``, but for ``customer_id`` and ``id``."""
    return (
        patient.external_identifier,
        patient.first_name,
        patient.last_name,
        to_json(patient.address),
        None if patient.date_of_birth is None else patient.date_of_birth.isoformat(),
        patient.email,
        None if patient.email is None else patient.email.casefold(),
        patient.phone_number,
        patient.sex.value,
        patient.site_id,
        int(patient.enrolled),
        int(patient.archived),
        to_ms(patient.created_at),
        to_ms(patient.updated_at),
        name_key(patient.first_name, patient.last_name),
    )


_WRITTEN: Final = (
    "external_identifier, first_name, last_name, address, date_of_birth, email, email_key, phone_number,"
    " sex, site_id, enrolled, archived, created_at, updated_at, name_key"
)
_ASSIGNED: Final = ", ".join(f"{column.strip()} = ?" for column in _WRITTEN.split(","))


class SqlitePatients(Owned):
    __slots__ = ()
    shown = True
    table, what = "patients", "patient"
    columns = (
        "id, customer_id, external_identifier, first_name, last_name, address, date_of_birth, email,"
        " phone_number, sex, site_id, enrolled, archived, created_at, updated_at"
    )
    decode = staticmethod(_patient)

    def _conflict(self, error: sqlite3.IntegrityError, patient: Patient) -> Exception:
        if not violates(error, "patients.customer_id, patients.external_identifier"):
            return error
        holder = self.id_by_external_identifier(patient.customer_id, patient.external_identifier or "")
        return external_identifier_taken(holder or 0)

    def add(self, patient: Patient) -> Patient:
        conn = self._writing()
        try:
            cur = conn.execute(
                f"INSERT INTO patients (customer_id, {_WRITTEN}) VALUES (?{', ?' * 15})",
                (patient.customer_id, *_patient_values(patient)),
            )
        except sqlite3.IntegrityError as error:
            raise self._conflict(error, patient) from None
        return with_id(patient, cur.lastrowid)

    def update(self, patient: Patient) -> None:
        conn = self._writing()
        try:
            cur = conn.execute(
                f"UPDATE patients SET {_ASSIGNED} WHERE id = ? AND customer_id = ?",
                (*_patient_values(patient), patient.id, patient.customer_id),
            )
        except sqlite3.IntegrityError as error:
            raise self._conflict(error, patient) from None
        if cur.rowcount == 0:
            found(None, self.what)

    def id_by_external_identifier(self, customer_id: int, external_identifier: str) -> int | None:
        row = self._conn.execute(
            "SELECT id FROM patients WHERE customer_id = ? AND external_identifier = ?",
            (customer_id, external_identifier),
        ).fetchone()
        return None if row is None else row[0]

    def page(self, customer_id: int, where: PatientFilter, spec: PageSpec) -> Page[Patient]:
        clause = Where().add("customer_id = ?", customer_id)
        if where.external_identifier is not None:
            clause.add("external_identifier = ?", where.external_identifier)
        if where.email is not None:
            clause.add("email_key = ?", search_key(where.email))
        name_filter(clause, where.name, index="patient_names")
        if where.site_id is not None:
            clause.add("site_id = ?", where.site_id)
        if where.archived is not None:
            clause.add("archived = ?", int(where.archived))
        if where.enrolled is not None:
            clause.add("enrolled = ?", int(where.enrolled))
        return self._page(clause, spec)


@remembered(256)
def _site(row: Any) -> Site:
    return _SITE(
        id=row[0],
        customer_id=row[1],
        name=row[2],
        active=bool(row[3]),
        phone_number=row[4],
        address=_ADDRESS.maybe(row[5]),
        created_at=from_ms(row[6]),
        updated_at=from_ms(row[7]),
    )


def _site_values(site: Site) -> tuple[Any, ...]:
    return (
        site.name,
        int(site.active),
        site.phone_number,
        None if site.address is None else to_json(site.address),
        to_ms(site.created_at),
        to_ms(site.updated_at),
        site.name.casefold(),
    )


class SqliteSites(Owned):
    __slots__ = ()
    shown = True
    table, what = "sites", "site"
    columns = "id, customer_id, name, active, phone_number, address, created_at, updated_at"
    decode = staticmethod(_site)

    def add(self, site: Site) -> Site:
        cur = self._writing().execute(
            "INSERT INTO sites (customer_id, name, active, phone_number, address, created_at, updated_at, name_key)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (site.customer_id, *_site_values(site)),
        )
        return with_id(site, cur.lastrowid)

    def update(self, site: Site) -> None:
        cur = self._writing().execute(
            "UPDATE sites SET name = ?, active = ?, phone_number = ?, address = ?, created_at = ?, updated_at = ?,"
            " name_key = ? WHERE id = ? AND customer_id = ?",
            (*_site_values(site), site.id, site.customer_id),
        )
        if cur.rowcount == 0:
            found(None, self.what)

    def page(self, customer_id: int, where: SiteFilter, spec: PageSpec) -> Page[Site]:
        clause = Where().add("customer_id = ?", customer_id)
        name_filter(clause, where.name, index="site_names")
        if where.active is not None:
            clause.add("active = ?", int(where.active))
        return self._page(clause, spec)
