"""The operator's endpoints: customers and their keys (API.md 6), order fulfilment (API.md 7)."""

from __future__ import annotations

import msgspec
from litestar import Request, Response, delete, post
from litestar.handlers import HTTPRouteHandler

from kitflow.services import access, orders
from kitflow_adapters.http.endpoint import OPERATOR, Api, Reply
from kitflow_adapters.http.openapi import documented
from kitflow_adapters.http.parsing import path_id
from kitflow_adapters.http.wire import ApiKeyOut, CustomerInput, CustomerOut, OrderOut, StatusInput


def admin_routes(api: Api) -> list[HTTPRouteHandler]:
    """The operator endpoints on ``api``'s store."""
    store, clock = api.store, api.clock

    @post("/api/v3/admin/customer", status_code=201, **documented(body=CustomerInput))
    async def create_customer(request: Request) -> Response[CustomerOut]:
        """Create a customer with its first key (shown only in this answer)."""
        caller, payload, raw = await api.caller_and_body(request, OPERATOR, CustomerInput)

        def act() -> Reply:
            made = access.create_customer(payload.name, caller=caller, uow=store, clock=clock)
            return api.reply(made, CustomerOut, 201, kept=msgspec.structs.replace(made, api_key=None))

        return await api.once(request, caller, raw, act)

    @post(
        "/api/v3/admin/customer/{customerId:str}/key",
        status_code=201,
        **documented(errors=(404,)),
    )
    async def issue_key(request: Request) -> Response[ApiKeyOut]:
        """Issue another key for a customer (shown only in this answer)."""
        customer_id = path_id(request, "customerId")
        caller = await api.run(lambda: api.caller(request, OPERATOR))

        def act() -> Reply:
            secret = access.issue_key(customer_id, caller=caller, uow=store, clock=clock)
            return api.reply(ApiKeyOut(api_key=secret), ApiKeyOut, 201, kept=ApiKeyOut(api_key=None))

        return await api.once(request, caller, b"", act)

    @delete(
        "/api/v3/admin/key/{keyPrefix:str}",
        status_code=204,
        **documented(errors=(404,)),
    )
    @api.offloaded
    def revoke_key(request: Request) -> None:
        """Revoke a customer key, named by its first 8 characters."""
        caller = api.caller(request, OPERATOR)
        access.revoke_key(request.path_params["keyPrefix"], caller=caller, uow=store, clock=clock)

    @post(
        "/api/v3/admin/order/{orderId:str}/status",
        status_code=200,
        **documented(body=StatusInput, errors=(404, 409)),
    )
    async def move_order(request: Request) -> Response[OrderOut]:
        """Move an order along its lifecycle, adding a tracking number when given."""
        order_id = path_id(request, "orderId")
        caller, payload, raw = await api.caller_and_body(request, OPERATOR, StatusInput)
        move = payload.to_domain()
        return await api.once(
            request,
            caller,
            raw,
            lambda: api.reply(
                orders.move_order(order_id, move, caller=caller, uow=store, clock=clock), OrderOut, 200
            ),
        )

    return [create_customer, issue_key, revoke_key, move_order]
