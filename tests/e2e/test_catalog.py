"""The item catalog and kits over HTTP (API.md 4 and 10)."""

from __future__ import annotations

from tests.e2e.api import World, problem

ITEM_FIELDS = {"id", "name", "model", "sku", "manufacturer", "orderable"}
KIT_FIELDS = {"id", "name", "archived", "kitItems", "createdAt", "updatedAt"}


def test_items_are_the_operators_and_customers_read_them(w: World) -> None:
    item = w.a.api.get(f"/api/v3/item/{w.item}").json()
    assert set(item) == ITEM_FIELDS and item["manufacturer"]["name"] == "Withings" and item["model"] is None
    assert w.operator.get(f"/api/v3/item/{w.item2}").json()["manufacturer"] is None
    problem(w.a.api.post("/api/v3/item", {"name": "x", "sku": "y"}), 403, "forbidden")
    problem(w.a.api.patch(f"/api/v3/item/{w.item}", {"name": "x"}), 403, "forbidden")
    problem(w.a.api.get("/api/v3/item/777777"), 404, "not_found")
    listed = w.b.api.get("/api/v3/item", params={"orderable": "true"}).json()
    assert [i["id"] for i in listed["content"]] == [w.item, w.item2] and listed["total"] == 2
    problem(w.b.api.get("/api/v3/item", params={"orderable": "1"}), 400, "validation_error", "orderable")


def test_item_rules(w: World) -> None:
    op = w.operator
    body = problem(op.post("/api/v3/item", {"name": "Dup", "sku": "SC-1"}), 409, "duplicate_sku", "sku")
    assert str(w.item) in body["detail"]
    problem(op.post("/api/v3/item", {"name": "x"}), 400, "validation_error", "sku")
    problem(
        op.post("/api/v3/item", {"name": "x", "sku": "z", "manufacturer": {"id": 99}}),
        400,
        "validation_error",
        "manufacturer.id",
    )
    problem(
        op.post("/api/v3/item", {"name": "x", "sku": "z", "manufacturer": {}}),
        400,
        "validation_error",
        "manufacturer.name",
    )
    maker = op.get(f"/api/v3/item/{w.item}").json()["manufacturer"]
    same = op.made("/api/v3/item", {"name": "Pad", "sku": "P-1", "manufacturer": {"name": " Withings "}})
    assert same["manufacturer"] == maker
    by_id = op.made(
        "/api/v3/item", {"name": "Pad2", "sku": "P-2", "manufacturer": {"id": maker["id"], "name": "X"}}
    )
    assert by_id["manufacturer"] == maker


def test_item_patch(w: World) -> None:
    op, path = w.operator, f"/api/v3/item/{w.item2}"
    changed = op.patch(path, {"orderable": False, "model": None, "manufacturer": {"name": "Omron"}}).json()
    assert (
        changed["orderable"] is False
        and changed["model"] is None
        and changed["manufacturer"]["name"] == "Omron"
    )
    assert op.patch(path, {"orderable": None}).json()["orderable"] is True
    problem(op.patch(path, {"sku": "SC-1"}), 409, "duplicate_sku", "sku")
    problem(op.patch(path, {"name": None}), 400, "validation_error", "name")
    problem(op.patch("/api/v3/item/55555", {"name": "x"}), 404, "not_found")


def test_kits(w: World) -> None:
    api = w.a.api
    kit = api.made(
        "/api/v3/kit",
        {
            "name": "Starter",
            "kitItems": [{"item": {"id": w.item}}, {"item": {"id": w.unorderable}, "count": 3}],
        },
    )
    assert set(kit) == KIT_FIELDS and kit["archived"] is False
    assert [(line["item"]["id"], line["count"]) for line in kit["kitItems"]] == [
        (w.item, 1),
        (w.unorderable, 3),
    ]
    assert api.get(f"/api/v3/kit/{kit['id']}").json() == kit
    path = f"/api/v3/kit/{kit['id']}"
    assert api.patch(path, {"name": "Renamed", "archived": True}).json()["archived"] is True
    problem(api.patch(path, {"kitItems": []}), 400, "validation_error", "kitItems")
    assert api.get(path).json()["name"] == "Renamed"
    names = lambda **q: [k["name"] for k in api.get("/api/v3/kit", params=q).json()["content"]]  # noqa: E731
    assert names() == ["Acme kit", "Renamed"]
    assert names(archived="true") == ["Renamed"] and names(itemId=w.unorderable) == ["Renamed"]
    assert names(itemId=w.item2) == []


def test_kit_rules(w: World) -> None:
    api = w.a.api
    line = {"item": {"id": w.item}}
    problem(api.post("/api/v3/kit", {"name": "x", "kitItems": []}), 400, "validation_error", "kitItems")
    problem(api.post("/api/v3/kit", {"name": "x"}), 400, "validation_error", "kitItems")
    problem(
        api.post("/api/v3/kit", {"name": "x", "kitItems": [line, line]}),
        400,
        "validation_error",
        "kitItems[1].item.id",
    )
    problem(
        api.post("/api/v3/kit", {"name": "x", "kitItems": [{**line, "count": 10001}]}),
        400,
        "validation_error",
        "kitItems[0].count",
    )
    many = [{"item": {"id": n}} for n in range(1, 102)]
    problem(api.post("/api/v3/kit", {"name": "x", "kitItems": many}), 400, "validation_error", "kitItems")
    problem(
        api.post("/api/v3/kit", {"name": "x", "kitItems": [line, {"item": {"id": 4242}}]}),
        400,
        "item_does_not_exist",
        "kitItems[1].item.id",
    )
    assert api.get("/api/v3/kit").json()["total"] == 1


def test_another_customers_kit_is_exactly_a_missing_one(w: World) -> None:
    for kit_id in (w.b.kit, 31337):
        problem(w.a.api.get(f"/api/v3/kit/{kit_id}"), 404, "not_found")
        problem(w.a.api.patch(f"/api/v3/kit/{kit_id}", {"name": "mine"}), 404, "not_found")
    assert w.b.api.get(f"/api/v3/kit/{w.b.kit}").json()["name"] == "Bolt kit"
    problem(w.operator.get("/api/v3/kit"), 403, "forbidden")
