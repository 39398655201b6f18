"""Kitflow's domain: entities and values (frozen msgspec Structs), errors and ports."""
