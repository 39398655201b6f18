"""Errors: problem+json everywhere, and which error wins (API.md 2 and 10)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from kitflow_adapters.http.app import build_app
from tests.e2e.api import ADDRESS, Api, World, check_shape, patient_body, problem

BAD_IDS = ["abc", "0", "+3", "%203", "3%20", "-1", "1.0", "01", str(2**64), str(2**63)]


def test_bad_path_ids_are_404_before_the_key_is_looked_at(http: TestClient) -> None:
    anonymous = Api(http, key=None)
    for bad in BAD_IDS:
        for method, path in [
            ("GET", f"/api/v3/order/{bad}"),
            ("POST", f"/api/v3/order/{bad}/cancel"),
            ("PATCH", f"/api/v3/patient/{bad}"),
            ("PUT", f"/api/v3/site/{bad}"),
            ("GET", f"/api/v3/item/{bad}"),
            ("PATCH", f"/api/v3/kit/{bad}"),
            ("POST", f"/api/v3/admin/customer/{bad}/key"),
            ("POST", f"/api/v3/admin/order/{bad}/status"),
            ("DELETE", f"/api/v3/order/{bad}"),  # a wrong method too: the bad id wins
        ]:
            response = anonymous.call(
                method, path, content=b"{not json", headers={"Content-Type": "text/plain"}
            )
            problem(response, 404, "not_found")


def test_options_lists_the_methods_of_a_path_and_a_bad_id_is_404(w: World) -> None:
    for path, methods in [
        ("/api/v3/order", {"GET", "POST", "OPTIONS"}),
        ("/api/v3/order/7", {"GET", "OPTIONS"}),
        ("/api/v3/order/7/cancel", {"POST", "OPTIONS"}),
        ("/health", {"GET", "OPTIONS"}),
    ]:
        response = w.anonymous.call("OPTIONS", path)  # no key needed: it says what the path takes
        assert response.status_code == 204 and not response.content
        assert set(response.headers["allow"].split(", ")) == methods
    for bad in BAD_IDS:
        problem(w.anonymous.call("OPTIONS", f"/api/v3/order/{bad}"), 404, "not_found")
        problem(w.anonymous.call("OPTIONS", f"/api/v3/admin/customer/{bad}/key"), 404, "not_found")


def test_the_largest_id_is_well_formed(w: World) -> None:
    problem(w.a.api.get(f"/api/v3/order/{2**63 - 1}"), 404, "not_found")
    problem(w.anonymous.get(f"/api/v3/order/{2**63 - 1}"), 401, "unauthorized")


def test_unknown_paths_and_wrong_methods(w: World) -> None:
    for path in ["/nope", "/api/v3/orders", "/api/v3/order/1/2", "/schema/nope", "/api/v4/order"]:
        problem(w.a.api.get(path), 404, "not_found")
    response = w.anonymous.call("DELETE", "/api/v3/patient/1")
    problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]
    problem(w.anonymous.call("PUT", "/api/v3/order"), 405, "method_not_allowed")
    problem(w.anonymous.call("POST", "/health"), 405, "method_not_allowed")


def test_keys(w: World) -> None:
    for api in (w.anonymous, w.a.api.as_("nope"), w.a.api.as_(""), w.a.api.as_(w.a.key + "x")):
        problem(api.get("/api/v3/patient"), 401, "unauthorized")
        problem(api.get("/api/v3/item"), 401, "unauthorized")
        problem(api.post("/api/v3/admin/customer", {"name": "x"}), 401, "unauthorized")


def test_401_then_403_then_413_then_415_then_400_then_the_rules(w: World) -> None:
    big = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    json_type = {"Content-Type": "application/json"}
    text_type = {"Content-Type": "text/plain"}
    # no key: 401, whatever the body
    problem(w.anonymous.call("POST", "/api/v3/site", content=b"[", headers=text_type), 401, "unauthorized")
    # a customer on an operator endpoint: 403, even with a bad or huge body
    problem(w.a.api.call("POST", "/api/v3/item", content=b"[", headers=text_type), 403, "forbidden")
    problem(w.a.api.call("POST", "/api/v3/item", content=big, headers=json_type), 403, "forbidden")
    problem(w.operator.call("POST", "/api/v3/site", content=b"[", headers=json_type), 403, "forbidden")
    # then 413 before 415
    problem(w.a.api.call("POST", "/api/v3/site", content=big, headers=text_type), 413, "payload_too_large")
    problem(
        w.a.api.call("PATCH", f"/api/v3/site/{w.a.site}", content=big, headers=json_type),
        413,
        "payload_too_large",
    )
    # then 415 before 400
    problem(
        w.a.api.call("POST", "/api/v3/site", content=b"[", headers=text_type), 415, "unsupported_media_type"
    )
    problem(w.a.api.call("POST", "/api/v3/site", content=b'{"name": "x"}'), 415, "unsupported_media_type")
    # then validation_error before the resource's own 404
    problem(
        w.a.api.call("PATCH", "/api/v3/site/99999", content=b"[", headers=json_type), 400, "validation_error"
    )
    problem(w.a.api.patch("/api/v3/site/99999", {"name": "ok"}), 404, "not_found")


def test_json_content_types(w: World) -> None:
    for content_type in (
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/merge-patch+json",
        "application/vnd.api+json;v=1",
    ):
        response = w.a.api.call(
            "POST", "/api/v3/site", content=b'{"name": "x"}', headers={"Content-Type": content_type}
        )
        assert response.status_code == 201, (content_type, response.text)


def test_non_json_content_types(w: World) -> None:
    for content_type in ("text/plain", "application/xml", "application/jsonx", "multipart/form-data"):
        response = w.a.api.call(
            "POST", "/api/v3/site", content=b'{"name": "x"}', headers={"Content-Type": content_type}
        )
        problem(response, 415, "unsupported_media_type")


MALFORMED_BODIES = [
    b"",
    b"[]",
    b"null",
    b"{",
    b'{"name": "x",}',
    b"\xff\xfe",
    b'{"name": "x\x00"',
    b"1" * 5000,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"name": 123}',
    b'{"name": "x", "name": 5}',
    b'{"name": "x", "name": "y"}',
]


def test_malformed_bodies_are_validation_errors(w: World) -> None:
    for raw in MALFORMED_BODIES:
        response = w.a.api.call(
            "POST", "/api/v3/site", content=raw, headers={"Content-Type": "application/json"}
        )
        problem(response, 400, "validation_error")
    assert w.a.api.get("/api/v3/site").json()["total"] == 1


def test_deeply_nested_unknown_fields_are_ignored_or_refused_cleanly(w: World) -> None:
    nested = b'{"name": "x", "extra": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = w.a.api.call(
        "POST", "/api/v3/site", content=nested, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (201, 400), response.text


def test_strings_are_stored_verbatim_and_huge_numbers_are_refused(w: World) -> None:
    hostile = "'; DROP TABLE orders; -- <script>alert(1)</script>"
    site = w.a.api.made("/api/v3/site", {"name": hostile})
    assert w.a.api.get(f"/api/v3/site/{site['id']}").json()["name"] == hostile
    raw = b'{"patient": {"id": 123456789012345678901234567890}, "orderItems": [{"item": {"id": 1}}]}'
    problem(
        w.a.api.call("POST", "/api/v3/order", content=raw, headers={"Content-Type": "application/json"}),
        400,
        "validation_error",
        "patient.id",
    )


def test_problem_documents(w: World) -> None:
    body = problem(w.a.api.post("/api/v3/order", {"orderItems": [{"item": {"id": 1}}]}), 400, "invalid_order")
    assert body["title"] == "Invalid order" and body["type"] == "/problems/invalid_order"
    assert body["errors"] == [{"field": "patient", "message": body["detail"]}]
    missing = problem(w.a.api.get("/api/v3/order/5"), 404, "not_found")
    assert "errors" not in missing
    required = problem(
        w.a.api.post("/api/v3/patient", {"lastName": "x", "address": ADDRESS}), 400, "validation_error"
    )
    assert required["errors"][0]["field"] == "firstName"


def test_a_bad_request_never_stores_anything(w: World) -> None:
    before = w.a.api.get("/api/v3/patient").json()["total"]
    for body in ({"firstName": "x"}, patient_body(site={"id": 9999}), patient_body(email="not-an-email")):
        assert w.a.api.post("/api/v3/patient", body).status_code == 400
    assert w.a.api.get("/api/v3/patient").json()["total"] == before


def test_check_shape_catches_a_server_error() -> None:
    """The helper every test relies on does fail on a 500 or a non-problem error."""
    import httpx

    request = httpx.Request("GET", "http://x/")
    with pytest.raises(AssertionError):
        check_shape(httpx.Response(500, json={}, request=request))
    with pytest.raises(AssertionError):
        check_shape(
            httpx.Response(404, text="<html>", headers={"content-type": "text/html"}, request=request)
        )


class _BrokenStore:
    """A store whose every transaction fails, as a disk or driver failure would."""

    def begin(self, *, write: bool = False) -> Any:
        raise RuntimeError("disk on fire: /secret/path")

    def find_key(self, prefix: str) -> Any:
        raise RuntimeError("disk on fire: /secret/path")

    def close(self) -> None:
        pass


def test_an_unexpected_failure_is_a_logged_500_problem_without_a_trace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = build_app(_BrokenStore(), operator_digest=None)  # type: ignore[arg-type]
    with TestClient(app) as http, caplog.at_level(logging.ERROR, logger="kitflow.http"):
        response = http.get("/api/v3/order", headers={"Impilo-API-Key": "some-key"})
        healthy = http.get("/health")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "internal_error" and body["type"] == "/problems/internal_error"
    assert "disk on fire" not in response.text and "Traceback" not in response.text
    assert any(
        "disk on fire" in (r.exc_text or str(r.exc_info)) for r in caplog.records if r.name == "kitflow.http"
    )
    assert healthy.status_code == 200


def test_a_database_locked_too_long_answers_503_and_stores_nothing(tmp_path: Path) -> None:
    """Another process holds SQLite's write lock past the store's patience: the client gets a
    retryable 503 problem (not a 500), and the write it asked for is not made."""
    import sqlite3

    from kitflow.domain.identity import OPERATOR
    from kitflow.services.access import create_customer
    from kitflow.services.clock import SystemClock
    from kitflow_adapters.sqlite import SqliteStore

    path = tmp_path / "locked.db"
    store = SqliteStore(str(path), lock_timeout=0.3)
    key = create_customer("Acme", caller=OPERATOR, uow=store, clock=SystemClock()).api_key
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        with TestClient(build_app(store, operator_digest=None)) as http:
            headers = {"Impilo-API-Key": key, "Content-Type": "application/json"}
            holder.execute("BEGIN IMMEDIATE")
            response = http.post("/api/v3/site", content=b'{"name": "North"}', headers=headers)
            holder.execute("ROLLBACK")
            listed = http.get("/api/v3/site", headers=headers)
    finally:
        holder.close()
        store.close()
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["code"] == "service_unavailable"
    assert listed.status_code == 200 and listed.json()["total"] == 0
