"""Reliability tests: the figures of each run are printed at its end (see figures.py)."""

from tests.reliability.figures import pytest_terminal_summary

__all__ = ["pytest_terminal_summary"]
