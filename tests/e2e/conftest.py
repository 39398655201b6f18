"""End-to-end fixtures: the real app on each store (the root ``store`` fixture: memory, SQLite,
PostgreSQL), through Litestar's test client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from kitflow.domain.ports import UnitOfWork
from kitflow_adapters.bootstrap import app_on
from tests.e2e.api import OPERATOR_KEY, Api, World, world


@pytest.fixture
def http(store: UnitOfWork) -> Iterator[TestClient]:
    """The app on each store, served in process."""
    with TestClient(app_on(store, operator_key=OPERATOR_KEY)) as client:
        yield client


@pytest.fixture
def operator(http: TestClient) -> Api:
    return Api(http)


@pytest.fixture
def w(http: TestClient) -> World:
    """A small world made through the API: a catalog and two customers."""
    return world(http)
