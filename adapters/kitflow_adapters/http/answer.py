"""Answers: responses whose body is already bytes, sent as they are.

A handler's ``Response`` goes through Litestar's ``to_asgi_response``: a second response object,
a header map built by ``setdefault`` calls, then three coroutines to send it. Kitflow's bodies are
encoded before the handler returns, so none of that is needed: an ``Answer`` is a ``Response`` (the
handlers' annotations, the OpenAPI document and the exception handlers stay as they are) that is
its own ASGI app, and sends the status, the same headers and the body as two events. That saves
about 60,000 instructions a request (docs/performance.md), as much as a fetch's whole store work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from litestar import Response
from litestar.types import ASGIApp, Receive, Scope, Send

JSON: Final = "application/json"


class Answer(Response[bytes]):
    """``body`` (bytes of ``media_type``) with ``status`` and ``headers``: what
    ``Response(body, status_code=status, media_type=media_type, headers=headers)`` sends, byte for
    byte. For a status that has a body (not 1xx, 204 or 304), a non-text media type, and headers
    other than Content-Type and Content-Length (Kitflow's answers are all so)."""

    __slots__ = ()

    def __init__(
        self, body: bytes, status: int = 200, *, media_type: str = JSON, headers: Mapping[str, str] | None = None
    ) -> None:
        self.content = body
        self.status_code = status
        self.media_type = media_type
        self.headers = dict(headers) if headers else {}
        self.background = None
        self.cookies = []
        self.encoding = "utf-8"
        self.response_type_encoders = {}

    def to_asgi_response(  # type: ignore[override]
        self,
        app: Any,
        request: Any,
        *,
        headers: Mapping[str, str] | None = None,
        cookies: Iterable[Any] | None = None,
        background: Any = None,
        **rest: Any,
    ) -> ASGIApp:
        """Itself, which sends its own events; Litestar's way when the route or the app adds headers,
        cookies or a background task (none of Kitflow's does: Litestar passes empty ones)."""
        if headers or cookies or background:
            return super().to_asgi_response(
                app, request, headers=dict(headers or {}), cookies=cookies, background=background, **rest
            )
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # the headers as Litestar encodes them, from the fields as they are now: the response's own,
        # then the type, then the length (most answers have no header of their own: no comprehension)
        raw = [
            (name.lower().encode("latin-1"), str(value).encode("latin-1")) for name, value in self.headers.items()
        ] if self.headers else []
        raw += [(b"content-type", self.media_type.encode("latin-1")), (b"content-length", b"%d" % len(self.content))]
        await send({"type": "http.response.start", "status": self.status_code, "headers": raw})
        await send({"type": "http.response.body", "body": self.content, "more_body": False})
