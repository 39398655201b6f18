"""Idempotency under retries, across worker processes: many clients send the same order with the same
Idempotency-Key at the same moment, on connections held by different workers. Exactly one order is
made per key; every answer is that order's 201 (once first-hand, else replayed) or
409 idempotency_key_in_use; a client that retries after a 409 gets the same order."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.api import World, world
from tests.processes import children, owner
from tests.reliability.figures import Tally, record
from tests.reliability.service import DATABASES, Raw, database_url, serve

WORKERS = 3
RACERS = 24
ROUNDS = 6
RETRIES = 200
"""How often a client retries after 409 before the test gives up (a hang guard, never reached)."""


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def replayed(self) -> bool:
        return self.headers.get("idempotent-replayed") == "true"


def _race(connections: list[Raw], key: str, customer_key: str, body: dict[str, Any], tally: Tally) -> list[list[Answer]]:
    """Each connection sends the request at once (a barrier), then retries after every 409; the
    answers each got, in order."""
    barrier = threading.Barrier(len(connections))
    answers: list[list[Answer]] = [[] for _ in connections]

    def send(index: int) -> None:
        barrier.wait()
        for _ in range(RETRIES):
            answer = Answer(*connections[index].call(
                "POST", "/api/v3/order", key=customer_key, body=body, headers={"Idempotency-Key": key}))
            tally.note(answer.status)
            answers[index].append(answer)
            if answer.status != 409:
                return
            time.sleep(0.01)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(connections))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _connect(base: str, workers: set[int], count: int, key: str) -> tuple[list[Raw], set[int]]:
    """``count`` keep-alive connections, each accepted by a worker (a first request); the workers holding them."""
    connections = []
    for _ in range(count):
        raw = Raw(base)
        connections.append(raw)
        status, _, _ = raw.call("GET", "/api/v3/order?size=1", key=key)
        assert status == 200
    return connections, {owner(raw.connection, workers) or 0 for raw in connections}


def test_the_same_key_sent_at_once_to_every_worker_makes_one_order(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    tally = Tally()
    firsthand = replays = conflicts = 0
    workers_used: set[int] = set()
    with database_url(database, tmp_path) as url, serve(url, tmp_path, workers=WORKERS) as server, \
            server.client() as http:
        w: World = world(http)
        workers = children(server.process.pid)
        for round_ in range(ROUNDS):
            key = f"retry-storm-{round_}"
            body = w.order(w.a, externalOrderIds=[f"idem-{round_}"], orderNotes=[{"note": f"round {round_}"}])
            connections, held = _connect(server.base, workers, RACERS, w.a.key)
            workers_used |= held
            try:
                answers = _race(connections, key, w.a.key, body, tally)
            finally:
                for raw in connections:
                    raw.close()
            every = [a for per_client in answers for a in per_client]
            assert {a.status for a in every} <= {201, 409}, [(a.status, a.body[:200]) for a in every]
            for a in every:
                if a.status == 409:
                    assert json.loads(a.body)["code"] == "idempotency_key_in_use"
            finals = [per_client[-1] for per_client in answers]
            assert all(a.status == 201 for a in finals), "a client never got its order"
            assert len({a.body for a in finals}) == 1, "clients were told of different orders"
            assert sum(1 for a in every if a.status == 201 and not a.replayed) == 1
            firsthand += 1
            replays += sum(1 for a in every if a.replayed)
            conflicts += sum(1 for a in every if a.status == 409)
            order = json.loads(finals[0].body)
            found = w.a.api.get("/api/v3/order", params={"externalOrderId": f"idem-{round_}"}).json()
            assert [o["id"] for o in found["content"]] == [order["id"]]
        assert w.a.api.get("/api/v3/order").json()["total"] == ROUNDS
        assert len(workers_used) >= 2, f"the racing connections were all held by one worker of {workers}"
    record(request, f"idempotency[{database}]", requests=tally.sent, failures=0, by_status=tally.summary(),
           workers=WORKERS, workers_reached=len(workers_used), keys=ROUNDS, racers_per_key=RACERS,
           orders_made=firsthand, replayed_201=replays, in_use_409=conflicts,
           checked="one order per key; each answer its 201 (one first-hand, the rest replayed, identical) "
                   "or 409 idempotency_key_in_use; retries after 409 end with the same order")


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    return str(request.param)
