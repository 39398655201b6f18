"""Contract: ``Transaction.derived``, values made of what orders show, on every store. Whether a
store remembers them or makes them each time, a transaction gets what ``make`` gives on the data it
reads: after any change of a patient, site, item or kit (committed, or its own), never an older one."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgspec
import pytest

from kitflow.domain.ports import Transaction, UnitOfWork
from tests.contract.test_versions import _Writes

WRITES = ("rename_patient", "rename_site", "rename_item", "rename_kit", "add_patient", "place_order", "move_order")


def _names(tx: Transaction, world: _Writes, asked: list[set[int]]) -> dict[str, Mapping[int, str]]:
    """Every kind of value made of one entity kind, through ``derived``; ``asked`` collects the ids
    each ``make`` was called with."""

    def made(read: Callable[[set[int]], Mapping[int, str]]) -> Callable[[set[int]], Mapping[int, str]]:
        def make(ids: set[int]) -> Mapping[int, str]:
            asked.append(set(ids))
            return read(ids)

        return make

    c = world.customer_id
    return {
        "patient": tx.derived("name", c, {world.patient.id}, made(lambda ids: {i: p.first_name for i, p in tx.patients.get_many(c, ids).items()})),
        "site": tx.derived("site_name", c, {world.site.id}, made(lambda ids: {i: s.name for i, s in tx.sites.get_many(c, ids).items()})),
        "item": tx.derived("name", 0, {world.item.id}, made(lambda ids: {i: s.name for i, s in tx.items.get_many(ids).items()})),
        "kit": tx.derived("kit_name", c, {world.kit.id}, made(lambda ids: {i: k.name for i, k in tx.kits.get_many(c, ids).items()})),
    }


def _expected(world: _Writes) -> dict[str, Mapping[int, str]]:
    return {
        "patient": {world.patient.id: world.patient.first_name},
        "site": {world.site.id: world.site.name},
        "item": {world.item.id: world.item.name},
        "kit": {world.kit.id: world.kit.name},
    }


@pytest.mark.parametrize("write", WRITES)
def test_a_transaction_gets_what_make_gives_on_what_it_reads(store: UnitOfWork, write: str) -> None:
    world = _Writes(store)
    asked: list[set[int]] = []
    for _ in range(2):  # made, then perhaps remembered
        with store.begin() as tx:
            assert _names(tx, world, asked) == _expected(world)
    assert all(ids for ids in asked), "make is never asked for nothing"
    getattr(world, write)()
    with store.begin() as tx:
        assert _names(tx, world, asked) == _expected(world)


def test_a_transaction_gets_values_made_of_its_own_change(store: UnitOfWork) -> None:
    world = _Writes(store)
    with store.begin() as tx:
        _names(tx, world, [])
    before = world.patient
    with pytest.raises(RuntimeError), store.begin(write=True) as tx:
        tx.patients.update(msgspec.structs.replace(before, first_name="Uncommitted"))
        assert _names(tx, world, [])["patient"] == {before.id: "Uncommitted"}
        raise RuntimeError("roll back")
    with store.begin() as tx:
        assert _names(tx, world, [])["patient"] == {before.id: before.first_name}


def test_make_is_asked_only_for_the_ids_not_given(store: UnitOfWork) -> None:
    world = _Writes(store)
    asked: list[set[int]] = []
    with store.begin() as tx:
        make = lambda ids: (asked.append(set(ids)), {i: str(i) for i in ids})[1]  # noqa: E731
        assert tx.derived("echo", 0, {1, 2}, make) == {1: "1", 2: "2"}
        assert tx.derived("echo", 0, {2, 3}, make) == {2: "2", 3: "3"}
    assert asked[0] == {1, 2}
    assert asked[1] in ({3}, {2, 3})  # remembered, or made again
