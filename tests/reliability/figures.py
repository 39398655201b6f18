"""The figures of the reliability tests: what each one sent, what failed and what it checked.

A test calls ``record`` once its checks have passed. The figures go to pytest's cache
(``.pytest_cache/v/kitflow/reliability/<name>``), one JSON document per test, and are printed in
the terminal summary of the run. ``python -m tests.reliability.figures`` prints the last figures of
every test as the Markdown rows docs/reliability.md is filled from.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

CACHE_KEY: Final = "kitflow/reliability"
RECORDED: Final[list[tuple[str, dict[str, Any]]]] = []
"""The figures recorded in this run, in order, for the terminal summary."""


def record(request: pytest.FixtureRequest, name: str, **figures: Any) -> None:
    """Keep ``figures`` as the last run's figures of ``name``: requests sent, failures, what was checked."""
    RECORDED.append((name, figures))
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        cache.set(f"{CACHE_KEY}/{name}", figures)


class Tally:
    """Counts the HTTP answers of many threads: how many, and of which status (0 for no answer)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.statuses: Counter[int] = Counter()

    def count(self, response: httpx.Response | None) -> httpx.Response | None:
        """Note one answer (None: the request got no answer); returns it."""
        self.note(0 if response is None else response.status_code)
        return response

    def note(self, status: int) -> None:
        """Note one answer of ``status`` (0: no answer)."""
        with self._lock:
            self.statuses[status] += 1

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def summary(self) -> dict[str, int]:
        """The counts by status, for the figures."""
        return {str(status): n for status, n in sorted(self.statuses.items())}


def _rows(figures: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [f"| {name} | {json.dumps(values, sort_keys=True)} |" for name, values in figures]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures recorded in this run (registered by tests/reliability/conftest.py)."""
    if RECORDED:
        terminalreporter.write_sep("-", "reliability figures")
        for line in _rows(RECORDED):
            terminalreporter.write_line(line)


def main(root: Path) -> int:
    """Print the last recorded figures of every reliability test found under ``root``'s cache."""
    folder = root / ".pytest_cache" / "v" / CACHE_KEY
    files = sorted(folder.glob("*")) if folder.is_dir() else []
    if not files:
        print(f"no figures under {folder}: run the reliability tests first", file=sys.stderr)
        return 1
    print("\n".join(_rows([(path.name, json.loads(path.read_text())) for path in files])))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path.cwd()))
