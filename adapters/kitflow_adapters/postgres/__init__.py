"""The PostgreSQL store: Kitflow on one database shared by many server processes and machines."""

from kitflow_adapters.postgres.schema import SchemaTooNew
from kitflow_adapters.postgres.session import DatabaseUnavailable
from kitflow_adapters.postgres.store import PostgresStore, PostgresTransaction

__all__ = ["DatabaseUnavailable", "PostgresStore", "PostgresTransaction", "SchemaTooNew"]
