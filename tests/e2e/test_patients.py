"""Patients and sites over HTTP (API.md 4 and 10)."""

from __future__ import annotations

import re

from tests.e2e.api import ADDRESS, World, patient_body, problem

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PATIENT_FIELDS = {
    "id",
    "externalIdentifier",
    "firstName",
    "lastName",
    "dateOfBirth",
    "email",
    "phoneNumber",
    "sex",
    "address",
    "site",
    "enrolled",
    "archived",
    "createdAt",
    "updatedAt",
}
SITE_FIELDS = {"id", "name", "active", "phoneNumber", "address", "createdAt", "updatedAt"}


def test_create_patient_answers_every_field_with_defaults_and_the_full_site(w: World) -> None:
    body = patient_body(site={"id": w.a.site, "name": "ignored"}, email="  ada@example.org ", unknownField=1)
    patient = w.a.api.made("/api/v3/patient", body)
    assert set(patient) == PATIENT_FIELDS
    assert patient["sex"] == "unknown" and patient["enrolled"] is True and patient["archived"] is False
    assert patient["email"] == "ada@example.org"
    assert patient["externalIdentifier"] is None and patient["dateOfBirth"] is None
    assert set(patient["site"]) == SITE_FIELDS and patient["site"]["id"] == w.a.site
    assert patient["address"] == {**ADDRESS, "lineTwo": None, "lineThree": None, "note": None}
    assert STAMP.match(patient["createdAt"]) and STAMP.match(patient["updatedAt"])
    assert w.a.api.get(f"/api/v3/patient/{patient['id']}").json() == patient


def test_null_means_absent_for_optional_fields_and_is_invalid_for_required_ones(w: World) -> None:
    made = w.a.api.made("/api/v3/patient", patient_body(sex=None, enrolled=None, site=None, email=None))
    assert made["sex"] == "unknown" and made["enrolled"] is True and made["site"] is None
    problem(
        w.a.api.post("/api/v3/patient", patient_body(firstName=None)), 400, "validation_error", "firstName"
    )
    problem(
        w.a.api.post("/api/v3/patient", patient_body(address={**ADDRESS, "city": None})),
        400,
        "validation_error",
        "address.city",
    )


def test_patient_field_rules_name_the_field_in_wire_names(w: World) -> None:
    api = w.a.api
    problem(api.post("/api/v3/patient", patient_body(lastName="   ")), 400, "validation_error", "lastName")
    problem(
        api.post("/api/v3/patient", patient_body(address={**ADDRESS, "zipCode": " "})),
        400,
        "validation_error",
        "address.zipCode",
    )
    problem(
        api.post("/api/v3/patient", patient_body(firstName="x" * 256)), 400, "validation_error", "firstName"
    )
    problem(
        api.post("/api/v3/patient", patient_body(dateOfBirth="2999-01-01")),
        400,
        "validation_error",
        "dateOfBirth",
    )
    problem(
        api.post("/api/v3/patient", patient_body(dateOfBirth="yesterday")),
        400,
        "validation_error",
        "dateOfBirth",
    )
    problem(api.post("/api/v3/patient", patient_body(sex="robot")), 400, "validation_error", "sex")
    problem(api.post("/api/v3/patient", patient_body(site={"id": 1.0})), 400, "validation_error", "site.id")
    problem(api.post("/api/v3/patient", patient_body(site={"id": True})), 400, "validation_error", "site.id")
    problem(api.post("/api/v3/patient", patient_body(address=None)), 400, "validation_error", "address")
    assert api.get("/api/v3/patient").json()["total"] == 1  # only the world's patient


def test_external_identifier_is_unique_per_customer(w: World) -> None:
    first = w.a.api.made("/api/v3/patient", patient_body(externalIdentifier="ehr-1"))
    body = problem(
        w.a.api.post("/api/v3/patient", patient_body(externalIdentifier="ehr-1")),
        409,
        "duplicate_external_identifier",
    )
    assert str(first["id"]) in body["detail"]
    w.b.api.made("/api/v3/patient", patient_body(externalIdentifier="ehr-1"))  # another customer may


def test_site_reference_of_another_customer_is_site_does_not_exist(w: World) -> None:
    for site in (w.b.site, 999_999):
        problem(
            w.a.api.post("/api/v3/patient", patient_body(site={"id": site})),
            400,
            "site_does_not_exist",
            "site.id",
        )


def test_put_replaces_and_returns_left_out_fields_to_defaults(w: World) -> None:
    api = w.a.api
    made = api.made(
        "/api/v3/patient", patient_body(sex="female", email="a@b.c", site={"id": w.a.site}, enrolled=False)
    )
    replaced = api.put(f"/api/v3/patient/{made['id']}", patient_body(firstName="Grace"))
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["firstName"] == "Grace" and body["sex"] == "unknown" and body["email"] is None
    assert body["site"] is None and body["enrolled"] is True and body["createdAt"] == made["createdAt"]
    problem(api.put(f"/api/v3/patient/{made['id']}", {"firstName": "x"}), 400, "validation_error", "lastName")


def test_patch_changes_only_what_is_sent_and_null_clears_or_restores_the_default(w: World) -> None:
    api = w.a.api
    made = api.made("/api/v3/patient", patient_body(sex="male", email="a@b.c", phoneNumber="555"))
    path = f"/api/v3/patient/{made['id']}"
    body = api.patch(path, {"email": None, "sex": None, "archived": True}).json()
    assert body["email"] is None and body["sex"] == "unknown" and body["archived"] is True
    assert body["phoneNumber"] == "555" and body["firstName"] == "Ada"
    body = api.patch(path, {"address": {**ADDRESS, "lineOne": "2 Side St"}, "site": {"id": w.a.site}}).json()
    assert body["address"]["lineOne"] == "2 Side St" and body["site"]["id"] == w.a.site
    assert api.patch(path, {"site": None}).json()["site"] is None
    problem(api.patch(path, {"firstName": None}), 400, "validation_error", "firstName")
    problem(api.patch(path, {"address": {"lineOne": "x"}}), 400, "validation_error", "address.city")
    problem(api.patch(path, {"site": {"id": w.b.site}}), 400, "site_does_not_exist", "site.id")
    assert api.get(path).json()["firstName"] == "Ada"


def test_another_customers_patient_is_exactly_a_missing_one(w: World) -> None:
    own, theirs, missing = w.a.patient, w.b.patient, 987_654
    for patient_id in (theirs, missing):
        path = f"/api/v3/patient/{patient_id}"
        for response in (
            w.a.api.get(path),
            w.a.api.put(path, patient_body()),
            w.a.api.patch(path, {"firstName": "Eve"}),
        ):
            body = problem(response, 404, "not_found")
            assert str(theirs) not in body["detail"] or patient_id == theirs
    assert w.b.api.get(f"/api/v3/patient/{theirs}").json()["firstName"] == "Ada"
    assert w.a.api.get(f"/api/v3/patient/{own}").status_code == 200
    listed = w.a.api.get("/api/v3/patient", params={"siteId": w.b.site}).json()
    assert listed["content"] == [] and listed["total"] == 0


def test_patient_list_filters(w: World) -> None:
    api = w.a.api
    api.made(
        "/api/v3/patient",
        patient_body(
            firstName="Ångström", lastName="Zed", email="Z@X.org", externalIdentifier="E-9", enrolled=False
        ),
    )
    api.made("/api/v3/patient", patient_body(firstName="Bob", lastName="Archived", archived=True))

    def names(**params: object) -> list[str]:
        response = api.get("/api/v3/patient", params=params)
        assert response.status_code == 200, response.text
        return [p["firstName"] for p in response.json()["content"]]

    assert names() == ["Ada", "Ångström", "Bob"]
    assert names(name="ångström") == ["Ångström"]
    assert names(name="ada lovelace") == ["Ada"]
    assert names(email="z@x.ORG") == ["Ångström"]
    assert names(externalIdentifier="E-9") == ["Ångström"] and names(externalIdentifier="e-9") == []
    assert names(siteId=w.a.site) == ["Ada"]
    assert names(archived="true") == ["Bob"] and names(enrolled="false") == ["Ångström"]
    assert names(unknown="x", archived="false", enrolled="true") == ["Ada"]
    problem(api.get("/api/v3/patient", params={"archived": "yes"}), 400, "validation_error", "archived")
    problem(api.get("/api/v3/patient", params={"siteId": "0"}), 400, "validation_error", "siteId")
    problem(api.get("/api/v3/patient", params={"siteId": "1.0"}), 400, "validation_error", "siteId")


def test_sites(w: World) -> None:
    api = w.a.api
    site = api.made("/api/v3/site", {"name": " North ", "phoneNumber": "555", "address": ADDRESS})
    assert set(site) == SITE_FIELDS and site["name"] == "North" and site["active"] is True
    path = f"/api/v3/site/{site['id']}"
    assert api.get(path).json() == site
    assert api.patch(path, {"active": False}).json()["active"] is False
    replaced = api.put(path, {"name": "South"}).json()
    assert replaced["active"] is True and replaced["address"] is None and replaced["phoneNumber"] is None
    problem(api.post("/api/v3/site", {"name": ""}), 400, "validation_error", "name")
    problem(
        api.post("/api/v3/site", {"name": "x", "address": {"lineOne": "1"}}),
        400,
        "validation_error",
        "address.city",
    )
    problem(api.patch(path, {"name": None}), 400, "validation_error", "name")
    api.patch(path, {"active": False})
    names = lambda **q: [s["name"] for s in api.get("/api/v3/site", params=q).json()["content"]]  # noqa: E731
    assert names() == ["Acme clinic", "South"]
    assert names(active="false") == ["South"] and names(name="CLINIC") == ["Acme clinic"]
    for site_id in (w.b.site, 424_242):
        problem(api.get(f"/api/v3/site/{site_id}"), 404, "not_found")
        problem(api.patch(f"/api/v3/site/{site_id}", {"name": "x"}), 404, "not_found")
        problem(api.put(f"/api/v3/site/{site_id}", {"name": "x"}), 404, "not_found")


def test_patient_of_an_inactive_site_shows_the_site_as_it_is_now(w: World) -> None:
    w.a.api.patch(f"/api/v3/site/{w.a.site}", {"active": False, "name": "Renamed"})
    patient = w.a.api.get(f"/api/v3/patient/{w.a.patient}").json()
    assert patient["site"]["name"] == "Renamed" and patient["site"]["active"] is False


def test_the_operator_may_not_use_customer_endpoints(w: World) -> None:
    problem(w.operator.get("/api/v3/patient"), 403, "forbidden")
    problem(w.operator.post("/api/v3/site", {"name": "x"}), 403, "forbidden")
    problem(w.operator.get(f"/api/v3/patient/{w.a.patient}"), 403, "forbidden")
