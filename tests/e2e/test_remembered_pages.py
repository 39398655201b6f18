"""Order lists asked again are answered from remembered pages only while nothing they show has
changed (docs/architecture.md, "Remembered values"): each change made through the API shows in
the very next list, on every store."""

from __future__ import annotations

from typing import Any

import pytest

from kitflow.domain.ports import UnitOfWork
from kitflow.services import orders
from tests.e2e.api import Api, World


def _orders(api: Api, **params: Any) -> dict[str, Any]:
    response = api.get("/api/v3/order", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_every_change_shows_in_the_next_list(w: World) -> None:
    api, op = w.a.api, w.operator
    first = api.made("/api/v3/order", w.order(w.a, orderKits=[{"kit": {"id": w.a.kit}}]))["id"]
    assert _orders(api) == _orders(api)  # asked again, the same answer
    seen = _orders(api)

    second = api.made("/api/v3/order", w.order(w.a))["id"]
    listed = _orders(api)
    assert [o["id"] for o in listed["content"]] == [first, second] and listed["total"] == 2
    assert [o["id"] for o in _orders(api, size=1)["content"]] == [first]

    assert api.post(f"/api/v3/order/{first}/cancel").status_code == 200
    assert _orders(api)["content"][0]["currentStatus"] == "cancelled"
    assert op.post(f"/api/v3/admin/order/{second}/status", {"status": "processing"}).status_code == 200
    assert _orders(api)["content"][1]["currentStatus"] == "processing"

    assert api.patch(f"/api/v3/patient/{w.a.patient}", {"firstName": "Grace"}).status_code == 200
    assert _orders(api)["content"][0]["patient"]["firstName"] == "Grace"
    assert api.patch(f"/api/v3/site/{w.a.site}", {"name": "Renamed clinic"}).status_code == 200
    assert _orders(api)["content"][0]["patient"]["site"]["name"] == "Renamed clinic"
    assert op.patch(f"/api/v3/item/{w.item}", {"name": "Scale v2"}).status_code == 200
    assert _orders(api)["content"][1]["orderItems"][0]["item"]["name"] == "Scale v2"
    kit_path = f"/api/v3/kit/{w.a.kit}"
    assert api.patch(kit_path, {"name": "Renamed kit"}).status_code == 200
    assert _orders(api)["content"][0]["orderKits"][0]["kit"]["name"] == "Renamed kit"
    assert _orders(api) != seen


def test_a_tenant_never_gets_another_tenants_remembered_page(w: World) -> None:
    w.a.api.made("/api/v3/order", w.order(w.a))
    mine = _orders(w.a.api)
    theirs = _orders(w.b.api)
    assert mine["total"] == 1 and theirs["total"] == 0 and theirs["content"] == []
    assert _orders(w.a.api) == mine and _orders(w.b.api) == theirs


def test_a_page_asked_again_and_again_is_built_twice_where_the_store_keeps_a_version(
    w: World, store: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    w.a.api.made("/api/v3/order", w.order(w.a))
    _orders(w.a.api)  # the store's first list makes its cursor key (a write: a memory store's version moves)
    built: list[object] = []
    real = orders.list_orders

    def counted(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(orders, "list_orders", counted)
    answers = [_orders(w.a.api, size=5) for _ in range(4)]
    assert all(answer == answers[0] for answer in answers)
    with store.begin() as tx:
        keeps_versions = tx.orders.version(w.a.id) is not None
    assert len(built) == (2 if keeps_versions else 4)  # kept the second time it is built
