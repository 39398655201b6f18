"""The in-memory store: a complete, thread-safe store and the core's test double."""

from kitflow_adapters.memory.store import MemoryStore

__all__ = ["MemoryStore"]
