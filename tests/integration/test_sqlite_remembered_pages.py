"""Two workers on one SQLite file: one serves order lists over HTTP and remembers their pages, the
other (another connection, as another process has) changes what they show. Whatever the
interleaving, every list the first answers is the list as the file holds it then."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from kitflow.domain.catalog import ItemPatch
from kitflow.domain.errors import Conflict
from kitflow.domain.identity import OPERATOR
from kitflow.domain.order import OrderFilter
from kitflow.domain.patient import PatientPatch, SitePatch
from kitflow.services import catalog, orders, patients
from kitflow.services.clock import SystemClock
from kitflow.services.listing import ListRequest
from kitflow_adapters.bootstrap import app_on
from kitflow_adapters.http.rendering import to_wire
from kitflow_adapters.http.wire import OrderPage
from kitflow_adapters.sqlite import SqliteStore
from tests.world import World, build_world

_names = itertools.count()


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[TestClient, World, SqliteStore]]:
    """The app on one store of the file, and a world made through another store of the same file."""
    path = str(tmp_path / "kitflow.db")
    writer = SqliteStore(path)
    world = build_world(writer, SystemClock())
    server = SqliteStore(path)
    try:
        with TestClient(app_on(server, operator_key=None)) as client:
            yield client, world, writer
    finally:
        server.close()
        writer.close()


def _change(world: World, store: SqliteStore, change: str) -> None:
    me, clock, n = world.a.caller, world.clock, next(_names)
    if change == "order":
        orders.place_order(world.order(world.a), caller=me, uow=store, clock=clock)
    elif change == "cancel":
        listed = orders.list_orders(OrderFilter(status="received"), ListRequest(), caller=me, uow=store)
        if listed.content:
            orders.cancel_order(listed.content[0].id, caller=me, uow=store, clock=clock)
    elif change == "patient":
        patients.patch_patient(world.a.patient, PatientPatch(first_name=f"P{n}"), caller=me, uow=store, clock=clock)
    elif change == "site":
        patients.patch_site(world.a.site, SitePatch(name=f"S{n}"), caller=me, uow=store, clock=clock)
    elif change == "item":
        catalog.patch_item(world.item, ItemPatch(name=f"I{n}"), caller=OPERATOR, uow=store)
    elif change == "other tenant":
        try:
            orders.place_order(world.order(world.b), caller=world.b.caller, uow=store, clock=clock)
        except Conflict:
            pass


_steps = st.lists(
    st.one_of(
        st.sampled_from(["order", "cancel", "patient", "site", "item", "other tenant"]),
        st.tuples(st.integers(1, 3), st.integers(1, 4)),  # a list: page, size
    ),
    min_size=1,
    max_size=12,
)


def test_a_list_asked_again_is_the_list_the_file_holds(two_workers: tuple[TestClient, World, SqliteStore]) -> None:
    client, world, writer = two_workers

    @settings(max_examples=25)
    @given(steps=_steps)
    def check(steps: list[Any]) -> None:
        for step in steps:
            if isinstance(step, str):
                _change(world, writer, step)
                continue
            page, size = step
            for _ in range(2):  # the second is answered from the remembered page when nothing changed
                answered = client.get(
                    "/api/v3/order", params={"page": page, "size": size}, headers={"Impilo-API-Key": world.a.key}
                )
                assert answered.status_code == 200, answered.text
                fresh = orders.list_orders(
                    OrderFilter(), ListRequest(page=page, size=size), caller=world.a.caller, uow=writer
                )
                assert answered.json() == msgspec.json.decode(to_wire(fresh, OrderPage))

    check()
