"""Several ``kitflow serve`` processes, on different loopback ports, against one PostgreSQL database
behave as one service: uniqueness of external order ids and idempotency hold across them, a cursor
made by one is walked on the other, a key revoked through one is refused at once by the other, and
tenancy holds whichever server answers.

Two real servers (tests/reliability/service.py on tests/cli/served.py) share one fresh schema
(tests/postgres.py); requests race from real threads, alternating between the two."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any, TypeVar

import httpx
import msgspec
import pytest

from tests.cli.served import Served
from tests.e2e.api import Api, customer, patient_body, problem
from tests.postgres import fresh_postgres_schema
from tests.reliability.service import serve

pytestmark = pytest.mark.postgres

T = TypeVar("T")
CONTESTED = 6
"""External order ids that every racer posts, one at a time, all racers at once."""
RACERS = 8
"""Threads racing, half of them on each server."""
IDEMPOTENT_ROUNDS = 4


class Service(msgspec.Struct, kw_only=True):
    """Two servers on one database; a customer made through the first, with a patient and an item."""

    servers: list[Served]
    operator: list[Api]
    key: str
    customer: int
    patient: int
    item: int

    def api(self, index: int, key: str | None = None) -> Api:
        """The customer (or ``key``) on server ``index % 2``, with a client of its own."""
        server = self.servers[index % 2]
        return Api(server.client(), key or self.key)

    def order(self, *external_ids: str) -> dict[str, Any]:
        return {"patient": {"id": self.patient}, "orderItems": [{"item": {"id": self.item}, "count": 1}],
                "externalOrderIds": list(external_ids)}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Server A migrates the fresh schema; server B starts on it afterwards, on another port."""
    with fresh_postgres_schema() as url, ExitStack() as stack:
        servers = [stack.enter_context(serve(url, tmp_path_factory.mktemp(name))) for name in ("a", "b")]
        assert servers[0].port != servers[1].port
        operator = [Api(stack.enter_context(server.client())) for server in servers]
        customer_id, api = customer(operator[0], "Acme")
        item = operator[0].made("/api/v3/item", {"name": "Scale", "sku": "SC-1"})["id"]
        patient = api.made("/api/v3/patient", patient_body())["id"]
        assert api.key is not None
        yield Service(servers=servers, operator=operator, key=api.key, customer=customer_id, patient=patient,
                      item=item)


def _race(count: int, work: Callable[[int, threading.Barrier], T]) -> list[T]:
    """``work(i, barrier)`` for i in 0..count-1, each on a thread of its own, released together."""
    barrier = threading.Barrier(count)
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda i: work(i, barrier), range(count)))


def test_each_contested_external_id_is_won_once_across_the_servers(service: Service) -> None:
    contested = [f"race-{n}" for n in range(CONTESTED)]

    def racer(index: int, barrier: threading.Barrier) -> list[tuple[str, int, dict[str, Any]]]:
        api = service.api(index)
        answers = []
        for external_id in contested:  # every racer on both servers posts each id at the same moment
            barrier.wait()
            response = api.post("/api/v3/order", service.order(external_id))
            answers.append((external_id, response.status_code, response.json()))
        api.http.close()
        return answers

    answers = [answer for answers in _race(RACERS, racer) for answer in answers]
    for external_id in contested:
        mine = [(status, body) for eid, status, body in answers if eid == external_id]
        winners = [body["id"] for status, body in mine if status == 201]
        assert len(winners) == 1, (external_id, mine)
        for status, body in mine:
            if status != 201:
                assert status == 409 and body["code"] == "duplicate_external_order_id", body
                assert re.search(rf"\b{winners[0]}\b", body["detail"]), (winners[0], body)
        for index in range(2):
            listed = service.api(index).get("/api/v3/order", params={"externalOrderId": external_id}).json()
            assert [order["id"] for order in listed["content"]] == winners, listed


def test_one_idempotency_key_sent_to_both_servers_at_once_creates_one_order(service: Service) -> None:
    for round_ in range(IDEMPOTENT_ROUNDS):
        body = service.order(f"idem-{round_}")
        headers = {"Idempotency-Key": f"both-servers-{round_}"}

        def send(index: int, barrier: threading.Barrier) -> httpx.Response:
            api = service.api(index)
            barrier.wait()
            return api.post("/api/v3/order", body, headers=headers)

        answers = _race(2, send)
        made = {answer.json()["id"] for answer in answers if answer.status_code == 201}
        assert len(made) == 1, [(a.status_code, a.text) for a in answers]
        for answer in answers:
            if answer.status_code != 201:
                problem(answer, 409, "idempotency_key_in_use")
        listed = service.api(round_).get("/api/v3/order", params={"externalOrderId": f"idem-{round_}"}).json()
        assert listed["total"] == 1 and listed["content"][0]["id"] in made, listed
        for index in range(2):  # once the first is done, both servers replay it
            again = service.api(index).post("/api/v3/order", body, headers=headers)
            assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true", again.text
            assert again.json()["id"] in made


def test_a_cursor_from_one_server_walks_on_the_other_and_sees_every_order_once(service: Service) -> None:
    for n in range(5):
        service.api(n).made("/api/v3/order", service.order(f"walk-{n}"))
    everything = service.api(0).get("/api/v3/order", params={"size": 250}).json()
    assert everything["last"] and everything["total"] >= 5
    seen: list[int] = []
    page = service.api(0).get("/api/v3/order", params={"size": 2}).json()
    seen += [order["id"] for order in page["content"]]
    hops = 0
    while page["nextCursor"] is not None:
        hops += 1
        response = service.api(hops).get("/api/v3/order", params={"cursor": page["nextCursor"]})
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [order["id"] for order in page["content"]]
    assert hops >= 2
    assert len(seen) == len(set(seen))
    assert seen == [order["id"] for order in everything["content"]]


def test_a_key_revoked_through_one_server_is_refused_at_once_by_the_other(service: Service) -> None:
    key = service.operator[0].made(f"/api/v3/admin/customer/{service.customer}/key", {})["apiKey"]
    on_b = service.api(1, key)
    assert on_b.get("/api/v3/order").status_code == 200
    assert service.operator[0].delete(f"/api/v3/admin/key/{key[:8]}").status_code == 204
    problem(on_b.get("/api/v3/order"), 401, "unauthorized")
    problem(service.api(0, key).get("/api/v3/order"), 401, "unauthorized")
    assert service.api(1).get("/api/v3/order").status_code == 200  # the customer's first key still works


def test_another_customer_on_the_other_server_never_sees_the_first_ones_orders(service: Service) -> None:
    first = service.api(0).made("/api/v3/order", service.order("tenancy-1"))
    _, other = customer(service.operator[1], "Globex")
    assert other.key is not None
    on_b = service.api(1, other.key)
    problem(on_b.get(f"/api/v3/order/{first['id']}"), 404, "not_found")
    listed = on_b.get("/api/v3/order").json()
    assert listed["content"] == [] and listed["total"] == 0, listed
    assert on_b.get("/api/v3/order", params={"externalOrderId": "tenancy-1"}).json()["content"] == []
    assert on_b.get("/api/v3/order", params={"id": first["id"]}).json()["content"] == []
    assert service.api(0).get(f"/api/v3/order/{first['id']}").status_code == 200
