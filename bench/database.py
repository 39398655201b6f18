"""The benchmarks' stores: a fresh one of each kind, opened the way ``kitflow serve`` opens it.

``sqlite`` is a new file in a folder, ``memory`` the memory store, ``postgresql`` the database a
URL names, dropped and made again (so each run starts empty, as a new SQLite file does).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from kitflow.domain.ports import UnitOfWork
from kitflow_adapters.bootstrap import open_store

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/kitflow_bench"
"""The PostgreSQL database the benchmarks use unless told otherwise; it is dropped and made again."""
KINDS = ("sqlite", "memory", "postgresql")


def fresh_postgres(url: str) -> str:
    """Drop the database ``url`` names (ending any session on it) and create it empty; returns
    ``url``. Raises ValueError for a URL naming no database, psycopg.Error if the server refuses."""
    import psycopg  # bench code, outside the layered packages: administration, no store logic

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or name == "postgres":
        raise ValueError(f"the benchmark drops and recreates its database: name one other than postgres in {url!r}")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        ident = psycopg.sql.Identifier(name)
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(ident))
    return url


def fresh_store_url(kind: str, folder: Path, *, postgres: str = POSTGRES_URL) -> tuple[str, Path | None]:
    """The URL of a new, empty store of ``kind`` (one of KINDS), and its SQLite file if it has one.
    Raises ValueError for an unknown kind, psycopg.Error if PostgreSQL refuses."""
    if kind == "sqlite":
        path = folder / "bench.db"
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        return f"sqlite:///{path}", path
    if kind == "memory":
        return "memory://", None
    if kind == "postgresql":
        return fresh_postgres(postgres), None
    raise ValueError(f"unknown store {kind!r}: one of {', '.join(KINDS)}")


def fresh_store(kind: str, folder: Path, *, postgres: str = POSTGRES_URL) -> tuple[UnitOfWork, Path | None]:
    """A new, empty, open store of ``kind`` and its SQLite file if it has one (see fresh_store_url)."""
    url, path = fresh_store_url(kind, folder, postgres=postgres)
    return open_store(url), path
