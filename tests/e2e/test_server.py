"""The API served by a real uvicorn process on a loopback port, on a SQLite file, called with httpx."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.api import OPERATOR_KEY, Api, World, patient_body, problem, world


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``uvicorn --factory kitflow_adapters.bootstrap:create_app`` on a free loopback port."""

    def __init__(self, database: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "KITFLOW_DATABASE_URL": f"sqlite:///{database}",
            "KITFLOW_OPERATOR_KEY": OPERATOR_KEY,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "kitflow_adapters.bootstrap:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start: {self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.read().decode(errors="replace") if self.process.poll() is not None else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server") / "kitflow.db"


@pytest.fixture(scope="module")
def server(database: Path) -> Iterator[Server]:
    running = Server(database)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def sw(client: httpx.Client) -> World:
    return world(client)


def test_health_and_schema_without_a_key(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    document = client.get("/schema/openapi.json").json()
    assert "/api/v3/order" in document["paths"]
    assert client.get("/health").headers["x-request-id"]


def test_patients_and_sites(sw: World) -> None:
    api = sw.a.api
    patient = api.made("/api/v3/patient", patient_body(firstName="Remote", site={"id": sw.a.site}))
    assert api.get(f"/api/v3/patient/{patient['id']}").json() == patient
    assert api.patch(f"/api/v3/patient/{patient['id']}", {"archived": True}).json()["archived"] is True
    assert api.put(f"/api/v3/site/{sw.a.site}", {"name": "Put"}).json()["name"] == "Put"
    assert any(
        p["id"] == patient["id"]
        for p in api.get("/api/v3/patient", params={"name": "remote"}).json()["content"]
    )
    problem(sw.b.api.get(f"/api/v3/patient/{patient['id']}"), 404, "not_found")


def test_catalog_and_kits(sw: World) -> None:
    item = sw.operator.made("/api/v3/item", {"name": "Remote scale", "sku": "RS-1"})
    assert sw.a.api.get(f"/api/v3/item/{item['id']}").json() == item
    kit = sw.a.api.made(
        "/api/v3/kit", {"name": "Remote", "kitItems": [{"item": {"id": item["id"]}, "count": 2}]}
    )
    assert sw.a.api.patch(f"/api/v3/kit/{kit['id']}", {"name": "Renamed"}).json()["name"] == "Renamed"
    problem(sw.a.api.post("/api/v3/item", {"name": "x", "sku": "y"}), 403, "forbidden")


def test_orders_lifecycle_and_lists(sw: World) -> None:
    api = sw.a.api
    order = api.made("/api/v3/order", sw.order(sw.a, externalOrderIds=["remote-1"]))
    moved = sw.operator.post(f"/api/v3/admin/order/{order['id']}/status", {"status": "processing"})
    assert moved.json()["currentStatus"] == "processing"
    assert api.post(f"/api/v3/order/{order['id']}/cancel").json()["currentStatus"] == "cancelled"
    listed = api.get("/api/v3/order", params={"externalOrderId": "remote-1"}).json()
    assert [o["id"] for o in listed["content"]] == [order["id"]]
    problem(
        api.post("/api/v3/order", sw.order(sw.a, externalOrderIds=["remote-1"])),
        409,
        "duplicate_external_order_id",
    )


def test_admin_keys(sw: World) -> None:
    made = sw.operator.made("/api/v3/admin/customer", {"name": "Remote customer"})
    key = sw.operator.made(f"/api/v3/admin/customer/{made['id']}/key", None)["apiKey"]
    assert sw.operator.delete(f"/api/v3/admin/key/{made['apiKey'][:8]}").status_code == 204
    problem(sw.operator.as_(made["apiKey"]).get("/api/v3/site"), 401, "unauthorized")
    assert sw.operator.as_(key).get("/api/v3/site").status_code == 200


def test_errors_over_real_http(client: httpx.Client, sw: World) -> None:
    api = sw.a.api
    problem(api.get("/api/v3/order/%203"), 404, "not_found")
    problem(api.get(f"/api/v3/order/{2**64}"), 404, "not_found")
    problem(api.call("DELETE", "/api/v3/order"), 405, "method_not_allowed")
    big = b"[" + b"1," * (600 * 1024) + b"1]"
    problem(
        api.call("POST", "/api/v3/site", content=big, headers={"Content-Type": "application/json"}),
        413,
        "payload_too_large",
    )
    problem(
        api.call("POST", "/api/v3/site", content=b"{}", headers={"Content-Type": "text/csv"}),
        415,
        "unsupported_media_type",
    )
    problem(
        api.call("POST", "/api/v3/site", content=b"\xff", headers={"Content-Type": "application/json"}),
        400,
        "validation_error",
    )
    assert client.get("/health").status_code == 200


def test_an_idempotent_answer_survives_a_server_restart(tmp_path: Path) -> None:
    database = tmp_path / "restart.db"
    first_server = Server(database)
    try:
        with httpx.Client(base_url=first_server.url, timeout=30) as http:
            w = world(http)
            first = w.a.api.post("/api/v3/order", w.order(w.a), headers={"Idempotency-Key": "across"})
            assert first.status_code == 201
    finally:
        first_server.stop()
    second_server = Server(database)
    try:
        with httpx.Client(base_url=second_server.url, timeout=30) as http:
            api = Api(http, w.a.key)
            again = api.post("/api/v3/order", w.order(w.a), headers={"Idempotency-Key": "across"})
            assert again.headers["Idempotent-Replayed"] == "true" and again.content == first.content
            assert api.get("/api/v3/order").json()["total"] == 1
    finally:
        second_server.stop()
