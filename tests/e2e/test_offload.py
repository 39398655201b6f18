"""On a networked store (PostgreSQL) store work runs in worker threads: a request that waits on the
database never holds up the server's event loop, so other requests are answered meanwhile."""

from __future__ import annotations

import asyncio
import threading

import httpx
import psycopg

from kitflow.domain.identity import OPERATOR
from kitflow.services.access import create_customer
from kitflow.services.clock import SystemClock
from kitflow_adapters.bootstrap import app_on

from tests.postgres import fresh_postgres_store


def test_a_request_waiting_on_the_database_does_not_block_the_event_loop() -> None:
    store = fresh_postgres_store()
    try:
        key = create_customer("Acme", caller=OPERATOR, uow=store, clock=SystemClock()).api_key
        app = app_on(store, operator_key=None)
        assert store.pool_size[1] > 1

        async def scenario() -> tuple[int, int, list[int]]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://kitflow") as client:
                with psycopg.connect(store.url, autocommit=True) as locker:
                    locker.execute("BEGIN")
                    locker.execute("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE")  # every key lookup waits
                    # the lock goes in 4 s whatever happens, so a blocked loop fails the test, not hangs it
                    release = threading.Timer(4.0, lambda: locker.execute("ROLLBACK"))
                    release.start()
                    waiting = [
                        asyncio.create_task(client.get("/api/v3/site", headers={"Impilo-API-Key": key}))
                        for _ in range(3)
                    ]
                    await asyncio.sleep(0.3)
                    health = await asyncio.wait_for(client.get("/health"), timeout=30)
                    still_waiting = sum(not task.done() for task in waiting)
                    answers = await asyncio.wait_for(asyncio.gather(*waiting), timeout=30)
                    release.join()
            return health.status_code, still_waiting, [a.status_code for a in answers]

        health, still_waiting, answers = asyncio.run(scenario())
    finally:
        store.close()
    assert health == 200
    assert still_waiting == 3, "the database requests should still be waiting on the lock"
    assert answers == [200, 200, 200]
