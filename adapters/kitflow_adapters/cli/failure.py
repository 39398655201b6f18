"""The one error a command reports to its operator: a clear message and an exit status, no traceback."""

from __future__ import annotations


class Failure(Exception):
    """A command cannot do what it was asked; ``main`` prints the message and exits with ``status``."""

    def __init__(self, message: str, *, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
