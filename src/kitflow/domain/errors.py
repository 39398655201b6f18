"""The one error tree of the domain. Every error carries the API's stable ``code``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import msgspec

T = TypeVar("T")
R = TypeVar("R")


class FieldProblem(msgspec.Struct, frozen=True, kw_only=True):
    """One field-level problem; ``field`` is a path such as ``order_items[0].count``."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every error the core raises on purpose."""

    default_code = "domain_error"

    def __init__(
        self,
        code: str | None = None,
        detail: str = "",
        *,
        field: str | None = None,
        problems: tuple[FieldProblem, ...] = (),
    ) -> None:
        self.code = code or self.default_code
        self.detail = detail
        if field is not None:
            problems = (FieldProblem(field=field, message=detail), *problems)
        self.problems = problems
        super().__init__(f"{self.code}: {detail}")

    def under(self, prefix: str) -> DomainError:
        """The same error with every field path placed under ``prefix`` (``lines[0]`` + ``.count``)."""
        problems = tuple(
            FieldProblem(field=_join(prefix, p.field), message=p.message) for p in self.problems
        )
        clone = type(self)(self.code, self.detail, problems=problems)
        return clone


def _join(prefix: str, field: str) -> str:
    if not field:
        return prefix
    return f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}"


class InvalidInput(DomainError):
    """A value has the wrong shape, format or range (``validation_error``)."""

    default_code = "validation_error"


class RuleBroken(DomainError):
    """A request breaks a rule of the resource (``invalid_order``, ``*_does_not_exist``, ...)."""


class NotFound(DomainError):
    """The addressed resource does not exist for this caller (``not_found``)."""

    default_code = "not_found"


class Conflict(DomainError):
    """A uniqueness rule or the lifecycle forbids the change (``duplicate_*``, ``invalid_transition``)."""


class Unauthorized(DomainError):
    """No key, an unknown key or a revoked key (``unauthorized``)."""

    default_code = "unauthorized"


class Forbidden(DomainError):
    """The caller's role may not do this (``forbidden``)."""

    default_code = "forbidden"


class IdempotencyKeyReused(DomainError):
    """The idempotency key was used before with another request (``idempotency_key_reused``)."""

    default_code = "idempotency_key_reused"


class Unavailable(DomainError):
    """The store cannot serve the request now (locked too long, unreachable); a retry may succeed
    (``service_unavailable``). Stores raise subclasses of it."""

    default_code = "service_unavailable"


def check(condition: bool, detail: str, *, field: str, code: str = "validation_error") -> None:
    """Raise ``InvalidInput`` with ``detail`` on ``field`` unless ``condition`` holds."""
    if not condition:
        raise InvalidInput(code, detail, field=field)


class within:  # noqa: N801 - used as a function: ``with within("address"):``
    """Re-raise a ``DomainError`` from the block with its field paths placed under ``prefix``.
    (A class rather than a generator: entered once per line of a request, it is cheaper.)"""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: object) -> None:
        if isinstance(error, DomainError):
            raise error.under(self.prefix) from None


def within_each(field: str, values: Iterable[T], make: Callable[[T], R]) -> tuple[R, ...]:
    """``make`` of each of ``values``, as ``with within(f"{field}[{index}]")`` around each would
    (but cheaper: one handler for the whole list)."""
    made: list[R] = []
    try:
        for value in values:
            made.append(make(value))
    except DomainError as error:
        raise error.under(f"{field}[{len(made)}]") from None
    return tuple(made)
