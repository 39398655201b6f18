"""Kitflow's adapters: stores (memory, SQLite, PostgreSQL), the HTTP API and the command line."""
