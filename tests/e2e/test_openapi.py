"""The OpenAPI document describes every endpoint, and the server's real answers conform to it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest
import schemathesis
from litestar.testing import TestClient

from tests.e2e.api import ADDRESS, Api, World, patient_body, world


@pytest.fixture
def document(http: TestClient) -> dict[str, Any]:
    response = http.get("/schema/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert body["openapi"].startswith("3.1")
    return body


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    }


def test_every_route_is_documented_with_what_it_reads(http: TestClient, document: dict[str, Any]) -> None:
    operations = _operations(document)
    served = {
        (method, route.path_format)
        for route in http.app.routes
        if not route.path_format.startswith("/schema")
        for method in getattr(route, "methods", ())
        if method != "OPTIONS"
    }
    assert served == set(operations)
    assert len(served) == 27
    scheme = document["components"]["securitySchemes"]["ImpiloApiKey"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Impilo-API-Key"}
    for (method, path), operation in operations.items():
        names = {p["name"] for p in operation.get("parameters", [])}
        assert set(re.findall(r"\{(\w+)\}", path)) <= names, path
        if method == "POST":
            assert "Idempotency-Key" in names and {"409", "422"} <= set(operation["responses"]), path
        if method in ("PUT", "PATCH") or (
            method == "POST"
            and path.endswith(("order", "status", "patient", "site", "item", "kit", "customer"))
        ):
            assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"], path
        if path == "/health":
            assert operation["security"] == []
        else:
            assert {"401", "403"} <= set(operation["responses"]), path
        if method == "GET" and "{" not in path and path != "/health":
            assert {"page", "size", "sortDescending", "cursor"} <= names, path


class Recorder:
    """Keeps every response the client receives."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        self.responses.append(response)


def _tour(w: World) -> None:
    """Every endpoint, answered with success and with its errors."""
    a, op = w.a.api, w.operator
    kit = a.made("/api/v3/kit", {"name": "k", "kitItems": [{"item": {"id": w.item}}]})["id"]
    order = a.made(
        "/api/v3/order", {**w.order(w.a), "orderKits": [{"kit": {"id": kit}}], "orderNotes": [{"note": "n"}]}
    )
    site_order = a.made("/api/v3/order", {"site": {"id": w.a.site}, "orderItems": [{"item": {"id": w.item}}]})
    a.post("/api/v3/order", w.order(w.a), headers={"Idempotency-Key": "tour"})
    a.post("/api/v3/order", w.order(w.a), headers={"Idempotency-Key": "tour"})
    a.post("/api/v3/order", w.order(w.a, shippingOption="overnight"), headers={"Idempotency-Key": "tour"})
    a.post("/api/v3/order", {"orderItems": []})
    a.post("/api/v3/order", w.order(w.a, patient={"id": w.b.patient}))
    a.post("/api/v3/order", w.order(w.a, orderItems=[{"item": {"id": 1}, "count": 0}]))
    a.post("/api/v3/order", w.order(w.a, externalOrderIds=["dup"]))
    a.post("/api/v3/order", w.order(w.a, externalOrderIds=["dup"]))
    a.call("POST", "/api/v3/order", content=b"{}", headers={"Content-Type": "text/plain"})
    a.call(
        "POST",
        "/api/v3/order",
        content=b"x" * (1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
    )
    for params in ({}, {"size": 1}, {"status": "received", "sortDescending": "true"}, {"size": 0}):
        a.get("/api/v3/order", params=params)
    cursor = a.get("/api/v3/order", params={"size": 1}).json()["nextCursor"]
    a.get("/api/v3/order", params={"size": 1, "cursor": cursor})
    a.get(f"/api/v3/order/{order['id']}")
    a.get("/api/v3/order/99999")
    a.get("/api/v3/order/abc")
    a.post(f"/api/v3/order/{order['id']}/cancel")
    a.post(f"/api/v3/order/{order['id']}/cancel")
    op.post(f"/api/v3/admin/order/{site_order['id']}/status", {"status": "processing"})
    op.post(
        f"/api/v3/admin/order/{site_order['id']}/status",
        {"status": "availableForPickup", "trackingNumber": {"carrier": "UPS", "value": "1"}},
    )
    op.post(f"/api/v3/admin/order/{site_order['id']}/status", {"status": "cancelled"})
    op.post(f"/api/v3/admin/order/{site_order['id']}/status", {"status": "x"})
    a.post(f"/api/v3/admin/order/{site_order['id']}/status", {"status": "shipped"})
    patient = a.made(
        "/api/v3/patient",
        patient_body(
            dateOfBirth="1990-05-01",
            sex="female",
            email="a@b.c",
            site={"id": w.a.site},
            externalIdentifier="x-1",
        ),
    )
    a.post("/api/v3/patient", patient_body(externalIdentifier="x-1"))
    a.post("/api/v3/patient", patient_body(firstName=None))
    a.get("/api/v3/patient", params={"name": "ada", "archived": "false"})
    a.get(f"/api/v3/patient/{patient['id']}")
    a.put(f"/api/v3/patient/{patient['id']}", patient_body())
    a.patch(f"/api/v3/patient/{patient['id']}", {"archived": True, "address": ADDRESS})
    a.patch(f"/api/v3/patient/{w.b.patient}", {"archived": True})
    a.made("/api/v3/site", {"name": "s", "address": ADDRESS})
    a.get("/api/v3/site", params={"active": "true"})
    a.get(f"/api/v3/site/{w.a.site}")
    a.put(f"/api/v3/site/{w.a.site}", {"name": "again"})
    a.patch(f"/api/v3/site/{w.a.site}", {"active": False})
    a.get("/api/v3/item", params={"orderable": "true"})
    a.get(f"/api/v3/item/{w.item}")
    a.post("/api/v3/item", {"name": "x", "sku": "y"})
    op.post("/api/v3/item", {"name": "Scale", "sku": "SC-1"})
    op.patch(f"/api/v3/item/{w.item2}", {"manufacturer": {"name": "Omron"}})
    a.get("/api/v3/kit", params={"itemId": w.item})
    a.get(f"/api/v3/kit/{kit}")
    a.patch(f"/api/v3/kit/{kit}", {"archived": True})
    a.patch(f"/api/v3/kit/{kit}", {"kitItems": []})
    customer = op.made("/api/v3/admin/customer", {"name": "Tour"})
    op.post(f"/api/v3/admin/customer/{customer['id']}/key")
    op.delete(f"/api/v3/admin/key/{customer['apiKey'][:8]}")
    op.delete("/api/v3/admin/key/nothere")
    w.anonymous.get("/api/v3/patient")
    w.anonymous.get("/health")
    w.anonymous.call("DELETE", "/api/v3/order")


def test_real_answers_conform_to_the_document(http: TestClient, document: dict[str, Any]) -> None:
    recorder = Recorder()
    http.event_hooks["response"].append(recorder)
    _tour(world(http))
    schema = schemathesis.openapi.from_dict(document)
    operations = _operations(document)
    templates = [(re.compile(re.sub(r"\{\w+\}", "[^/]+", path) + "$"), path) for _, path in operations]
    seen: set[tuple[str, int]] = set()
    for response in recorder.responses:
        method, path = response.request.method, response.request.url.path
        template = next(
            (t for pattern, t in templates if pattern.match(path) and (method, t) in operations), None
        )
        if template is None:  # a wrong method: a 405 problem, documented nowhere by design
            assert response.status_code == 405, (method, path)
            continue
        documented = operations[(method, template)]["responses"]
        assert str(response.status_code) in documented, (
            method,
            template,
            response.status_code,
            response.text,
        )
        content = documented[str(response.status_code)].get("content", {})
        if response.status_code != 204:
            assert response.headers["content-type"] in content, (method, template, response.headers)
        response.elapsed = dt.timedelta(0)
        schema[template][method].validate_response(response)
        seen.add((f"{method} {template}", response.status_code))
    assert {endpoint for endpoint, _ in seen} == {f"{m} {p}" for m, p in operations}
    assert {status for _, status in seen} >= {200, 201, 204, 400, 401, 403, 404, 409, 413, 415, 422}


def test_the_check_catches_a_response_that_breaks_the_document(document: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_dict(document)
    request = httpx.Request("GET", "http://testserver.local/api/v3/site/1")
    wrong = httpx.Response(200, json={"id": "one", "name": "x"}, request=request)
    wrong.read()
    wrong.elapsed = dt.timedelta(0)
    with pytest.raises(BaseException):  # noqa: B017,PT011 - schemathesis raises a group of failures
        schema["/api/v3/site/{siteId}"]["GET"].validate_response(wrong)


def test_a_client_generated_from_the_document_calls_a_list(
    http: TestClient, document: dict[str, Any]
) -> None:
    """A request built only from the document's parameters (as a generated client would) works."""
    w = world(http)
    operation = document["paths"]["/api/v3/order"]["get"]
    query = {
        p["name"]: ("true" if p["schema"].get("type") == "boolean" else None) for p in operation["parameters"]
    }
    query = {k: v for k, v in query.items() if v}
    response = Api(http, w.a.key).get("/api/v3/order", params=query)
    assert response.status_code == 200 and response.json()["content"] == []
