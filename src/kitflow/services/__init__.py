"""Kitflow's use cases: plain functions; ports are passed as keyword-only arguments."""
