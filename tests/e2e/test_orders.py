"""Orders over HTTP: creation checks in API.md's order, reads, filters, the lifecycle (API.md 5, 7)."""

from __future__ import annotations

import datetime as dt

from tests.e2e.api import World, problem

ORDER_FIELDS = {
    "id",
    "externalOrderIds",
    "patient",
    "site",
    "currentStatus",
    "orderItems",
    "orderKits",
    "orderEvents",
    "orderNotes",
    "trackingNumbers",
    "devices",
    "packedKits",
    "shippingOption",
    "createdAt",
    "updatedAt",
}


def test_create_order_answers_the_full_order(w: World) -> None:
    order = w.a.api.made(
        "/api/v3/order",
        {
            "patient": {"id": w.a.patient, "firstName": "ignored"},
            "orderItems": [{"item": {"id": w.item}, "count": 2}],
            "orderKits": [{"kit": {"id": w.a.kit}}],
            "externalOrderIds": ["ehr-4471"],
            "shippingOption": "expedited",
            "orderNotes": [{"note": " leave at the front desk "}],
            "id": 5,
            "currentStatus": "delivered",
            "orderEvents": [],
        },
    )
    assert set(order) == ORDER_FIELDS
    assert order["currentStatus"] == "received" and [e["name"] for e in order["orderEvents"]] == ["received"]
    assert order["patient"]["id"] == w.a.patient and order["patient"]["site"]["id"] == w.a.site
    assert order["site"] is None and order["devices"] == [] and order["packedKits"] == []
    assert order["orderItems"][0]["item"]["manufacturer"]["name"] == "Withings"
    assert order["orderItems"][0]["count"] == 2 and order["orderKits"][0]["count"] == 1
    assert order["orderKits"][0]["kit"]["kitItems"][0]["count"] == 2
    assert order["orderNotes"][0]["note"] == "leave at the front desk"
    assert order["shippingOption"] == "expedited" and order["externalOrderIds"] == ["ehr-4471"]
    assert order["trackingNumbers"] == []
    assert w.a.api.get(f"/api/v3/order/{order['id']}").json() == order


def test_a_site_order_and_the_shipping_default(w: World) -> None:
    order = w.a.api.made(
        "/api/v3/order",
        {
            "site": {"id": w.a.site},
            "orderKits": [{"kit": {"id": w.a.kit}}],
            "patient": None,
            "shippingOption": None,
        },
    )
    assert (
        order["site"]["id"] == w.a.site and order["patient"] is None and order["shippingOption"] == "standard"
    )


BROKEN_ORDERS: list[tuple[dict[str, object], str, str]] = [
    ({"orderItems": [{"item": {"id": 1}, "count": 0}]}, "validation_error", "orderItems[0].count"),
    ({"orderItems": [{"item": {"id": 1}, "count": 1.0}]}, "validation_error", "orderItems[0].count"),
    ({"orderItems": [{"item": {"id": 0}}]}, "validation_error", "orderItems[0].item.id"),
    ({"orderItems": [{"item": {"id": 2**63}}]}, "validation_error", "orderItems[0].item.id"),
    ({"orderItems": [{"item": {}}]}, "validation_error", "orderItems[0].item.id"),
    ({"orderKits": [{"kit": {"id": "7"}}]}, "validation_error", "orderKits[0].kit.id"),
    ({"patient": {"id": -1}}, "validation_error", "patient.id"),
    ({"patient": 3}, "validation_error", "patient"),
    ({"externalOrderIds": [""]}, "validation_error", "externalOrderIds[0]"),
    ({"externalOrderIds": ["x"] * 21}, "validation_error", "externalOrderIds"),
    ({"shippingOption": "teleport"}, "validation_error", "shippingOption"),
    ({"orderNotes": [{"note": "n" * 1001}]}, "validation_error", "orderNotes[0].note"),
    ({"orderNotes": [{}]}, "validation_error", "orderNotes[0].note"),
    ({"patient": None}, "invalid_order", "patient"),
    ({"site": {"id": 1}}, "invalid_order", "site"),
    ({"orderItems": []}, "invalid_order", "orderItems"),
    (
        {"orderItems": [{"item": {"id": 1}}, {"item": {"id": 1}}]},
        "invalid_order",
        "orderItems[1].item.id",
    ),
    ({"externalOrderIds": ["a", "a"]}, "invalid_order", "externalOrderIds[1]"),
]
"""Fields that break an order's shape (validation_error) or structure (invalid_order), the code and
the field each is reported on."""


def test_shape_then_structure(w: World) -> None:
    for fields, code, field in BROKEN_ORDERS:
        problem(w.a.api.post("/api/v3/order", w.order(w.a, **fields)), 400, code, field)
    assert w.a.api.get("/api/v3/order").json()["total"] == 0


def test_shape_is_checked_before_structure(w: World) -> None:
    body = {"orderItems": [{"item": {"id": 1}, "count": 0}]}  # no patient nor site, and a bad count
    problem(w.a.api.post("/api/v3/order", body), 400, "validation_error", "orderItems[0].count")


def test_references_in_order_and_tenancy(w: World) -> None:
    api, b = w.a.api, w.b
    archived = api.made(
        "/api/v3/patient",
        {
            "firstName": "A",
            "lastName": "B",
            "address": {"lineOne": "1", "city": "c", "state": "s", "zipCode": "z", "country": "US"},
            "archived": True,
        },
    )["id"]
    inactive = api.made("/api/v3/site", {"name": "Closed", "active": False})["id"]
    archived_kit = api.made("/api/v3/kit", {"name": "Old", "kitItems": [{"item": {"id": w.item}}]})["id"]
    api.patch(f"/api/v3/kit/{archived_kit}", {"archived": True})
    bad_kit = api.made("/api/v3/kit", {"name": "Bad", "kitItems": [{"item": {"id": w.unorderable}}]})["id"]
    item_line = [{"item": {"id": w.item}}]
    cases = [
        (
            {"patient": {"id": b.patient}, "orderItems": [{"item": {"id": 999}}]},
            "patient_does_not_exist",
            "patient.id",
        ),
        (
            {"patient": {"id": archived}, "orderItems": [{"item": {"id": 999}}]},
            "patient_archived",
            "patient.id",
        ),
        ({"site": {"id": b.site}, "orderItems": item_line}, "site_does_not_exist", "site.id"),
        ({"site": {"id": inactive}, "orderItems": item_line}, "site_inactive", "site.id"),
        (
            {
                "orderItems": [{"item": {"id": w.item}}, {"item": {"id": 999}}],
                "orderKits": [{"kit": {"id": b.kit}}],
            },
            "item_does_not_exist",
            "orderItems[1].item.id",
        ),
        ({"orderItems": [{"item": {"id": w.unorderable}}]}, "item_not_orderable", "orderItems[0].item.id"),
        ({"orderKits": [{"kit": {"id": b.kit}}]}, "kit_does_not_exist", "orderKits[0].kit.id"),
        ({"orderKits": [{"kit": {"id": archived_kit}}]}, "kit_archived", "orderKits[0].kit.id"),
        ({"orderKits": [{"kit": {"id": bad_kit}}]}, "item_not_orderable", "orderKits[0].kit.id"),
    ]
    for fields, code, field in cases:
        body = {"patient": {"id": w.a.patient}, **fields}
        if "site" in fields:
            del body["patient"]
        problem(api.post("/api/v3/order", body), 400, code, field)
    assert api.get("/api/v3/order").json()["total"] == 0


def test_a_patient_whose_site_is_inactive_can_be_ordered_for(w: World) -> None:
    w.a.api.patch(f"/api/v3/site/{w.a.site}", {"active": False})
    w.a.api.made("/api/v3/order", w.order(w.a))


def test_external_order_ids_are_unique_per_customer(w: World) -> None:
    first = w.a.api.made("/api/v3/order", w.order(w.a, externalOrderIds=["x-1", "x-2"]))
    body = problem(
        w.a.api.post("/api/v3/order", w.order(w.a, externalOrderIds=["x-3", "x-2"])),
        409,
        "duplicate_external_order_id",
        "externalOrderIds[1]",
    )
    assert str(first["id"]) in body["detail"]
    w.b.api.made("/api/v3/order", w.order(w.b, externalOrderIds=["x-2"]))


def test_orders_show_current_data(w: World) -> None:
    order = w.a.api.made("/api/v3/order", w.order(w.a))
    w.operator.patch(f"/api/v3/item/{w.item}", {"name": "Scale v2"})
    w.a.api.patch(f"/api/v3/patient/{w.a.patient}", {"firstName": "Grace"})
    now = w.a.api.get(f"/api/v3/order/{order['id']}").json()
    assert now["orderItems"][0]["item"]["name"] == "Scale v2" and now["patient"]["firstName"] == "Grace"


def test_order_list_filters(w: World) -> None:
    api = w.a.api
    one = api.made("/api/v3/order", w.order(w.a, externalOrderIds=["e-1"]))["id"]
    two = api.made("/api/v3/order", {"site": {"id": w.a.site}, "orderItems": [{"item": {"id": w.item}}]})[
        "id"
    ]
    three = api.made("/api/v3/order", w.order(w.a))["id"]
    w.b.api.made("/api/v3/order", w.order(w.b))
    api.post(f"/api/v3/order/{three}/cancel")

    def ids(params: object) -> list[int]:
        response = api.get("/api/v3/order", params=params)
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["content"]]

    assert ids({}) == [one, two, three]
    assert ids({"sortDescending": "true"}) == [three, two, one]
    assert ids({"status": "cancelled"}) == [three] and ids({"status": "received"}) == [one, two]
    assert ids({"patientId": w.a.patient}) == [one, three] and ids({"siteId": w.a.site}) == [two]
    assert ids({"patientId": w.b.patient}) == [] and ids({"siteId": w.b.site}) == []
    assert ids({"externalOrderId": "e-1"}) == [one] and ids({"externalOrderId": "E-1"}) == []
    assert ids([("id", one), ("id", three), ("id", 999)]) == [one, three]
    created = api.get(f"/api/v3/order/{two}").json()["createdAt"]
    naive = created.removesuffix("Z")
    later = (dt.datetime.fromisoformat(naive) + dt.timedelta(hours=2)).isoformat()
    assert ids({"createdFrom": naive}) == [o for o in (one, two, three) if o >= two]
    assert ids({"createdTo": created}) == [o for o in (one, two, three) if o < two] or ids(
        {"createdTo": created}
    ) == [one]
    assert ids({"createdFrom": f"{later}+02:00"}) == ids({"createdFrom": naive})
    for name, value in [
        ("status", "lost"),
        ("patientId", "x"),
        ("createdFrom", "soon"),
        ("id", "2.5"),
        ("size", "0"),
        ("size", "251"),
        ("page", "0"),
        ("page", "-1"),
        ("sortDescending", "True"),
    ]:
        problem(api.get("/api/v3/order", params={name: value}), 400, "validation_error", name)


def test_customer_cancel_and_the_operators_lifecycle(w: World) -> None:
    api, op = w.a.api, w.operator
    order = api.made("/api/v3/order", w.order(w.a))["id"]
    status = f"/api/v3/admin/order/{order}/status"
    moved = op.post(status, {"status": "processing"})
    assert moved.status_code == 200 and moved.json()["currentStatus"] == "processing"
    problem(op.post(status, {"status": "processing"}), 409, "invalid_transition")
    problem(op.post(status, {"status": "availableForPickup"}), 409, "invalid_transition")
    problem(op.post(status, {"status": "lost"}), 400, "validation_error", "status")
    problem(
        op.post(status, {"status": "shipped", "trackingNumber": {"carrier": "UPS"}}),
        400,
        "validation_error",
        "trackingNumber.value",
    )
    shipped = op.post(
        status, {"status": "shipped", "trackingNumber": {"carrier": "UPS", "value": "1Z"}}
    ).json()
    assert shipped["trackingNumbers"] == [{"carrier": "UPS", "value": "1Z"}]
    assert [e["name"] for e in shipped["orderEvents"]] == ["received", "processing", "shipped"]
    problem(api.post(f"/api/v3/order/{order}/cancel"), 409, "invalid_transition")
    assert op.post(status, {"status": "delivered"}).json()["currentStatus"] == "delivered"
    problem(op.post("/api/v3/admin/order/8888/status", {"status": "processing"}), 404, "not_found")
    problem(api.post(status, {"status": "processing"}), 403, "forbidden")

    site_order = api.made(
        "/api/v3/order", {"site": {"id": w.a.site}, "orderItems": [{"item": {"id": w.item}}]}
    )
    path = f"/api/v3/admin/order/{site_order['id']}/status"
    op.post(path, {"status": "processing"})
    assert op.post(path, {"status": "availableForPickup"}).json()["currentStatus"] == "availableForPickup"

    fresh = api.made("/api/v3/order", w.order(w.a))["id"]
    cancelled = api.post(f"/api/v3/order/{fresh}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["currentStatus"] == "cancelled"
    problem(api.post(f"/api/v3/order/{fresh}/cancel"), 409, "invalid_transition")


def test_another_customers_order_is_exactly_a_missing_one(w: World) -> None:
    theirs = w.b.api.made("/api/v3/order", w.order(w.b))["id"]
    for order_id in (theirs, 123_456):
        problem(w.a.api.get(f"/api/v3/order/{order_id}"), 404, "not_found")
        problem(w.a.api.post(f"/api/v3/order/{order_id}/cancel"), 404, "not_found")
    assert w.a.api.get("/api/v3/order", params={"id": theirs}).json()["content"] == []
    assert w.b.api.get(f"/api/v3/order/{theirs}").json()["currentStatus"] == "received"
    problem(w.operator.get(f"/api/v3/order/{theirs}"), 403, "forbidden")
