"""The one table from error to HTTP status, and RFC 9457 problem+json rendering of every error:
the domain's, Litestar's own (unknown route, wrong method, body too large, ...) and the unexpected."""

from __future__ import annotations

import functools
import logging
import re
from typing import Final

import msgspec
from litestar import Request
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from kitflow.domain.errors import (
    Conflict,
    DomainError,
    FieldProblem,
    Forbidden,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    RuleBroken,
    Unauthorized,
    Unavailable,
)
from kitflow_adapters.http.answer import Answer
from kitflow_adapters.http.parsing import has_bad_path_id

PROBLEM_JSON: Final = "application/problem+json"
log = logging.getLogger("kitflow.http")

STATUS: Final[dict[type[DomainError], int]] = {
    InvalidInput: 400,
    RuleBroken: 400,
    NotFound: 404,
    Conflict: 409,
    Unauthorized: 401,
    Forbidden: 403,
    IdempotencyKeyReused: 422,
    Unavailable: 503,
}
"""Domain error class -> HTTP status."""

CODE_BY_STATUS: Final[dict[int, str]] = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_content",
    500: "internal_error",
    503: "service_unavailable",
}
"""The code of an error that only has a status (Litestar's own, and the unexpected)."""

_TITLES: Final = {
    "duplicate_sku": "Duplicate SKU",
    "payload_too_large": "Payload too large",
    "internal_error": "Internal server error",
    "service_unavailable": "Service unavailable",
}


class FieldError(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    message: str


class Problem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem document; ``errors`` is present only when fields are at fault."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = None


_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")
_REFERENCES: Final = {
    "patient_id": "patient.id",
    "site_id": "site.id",
    "item_id": "item.id",
    "kit_id": "kit.id",
}


@functools.lru_cache(maxsize=4096)
def wire_field(path: str) -> str:
    """A domain field path in wire names: ``order_items[0].item_id`` -> ``orderItems[0].item.id``.
    Paths that are not snake_case (``Idempotency-Key``) are kept as they are."""
    if not _is_domain_path(path):
        return path
    parts = []
    for segment in path.split("."):
        match = _SEGMENT.fullmatch(segment)
        assert match is not None
        name, indexes = match.groups()
        parts.append((_REFERENCES.get(name) or _camel(name)) + indexes)
    return ".".join(parts)


def _is_domain_path(path: str) -> bool:
    return all(_SEGMENT.fullmatch(segment) for segment in path.split("."))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def title(code: str) -> str:
    """A short human phrase for ``code``."""
    return _TITLES.get(code) or code.replace("_", " ").capitalize()


def problem_body(
    status: int, code: str, detail: str, problems: tuple[FieldProblem, ...] | list[FieldError] = ()
) -> bytes:
    """The encoded problem document."""
    errors = [
        p if isinstance(p, FieldError) else FieldError(field=wire_field(p.field), message=p.message)
        for p in problems
    ]
    return msgspec.json.encode(
        Problem(
            type=f"/problems/{code}",
            title=title(code),
            status=status,
            detail=detail or title(code),
            code=code,
            errors=errors or None,
        )
    )


def problem_response(
    status: int,
    code: str,
    detail: str,
    problems: tuple[FieldProblem, ...] | list[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> Answer:
    return Answer(problem_body(status, code, detail, problems), status, media_type=PROBLEM_JSON, headers=headers)


def status_of(error: DomainError) -> int:
    """The HTTP status of a domain error (the nearest class in the table)."""
    return _status_of_class(type(error))


def _status_of_class(kind: type[DomainError]) -> int:
    for cls in kind.__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500


_REMEMBERED_TEXT: Final = 1024
"""Characters of text (detail and field problems) up to which an error's body is remembered."""


def domain_error_body(error: DomainError) -> tuple[int, bytes]:
    """The status and encoded problem of a domain error. Small ones are remembered (the same rule
    broken again costs one look-up); a large one (a client's long value echoed in a message) is not."""
    text = len(error.detail)
    for problem in error.problems:
        text += len(problem.field) + len(problem.message) + 1
    make = _error_body if text <= _REMEMBERED_TEXT else _error_body.__wrapped__
    return make(type(error), error.code, error.detail, error.problems)


@functools.lru_cache(maxsize=1024)
def _error_body(
    kind: type[DomainError], code: str, detail: str, problems: tuple[FieldProblem, ...]
) -> tuple[int, bytes]:
    status = _status_of_class(kind)
    return status, problem_body(status, code, detail, problems)


RETRY_AFTER: Final = {"Retry-After": "1"}


def on_domain_error(request: Request, error: DomainError) -> Answer:
    status, body = domain_error_body(error)
    return Answer(body, status, media_type=PROBLEM_JSON, headers=RETRY_AFTER if status == 503 else None)


_LITESTAR_DETAILS: Final[dict[type[HTTPException], str]] = {
    NotFoundException: "no resource is at this path",
    MethodNotAllowedException: "this method is not allowed on this path",
    RequestEntityTooLarge: "the body is larger than 1 MiB",
    NotAuthorizedException: "send a valid Impilo-API-Key header",
    PermissionDeniedException: "this endpoint is not for this caller",
}


def on_http_exception(request: Request, error: HTTPException) -> Answer:
    """Litestar's own errors as problems; a wrong method on a path with a bad id is a 404."""
    status = error.status_code
    if isinstance(error, MethodNotAllowedException) and has_bad_path_id(request):
        status, error = 404, NotFoundException()
    if status >= 500:
        return on_unexpected(request, error)
    code = CODE_BY_STATUS.get(status, "validation_error" if status == 400 else "client_error")
    detail = _LITESTAR_DETAILS.get(type(error)) or (error.detail if status < 500 else "")
    problems = [
        FieldError(field=str(item.get("key", "")), message=str(item.get("message", "")))
        for item in (error.extra if isinstance(error.extra, list) else [])
        if isinstance(item, dict) and item.get("key")
    ]
    headers = error.headers if isinstance(error, MethodNotAllowedException) else None
    return problem_response(status, code, detail, problems, headers=headers)


def on_unexpected(request: Request, error: Exception) -> Answer:
    """Any other error: logged with its traceback, answered 500 without one."""
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(500, "internal_error", "an unexpected error occurred; it has been logged")


EXCEPTION_HANDLERS: Final = {
    DomainError: on_domain_error,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
