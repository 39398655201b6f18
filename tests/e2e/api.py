"""A thin client of Kitflow's HTTP API for end-to-end tests, and a small world made through it."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

OPERATOR_KEY = "operator-key-for-the-e2e-tests-0123456789"
ADDRESS = {"lineOne": "1 Main St", "city": "Springfield", "state": "IL", "zipCode": "62701", "country": "US"}
JSON_TYPES = {"application/json", "application/vnd.oai.openapi+json"}
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}


class Api:
    """Calls the API with a key; every answer is checked to be JSON or problem+json as it should."""

    def __init__(self, http: httpx.Client, key: str | None = OPERATOR_KEY) -> None:
        self.http = http
        self.key = key

    def as_(self, key: str | None) -> Api:
        return Api(self.http, key)

    def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        params: Any = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if self.key is not None:
            sent.setdefault("Impilo-API-Key", self.key)
        if json is not None:
            content = msgspec.json.encode(json)
            sent.setdefault("Content-Type", "application/json")
        response = self.http.request(method, path, content=content, params=params, headers=sent)
        check_shape(response)
        return response

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.call("POST", path, json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.call("PUT", path, json, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.call("PATCH", path, json, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.call("DELETE", path, **kw)

    def made(self, path: str, json: Any, status: int = 201) -> dict[str, Any]:
        """POST ``json`` to ``path``; the resource it made."""
        response = self.post(path, json)
        assert response.status_code == status, response.text
        return response.json()


def check_shape(response: httpx.Response) -> None:
    """Every answer is JSON, problem+json (for every 4xx/5xx) or empty (204), never a 500."""
    assert response.status_code < 500, response.text
    content_type = response.headers.get("content-type", "")
    if response.status_code >= 400:
        assert content_type == "application/problem+json", (response.status_code, response.text)
        problem = response.json()
        assert PROBLEM_FIELDS <= set(problem), problem
        assert problem["status"] == response.status_code
        assert problem["type"] == f"/problems/{problem['code']}"
        assert "errors" not in problem or problem["errors"], problem
        assert "Traceback" not in response.text
    elif response.status_code != 204 and response.request.method != "HEAD":
        assert content_type.partition(";")[0] in JSON_TYPES, (response.status_code, content_type)


def problem(response: httpx.Response, status: int, code: str, *fields: str) -> dict[str, Any]:
    """Assert ``response`` is the problem ``status``/``code`` naming exactly ``fields`` (if given)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    if fields:
        assert [e["field"] for e in body.get("errors", [])] == list(fields), body
    return body


class Tenant(msgspec.Struct, kw_only=True):
    """A customer with a site, a patient and a kit."""

    api: Api
    id: int
    key: str
    site: int
    patient: int
    kit: int


class World(msgspec.Struct, kw_only=True):
    operator: Api
    item: int
    item2: int
    unorderable: int
    a: Tenant
    b: Tenant
    anonymous: Api

    def order(self, tenant: Tenant, **fields: Any) -> dict[str, Any]:
        return {
            "patient": {"id": tenant.patient},
            "orderItems": [{"item": {"id": self.item}, "count": 1}],
            **fields,
        }


def customer(operator: Api, name: str) -> tuple[int, Api]:
    made = operator.made("/api/v3/admin/customer", {"name": name})
    return made["id"], operator.as_(made["apiKey"])


def patient_body(**fields: Any) -> dict[str, Any]:
    return {"firstName": "Ada", "lastName": "Lovelace", "address": ADDRESS, **fields}


def tenant(operator: Api, name: str, item: int) -> Tenant:
    customer_id, api = customer(operator, name)
    site = api.made("/api/v3/site", {"name": f"{name} clinic"})["id"]
    patient = api.made("/api/v3/patient", patient_body(site={"id": site}))["id"]
    kit = api.made("/api/v3/kit", {"name": f"{name} kit", "kitItems": [{"item": {"id": item}, "count": 2}]})[
        "id"
    ]
    assert api.key is not None
    return Tenant(api=api, id=customer_id, key=api.key, site=site, patient=patient, kit=kit)


def world(http: httpx.Client) -> World:
    """The operator, a catalog of three items (one not orderable) and two customers."""
    operator = Api(http)
    item = operator.made(
        "/api/v3/item", {"name": "Scale", "sku": "SC-1", "manufacturer": {"name": "Withings"}}
    )["id"]
    item2 = operator.made("/api/v3/item", {"name": "Cuff", "sku": "BP-1", "model": "M2"})["id"]
    unorderable = operator.made("/api/v3/item", {"name": "Old", "sku": "OLD-1", "orderable": False})["id"]
    return World(
        operator=operator,
        item=item,
        item2=item2,
        unorderable=unorderable,
        a=tenant(operator, "Acme", item),
        b=tenant(operator, "Bolt", item),
        anonymous=operator.as_(None),
    )
