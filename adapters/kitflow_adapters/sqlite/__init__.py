"""The embedded default store: SQLite in WAL mode, one connection per thread, schema by migrations."""

from kitflow_adapters.sqlite.connection import StoreBusy
from kitflow_adapters.sqlite.schema import SchemaTooNew
from kitflow_adapters.sqlite.store import SqliteStore, SqliteTransaction

__all__ = ["SchemaTooNew", "SqliteStore", "SqliteTransaction", "StoreBusy"]
