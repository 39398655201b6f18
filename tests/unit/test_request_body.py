"""``parsing.body`` answers as Litestar's ``request.body()`` does for any way a body arrives: in
chunks or not, with a Content-Length that is right, wrong, beyond the limit or not a number, or
with the client gone midway. Both run in one app under the API's error handlers, driven through
ASGI with the same events."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from litestar import Litestar, Request, Response, post

from kitflow_adapters.http.errors import EXCEPTION_HANDLERS
from kitflow_adapters.http.parsing import body

LIMIT = 64


def _answer(raw: bytes, again: bytes) -> Response[bytes]:
    return Response(hashlib.sha256(raw).hexdigest().encode() + b" " + str(raw == again).encode())


@post("/litestar")
async def by_litestar(request: Request) -> Response[bytes]:
    raw = await request.body()
    return _answer(raw, await request.body())


@post("/ours")
async def by_us(request: Request) -> Response[bytes]:
    raw = await body(request)
    return _answer(raw, await request.body())  # read again, Litestar's way: the same bytes


APP = Litestar(
    route_handlers=[by_litestar, by_us],
    exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    request_max_body_size=LIMIT,
    logging_config=None,
)


def _drive(path: str, headers: list[tuple[bytes, bytes]], events: list[dict[str, Any]]) -> list[Any]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }
    queue = list(events)
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(APP(scope, receive, send))  # type: ignore[arg-type]
    return sent


_SIZES = st.sampled_from([0, 1, 31, 32, 33, 63, 64, 65])
_CHUNKS = st.lists(st.binary(max_size=40) | _SIZES.map(lambda n: b"x" * n), max_size=4)
_LENGTHS = st.sampled_from([None, "right", "0", "5", "64", "65", "1000", "abc", " 5", "-1", "1_0", "", "٣"])


@given(_CHUNKS, _LENGTHS, st.booleans(), st.booleans(), st.booleans())
@example([b"x" * 32, b"y" * 32], "right", False, False, False)
@example([b"x" * 32, b"y" * 33], None, False, False, False)
@example([b"x" * 32, b"y" * 33], "5", False, False, False)
@example([b"x" * 10, b""], "right", False, True, True)
def test_body_is_read_as_litestar_reads_it(
    chunks: list[bytes], length: str | None, upper: bool, gone: bool, stray: bool
) -> None:
    total = sum(map(len, chunks))
    headers = [(b"host", b"x"), (b"content-type", b"application/json")]
    if length is not None:
        value = str(total) if length == "right" else length
        headers.append((b"Content-Length" if upper else b"content-length", value.encode()))
    events: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1 or gone}
        for index, chunk in enumerate(chunks)
    ]
    if stray:
        events.insert(0, {"type": "http.other"})
    if gone or not chunks:
        events.append({"type": "http.disconnect"})
    assert _drive("/ours", headers, events) == _drive("/litestar", headers, events)
