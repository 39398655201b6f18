"""The PostgreSQL schema: migrated once when several processes start together, recorded, refused
when newer than the code, and working (slower name search) where pg_trgm cannot be installed."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from kitflow.domain.identity import Customer
from kitflow.domain.order import OrderFilter
from kitflow.domain.paging import PageSpec
from kitflow.domain.patient import PatientFilter
from kitflow_adapters.postgres import PostgresStore, SchemaTooNew
from kitflow_adapters.postgres.schema import VERSION, has_name_indexes, migrate, version
from tests.contract.rows import T0, patient
from tests.postgres import ADMIN_URL, fresh_postgres_schema, fresh_postgres_store

pytestmark = pytest.mark.postgres

STARTERS = 4


def _start(url: str, barrier: Any, results: Any) -> None:
    """One server process starting: migrate as the store does on opening, report what it applied,
    then open the store itself."""
    barrier.wait()
    with psycopg.connect(url, autocommit=True) as conn:
        applied = migrate(conn)
    PostgresStore(url).close()
    results.put(applied)


def test_processes_that_start_together_migrate_the_schema_once() -> None:
    with fresh_postgres_schema() as url:
        context = multiprocessing.get_context("spawn")
        barrier, queue = context.Barrier(STARTERS), context.Queue()
        starters = [context.Process(target=_start, args=(url, barrier, queue)) for _ in range(STARTERS)]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join(timeout=120)
        assert [starter.exitcode for starter in starters] == [0] * STARTERS
        results = [queue.get(timeout=10) for _ in starters]
        assert sorted(results) == [[]] * (STARTERS - 1) + [list(range(1, VERSION + 1))]
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute("SELECT version FROM kitflow_migrations ORDER BY version").fetchall()
            assert [version for (version,) in rows] == list(range(1, VERSION + 1))
            assert has_name_indexes(conn)


def test_reopening_keeps_the_data_and_applies_nothing() -> None:
    store = fresh_postgres_store()
    try:
        with store.begin(write=True) as tx:
            kept = tx.customers.add(Customer(id=0, name="Acme", created_at=T0))
        again = PostgresStore(store.url)
        with again.begin() as tx:
            assert tx.customers.get(kept.id) == kept
        again.close()
        with psycopg.connect(store.url, autocommit=True) as conn:
            assert migrate(conn) == []
    finally:
        store.close()


def test_a_schema_from_a_newer_kitflow_is_refused() -> None:
    with fresh_postgres_schema() as url:
        PostgresStore(url).close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO kitflow_migrations (version) VALUES (%s)", (VERSION + 1,))
        with pytest.raises(SchemaTooNew):
            PostgresStore(url)


def test_an_unreachable_server_and_a_malformed_url_are_clear_errors() -> None:
    with pytest.raises(ConnectionError, match="cannot reach PostgreSQL"):
        PostgresStore("postgresql://postgres@127.0.0.1:1/kitflow", timeout=2)
    with pytest.raises(ValueError):
        PostgresStore("postgresql://postgres@127.0.0.1:5432/kitflow?no_such_option=1")
    with pytest.raises(ValueError):
        PostgresStore("postgresql://postgres@127.0.0.1:5432/kitflow?pool_min=3&pool_max=2")


@contextmanager
def _database_without_trigram_rights() -> Iterator[tuple[str, str]]:
    """A new database, and the URLs of a role that may create tables in it but not extensions
    (no CREATE on the database) and of the superuser."""
    name = f"kt_{os.getpid()}_limited"
    role = "kitflow_test_limited"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
            try:
                admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            except psycopg.errors.DuplicateObject:
                pass
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        try:
            parts = urlsplit(ADMIN_URL)
            superuser = urlunsplit(parts._replace(path=f"/{name}"))
            with psycopg.connect(superuser, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE SCHEMA kitflow AUTHORIZATION {}").format(sql.Identifier(role)))
            limited = urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port or 5432}", path=f"/{name}"))
            yield f"{limited}?options=-c%20search_path%3Dkitflow", f"{superuser}?options=-c%20search_path%3Dkitflow"
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_without_pg_trgm_the_name_filter_still_works_and_the_index_comes_later() -> None:
    fresh_postgres_store().close()  # skips the test when PostgreSQL is not there
    with _database_without_trigram_rights() as (limited, superuser):
        store = PostgresStore(limited)
        try:
            with psycopg.connect(limited, autocommit=True) as conn:
                assert not has_name_indexes(conn)
            with store.begin(write=True) as tx:
                owner = tx.customers.add(Customer(id=0, name="Acme", created_at=T0)).id
                ada = tx.patients.add(patient(owner, first_name="Ada", last_name="Lovelace"))
                tx.patients.add(patient(owner, first_name="Bob", last_name="Smith"))
            with store.begin() as tx:
                found = tx.patients.page(owner, PatientFilter(name="A LOVE"), PageSpec(size=10))
            assert found.items == (ada,) and found.total == 1
        finally:
            store.close()
        PostgresStore(superuser).close()  # a start with the right to create it adds the index
        with psycopg.connect(limited, autocommit=True) as conn:
            assert has_name_indexes(conn)


def test_a_database_of_the_first_version_is_migrated_with_its_data() -> None:
    with fresh_postgres_schema() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            assert migrate(conn, upto=1) == [1]
            conn.execute("INSERT INTO customers (name, created_at) VALUES ('Acme', now()), ('Other', now())")
            conn.execute(
                "INSERT INTO sites (customer_id, name, name_key, active, created_at, updated_at)"
                " VALUES (1, 'S', 's', true, now(), now()), (2, 'S', 's', true, now(), now())"
            )
            conn.execute(
                "INSERT INTO orders (customer_id, site_id, status, shipping_option, events, notes, tracking,"
                " created_at, updated_at) SELECT 1 + (n % 3 = 0)::int, 1 + (n % 3 = 0)::int, 'received',"
                " 'standard', '[]', '[]', '[]', now(), now() FROM generate_series(1, 50) n"
            )
        store = PostgresStore(url)
        try:
            with store.begin() as tx:
                totals = [tx.orders.page(owner, OrderFilter(), PageSpec(size=1)).total for owner in (1, 2)]
            assert totals == [34, 16]
        finally:
            store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            assert version(conn) == VERSION
