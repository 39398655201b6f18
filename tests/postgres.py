"""Fresh PostgreSQL stores for tests, on the server at ``KITFLOW_TEST_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``, trust auth as on these machines).

Every store lives in a schema of its own in the ``kitflow_test`` database, named after this test
process (``kt_<pid>_<n>``). Creating and migrating a schema costs a few hundred milliseconds here,
so a schema whose store was closed is emptied (rows deleted, id sequences restarted) and handed to
the next test: each test still starts from an empty, fully migrated schema of its own. A process's
schemas are dropped when it exits; those of processes that died are dropped by the next run.

When the server cannot be reached the test is skipped with the reason, except under ``CI=true``
(the CI script starts the server), where it fails.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from kitflow_adapters.postgres import PostgresStore

ADMIN_URL = os.environ.get("KITFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "kitflow_test"
_OURS = re.compile(r"^kt_(\d+)_\d+$")

_lock = threading.Lock()
_numbers = itertools.count(1)
_free: list[str] = []
_made: list[str] = []
_ready = False


def unavailable(reason: str) -> None:
    """Skip the test (fail it under CI=true): PostgreSQL is needed and not usable."""
    message = f"PostgreSQL at {ADMIN_URL} is not usable: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: the CI script starts the server, so this is a failure)")
    pytest.skip(message + " (set KITFLOW_TEST_POSTGRES_URL, or start the server)")


def database_url(*, schema: str | None = None) -> str:
    """The URL of the test database, with ``schema`` as the search_path when given."""
    parts = urlsplit(ADMIN_URL)
    query = f"options={quote(f'-c search_path={schema}')}" if schema else ""
    return urlunsplit(parts._replace(path=f"/{DATABASE}", query=query))


def _admin(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        unavailable(str(error).strip().splitlines()[0])
        raise  # unreachable: unavailable raises


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prepare() -> None:
    """Once per process: the test database with pg_trgm, without the schemas of dead processes."""
    global _ready
    if _ready:
        return
    with _admin(ADMIN_URL) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
            try:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                pass  # another test process made it meanwhile
    with _admin(database_url()) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        except psycopg.errors.UniqueViolation:
            pass  # made by another process at the same moment
        conn.execute("SET lock_timeout = '200ms'")  # a schema still in use by a stuck backend stays
        for (name,) in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kt\\_%'").fetchall():
            found = _OURS.match(name)
            if found and not _alive(int(found.group(1))):
                try:
                    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
                except psycopg.errors.LockNotAvailable:
                    pass
    atexit.register(_drop_all)
    _ready = True


def _new_schema() -> str:
    name = f"kt_{os.getpid()}_{next(_numbers)}"
    with _admin(database_url()) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    _made.append(name)
    return name


def _drop(names: list[str]) -> None:
    with _admin(database_url()) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def _drop_all() -> None:
    try:
        _drop(list(_made))
    except BaseException:  # the server went away: the next run removes them
        pass


def _empty(schema: str) -> None:
    """Delete every row of ``schema`` (but its migration record) and restart its id sequences."""
    with _admin(database_url(schema=schema)) as conn, conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")  # no foreign-key order needed
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename <> 'kitflow_migrations'", (schema,)
        ).fetchall()
        sequences = conn.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = %s", (schema,)).fetchall()
        for (table,) in tables:
            conn.execute(sql.SQL("DELETE FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
        for (sequence,) in sequences:
            conn.execute("SELECT setval(%s::regclass, 1, false)", (f'"{schema}"."{sequence}"',))


class SchemaStore(PostgresStore):
    """A PostgresStore in a schema of its own; closing it gives the schema back for reuse."""

    def __init__(self, schema: str, **options: object) -> None:
        self.schema = schema
        self.url = database_url(schema=schema)
        super().__init__(self.url, **options)  # type: ignore[arg-type]

    def close(self) -> None:
        super().close()
        with _lock:
            _free.append(self.schema)


def fresh_postgres_store(**options: object) -> SchemaStore:
    """An empty, migrated store in a schema no other open store uses (``options`` go to
    PostgresStore). Skips the test when PostgreSQL is unreachable (fails under CI=true)."""
    with _lock:
        _prepare()
        reused = _free.pop() if _free else None
    if reused is not None:
        _empty(reused)
        return SchemaStore(reused, **options)
    return SchemaStore(_new_schema(), **options)


@contextmanager
def fresh_postgres_schema() -> Iterator[str]:
    """The URL of a new, empty schema (never migrated), dropped afterwards: for tests of the
    migrations themselves and of server processes started on a URL."""
    with _lock:
        _prepare()
    name = _new_schema()
    try:
        yield database_url(schema=name)
    finally:
        _drop([name])
        _made.remove(name)
