"""The SQLite schema is made and evolved by recorded migrations: an older database is migrated on
opening, with its rows; opening twice, or from several processes at once, is safe; a database from a
newer Kitflow is refused."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from kitflow.domain.paging import PageSpec
from kitflow.domain.patient import PatientFilter, SiteFilter
from kitflow_adapters.sqlite import SchemaTooNew, SqliteStore
from kitflow_adapters.sqlite.schema import KNOWN, migrate, version
from tests.contract.rows import new_customer, new_patient


def _older(path: Path, *, before: str) -> sqlite3.Connection:
    """A database at ``path`` migrated up to (not including) migration ``before``."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    migrate(conn, stop_before=before)
    conn.execute("COMMIT")
    return conn


def test_a_database_of_the_first_version_is_migrated_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = _older(path, before="0002_name_search")
    assert version(conn) == ["0001_tables"]
    conn.executescript(
        """
        INSERT INTO customers (id, name, created_at) VALUES (1, 'Acme', 0);
        INSERT INTO sites (id, customer_id, name, active, created_at, updated_at)
            VALUES (1, 1, 'Ångström Clinic', 1, 0, 0);
        INSERT INTO patients (id, customer_id, first_name, last_name, address, sex, site_id, enrolled, archived,
                              created_at, updated_at)
            VALUES (1, 1, 'Ada', 'LOVELACE', '{"line_one":"1","city":"c","state":"s","zip_code":"z","country":"US"}',
                    'female', 1, 1, 0, 0, 0);
        """
    )
    conn.close()

    store = SqliteStore(str(path))
    try:
        with store.begin() as tx:
            patients = tx.patients.page(1, PatientFilter(name="a lovelace"), PageSpec(size=10))
            sites = tx.sites.page(1, SiteFilter(name="ÅNGSTRÖM"), PageSpec(size=10))
        assert [p.last_name for p in patients.items] == ["LOVELACE"]
        assert [s.name for s in sites.items] == ["Ångström Clinic"]
        # rows written after the migration are found too, through the triggers it made
        later = new_patient(store, 1, first_name="Grace", last_name="Hopper")
        with store.begin() as tx:
            assert tx.patients.page(1, PatientFilter(name="ace ho"), PageSpec(size=10)).items == (later,)
    finally:
        store.close()
    check = sqlite3.connect(path)
    assert version(check) == KNOWN
    check.close()


def test_opening_an_up_to_date_database_again_changes_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "k.db")
    first = SqliteStore(path)
    customer_id = new_customer(first)
    second = SqliteStore(path)
    try:
        with second.begin() as tx:
            assert tx.customers.get(customer_id).name == "Acme"
        conn = sqlite3.connect(path)
        assert version(conn) == KNOWN
        assert conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == len(KNOWN)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()
    finally:
        first.close()
        second.close()


def _open_and_write(path: str) -> int:
    store = SqliteStore(path)
    try:
        return new_customer(store)
    finally:
        store.close()


def test_several_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = str(tmp_path / "fresh.db")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        ids = pool.map(_open_and_write, [path] * 8)
    assert sorted(ids) == list(range(1, 9))
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == len(KNOWN)
    conn.close()


def test_a_database_from_a_newer_kitflow_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "k.db")
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('kitflow', '9999_future', 'now')"
    )
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew, match="9999_future"):
        SqliteStore(path)


def _page_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


def test_a_new_database_has_kitflows_page_size_and_an_older_file_keeps_its_own(tmp_path: Path) -> None:
    from kitflow_adapters.sqlite.connection import PAGE_SIZE

    fresh = SqliteStore(str(tmp_path / "new.db"))
    new_patient(fresh, new_customer(fresh))
    fresh.close()
    assert _page_size(tmp_path / "new.db") == PAGE_SIZE != 4096

    conn = _older(tmp_path / "old.db", before="0002_name_search")  # made with SQLite's default pages
    conn.close()
    assert _page_size(tmp_path / "old.db") == 4096
    older = SqliteStore(str(tmp_path / "old.db"))
    customer_id = new_customer(older)
    patient_id = new_patient(older, customer_id).id
    with older.begin() as tx:
        assert tx.patients.get(customer_id, patient_id).id == patient_id
    older.close()
    assert _page_size(tmp_path / "old.db") == 4096
