"""Opening the database a command names, with errors an operator can act on."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from kitflow.domain.ports import UnitOfWork
from kitflow_adapters.bootstrap import BadDatabaseUrl, database_url, open_store
from kitflow_adapters.cli.failure import Failure


def shown(url: str) -> str:
    """``url`` fit to print: any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


_SQLITE_HINT = " (is it a Kitflow SQLite file, does its folder exist, and may this user read and write both?)"


def is_memory(url: str) -> bool:
    """Whether ``url`` names the in-memory store (its data lives inside one process)."""
    return urlsplit(url).scheme.lower() == "memory"


def open_database(url: str | None) -> tuple[str, UnitOfWork]:
    """The URL in force (``url``, else ``KITFLOW_DATABASE_URL``, else the SQLite default) and its
    store, with the schema created or migrated. Raises Failure for a bad URL or a database that
    cannot be opened (missing folder, no permission, server down, ...)."""
    resolved = database_url(url)
    try:
        return resolved, open_store(resolved)
    except BadDatabaseUrl as error:
        raise Failure(f"bad database URL: {error}") from None
    except Exception as error:  # the store's own errors (sqlite3, psycopg, OS): shown, never a traceback
        hint = _SQLITE_HINT if urlsplit(resolved).scheme.lower() == "sqlite" else ""
        raise Failure(f"cannot open the database {shown(resolved)}: {_reason(error)}{hint}") from None


def schema_version(url: str) -> str | None:
    """The schema version of the database ``url`` names once it is open: the newest migration its
    store knows, since opening applies every pending one (and refuses a newer schema). None for
    ``memory://``, which has no schema."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        from kitflow_adapters.sqlite.schema import KNOWN

        return KNOWN[-1]
    if scheme in {"postgresql", "postgres"}:
        from kitflow_adapters.postgres.schema import VERSION

        return str(VERSION)
    return None


def _reason(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
