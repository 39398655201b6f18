"""The Litestar application serving the Impilo v3 API on one store."""

from __future__ import annotations

from typing import Final

from litestar import Litestar

from kitflow.domain.ports import Clock, UnitOfWork
from kitflow.services.clock import SystemClock
from kitflow_adapters.http.access_log import AccessLog
from kitflow_adapters.http.admin import admin_routes
from kitflow_adapters.http.catalog import item_routes, kit_routes
from kitflow_adapters.http.endpoint import Api
from kitflow_adapters.http.errors import EXCEPTION_HANDLERS
from kitflow_adapters.http.openapi import StampSchemaPlugin, openapi_config
from kitflow_adapters.http.orders import order_routes
from kitflow_adapters.http.patients import patient_routes, site_routes
from kitflow_adapters.http.service import options_routes, service_routes

MAX_BODY: Final = 1024 * 1024
"""Bodies over 1 MiB are refused with 413."""


def build_app(
    store: UnitOfWork, *, operator_digest: str | None, clock: Clock | None = None, threads: int = 0
) -> Litestar:
    """The API on ``store``. ``operator_digest`` is the hash of the configured operator key (None:
    stored operator keys count). ``threads`` > 0 runs store work in that many worker threads, off the
    event loop (for a networked store); 0 runs it on the loop. The app does not close the store."""
    api = Api(store, operator_digest=operator_digest, clock=clock or SystemClock(), threads=threads)
    handlers = [
        *service_routes(),
        *patient_routes(api),
        *site_routes(api),
        *item_routes(api),
        *kit_routes(api),
        *order_routes(api),
        *admin_routes(api),
    ]
    app = Litestar(
        route_handlers=[*options_routes(handlers), *handlers],  # OPTIONS first: Litestar then makes none
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=openapi_config(),
        plugins=[StampSchemaPlugin()],
        request_max_body_size=MAX_BODY,
        debug=False,
        logging_config=None,
    )
    app.asgi_handler = AccessLog(app.asgi_handler)
    return app
