"""Kitflow as the reliability tests meet it: real ``kitflow serve`` processes (tests/cli/served.py) on a
SQLite file or on a fresh PostgreSQL schema (tests/postgres.py), with the e2e tests' operator key."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.cli.served import Served, environment, served
from tests.e2e.api import OPERATOR_KEY

DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
"""The stores a real server runs on in these tests (PostgreSQL is skipped when unreachable, but under CI=true)."""


@contextmanager
def database_url(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty database of ``kind``: a SQLite file in ``folder``, or a fresh
    PostgreSQL schema (dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'kitflow.db'}"
        return
    from tests.postgres import fresh_postgres_schema

    with fresh_postgres_schema() as url:
        yield url


@contextmanager
def serve(url: str, folder: Path, *, workers: int = 1, operator_key: str | None = OPERATOR_KEY) -> Iterator[Served]:
    """``kitflow serve --workers N --database URL`` on a free loopback port, with ``operator_key`` as
    KITFLOW_OPERATOR_KEY (None: the server makes one and prints it), once every worker has started
    (the server answers as soon as the first one has)."""
    env = environment(KITFLOW_OPERATOR_KEY=operator_key) if operator_key else environment()
    with served("--workers", str(workers), "--database", url, cwd=folder, env=env) as server:
        server.wait_for(r"Application startup complete", stream="err", count=workers)
        yield server


class Raw:
    """One keep-alive HTTP/1.1 connection to a server, kept apart from any pool, so that a test
    knows which worker process answers it (see ``processes.owner``)."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        self.connection.connect()

    def call(self, method: str, path: str, *, key: str | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """Send one request; its status, headers (lower-case names) and body."""
        sent = dict(headers or {})
        if key is not None:
            sent["Impilo-API-Key"] = key
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        self.connection.request(method, path, body=content, headers=sent)
        response = self.connection.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def close(self) -> None:
        self.connection.close()
