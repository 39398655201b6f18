"""Idempotency-Key on every POST (API.md 5 and 10)."""

from __future__ import annotations

from pathlib import Path

import msgspec
from litestar.testing import TestClient

from kitflow.domain.idempotency import IdempotencyRecord
from kitflow.domain.identity import digest
from kitflow.domain.ports import UnitOfWork
from kitflow.services.clock import SystemClock
from kitflow_adapters.http.app import build_app
from kitflow_adapters.http.endpoint import fingerprint
from kitflow_adapters.sqlite import SqliteStore
from tests.e2e.api import OPERATOR_KEY, Api, World, problem, world

REPLAYED = "Idempotent-Replayed"


def _key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def test_same_key_same_request_replays_the_first_answer(w: World) -> None:
    api = w.a.api
    first = api.post("/api/v3/order", w.order(w.a), headers=_key("k-1"))
    assert first.status_code == 201 and REPLAYED not in first.headers
    same_json = api.call(
        "POST",
        "/api/v3/order",
        headers={**_key("k-1"), "Content-Type": "application/json"},
        content=b'{ "orderItems": [{"count": 1, "item": {"id": %d}}],\n "patient": {"id": %d} }'
        % (w.item, w.a.patient),
    )
    assert same_json.status_code == 201 and same_json.headers[REPLAYED] == "true"
    assert same_json.content == first.content
    assert api.get("/api/v3/order").json()["total"] == 1


def test_same_key_other_request_is_422_and_keys_are_per_caller(w: World) -> None:
    api = w.a.api
    api.post("/api/v3/order", w.order(w.a), headers=_key("k-2"))
    problem(
        api.post("/api/v3/order", w.order(w.a, shippingOption="overnight"), headers=_key("k-2")),
        422,
        "idempotency_key_reused",
    )
    problem(api.post("/api/v3/site", {"name": "x"}, headers=_key("k-2")), 422, "idempotency_key_reused")
    other = w.b.api.post("/api/v3/order", w.order(w.b), headers=_key("k-2"))
    assert other.status_code == 201 and REPLAYED not in other.headers


def test_rule_errors_are_kept_and_replayed(w: World) -> None:
    api = w.a.api
    body = w.order(w.a, patient={"id": 4040})
    first = api.post("/api/v3/order", body, headers=_key("k-3"))
    problem(first, 400, "patient_does_not_exist")
    api.made(
        "/api/v3/patient",
        {
            "firstName": "x",
            "lastName": "y",
            "address": {"lineOne": "1", "city": "c", "state": "s", "zipCode": "z", "country": "US"},
        },
    )
    again = api.post("/api/v3/order", body, headers=_key("k-3"))
    assert again.status_code == 400 and again.headers[REPLAYED] == "true" and again.content == first.content
    missing = api.post("/api/v3/order/777/cancel", headers=_key("k-4"))
    problem(missing, 404, "not_found")
    assert api.post("/api/v3/order/777/cancel", headers=_key("k-4")).headers[REPLAYED] == "true"


def test_validation_and_auth_errors_are_not_kept(w: World) -> None:
    api = w.a.api
    problem(api.post("/api/v3/order", w.order(w.a, orderItems=[]), headers=_key("k-5")), 400, "invalid_order")
    # invalid_order is a rule of the resource: kept
    assert (
        api.post("/api/v3/order", w.order(w.a, orderItems=[]), headers=_key("k-5")).headers[REPLAYED]
        == "true"
    )
    problem(api.post("/api/v3/order", {"patient": "x"}, headers=_key("k-6")), 400, "validation_error")
    made = api.post("/api/v3/order", w.order(w.a), headers=_key("k-6"))
    assert made.status_code == 201 and REPLAYED not in made.headers
    problem(
        api.post(
            "/api/v3/patient",
            {
                "firstName": "x",
                "lastName": "y",
                "dateOfBirth": "2999-01-01",
                "address": {"lineOne": "1", "city": "c", "state": "s", "zipCode": "z", "country": "US"},
            },
            headers=_key("k-7"),
        ),
        400,
        "validation_error",
        "dateOfBirth",
    )
    assert (
        api.post("/api/v3/site", {"name": "fresh"}, headers=_key("k-7")).status_code == 201
    )  # k-7 was released
    problem(w.a.api.as_("bad").post("/api/v3/site", {"name": "x"}, headers=_key("k-8")), 401, "unauthorized")
    problem(api.post("/api/v3/item", {"name": "x", "sku": "y"}, headers=_key("k-8")), 403, "forbidden")
    assert api.post("/api/v3/site", {"name": "x"}, headers=_key("k-8")).status_code == 201


def test_malformed_keys_are_validation_errors(w: World) -> None:
    for bad in ("x" * 256, "tab\there", "é".encode("latin-1")):
        response = w.a.api.call(
            "POST",
            "/api/v3/site",
            headers={"Idempotency-Key": bad, "Content-Type": "application/json"},
            content=b'{"name": "x"}',
        )  # type: ignore[dict-item]
        problem(response, 400, "validation_error", "Idempotency-Key")
    assert w.a.api.get("/api/v3/site").json()["total"] == 1


def test_every_post_takes_a_key(w: World) -> None:
    op, api = w.operator, w.a.api
    order = api.made("/api/v3/order", w.order(w.a))["id"]
    calls = [
        (
            api,
            "/api/v3/patient",
            {
                "firstName": "x",
                "lastName": "y",
                "address": {"lineOne": "1", "city": "c", "state": "s", "zipCode": "z", "country": "US"},
            },
        ),
        (api, "/api/v3/site", {"name": "s"}),
        (api, "/api/v3/kit", {"name": "k", "kitItems": [{"item": {"id": w.item}}]}),
        (op, "/api/v3/item", {"name": "i", "sku": "new-sku"}),
        (op, f"/api/v3/admin/order/{order}/status", {"status": "processing"}),
        (api, f"/api/v3/order/{order}/cancel", None),
    ]
    for caller, path, body in calls:
        first = caller.post(path, body, headers=_key(f"every-{path}"))
        again = caller.post(path, body, headers=_key(f"every-{path}"))
        assert first.status_code in (200, 201), first.text
        assert (again.status_code, again.content, again.headers[REPLAYED]) == (
            first.status_code,
            first.content,
            "true",
        )


def test_a_replayed_key_issue_does_not_show_the_secret_again(w: World) -> None:
    op = w.operator
    first = op.post("/api/v3/admin/customer", {"name": "Cyan"}, headers=_key("c-1"))
    again = op.post("/api/v3/admin/customer", {"name": "Cyan"}, headers=_key("c-1"))
    assert first.json()["apiKey"] and again.json() == {**first.json(), "apiKey": None}
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    new_key = op.post(f"/api/v3/admin/customer/{w.a.id}/key", headers=_key("c-2"))
    replay = op.post(f"/api/v3/admin/customer/{w.a.id}/key", headers=_key("c-2"))
    assert new_key.json()["apiKey"] and replay.json() == {"apiKey": None}
    assert w.a.api.as_(new_key.json()["apiKey"]).get("/api/v3/site").status_code == 200


def test_replay_survives_a_restart_on_the_same_sqlite_file(tmp_path: Path) -> None:
    path = str(tmp_path / "kitflow.db")
    store = SqliteStore(path)
    try:
        with TestClient(build_app(store, operator_digest=digest(OPERATOR_KEY))) as http:
            w = world(http)
            first = w.a.api.post("/api/v3/order", w.order(w.a), headers=_key("restart"))
    finally:
        store.close()
    store = SqliteStore(path)
    try:
        with TestClient(build_app(store, operator_digest=digest(OPERATOR_KEY))) as http:
            api = Api(http, w.a.key)
            again = api.post("/api/v3/order", w.order(w.a), headers=_key("restart"))
            assert again.headers[REPLAYED] == "true" and again.content == first.content
            problem(
                api.post("/api/v3/order", w.order(w.a, orderNotes=[{"note": "x"}]), headers=_key("restart")),
                422,
                "idempotency_key_reused",
            )
            assert api.get("/api/v3/order").json()["total"] == 1
    finally:
        store.close()


def test_a_key_still_in_flight_is_409(w: World, store: UnitOfWork) -> None:
    body = {"name": "slow"}
    claim = IdempotencyRecord(
        scope=f"customer:{w.a.id}",
        key="busy",
        token="first-request",
        fingerprint=fingerprint("POST", "/api/v3/site", msgspec.json.encode(body)),
        created_at=SystemClock().now(),
    )
    with store.begin(write=True) as tx:
        tx.idempotency.put(claim)
    problem(w.a.api.post("/api/v3/site", body, headers=_key("busy")), 409, "idempotency_key_in_use")
    problem(
        w.a.api.post("/api/v3/site", {"name": "other"}, headers=_key("busy")), 422, "idempotency_key_reused"
    )
    assert w.a.api.get("/api/v3/site").json()["total"] == 1
