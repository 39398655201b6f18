"""End-to-end fixtures: the real app on each store, through Litestar's test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from kitflow.domain.identity import digest
from kitflow.domain.ports import UnitOfWork
from kitflow_adapters.http.app import build_app
from tests.conftest import open_test_store
from tests.e2e.api import OPERATOR_KEY, Api, World, world

E2E_STORES = ["memory", "sqlite", "postgres"]
"""The stores the HTTP tests run on: every store Kitflow has (PostgreSQL skips outside CI when no
server is reachable; under CI=true it must be there)."""


@pytest.fixture(params=E2E_STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    uow = open_test_store(request.param, tmp_path)
    try:
        yield uow
    finally:
        uow.close()


@pytest.fixture
def http(store: UnitOfWork) -> Iterator[TestClient]:
    """The app on each store, served in process."""
    with TestClient(build_app(store, operator_digest=digest(OPERATOR_KEY))) as client:
        yield client


@pytest.fixture
def operator(http: TestClient) -> Api:
    return Api(http)


@pytest.fixture
def w(http: TestClient) -> World:
    """A small world made through the API: a catalog and two customers."""
    return world(http)
