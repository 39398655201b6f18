"""The one composition root: a database URL in, a wired store (and app) out."""

from __future__ import annotations

from urllib.parse import urlsplit

from kitflow.domain.ports import UnitOfWork


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
