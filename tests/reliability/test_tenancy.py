"""Tenancy over the HTTP API: a stateful Hypothesis test with two customers and the operator on the
SQLite store, in process. Random sequences of every operation (create, replace and patch patients and
sites, create and archive kits, place, fetch and cancel orders, operator moves, lists with filters);
after each answer to a customer:

- no body holds the other customer's marker string (every text a customer writes carries its own),
  and every patient, site, kit and order in it is the caller's own;
- whenever a customer names the other's id (in a path, a body reference or a list filter), the
  answer is exactly the answer to an id that does not exist: same status, same body but the id.

KITFLOW_TENANCY_EXAMPLES runs more examples."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from litestar.testing import TestClient

from kitflow.domain.identity import digest
from kitflow.domain.order import SITE_ONLY, TRANSITIONS, OrderStatus
from kitflow_adapters.http.app import build_app
from kitflow_adapters.sqlite import SqliteStore
from tests.e2e.api import ADDRESS, OPERATOR_KEY, Api
from tests.reliability.figures import record

EXAMPLES = int(os.environ.get("KITFLOW_TENANCY_EXAMPLES", "12"))
STEPS = 30
MARKS = {"a": "qqalphaqq", "b": "qqbravoqq"}
"""A string only customer ``a`` (``b``) ever writes: found in an answer to the other, it is a leak."""
WHO = st.sampled_from("ab")
KINDS = ("patient", "site", "kit", "order")


class Ref(msgspec.Struct, frozen=True):
    kind: str
    owner: str
    id: int


def _kind(obj: dict[str, Any]) -> str | None:
    """Which resource a JSON object of an answer is, by its fields."""
    if "currentStatus" in obj:
        return "order"
    if "firstName" in obj:
        return "patient"
    if "kitItems" in obj:
        return "kit"
    if "sku" in obj:
        return "item"
    if "active" in obj and "name" in obj:
        return "site"
    return None


def resources(value: Any) -> Iterator[tuple[str, int]]:
    """Every (kind, id) of a resource anywhere in a decoded JSON answer, nested ones included."""
    if isinstance(value, dict):
        kind = _kind(value)
        if kind is not None and isinstance(value.get("id"), int):
            yield kind, value["id"]
        for inner in value.values():
            yield from resources(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from resources(inner)


def masked(text: str, ids: tuple[int, ...]) -> str:
    """``text`` with each of ``ids`` (as a whole number, not an index) replaced by ``<id>``."""
    for value in ids:
        text = re.sub(rf"(?<![\d\[]){value}(?![\d\]])", "<id>", text)
    return text


class Figures:
    examples = steps = requests = foreign = 0


FIGURES = Figures()


class HttpTenancy(RuleBasedStateMachine):
    patients = Bundle("patients")
    sites = Bundle("sites")
    kits = Bundle("kits")
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        FIGURES.examples += 1
        self.folder = Path(tempfile.mkdtemp(prefix="kitflow-tenancy-"))
        self.store = SqliteStore(str(self.folder / "tenancy.db"))
        self.client = TestClient(build_app(self.store, operator_digest=digest(OPERATOR_KEY)))
        self.client.__enter__()
        self.operator = Api(self.client)
        self.items = [
            self.operator.made("/api/v3/item", {"name": "Scale", "sku": "SC-1"})["id"],
            self.operator.made("/api/v3/item", {"name": "Cuff", "sku": "BP-1"})["id"],
            self.operator.made("/api/v3/item", {"name": "Old", "sku": "OLD-1", "orderable": False})["id"],
        ]
        self.keys = {who: self.operator.made("/api/v3/admin/customer", {"name": f"{MARKS[who]} care"})["apiKey"]
                     for who in "ab"}
        self.owned: dict[str, dict[str, set[int]]] = {who: {kind: set() for kind in KINDS} for who in "ab"}
        self.archived: dict[Ref, bool] = {}
        self.active: dict[Ref, bool] = {}
        self.kit_items: dict[Ref, list[int]] = {}
        self.status: dict[Ref, OrderStatus] = {}
        self.missing = itertools.count(10**15)
        self.serial = itertools.count()

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------ calling and checking

    def call(self, who: str, method: str, path: str, json: Any = None, params: Any = None) -> httpx.Response:
        """``who`` calls; the answer is a JSON or problem document (never a 5xx) holding nothing of the
        other. A ``POST`` to a resource's collection that answers 201 made a resource of ``who``'s."""
        response = Api(self.client, self.keys[who]).call(method, path, json, params=params)
        FIGURES.requests += 1
        if response.status_code == 201:
            self.owned[who][path.rsplit("/", 1)[1]].add(response.json()["id"])
        other = "b" if who == "a" else "a"
        assert MARKS[other] not in response.text, (method, path, response.text)
        if response.content:
            for kind, resource_id in resources(response.json()):
                if kind != "item":
                    assert resource_id in self.owned[who][kind], (f"{kind} {resource_id} in an answer to {who}",
                                                                  method, path)
        return response

    def as_missing(self, who: str, ref: Ref, send: Callable[[int], httpx.Response]) -> httpx.Response:
        """``send`` with the other customer's id answers exactly as with an id that does not exist."""
        assert ref.owner != who
        FIGURES.foreign += 1
        theirs = send(ref.id)
        nobody = next(self.missing)
        missing = send(nobody)
        assert theirs.status_code == missing.status_code, (theirs.text, missing.text)
        assert theirs.status_code in (200, 400, 404), theirs.text
        assert masked(theirs.text, (ref.id, nobody)) == masked(missing.text, (ref.id, nobody))
        return theirs

    def answer(self, who: str, ref: Ref, send: Callable[[int], httpx.Response]) -> httpx.Response | None:
        """``send(ref.id)``'s answer when ``ref`` is ``who``'s own; else None, once the other's id has
        answered exactly as a missing one."""
        if ref.owner != who:
            self.as_missing(who, ref, send)
            return None
        return send(ref.id)

    def own(self, who: str, kind: str, response: httpx.Response) -> Ref:
        assert response.status_code == 201, response.text
        return Ref(kind, who, response.json()["id"])

    def text(self, who: str, what: str) -> str:
        return f"{MARKS[who]} {what} {next(self.serial)}"

    def patient_body(self, who: str, site: int | None, archived: bool) -> dict[str, Any]:
        return {
            "firstName": self.text(who, "first"), "lastName": self.text(who, "last"),
            "externalIdentifier": self.text(who, "ext"), "email": f"{MARKS[who]}{next(self.serial)}@example.org",
            "address": {**ADDRESS, "lineTwo": self.text(who, "flat")},
            "site": None if site is None else {"id": site}, "archived": archived,
        }

    # ------------------------------------------------------------ patients and sites

    @rule(target=sites, who=WHO, active=st.booleans())
    def create_site(self, who: str, active: bool) -> Ref:
        body = {"name": self.text(who, "clinic"), "active": active, "address": {**ADDRESS, "note": MARKS[who]}}
        ref = self.own(who, "site", self.call(who, "POST", "/api/v3/site", body))
        self.active[ref] = active
        return ref

    @rule(who=WHO, site=sites, active=st.booleans(), replace=st.booleans())
    def change_site(self, who: str, site: Ref, active: bool, replace: bool) -> None:
        def send(site_id: int) -> httpx.Response:
            if replace:
                return self.call(who, "PUT", f"/api/v3/site/{site_id}", {"name": self.text(who, "site"), "active": active})
            return self.call(who, "PATCH", f"/api/v3/site/{site_id}", {"active": active})

        if (response := self.answer(who, site, send)) is not None:
            assert response.status_code == 200
            self.active[site] = active

    @rule(target=patients, who=WHO, site=st.none() | sites, archived=st.booleans())
    def create_patient(self, who: str, site: Ref | None, archived: bool) -> Ref | Any:
        def send(site_id: int | None) -> httpx.Response:
            return self.call(who, "POST", "/api/v3/patient", self.patient_body(who, site_id, archived))

        if site is not None and site.owner != who:
            self.as_missing(who, site, send)
            return multiple()
        ref = self.own(who, "patient", send(None if site is None else site.id))
        self.archived[ref] = archived
        return ref

    @rule(who=WHO, patient=patients, site=st.none() | sites, archived=st.booleans(), replace=st.booleans())
    def change_patient(self, who: str, patient: Ref, site: Ref | None, archived: bool, replace: bool) -> None:
        site_id = None if site is None else site.id

        def send(patient_id: int, site_id: int | None = site_id) -> httpx.Response:
            if replace:
                return self.call(who, "PUT", f"/api/v3/patient/{patient_id}", self.patient_body(who, site_id, archived))
            body = {"archived": archived, "lastName": self.text(who, "renamed")}
            return self.call(who, "PATCH", f"/api/v3/patient/{patient_id}",
                             body if site_id is None else {**body, "site": {"id": site_id}})

        if patient.owner != who:
            self.as_missing(who, patient, send)
        elif site is not None and site.owner != who:
            self.as_missing(who, site, lambda other_site: send(patient.id, other_site))
        else:
            assert send(patient.id).status_code == 200
            self.archived[patient] = archived

    # ------------------------------------------------------------ kits and orders

    @rule(target=kits, who=WHO, items=st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True),
          archived=st.booleans())
    def create_kit(self, who: str, items: list[int], archived: bool) -> Ref:
        lines = [{"item": {"id": self.items[i]}, "count": 1 + i} for i in items]
        body = {"name": self.text(who, "kit"), "kitItems": lines, "archived": archived}
        ref = self.own(who, "kit", self.call(who, "POST", "/api/v3/kit", body))
        self.archived[ref] = archived
        self.kit_items[ref] = items
        return ref

    @rule(who=WHO, kit=kits, archived=st.booleans())
    def archive_kit(self, who: str, kit: Ref, archived: bool) -> None:
        def send(kit_id: int) -> httpx.Response:
            return self.call(who, "PATCH", f"/api/v3/kit/{kit_id}", {"archived": archived, "name": self.text(who, "k")})

        if (response := self.answer(who, kit, send)) is not None:
            assert response.status_code == 200
            self.archived[kit] = archived

    def _refusal(self, recipient: Ref, item: int, kit: Ref | None) -> str | None:
        """The code the order must be refused with (API.md 5, in its order), or None."""
        if recipient.kind == "patient" and self.archived[recipient]:
            return "patient_archived"
        if recipient.kind == "site" and not self.active[recipient]:
            return "site_inactive"
        if item == 2:
            return "item_not_orderable"
        if kit is not None and self.archived[kit]:
            return "kit_archived"
        if kit is not None and 2 in self.kit_items[kit]:
            return "item_not_orderable"
        return None

    @rule(target=orders, who=WHO, recipient=patients | sites, item=st.integers(0, 2), kit=st.none() | kits)
    def place_order(self, who: str, recipient: Ref, item: int, kit: Ref | None) -> Ref | Any:
        def body(recipient_id: int, kit_id: int | None) -> dict[str, Any]:
            made = {recipient.kind: {"id": recipient_id}, "orderItems": [{"item": {"id": self.items[item]}}],
                    "externalOrderIds": [self.text(who, "order")], "orderNotes": [{"note": self.text(who, "note")}]}
            return made if kit_id is None else {**made, "orderKits": [{"kit": {"id": kit_id}, "count": 2}]}

        kit_id = None if kit is None else kit.id
        if recipient.owner != who:
            self.as_missing(who, recipient, lambda x: self.call(who, "POST", "/api/v3/order", body(x, kit_id)))
            return multiple()
        if kit is not None and kit.owner != who:
            self.as_missing(who, kit, lambda x: self.call(who, "POST", "/api/v3/order", body(recipient.id, x)))
            return multiple()
        response = self.call(who, "POST", "/api/v3/order", body(recipient.id, kit_id))
        refusal = self._refusal(recipient, item, kit)
        if refusal is not None:
            assert response.status_code == 400 and response.json()["code"] == refusal, response.text
            return multiple()
        ref = self.own(who, "order", response)
        self.status[ref] = OrderStatus.RECEIVED
        return ref

    @rule(who=WHO, order=orders)
    def cancel(self, who: str, order: Ref) -> None:
        def send(order_id: int) -> httpx.Response:
            return self.call(who, "POST", f"/api/v3/order/{order_id}/cancel")

        if (response := self.answer(who, order, send)) is None:
            return
        if OrderStatus.CANCELLED in TRANSITIONS[self.status[order]]:
            assert response.status_code == 200 and response.json()["currentStatus"] == "cancelled"
            self.status[order] = OrderStatus.CANCELLED
        else:
            assert response.status_code == 409 and response.json()["code"] == "invalid_transition"

    @rule(order=orders, status=st.sampled_from(OrderStatus))
    def operator_moves(self, order: Ref, status: OrderStatus) -> None:
        response = self.operator.post(f"/api/v3/admin/order/{order.id}/status", {"status": status.value})
        FIGURES.requests += 1
        if response.status_code == 200:
            assert status in TRANSITIONS[self.status[order]]
            self.status[order] = status
        else:
            assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
            assert status not in TRANSITIONS[self.status[order]] or status in SITE_ONLY

    # ------------------------------------------------------------ reading

    @rule(who=WHO, ref=patients | sites | kits | orders)
    def fetch(self, who: str, ref: Ref) -> None:
        def send(resource_id: int) -> httpx.Response:
            return self.call(who, "GET", f"/api/v3/{ref.kind}/{resource_id}")

        if (response := self.answer(who, ref, send)) is not None:
            assert response.status_code == 200 and response.json()["id"] == ref.id

    FILTERS = {"patient": [("order", "patientId")], "site": [("order", "siteId"), ("patient", "siteId")],
               "order": [("order", "id")]}

    @rule(who=WHO, ref=patients | sites | orders, size=st.sampled_from((1, 15, 250)))
    def filter_by(self, who: str, ref: Ref, size: int) -> None:
        for listed, name in self.FILTERS[ref.kind]:
            def send(resource_id: int, listed: str = listed, name: str = name) -> httpx.Response:
                return self.call(who, "GET", f"/api/v3/{listed}", params={name: resource_id, "size": size})

            if ref.owner != who:
                assert self.as_missing(who, ref, send).json()["total"] == 0
            else:
                assert send(ref.id).status_code == 200

    @rule(who=WHO)
    def search_for_the_other(self, who: str) -> None:
        other = MARKS["b" if who == "a" else "a"]
        for path, params in (("patient", {"name": other}), ("site", {"name": other}),
                             ("patient", {"externalIdentifier": f"{other} ext 1"}),
                             ("order", {"externalOrderId": f"{other} order 1"}), ("kit", {"archived": "false"})):
            response = self.call(who, "GET", f"/api/v3/{path}", params=params)
            assert response.status_code == 200
            if path != "kit":
                assert response.json()["total"] == 0

    @rule(who=WHO, kind=st.sampled_from(KINDS), descending=st.booleans())
    def list_everything(self, who: str, kind: str, descending: bool) -> None:
        """A full walk by cursor, 7 to a page: exactly the caller's own, each once."""
        params: dict[str, Any] = {"size": 7, "sortDescending": str(descending).lower()}
        seen: list[int] = []
        while True:
            page = self.call(who, "GET", f"/api/v3/{kind}", params=params).json()
            seen.extend(row["id"] for row in page["content"])
            if page["nextCursor"] is None:
                break
            params = {"cursor": page["nextCursor"], "sortDescending": params["sortDescending"]}
        assert sorted(seen) == sorted(self.owned[who][kind]) and len(seen) == len(set(seen))
        assert page["total"] == len(self.owned[who][kind])

    @invariant()
    def count_the_steps(self) -> None:
        FIGURES.steps += 1


def test_no_customer_ever_sees_or_touches_the_other(request: pytest.FixtureRequest) -> None:
    FIGURES.examples = FIGURES.steps = FIGURES.requests = FIGURES.foreign = 0
    run_state_machine_as_test(
        HttpTenancy, settings=settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None)
    )
    record(request, "tenancy", requests=FIGURES.requests, failures=0, examples=FIGURES.examples,
           steps=FIGURES.steps, foreign_id_comparisons=FIGURES.foreign,
           checked="no answer to a customer holds the other's marker or resources; each of the other's "
                   "ids (path, body reference, list filter) answered exactly as a missing id")


def test_the_checks_catch_a_leak() -> None:
    answer = {"content": [{"id": 3, "currentStatus": "received", "patient": {"id": 9, "firstName": "x"}}]}
    assert sorted(resources(answer)) == [("order", 3), ("patient", 9)]
    assert masked('{"detail":"patient 12 does not exist","field":"orderItems[12]"}', (12,)) == \
        '{"detail":"patient <id> does not exist","field":"orderItems[12]"}'
