"""Shared fixtures: every store Kitflow has, opened fresh for each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from kitflow.domain.ports import UnitOfWork
from kitflow.services.clock import SystemClock

settings.register_profile(
    "default", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

STORES = ["memory", "sqlite", "postgres"]


def open_test_store(kind: str, tmp_path: Path) -> UnitOfWork:
    """A fresh, empty store of ``kind``."""
    if kind == "memory":
        from kitflow_adapters.memory import MemoryStore

        return MemoryStore()
    if kind == "sqlite":
        from kitflow_adapters.sqlite import SqliteStore

        return SqliteStore(str(tmp_path / "kitflow.db"))
    if kind == "postgres":
        from tests.postgres import fresh_postgres_store

        return fresh_postgres_store()
    raise ValueError(kind)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    """Each store in turn, fresh and empty."""
    uow = open_test_store(request.param, tmp_path)
    try:
        yield uow
    finally:
        uow.close()


@pytest.fixture
def memory() -> UnitOfWork:
    from kitflow_adapters.memory import MemoryStore

    return MemoryStore()


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()
