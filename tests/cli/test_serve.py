"""``kitflow serve`` as a real process: the demo, the operator key, N workers on one port, and a
graceful shutdown that lets a request in flight finish."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from kitflow.domain.identity import customer
from kitflow.domain.patient import PatientFilter
from kitflow.services.listing import ListRequest
from kitflow.services.patients import list_patients
from kitflow_adapters.bootstrap import open_store
from tests.cli.served import PATIENCE, environment, run_kitflow, served
from tests.processes import children

ALL_STATUSES = {"received", "processing", "shipped", "delivered", "availableForPickup", "cancelled"}


def _demo_key(out: list[str]) -> str:
    return next(m.group(1) for m in map(re.compile(r"^Demo customer key \(shown this once\): (\S+)$").match, out) if m)


def _check_demo(api: httpx.Client) -> dict[str, Any]:
    """Checks that the demo data is believable; returns the page of its orders."""
    orders = api.get("/api/v3/order", params={"size": 250}).json()
    assert {o["currentStatus"] for o in orders["content"]} == ALL_STATUSES
    assert any(o["site"] for o in orders["content"]) and any(o["patient"] for o in orders["content"])
    assert any(o["orderKits"] for o in orders["content"]) and any(o["trackingNumbers"] for o in orders["content"])
    patients = api.get("/api/v3/patient").json()
    assert patients["total"] >= 5 and any(p["archived"] for p in patients["content"])
    sites = api.get("/api/v3/site").json()["content"]
    assert any(not s["active"] for s in sites) and len(sites) >= 2
    items = api.get("/api/v3/item", params={"size": 250}).json()["content"]
    names = " ".join(i["name"].lower() for i in items)
    for device in ("blood pressure", "pulse oximeter", "scale", "glucose meter"):
        assert device in names
    assert any(not i["orderable"] for i in items) and all(i["manufacturer"] for i in items)
    assert len(api.get("/api/v3/kit").json()["content"]) >= 2
    return orders


def test_first_start_makes_the_operator_key_and_the_demo_and_a_second_start_changes_nothing(tmp_path: Path) -> None:
    with served("--demo", "--database", "sqlite:///demo.db", cwd=tmp_path) as server:
        operator_key = server.wait_for(r"^\s{4}(\S{40,})$").group(1)
        key = _demo_key(server.out)
        with server.client(key) as api:
            orders = _check_demo(api)
        curl = server.wait_for(r"^\s+(curl .*)$").group(1)
        answer = subprocess.run(shlex.split(curl), capture_output=True, text=True, timeout=PATIENCE, check=True)
        assert json.loads(answer.stdout)["total"] == orders["total"]
        with server.client(operator_key) as operator:
            assert operator.get("/api/v3/item").status_code == 200
    with served("--demo", "--database", "sqlite:///demo.db", cwd=tmp_path) as server:
        assert any("already holds data, so --demo changed nothing" in line for line in server.out)
        assert not any("key" in line.lower() for line in server.out)
        with server.client(key) as api:
            assert api.get("/api/v3/order", params={"size": 250}).json() == orders
        with server.client(operator_key) as operator:
            assert operator.post("/api/v3/admin/customer", json={"name": "Beta"}).status_code == 201


def test_the_demo_on_memory_is_served_from_the_same_process(tmp_path: Path) -> None:
    with served("--demo", "--database", "memory://", cwd=tmp_path) as server, server.client(_demo_key(server.out)) as api:
        _check_demo(api)
    assert not list(tmp_path.iterdir())


def test_demo_leaves_alone_a_database_with_a_customer_whose_key_works(tmp_path: Path) -> None:
    made = json.loads(run_kitflow("customer", "create", "Real Customer", "--database", "sqlite:///k.db", cwd=tmp_path).stdout)
    with served("--demo", "--database", "sqlite:///k.db", cwd=tmp_path) as server:
        assert any("changed nothing" in line for line in server.out)
        with server.client(made["apiKey"]) as api:
            assert api.get("/api/v3/order").json()["total"] == 0
            assert api.get("/api/v3/item").json()["total"] == 0
            created = api.post("/api/v3/site", json={"name": "Main clinic"})
            assert created.status_code == 201
            assert api.get(f"/api/v3/site/{created.json()['id']}").status_code == 200
        with server.client(made["apiKey"][:-1] + "x") as stranger:
            assert stranger.get("/api/v3/patient").status_code == 401


def _connection_owners(pids: set[int], port: int) -> set[int]:
    """Which of ``pids`` hold the server side of an established connection on ``port``."""
    accepted = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
            accepted.add(f"socket:[{fields[9]}]")
    owners = set()
    for pid in pids:
        try:
            links = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        except OSError:
            continue
        if links & accepted:
            owners.add(pid)
    return owners


def _answered_by(workers: list[int], port: int) -> set[int]:
    """Which of ``workers`` held the connection of one ``GET /health`` (kept open until it is seen)."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
    try:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: kitflow\r\n\r\n")
        assert conn.recv(4096).startswith(b"HTTP/1.1 200 ")
        return _connection_owners(workers, port)
    finally:
        conn.close()


def test_two_workers_share_one_port_and_both_answer(tmp_path: Path) -> None:
    with served("--workers", "2", "--database", "sqlite:///w.db", cwd=tmp_path) as server:
        assert any("with 2 workers" in line for line in server.out)
        workers = children(server.process.pid)  # the two workers (and any helper process)
        first = _answered_by(workers, server.port)
        assert len(first) == 1, f"one worker holds the connection, not {first} of {workers}"
        # which worker the kernel wakes for a connection is its choice (often the same one while
        # both are idle): with that one stopped, the other must take the next from the shared socket
        (stopped,) = first
        os.kill(stopped, signal.SIGSTOP)
        try:
            second = _answered_by(workers, server.port)
        finally:
            os.kill(stopped, signal.SIGCONT)
        assert len(second) == 1 and second != first, f"answers came from {first} and {second} of {workers}"
        assert server.process.pid not in first | second
        assert _answered_by(workers, server.port) <= set(workers)  # the stopped one works again


def _patients_named(database: str, customer_id: int, name: str) -> int:
    store = open_store(database)
    try:
        return list_patients(PatientFilter(name=name), ListRequest(), caller=customer(customer_id), uow=store).total
    finally:
        store.close()


@pytest.mark.parametrize(
    ("workers", "sig"), [(1, signal.SIGTERM), (1, signal.SIGINT), (2, signal.SIGTERM)], ids=["1-term", "1-int", "2-term"]
)
def test_a_stop_signal_lets_the_request_in_flight_finish_then_exits_cleanly(
    tmp_path: Path, workers: int, sig: signal.Signals
) -> None:
    database = f"sqlite:///{tmp_path / 'g.db'}"
    made = json.loads(run_kitflow("customer", "create", "Acme", "--database", database, cwd=tmp_path).stdout)
    body = json.dumps({"firstName": "Ada", "lastName": "Inflight", "address": {
        "lineOne": "1 Main St", "city": "Springfield", "state": "IL", "zipCode": "62701", "country": "US"}}).encode()
    with served("--workers", str(workers), "--database", database, cwd=tmp_path) as server:
        conn = socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)
        head = (f"POST /api/v3/patient HTTP/1.1\r\nHost: kitflow\r\nImpilo-API-Key: {made['apiKey']}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n")
        conn.sendall(head.encode())
        # "100 Continue" comes when the app asks for the body: the request is now in flight in the app.
        assert conn.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
        server.process.send_signal(sig)
        server.wait_for(r"Shutting down", stream="err", count=workers)
        conn.sendall(body)
        answer = b""
        while chunk := conn.recv(65536):  # the server closes the connection once it has answered
            answer += chunk
        conn.close()
        assert answer.startswith(b"HTTP/1.1 201 "), answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["lastName"] == "Inflight"
        assert server.process.wait(timeout=PATIENCE) == 0
        assert not [line for line in server.err if "Traceback" in line or "Cancel" in line]
    assert _patients_named(database, made["id"], "Inflight") == 1


def test_a_worker_that_cannot_start_stops_the_command_with_an_error(tmp_path: Path) -> None:
    # The real command, with the factory its workers import pointed at a module that does not exist.
    program = (
        "import sys\n"
        "import kitflow_adapters.cli.serve as serve\n"
        "from kitflow_adapters.cli.main import main\n"
        "serve.APP_FACTORY = 'no_such_module:create_app'\n"
        "sys.exit(main(['serve', '--port', '0', '--workers', '2', '--database', 'sqlite:///w.db']))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=environment(),
                            capture_output=True, text=True, timeout=PATIENCE)
    assert result.returncode == 1
    assert result.stderr.rstrip().endswith("kitflow: error: a worker could not start; see the log above")


@pytest.mark.postgres
def test_serve_with_two_workers_and_the_demo_on_postgresql(tmp_path: Path) -> None:
    from kitflow_adapters.postgres.schema import VERSION
    from tests.postgres import fresh_postgres_schema

    with fresh_postgres_schema() as url:
        migrated = run_kitflow("migrate", "--database", url, cwd=tmp_path)
        assert migrated.returncode == 0, migrated.stderr
        assert f"the schema is at version {VERSION}" in migrated.stdout
        with served("--demo", "--workers", "2", "--database", url, cwd=tmp_path) as server:
            with server.client(_demo_key(server.out)) as api:
                _check_demo(api)
        assert not list(tmp_path.iterdir())
