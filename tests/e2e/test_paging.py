"""Pages and keyset cursors on every list (API.md 3 and 10)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.api import Api, World, problem

LISTS = ["/api/v3/patient", "/api/v3/site", "/api/v3/kit", "/api/v3/order", "/api/v3/item"]


def _fill(w: World, count: int) -> None:
    for n in range(count):
        w.a.api.made("/api/v3/order", w.order(w.a, externalOrderIds=[f"e-{n}"]))


def _page(api: Api, path: str, **params: Any) -> dict[str, Any]:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"content", "page", "size", "total", "first", "last", "nextCursor"}
    return body


@pytest.mark.parametrize("path", LISTS)
def test_every_list_has_the_page_envelope_and_size_rules(w: World, path: str) -> None:
    body = _page(w.a.api, path)
    assert body["page"] == 1 and body["size"] == 15 and body["first"] is True and body["last"] is True
    assert body["nextCursor"] is None
    for size in ("0", "-1", "251", "x"):
        problem(w.a.api.get(path, params={"size": size}), 400, "validation_error", "size")
    problem(w.a.api.get(path, params={"cursor": "garbage"}), 400, "validation_error", "cursor")


def test_page_numbers(w: World) -> None:
    _fill(w, 7)
    api = w.a.api
    first = _page(api, "/api/v3/order", size=3)
    assert first["total"] == 7 and first["first"] and not first["last"] and len(first["content"]) == 3
    third = _page(api, "/api/v3/order", size=3, page=3)
    assert [o["externalOrderIds"] for o in third["content"]] == [["e-6"]]
    assert third["last"] and not third["first"] and third["nextCursor"] is None
    past = _page(api, "/api/v3/order", size=3, page=9)
    assert (
        past["content"] == [] and past["last"] is True and past["nextCursor"] is None and past["total"] == 7
    )
    huge = _page(api, "/api/v3/order", page=str(2**63 - 1))
    assert huge["content"] == [] and huge["last"] is True


def _walk(api: Api, path: str, **params: Any) -> tuple[list[int], list[dict[str, Any]]]:
    page = _page(api, path, **params)
    pages, seen = [page], [row["id"] for row in page["content"]]
    while page["nextCursor"]:
        page = _page(api, path, cursor=page["nextCursor"], **params)
        pages.append(page)
        seen += [row["id"] for row in page["content"]]
    return seen, pages


def test_cursor_walk_sees_every_row_once_in_both_orders(w: World) -> None:
    _fill(w, 7)
    api = w.a.api
    ids = [o["id"] for o in _page(api, "/api/v3/order", size=50)["content"]]
    forward, pages = _walk(api, "/api/v3/order", size=3)
    assert forward == ids
    assert [p["page"] for p in pages] == [1, 2, 3] and [p["first"] for p in pages] == [True, False, False]
    assert pages[-1]["last"] is True and all(p["total"] == 7 for p in pages)
    backward, _ = _walk(api, "/api/v3/order", size=3, sortDescending="true")
    assert backward == ids[::-1]


def test_a_cursor_is_stable_while_rows_are_added(w: World) -> None:
    _fill(w, 4)
    api = w.a.api
    first = _page(api, "/api/v3/order", size=2)
    api.made("/api/v3/order", w.order(w.a))  # lands at the end
    second = _page(api, "/api/v3/order", cursor=first["nextCursor"])
    assert second["size"] == 2 and second["page"] == 2
    assert second["content"][0]["id"] == first["content"][-1]["id"] + 1


def test_a_cursor_belongs_to_its_caller_filters_size_order_and_resource(w: World) -> None:
    _fill(w, 5)
    w.b.api.made("/api/v3/order", w.order(w.b))
    cursor = _page(w.a.api, "/api/v3/order", size=2, status="received")["nextCursor"]
    assert cursor
    problem(
        w.b.api.get("/api/v3/order", params={"cursor": cursor, "size": 2, "status": "received"}),
        400,
        "validation_error",
        "cursor",
    )
    for params in (
        {"size": 2},
        {"size": 3, "status": "received"},
        {"size": 2, "status": "shipped"},
        {"size": 2, "status": "received", "sortDescending": "true"},
    ):
        problem(
            w.a.api.get("/api/v3/order", params={"cursor": cursor, **params}),
            400,
            "validation_error",
            "cursor",
        )
    problem(w.a.api.get("/api/v3/patient", params={"cursor": cursor}), 400, "validation_error", "cursor")
    ok = _page(w.a.api, "/api/v3/order", cursor=cursor, status="received", page=40)
    assert ok["page"] == 2 and ok["size"] == 2  # page is ignored, size taken from the cursor


def test_a_tampered_cursor_is_refused(w: World) -> None:
    _fill(w, 3)
    cursor = _page(w.a.api, "/api/v3/order", size=1)["nextCursor"]
    body, _, signature = cursor.partition(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in (f"{flipped}.{signature}", f"{body}.{signature[::-1]}", body, cursor + "x", cursor[1:]):
        problem(w.a.api.get("/api/v3/order", params={"cursor": bad}), 400, "validation_error", "cursor")


def test_cursors_on_the_other_lists(w: World) -> None:
    api = w.a.api
    for n in range(4):
        api.made("/api/v3/site", {"name": f"s{n}"})
        api.made(
            "/api/v3/patient",
            {
                "firstName": f"p{n}",
                "lastName": "x",
                "address": {"lineOne": "1", "city": "c", "state": "s", "zipCode": "z", "country": "US"},
            },
        )
        api.made("/api/v3/kit", {"name": f"k{n}", "kitItems": [{"item": {"id": w.item}}]})
    for path in LISTS:
        everything = [row["id"] for row in _page(api, path, size=250)["content"]]
        assert _walk(api, path, size=2)[0] == everything
        assert _walk(api, path, size=2, sortDescending="true")[0] == everything[::-1]
