"""The schema, as migrations applied in order and recorded in the database (sqlite-utils Migrations).

A migration is never edited once released: a change to the schema is a new migration at the end.
Times are integer milliseconds since 1970 (UTC); structures that are only ever read whole (addresses,
order lines, events, notes) are JSON text written and read by msgspec. Tables are STRICT.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Final

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

CASEFOLD: Final = "kitflow_casefold"
"""A SQL function (Python's ``str.casefold``) that the name-search migration registers."""

MIGRATIONS: Final = Migrations("kitflow")
KNOWN: Final[list[str]] = []
"""The names of every migration this code holds, in order."""


def _migration(name: str) -> Callable[[Callable[[Database], None]], Callable[[Database], None]]:
    KNOWN.append(name)
    return MIGRATIONS(name=name)


def _run(db: Database, script: str) -> None:
    """Each statement of ``script`` inside the open transaction (``executescript`` would commit it)."""
    statement = ""
    for part in script.split(";"):
        statement += part + ";"
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip(" \n;"):
        db.execute(statement)


@_migration("0001_tables")
def _tables(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE customers (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            created_at INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE api_keys (
            prefix TEXT PRIMARY KEY,
            digest TEXT NOT NULL,
            role TEXT NOT NULL,
            customer_id INTEGER REFERENCES customers (id),
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX api_keys_operator ON api_keys (role) WHERE role = 'operator';
        CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE sites (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id),
            name TEXT NOT NULL,
            active INTEGER NOT NULL,
            phone_number TEXT,
            address TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) STRICT;
        CREATE UNIQUE INDEX sites_customer ON sites (customer_id, id);
        CREATE INDEX sites_active ON sites (customer_id, active);

        CREATE TABLE patients (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id),
            external_identifier TEXT,
            first_name TEXT NOT NULL,
            last_name TEXT NOT NULL,
            address TEXT NOT NULL,
            date_of_birth TEXT,
            email TEXT,
            email_key TEXT,
            phone_number TEXT,
            sex TEXT NOT NULL,
            site_id INTEGER,
            enrolled INTEGER NOT NULL,
            archived INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            FOREIGN KEY (customer_id, site_id) REFERENCES sites (customer_id, id)
        ) STRICT;
        CREATE UNIQUE INDEX patients_customer ON patients (customer_id, id);
        CREATE UNIQUE INDEX patients_external ON patients (customer_id, external_identifier)
            WHERE external_identifier IS NOT NULL;
        CREATE INDEX patients_email ON patients (customer_id, email_key) WHERE email_key IS NOT NULL;
        CREATE INDEX patients_site ON patients (customer_id, site_id);
        CREATE INDEX patients_archived ON patients (customer_id, archived);
        CREATE INDEX patients_enrolled ON patients (customer_id, enrolled);

        CREATE TABLE manufacturers (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        ) STRICT;
        CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            sku TEXT NOT NULL UNIQUE,
            model TEXT,
            manufacturer_id INTEGER REFERENCES manufacturers (id),
            orderable INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX items_orderable ON items (orderable);

        CREATE TABLE kits (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id),
            name TEXT NOT NULL,
            archived INTEGER NOT NULL,
            lines TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) STRICT;
        CREATE UNIQUE INDEX kits_customer ON kits (customer_id, id);
        CREATE INDEX kits_archived ON kits (customer_id, archived);
        CREATE TABLE kit_items (
            kit_id INTEGER NOT NULL REFERENCES kits (id),
            item_id INTEGER NOT NULL REFERENCES items (id),
            PRIMARY KEY (kit_id, item_id)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX kit_items_item ON kit_items (item_id, kit_id);

        CREATE TABLE orders (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id),
            patient_id INTEGER,
            site_id INTEGER,
            status TEXT NOT NULL,
            shipping_option TEXT NOT NULL,
            items TEXT NOT NULL,
            kits TEXT NOT NULL,
            external_ids TEXT NOT NULL,
            events TEXT NOT NULL,
            notes TEXT NOT NULL,
            tracking TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            FOREIGN KEY (customer_id, patient_id) REFERENCES patients (customer_id, id),
            FOREIGN KEY (customer_id, site_id) REFERENCES sites (customer_id, id)
        ) STRICT;
        CREATE INDEX orders_customer ON orders (customer_id);
        CREATE INDEX orders_status ON orders (customer_id, status);
        CREATE INDEX orders_patient ON orders (customer_id, patient_id);
        CREATE INDEX orders_site ON orders (customer_id, site_id);
        CREATE INDEX orders_created ON orders (customer_id, created_at);
        CREATE TABLE order_external_ids (
            customer_id INTEGER NOT NULL,
            external_id TEXT NOT NULL,
            order_id INTEGER NOT NULL REFERENCES orders (id),
            PRIMARY KEY (customer_id, external_id)
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE idempotency_records (
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            token TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            status INTEGER,
            content_type TEXT,
            body BLOB,
            PRIMARY KEY (scope, key)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX idempotency_created ON idempotency_records (created_at);
        """,
    )


def _name_search(*, table: str, index: str, key: str) -> str:
    """DDL for a case-folded ``name_key`` column on ``table``, filled from ``key`` (a SQL
    expression), and an FTS5 trigram index ``index`` over it that triggers keep current."""
    return f"""
        ALTER TABLE {table} ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
        UPDATE {table} SET name_key = {CASEFOLD}({key});
        CREATE VIRTUAL TABLE {index} USING fts5 (
            name_key, content = '{table}', content_rowid = 'id', tokenize = 'trigram case_sensitive 1'
        );
        INSERT INTO {index} ({index}) VALUES ('rebuild');
        CREATE TRIGGER {index}_insert AFTER INSERT ON {table} BEGIN
            INSERT INTO {index} (rowid, name_key) VALUES (new.id, new.name_key);
        END;
        CREATE TRIGGER {index}_update AFTER UPDATE OF name_key ON {table}
            WHEN old.name_key IS NOT new.name_key BEGIN
            INSERT INTO {index} ({index}, rowid, name_key) VALUES ('delete', old.id, old.name_key);
            INSERT INTO {index} (rowid, name_key) VALUES (new.id, new.name_key);
        END;
        CREATE TRIGGER {index}_delete AFTER DELETE ON {table} BEGIN
            INSERT INTO {index} ({index}, rowid, name_key) VALUES ('delete', old.id, old.name_key);
        END
    """


@_migration("0002_name_search")
def _names(db: Database) -> None:
    """The ``name`` filters of patients and sites: case-folded keys under FTS5 trigram indexes."""
    _run(db, _name_search(table="patients", index="patient_names", key="first_name || ' ' || last_name"))
    _run(db, _name_search(table="sites", index="site_names", key="name"))


@_migration("0003_order_totals")
def _order_totals(db: Database) -> None:
    """Each customer's number of orders, kept by triggers, so that an unfiltered order list reads
    its ``total`` from one row instead of counting the customer's whole index range."""
    _run(
        db,
        """
        CREATE TABLE order_totals (
            customer_id INTEGER PRIMARY KEY REFERENCES customers (id),
            total INTEGER NOT NULL
        ) STRICT;
        INSERT INTO order_totals (customer_id, total) SELECT customer_id, count(*) FROM orders GROUP BY customer_id;
        CREATE TRIGGER order_totals_insert AFTER INSERT ON orders BEGIN
            INSERT INTO order_totals (customer_id, total) VALUES (new.customer_id, 1)
            ON CONFLICT (customer_id) DO UPDATE SET total = total + 1;
        END;
        CREATE TRIGGER order_totals_delete AFTER DELETE ON orders BEGIN
            UPDATE order_totals SET total = total - 1 WHERE customer_id = old.customer_id;
        END
        """,
    )


_SHOWN_BY_ORDERS: Final = ("patients", "sites", "manufacturers", "items", "kits", "kit_items")
"""The tables whose rows an order shows, besides its own."""


def _bump(table: str, version: str = "reference", to: str = "version + 1") -> str:
    """Triggers on every change to ``table`` that set the ``versions`` row ``version`` to ``to``."""
    return "".join(
        f"""
        CREATE TRIGGER versions_{table}_{event.lower()} AFTER {event} ON {table} BEGIN
            UPDATE versions SET version = {to} WHERE name = '{version}';
        END;"""
        for event in ("INSERT", "UPDATE", "DELETE")
    )


@_migration("0004_versions")
def _versions(db: Database) -> None:
    """Version counters, bumped by triggers in the transaction that makes the change: each customer's
    orders (``order_totals.version``) and everything orders show (``versions`` row ``reference``).
    Together they are ``Orders.version``: equal counters, equal order lists."""
    _run(
        db,
        """
        CREATE TABLE versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL) STRICT;
        INSERT INTO versions (name, version) VALUES ('reference', 0);
        ALTER TABLE order_totals ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
        DROP TRIGGER order_totals_insert;
        DROP TRIGGER order_totals_delete;
        CREATE TRIGGER order_totals_insert AFTER INSERT ON orders BEGIN
            INSERT INTO order_totals (customer_id, total, version) VALUES (new.customer_id, 1, 1)
            ON CONFLICT (customer_id) DO UPDATE SET total = total + 1, version = version + 1;
        END;
        CREATE TRIGGER order_totals_update AFTER UPDATE ON orders BEGIN
            UPDATE order_totals SET version = version + 1 WHERE customer_id IN (old.customer_id, new.customer_id);
        END;
        CREATE TRIGGER order_totals_delete AFTER DELETE ON orders BEGIN
            UPDATE order_totals SET total = total - 1, version = version + 1 WHERE customer_id = old.customer_id;
        END;
        """
        + "".join(_bump(table) for table in _SHOWN_BY_ORDERS),
    )


@_migration("0005_partial_order_indexes")
def _partial_order_indexes(db: Database) -> None:
    """An order for a patient has no site, and one for a site may have no patient: the two indexes
    hold only the orders that have one (a filter ``site_id = ?`` implies ``site_id IS NOT NULL``, so
    SQLite still uses them), and a create writes one index page fewer (as on PostgreSQL)."""
    _run(
        db,
        """
        DROP INDEX orders_patient;
        DROP INDEX orders_site;
        CREATE INDEX orders_patient ON orders (customer_id, patient_id) WHERE patient_id IS NOT NULL;
        CREATE INDEX orders_site ON orders (customer_id, site_id) WHERE site_id IS NOT NULL;
        """,
    )


_KEY_TRIGGERS: Final = tuple(f"versions_api_keys_{event}" for event in ("insert", "update", "delete"))


@_migration("0006_key_version")
def _key_version(db: Database) -> None:
    """A ``keys`` version in ``versions``, set to a new random value by triggers in the transaction
    of any change to ``api_keys`` (random, not counted: a file restored to an older state and
    changed again cannot bring back a value a connection has seen): a connection keeps the keys it
    has read while that version holds (``store``)."""
    _run(db, "INSERT INTO versions (name, version) VALUES ('keys', random());" + _bump("api_keys", "keys", "random()"))


def has_key_triggers(conn: sqlite3.Connection) -> bool:
    """Whether the file has migration 0006's triggers, as that migration makes them (a table rebuilt
    by hand would have lost them)."""
    found = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'api_keys'"))
    return all("random()" in (found.get(name) or "") for name in _KEY_TRIGGERS)


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer Kitflow than this one."""


def migrate(conn: sqlite3.Connection, *, stop_before: str | None = None) -> list[str]:
    """Apply every pending migration (up to ``stop_before``) on ``conn``, inside the caller's open
    write transaction; returns the names applied. Raises SchemaTooNew when the database holds
    migrations this code does not know."""
    conn.create_function(CASEFOLD, 1, str.casefold, deterministic=True)
    db = Database(conn, recursive_triggers=False, execute_plugins=False)
    todo = pending(conn)
    MIGRATIONS.apply(db, stop_before=stop_before)
    return todo[: todo.index(stop_before)] if stop_before in todo else todo


def pending(conn: sqlite3.Connection) -> list[str]:
    """The names of the migrations the database still needs, oldest first (a read, no lock taken).
    Raises SchemaTooNew when the database holds migrations this code does not know."""
    applied = version(conn)
    unknown = [name for name in applied if name not in KNOWN]
    if unknown:
        raise SchemaTooNew(f"the database has migrations this Kitflow does not know: {', '.join(unknown)}")
    return [name for name in KNOWN if name not in applied]


def version(conn: sqlite3.Connection) -> list[str]:
    """The names of the migrations applied to the database, oldest first."""
    db = Database(conn, recursive_triggers=False, execute_plugins=False)
    return [m.name for m in MIGRATIONS.applied(db)]
