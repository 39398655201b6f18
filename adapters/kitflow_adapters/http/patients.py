"""Patients and sites: ``/api/v3/patient`` and ``/api/v3/site`` (API.md 4)."""

from __future__ import annotations

from typing import Final

from litestar import Request, Response, get, patch, post, put
from litestar.handlers import HTTPRouteHandler

from kitflow.domain.patient import PatientFilter, SiteFilter
from kitflow.services import patients
from kitflow_adapters.http.endpoint import CUSTOMER, Api
from kitflow_adapters.http.openapi import documented
from kitflow_adapters.http.parsing import BOOLEAN, ID, TEXT, Param, list_request, path_id, read_query
from kitflow_adapters.http.wire import (
    PatientInput,
    PatientOut,
    PatientPage,
    PatientPatchInput,
    SiteInput,
    SiteOut,
    SitePage,
    SitePatchInput,
)

PATIENT_FILTERS: Final = (
    Param("externalIdentifier", "external_identifier", TEXT, "exact, case-sensitive"),
    Param("email", "email", TEXT, "exact, case-insensitive"),
    Param(
        "name",
        "name",
        TEXT,
        "case-insensitive substring of the first name, last name, or both joined by a space",
    ),
    Param("siteId", "site_id", ID, "patients of this site"),
    Param("archived", "archived", BOOLEAN, "archived or not"),
    Param("enrolled", "enrolled", BOOLEAN, "enrolled or not"),
)
SITE_FILTERS: Final = (
    Param("name", "name", TEXT, "case-insensitive substring of the name"),
    Param("active", "active", BOOLEAN, "active or not"),
)


def patient_routes(api: Api) -> list[HTTPRouteHandler]:
    """The patient endpoints on ``api``'s store."""
    store, clock = api.store, api.clock

    @post("/api/v3/patient", status_code=201, **documented(body=PatientInput, errors=(409,)))
    async def create_patient(request: Request) -> Response[PatientOut]:
        """Create a patient."""
        caller, payload, raw = await api.caller_and_body(request, CUSTOMER, PatientInput)
        draft = payload.to_domain()
        return await api.once(
            request,
            caller,
            raw,
            lambda: api.reply(
                patients.create_patient(draft, caller=caller, uow=store, clock=clock), PatientOut, 201
            ),
        )

    @get("/api/v3/patient", **documented(query=PATIENT_FILTERS))
    @api.offloaded
    def list_patients(request: Request) -> Response[PatientPage]:
        """List the caller's patients."""
        caller = api.caller(request, CUSTOMER)
        where = PatientFilter(**read_query(request, PATIENT_FILTERS))
        return api.show(
            patients.list_patients(where, list_request(request), caller=caller, uow=store), PatientPage
        )

    @get("/api/v3/patient/{patientId:str}", **documented(errors=(404,)))
    @api.reading
    def get_patient(request: Request) -> Response[PatientOut]:
        """Fetch a patient."""
        patient_id = path_id(request, "patientId")
        caller = api.caller(request, CUSTOMER)
        return api.show(patients.get_patient(patient_id, caller=caller, uow=store), PatientOut)

    @put("/api/v3/patient/{patientId:str}", **documented(body=PatientInput, errors=(404, 409)))
    async def replace_patient(request: Request) -> Response[PatientOut]:
        """Replace every writable field of a patient; fields left out return to their defaults."""
        patient_id = path_id(request, "patientId")
        caller, payload, _ = await api.caller_and_body(request, CUSTOMER, PatientInput)
        return await api.run(lambda: api.show(
            patients.replace_patient(patient_id, payload.to_domain(), caller=caller, uow=store, clock=clock),
            PatientOut,
        ))

    @patch("/api/v3/patient/{patientId:str}", **documented(body=PatientPatchInput, errors=(404, 409)))
    async def patch_patient(request: Request) -> Response[PatientOut]:
        """Change only the fields sent; ``archived: true`` archives."""
        patient_id = path_id(request, "patientId")
        caller, payload, _ = await api.caller_and_body(request, CUSTOMER, PatientPatchInput)
        return await api.run(lambda: api.show(
            patients.patch_patient(patient_id, payload.to_domain(), caller=caller, uow=store, clock=clock),
            PatientOut,
        ))

    return [create_patient, list_patients, get_patient, replace_patient, patch_patient]


def site_routes(api: Api) -> list[HTTPRouteHandler]:
    """The site endpoints on ``api``'s store."""
    store, clock = api.store, api.clock

    @post("/api/v3/site", status_code=201, **documented(body=SiteInput))
    async def create_site(request: Request) -> Response[SiteOut]:
        """Create a site."""
        caller, payload, raw = await api.caller_and_body(request, CUSTOMER, SiteInput)
        draft = payload.to_domain()
        return await api.once(
            request,
            caller,
            raw,
            lambda: api.reply(
                patients.create_site(draft, caller=caller, uow=store, clock=clock), SiteOut, 201
            ),
        )

    @get("/api/v3/site", **documented(query=SITE_FILTERS))
    @api.offloaded
    def list_sites(request: Request) -> Response[SitePage]:
        """List the caller's sites."""
        caller = api.caller(request, CUSTOMER)
        where = SiteFilter(**read_query(request, SITE_FILTERS))
        return api.show(patients.list_sites(where, list_request(request), caller=caller, uow=store), SitePage)

    @get("/api/v3/site/{siteId:str}", **documented(errors=(404,)))
    @api.reading
    def get_site(request: Request) -> Response[SiteOut]:
        """Fetch a site."""
        site_id = path_id(request, "siteId")
        caller = api.caller(request, CUSTOMER)
        return api.show(patients.get_site(site_id, caller=caller, uow=store), SiteOut)

    @put("/api/v3/site/{siteId:str}", **documented(body=SiteInput, errors=(404,)))
    async def replace_site(request: Request) -> Response[SiteOut]:
        """Replace every writable field of a site; fields left out return to their defaults."""
        site_id = path_id(request, "siteId")
        caller, payload, _ = await api.caller_and_body(request, CUSTOMER, SiteInput)
        return await api.run(lambda: api.show(
            patients.replace_site(site_id, payload.to_domain(), caller=caller, uow=store, clock=clock),
            SiteOut,
        ))

    @patch("/api/v3/site/{siteId:str}", **documented(body=SitePatchInput, errors=(404,)))
    async def patch_site(request: Request) -> Response[SiteOut]:
        """Change only the fields sent; ``active: false`` deactivates."""
        site_id = path_id(request, "siteId")
        caller, payload, _ = await api.caller_and_body(request, CUSTOMER, SitePatchInput)
        return await api.run(lambda: api.show(
            patients.patch_site(site_id, payload.to_domain(), caller=caller, uow=store, clock=clock), SiteOut
        ))

    return [create_site, list_sites, get_site, replace_site, patch_site]
