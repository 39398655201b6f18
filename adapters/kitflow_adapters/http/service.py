"""Service endpoints: ``GET /health`` (API.md 8), and ``OPTIONS`` on every path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from litestar import Request, Response, get, route
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler

from kitflow_adapters.http.answer import Answer
from kitflow_adapters.http.errors import problem_response
from kitflow_adapters.http.openapi import documented
from kitflow_adapters.http.parsing import has_bad_path_id
from kitflow_adapters.http.wire import HealthOut

_OK: Final = b'{"status":"ok"}'


def service_routes() -> list[HTTPRouteHandler]:
    @get("/health", sync_to_thread=False, **documented(public=True))
    def health() -> Response[HealthOut]:
        """Whether the server is up; needs no key."""
        return Answer(_OK)

    return [health]


def options_routes(handlers: Sequence[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
    """``OPTIONS`` on each path of ``handlers``: ``204`` with every method of the path in ``Allow``.
    (Litestar answers OPTIONS by itself, but on a path whose handlers are registered one at a time
    its ``Allow`` keeps only the first handler's methods.)"""
    methods: dict[str, set[str]] = {}
    for handler in handlers:
        for path in handler.paths:
            methods.setdefault(path, {HttpMethod.OPTIONS.value}).update(handler.http_methods)
    return [_options(path, ", ".join(sorted(allowed))) for path, allowed in methods.items()]


def _options(path: str, allow: str) -> HTTPRouteHandler:
    def options(request: Request) -> Response[Any]:
        if has_bad_path_id(request):  # an id that is not one: no resource is at this path (API.md 10)
            return problem_response(404, "not_found", "no resource is at this path")
        return Response(None, status_code=204, headers={"Allow": allow})

    return route(path, http_method=HttpMethod.OPTIONS, include_in_schema=False, sync_to_thread=False)(options)
