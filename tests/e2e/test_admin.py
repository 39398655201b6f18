"""The operator's customers and keys (API.md 1 and 6), the health check and the request id."""

from __future__ import annotations

import json
import logging

import pytest

from tests.e2e.api import Api, World, problem


def test_create_customer_and_issue_keys(operator: Api) -> None:
    made = operator.made("/api/v3/admin/customer", {"name": "  Acme  ", "apiKey": "ignored"})
    assert set(made) == {"id", "name", "apiKey"} and made["name"] == "Acme" and len(made["apiKey"]) >= 22
    first = operator.as_(made["apiKey"])
    second_key = operator.made(f"/api/v3/admin/customer/{made['id']}/key", None)["apiKey"]
    assert second_key != made["apiKey"] and second_key[:8] != made["apiKey"][:8]
    second = operator.as_(second_key)
    site = first.made("/api/v3/site", {"name": "shared"})
    assert second.get(f"/api/v3/site/{site['id']}").json() == site  # both keys are the same customer
    problem(operator.post("/api/v3/admin/customer", {"name": " "}), 400, "validation_error", "name")
    problem(operator.post("/api/v3/admin/customer", {}), 400, "validation_error", "name")
    problem(operator.post("/api/v3/admin/customer/4444/key"), 404, "not_found")


def test_revoking_a_key_rejects_it_at_once(w: World) -> None:
    op = w.operator
    spare = op.made(f"/api/v3/admin/customer/{w.a.id}/key", None)["apiKey"]
    revoked = op.delete(f"/api/v3/admin/key/{w.a.key[:8]}")
    assert revoked.status_code == 204 and revoked.content == b""
    problem(w.a.api.get("/api/v3/site"), 401, "unauthorized")
    assert w.a.api.as_(spare).get("/api/v3/site").status_code == 200
    problem(op.delete(f"/api/v3/admin/key/{w.a.key[:8]}"), 404, "not_found")
    for prefix in ("unknown1", "short", w.a.key[:9]):
        problem(op.delete(f"/api/v3/admin/key/{prefix}"), 404, "not_found")
    problem(op.delete(f"/api/v3/admin/key/{op.key[:8]}"), 404, "not_found")  # type: ignore[index]


def test_customers_may_not_use_operator_endpoints(w: World) -> None:
    api = w.a.api
    problem(api.post("/api/v3/admin/customer", {"name": "x"}), 403, "forbidden")
    problem(api.post(f"/api/v3/admin/customer/{w.a.id}/key"), 403, "forbidden")
    problem(api.delete(f"/api/v3/admin/key/{w.b.key[:8]}"), 403, "forbidden")
    assert w.b.api.get("/api/v3/site").status_code == 200


def test_health_needs_no_key(w: World) -> None:
    response = w.anonymous.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_request_id_is_echoed_or_made_and_each_request_logs_one_line(
    w: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="kitflow.access"):
        echoed = w.a.api.get("/api/v3/site", headers={"X-Request-ID": "req-42"})
        made = w.anonymous.get("/nope")
        made_again = w.anonymous.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert echoed.headers["x-request-id"] == "req-42"
    assert made.headers["x-request-id"] and made.headers["x-request-id"] != made_again.headers["x-request-id"]
    assert made_again.headers["x-request-id"] != "bad id with spaces"
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kitflow.access"]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/api/v3/site", 200),
        ("GET", "/nope", 404),
        ("GET", "/health", 200),
    ]
    assert lines[0]["requestId"] == "req-42" and all(line["durationMs"] >= 0 for line in lines)
