"""``Answer`` sends what Litestar's ``Response`` sends for the same body, status, type and headers:
the same ASGI events, byte for byte, through the route's response path and the exception handlers'."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from litestar import Request, Response

from kitflow_adapters.http.answer import JSON, Answer
from kitflow_adapters.http.errors import PROBLEM_JSON

_SCOPE: dict[str, Any] = {
    "type": "http", "method": "GET", "path": "/", "raw_path": b"/", "query_string": b"", "headers": [],
    "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "state": {},
}
_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=20)


def _events(app: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    asyncio.run(app(dict(_SCOPE), receive, send))
    return sent


@given(
    body=st.binary(max_size=300),
    status=st.sampled_from([200, 201, 400, 401, 404, 409, 413, 422, 500, 503]),
    media_type=st.sampled_from([JSON, PROBLEM_JSON]),
    headers=st.dictionaries(
        _TOKEN.filter(lambda name: name.lower() not in ("content-type", "content-length")), _TOKEN, max_size=3
    ),
)
def test_an_answer_sends_the_events_of_the_same_litestar_response(
    body: bytes, status: int, media_type: str, headers: dict[str, str]
) -> None:
    request: Request[Any, Any, Any] = Request(dict(_SCOPE))
    litestar = Response(body, status_code=status, media_type=media_type, headers=headers or None)
    answer = Answer(body, status, media_type=media_type, headers=headers or None)
    expected = _events(litestar.to_asgi_response(app=None, request=request))
    assert _events(answer.to_asgi_response(app=None, request=request)) == expected
    assert (answer.status_code, answer.content, answer.media_type) == (status, body, media_type)


def test_an_answer_is_a_response_so_handlers_keep_their_annotations() -> None:
    assert isinstance(Answer(b"{}"), Response)


def test_headers_a_route_adds_are_sent_as_litestar_sends_them() -> None:
    """Kitflow's routes add no headers, cookies or background tasks; if one did, an Answer would
    take Litestar's way and keep them, rather than drop them."""
    request: Request[Any, Any, Any] = Request(dict(_SCOPE))
    added = {"X-Route": "yes"}
    expected = _events(Response(b"{}", status_code=201).to_asgi_response(app=None, request=request, headers=added))
    assert _events(Answer(b"{}", 201).to_asgi_response(app=None, request=request, headers=added)) == expected
    assert (b"x-route", b"yes") in expected[0]["headers"]


def test_an_answer_changed_before_it_is_sent_sends_what_it_holds_then() -> None:
    answer = Answer(b"{}", 200, headers={"A": "1"})
    answer.content = b'{"changed":true}'
    answer.headers["B"] = "2"
    request: Request[Any, Any, Any] = Request(dict(_SCOPE))
    expected = _events(
        Response(b'{"changed":true}', status_code=200, media_type=JSON, headers={"A": "1", "B": "2"}).to_asgi_response(
            app=None, request=request
        )
    )
    assert _events(answer.to_asgi_response(app=None, request=request)) == expected
