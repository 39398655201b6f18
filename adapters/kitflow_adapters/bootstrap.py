"""The one composition root: a database URL in, a wired store (and app) out."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from kitflow.domain.identity import digest
from kitflow.domain.ports import UnitOfWork

if TYPE_CHECKING:
    from litestar import Litestar


class BadDatabaseUrl(ValueError):
    """The database URL names no store Kitflow knows, or is malformed."""


def open_store(url: str) -> UnitOfWork:
    """The store a database URL names: ``memory://``, ``sqlite:///relative.db``,
    ``sqlite:////absolute.db`` or ``postgresql://user:password@host:port/dbname``. The schema is
    created or migrated on opening. Raises BadDatabaseUrl."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from kitflow_adapters.memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        from kitflow_adapters.sqlite import SqliteStore

        path = url[len("sqlite:///") :] if url.lower().startswith("sqlite:///") else ""
        if not path:
            raise BadDatabaseUrl(f"a SQLite URL is sqlite:///relative/path.db or sqlite:////absolute/path.db, not {url!r}")
        return SqliteStore(path)
    if scheme in {"postgresql", "postgres"}:
        from kitflow_adapters.postgres import PostgresStore

        return PostgresStore(url)
    raise BadDatabaseUrl(f"unknown database URL {url!r}: use sqlite:///file.db, memory:// or postgresql://...")


DEFAULT_DATABASE_URL = "sqlite:///kitflow.db"


def database_url(url: str | None = None) -> str:
    """The database URL in force: ``url``, else ``KITFLOW_DATABASE_URL``, else ``sqlite:///kitflow.db``."""
    return url or os.environ.get("KITFLOW_DATABASE_URL") or DEFAULT_DATABASE_URL


def app_on(store: UnitOfWork, *, operator_key: str | None) -> Litestar:
    """The HTTP app on an open ``store``. A networked store (PostgreSQL) has its work run in as many
    worker threads as its pool has connections, so that no round trip blocks the event loop; a local
    one (SQLite, memory) answers on the event loop, which is faster for it."""
    from kitflow_adapters.http.app import build_app

    threads = 0
    postgres = sys.modules.get("kitflow_adapters.postgres")  # imported by now if the store is one
    if postgres is not None and isinstance(store, postgres.PostgresStore):
        threads = store.pool_size[1]
    return build_app(store, operator_digest=digest(operator_key) if operator_key else None, threads=threads)


def create_app(database: str | None = None, *, operator_key: str | None = None) -> Litestar:
    """The HTTP app on the store ``database`` names (see ``database_url``), with the operator key
    ``operator_key`` or ``KITFLOW_OPERATOR_KEY`` (when neither is set, stored operator keys count).
    A factory for ASGI servers: each worker process calls it and opens its own store."""
    key = operator_key or os.environ.get("KITFLOW_OPERATOR_KEY") or None
    return app_on(open_store(database_url(database)), operator_key=key)
