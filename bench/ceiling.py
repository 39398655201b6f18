"""The ceiling: a minimal Litestar app answering the benchmark's routes with precomputed bodies.

It has no store, no authentication, no validation beyond decoding the JSON body and no logging:
what it costs is what Litestar and the ASGI server cost for the same requests and the same
response bytes (the bodies are captured from Kitflow in the same run). Kitflow's figures are read
as ratios to it. Served by uvicorn with the settings ``kitflow serve`` uses (one worker, loop and
HTTP implementation ``auto``, no access log).

It answers the way a minimal app does (returning its bytes, Litestar making the response). Kitflow
sends its bytes with ``kitflow_adapters.http.answer.Answer``, which skips the second response object
Litestar builds on that path: part of what the ceiling pays a request Kitflow does not
(docs/performance.md, item 24).

``python -m bench.ceiling --port P --bodies FILE`` where FILE is a JSON object of bodies by name:
``order``, ``page1``, ``page800``, ``cursor_page``, ``created``, ``invalid``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, Response, get, post

PROBLEM = "application/problem+json"


def build_app(bodies: dict[str, bytes]) -> Litestar:
    """The ceiling app over the precomputed ``bodies``."""
    order, page1, page800, cursor_page = bodies["order"], bodies["page1"], bodies["page800"], bodies["cursor_page"]
    created, invalid = bodies["created"], bodies["invalid"]

    @post("/api/v3/order", sync_to_thread=False)
    async def create_order(data: dict[str, Any]) -> Response[bytes]:
        if data.get("patient") is not None and data.get("site") is not None:
            return Response(invalid, status_code=400, media_type=PROBLEM)
        return Response(created, status_code=201, media_type=MediaType.JSON)

    @get("/api/v3/order/{order_id:int}", media_type=MediaType.JSON, sync_to_thread=False)
    async def fetch_order(order_id: int) -> bytes:
        return order

    @get("/api/v3/order", media_type=MediaType.JSON, sync_to_thread=False)
    async def list_orders(page: int = 1, size: int = 15, cursor: str | None = None) -> bytes:
        if cursor is not None:
            return cursor_page
        return page1 if page == 1 else page800

    @get("/health", media_type=MediaType.JSON, sync_to_thread=False)
    async def health() -> bytes:
        return b'{"status":"ok"}'

    return Litestar(route_handlers=[create_order, fetch_order, list_orders, health], openapi_config=None)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description="Serve the benchmark's ceiling app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bodies", type=Path, required=True, help="JSON object of response bodies by name")
    args = parser.parse_args(argv)
    bodies = {name: text.encode() for name, text in json.loads(args.bodies.read_text()).items()}
    config = uvicorn.Config(
        build_app(bodies), host=args.host, port=args.port, workers=1, access_log=False, log_level="warning",
        timeout_graceful_shutdown=30,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
