"""Orders: ``/api/v3/order`` (API.md 5) and the customer's cancel (API.md 7)."""

from __future__ import annotations

from typing import Final

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from kitflow.domain.errors import DomainError
from kitflow.domain.order import OrderFilter
from kitflow.services import orders
from kitflow_adapters.http.endpoint import CUSTOMER, Api
from kitflow_adapters.http.errors import on_domain_error
from kitflow_adapters.http.openapi import documented
from kitflow_adapters.http.parsing import (
    ID,
    STATUS,
    TEXT,
    TIMESTAMP,
    Param,
    list_request,
    path_id,
    read_query,
)
from kitflow_adapters.http.wire import OrderInput, OrderOut, OrderPage

ORDER_FILTERS: Final = (
    Param("status", "status", STATUS, "orders in this status"),
    Param("patientId", "patient_id", ID, "orders for this patient"),
    Param("siteId", "site_id", ID, "orders for this site"),
    Param("externalOrderId", "external_order_id", TEXT, "orders with this external order id (exact)"),
    Param("createdFrom", "created_from", TIMESTAMP, "created at or after (no offset: UTC)"),
    Param("createdTo", "created_to", TIMESTAMP, "created before (no offset: UTC)"),
    Param("id", "ids", ID, "only these orders (repeat the parameter for several)", repeated=True),
)


def order_routes(api: Api) -> list[HTTPRouteHandler]:
    """The order endpoints on ``api``'s store."""
    store, clock = api.store, api.clock

    @post("/api/v3/order", status_code=201, **documented(body=OrderInput, errors=(409,)))
    async def create_order(request: Request) -> Response[OrderOut]:
        """Place an order for a patient or a site."""
        try:
            caller, payload, raw = await api.caller_and_body(request, CUSTOMER, OrderInput)
            # the mapping checks shape, then structure: an invalid_order is a rule of the resource,
            # so it is made inside the idempotent step and kept for the key (shape errors are not)
            return await api.once(
                request,
                caller,
                raw,
                lambda: api.reply(
                    orders.place_order(payload.to_domain(), caller=caller, uow=store, clock=clock),
                    OrderOut,
                    201,
                ),
            )
        except DomainError as error:  # Litestar's handler gives the same answer, after a longer way round
            return on_domain_error(request, error)

    @get("/api/v3/order", **documented(query=ORDER_FILTERS))
    @api.offloaded
    def list_orders(request: Request) -> Response[OrderPage]:
        """List the caller's orders."""
        caller, version = api.caller_and_version(request, CUSTOMER, orders.orders_version)
        where = OrderFilter(**read_query(request, ORDER_FILTERS))
        listing = list_request(request)
        return api.remembered(
            request,
            ("order", caller.customer_id, where, listing),
            version,
            lambda: orders.list_orders(where, listing, caller=caller, uow=store),
            OrderPage,
        )

    @get("/api/v3/order/{orderId:str}", **documented(errors=(404,)))
    @api.reading
    def get_order(request: Request) -> Response[OrderOut]:
        """Fetch an order."""
        order_id = path_id(request, "orderId")
        caller = api.caller(request, CUSTOMER)
        return api.show(orders.get_order(order_id, caller=caller, uow=store), OrderOut)

    @post(
        "/api/v3/order/{orderId:str}/cancel",
        status_code=200,
        **documented(errors=(404, 409)),
    )
    async def cancel_order(request: Request) -> Response[OrderOut]:
        """Cancel one of the caller's orders (from received or processing)."""
        order_id = path_id(request, "orderId")
        caller = await api.run(lambda: api.caller(request, CUSTOMER))
        return await api.once(
            request,
            caller,
            b"",
            lambda: api.reply(
                orders.cancel_order(order_id, caller=caller, uow=store, clock=clock), OrderOut, 200
            ),
        )

    return [create_order, list_orders, get_order, cancel_order]
