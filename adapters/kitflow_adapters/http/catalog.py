"""The item catalog (``/api/v3/item``, the operator's) and kits (``/api/v3/kit``, each customer's)."""

from __future__ import annotations

from typing import Final

from litestar import Request, Response, get, patch, post
from litestar.handlers import HTTPRouteHandler

from kitflow.domain.catalog import ItemFilter
from kitflow.domain.kit import KitFilter
from kitflow.services import catalog
from kitflow_adapters.http.endpoint import ANYONE, CUSTOMER, OPERATOR, Api
from kitflow_adapters.http.openapi import documented
from kitflow_adapters.http.parsing import BOOLEAN, ID, Param, list_request, path_id, read_query
from kitflow_adapters.http.wire import (
    ItemInput,
    ItemOut,
    ItemPage,
    ItemPatchInput,
    KitInput,
    KitOut,
    KitPage,
    KitPatchInput,
)

ITEM_FILTERS: Final = (Param("orderable", "orderable", BOOLEAN, "orderable or not"),)
KIT_FILTERS: Final = (
    Param("itemId", "item_id", ID, "kits holding this item"),
    Param("archived", "archived", BOOLEAN, "archived or not"),
)


def item_routes(api: Api) -> list[HTTPRouteHandler]:
    """The catalog endpoints on ``api``'s store."""
    store = api.store

    @post("/api/v3/item", status_code=201, **documented(body=ItemInput, errors=(409,)))
    async def create_item(request: Request) -> Response[ItemOut]:
        """Add an item to the catalog (operator)."""
        caller, payload, raw = await api.caller_and_body(request, OPERATOR, ItemInput)
        draft = payload.to_domain()
        return await api.once(
            request,
            caller,
            raw,
            lambda: api.reply(catalog.create_item(draft, caller=caller, uow=store), ItemOut, 201),
        )

    @get("/api/v3/item", **documented(query=ITEM_FILTERS))
    @api.offloaded
    def list_items(request: Request) -> Response[ItemPage]:
        """List the catalog (customers and the operator)."""
        caller = api.caller(request, ANYONE)
        where = ItemFilter(**read_query(request, ITEM_FILTERS))
        return api.show(catalog.list_items(where, list_request(request), caller=caller, uow=store), ItemPage)

    @get("/api/v3/item/{itemId:str}", **documented(errors=(404,)))
    @api.reading
    def get_item(request: Request) -> Response[ItemOut]:
        """Fetch a catalog item (customers and the operator)."""
        item_id = path_id(request, "itemId")
        caller = api.caller(request, ANYONE)
        return api.show(catalog.get_item(item_id, caller=caller, uow=store), ItemOut)

    @patch("/api/v3/item/{itemId:str}", **documented(body=ItemPatchInput, errors=(404, 409)))
    async def patch_item(request: Request) -> Response[ItemOut]:
        """Change only the fields sent (operator)."""
        item_id = path_id(request, "itemId")
        caller, payload, _ = await api.caller_and_body(request, OPERATOR, ItemPatchInput)
        return await api.run(lambda: api.show(catalog.patch_item(item_id, payload.to_domain(), caller=caller, uow=store), ItemOut))

    return [create_item, list_items, get_item, patch_item]


def kit_routes(api: Api) -> list[HTTPRouteHandler]:
    """The kit endpoints on ``api``'s store."""
    store, clock = api.store, api.clock

    @post("/api/v3/kit", status_code=201, **documented(body=KitInput))
    async def create_kit(request: Request) -> Response[KitOut]:
        """Create a kit."""
        caller, payload, raw = await api.caller_and_body(request, CUSTOMER, KitInput)
        draft = payload.to_domain()
        return await api.once(
            request,
            caller,
            raw,
            lambda: api.reply(catalog.create_kit(draft, caller=caller, uow=store, clock=clock), KitOut, 201),
        )

    @get("/api/v3/kit", **documented(query=KIT_FILTERS))
    @api.offloaded
    def list_kits(request: Request) -> Response[KitPage]:
        """List the caller's kits."""
        caller = api.caller(request, CUSTOMER)
        where = KitFilter(**read_query(request, KIT_FILTERS))
        return api.show(catalog.list_kits(where, list_request(request), caller=caller, uow=store), KitPage)

    @get("/api/v3/kit/{kitId:str}", **documented(errors=(404,)))
    @api.reading
    def get_kit(request: Request) -> Response[KitOut]:
        """Fetch a kit."""
        kit_id = path_id(request, "kitId")
        caller = api.caller(request, CUSTOMER)
        return api.show(catalog.get_kit(kit_id, caller=caller, uow=store), KitOut)

    @patch("/api/v3/kit/{kitId:str}", **documented(body=KitPatchInput, errors=(404,)))
    async def patch_kit(request: Request) -> Response[KitOut]:
        """Rename or (un)archive a kit; its items never change."""
        kit_id = path_id(request, "kitId")
        caller, payload, _ = await api.caller_and_body(request, CUSTOMER, KitPatchInput)
        return await api.run(lambda: api.show(
            catalog.patch_kit(kit_id, payload.to_domain(), caller=caller, uow=store, clock=clock), KitOut
        ))

    return [create_kit, list_kits, get_kit, patch_kit]
