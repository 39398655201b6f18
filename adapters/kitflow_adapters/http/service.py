"""Service endpoints: ``GET /health`` (API.md 8)."""

from __future__ import annotations

from typing import Final

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from kitflow_adapters.http.endpoint import JSON
from kitflow_adapters.http.openapi import documented
from kitflow_adapters.http.wire import HealthOut

_OK: Final = b'{"status":"ok"}'


def service_routes() -> list[HTTPRouteHandler]:
    @get("/health", sync_to_thread=False, **documented(public=True))
    def health() -> Response[HealthOut]:
        """Whether the server is up; needs no key."""
        return Response(_OK, media_type=JSON)

    return [health]
