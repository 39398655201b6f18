"""The request id and the access log: one structured line per request on ``kitflow.access``."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, Final

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from kitflow_adapters.http.errors import PROBLEM_JSON, problem_body
from kitflow_adapters.http.parsing import header

REQUEST_ID_HEADER: Final = b"x-request-id"
log = logging.getLogger("kitflow.access")
_failures = logging.getLogger("kitflow.http")


class _Ids:
    """New request ids: 12 random bytes each, in hex, cut from random bytes drawn 256 ids at a time
    (one ``getrandom`` call instead of one a request). A forked child draws its own. Used from the
    event loop's thread."""

    BATCH: Final = 256

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self._drawn = b""
        self._at = 0

    def new(self) -> bytes:
        at = self._at
        if at >= len(self._drawn):
            self._drawn, at = os.urandom(12 * self.BATCH), 0
        self._at = at + 12
        return self._drawn[at : at + 12].hex().encode()


_ids: Final = _Ids()


def _request_id(scope: Scope) -> bytes:
    """The client's X-Request-ID when it is 1..128 visible ASCII characters, else a new one."""
    value = header(scope, REQUEST_ID_HEADER)
    if value is not None and 0 < len(value) <= 128 and all(0x21 <= byte <= 0x7E for byte in value):
        return value
    return _ids.new()


class AccessLog:
    """ASGI middleware around the whole app (unknown routes included): echoes or makes the request
    id, logs the request when it ends, and answers a problem 500 if anything escapes the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            _failures.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if status == 0:
                body = problem_body(500, "internal_error", "an unexpected error occurred; it has been logged")
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", PROBLEM_JSON.encode()),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            if log.isEnabledFor(logging.INFO):
                line = _line(scope, status, started, request_id)
                handler = _plain_stream(log)
                if handler is None:
                    log.handle(_record(line))
                else:
                    _write(handler, line)


def _record(line: str) -> logging.LogRecord:
    """The record ``log.info(line)`` makes, without its walk up the stack to find the caller."""
    here = sys._getframe(1)
    return log.makeRecord(
        log.name, logging.INFO, here.f_code.co_filename, here.f_lineno, line, (), None, here.f_code.co_name
    )


_PLAIN: Final = "%(message)s"


def _plain_stream(logger: logging.Logger) -> logging.StreamHandler[Any] | None:
    """The handler of ``logger`` when its whole set-up is what ``kitflow serve`` makes (one
    StreamHandler formatting the message alone, no filters, no propagation): logging would write
    exactly the line and its terminator to that handler's stream, under its lock, and flush it."""
    handlers = tuple(logger.handlers)  # one look: another thread may set logging up meanwhile
    if logger.filters or logger.propagate or len(handlers) != 1:
        return None
    handler = handlers[0]
    formatter = handler.formatter
    if (
        type(handler) is not logging.StreamHandler
        or handler.filters
        or handler.level > logging.INFO
        or type(formatter) is not logging.Formatter
        or formatter._fmt != _PLAIN  # noqa: SLF001 - no public way to read a Formatter's format
        or type(formatter._style) is not logging.PercentStyle  # noqa: SLF001
        or handler.lock is None
    ):
        return None
    return handler


def _write(handler: logging.StreamHandler[Any], line: str) -> None:
    """Write ``line`` as ``handler`` (a plain stream handler, see ``_plain_stream``) would: the same
    bytes, under its lock, then its flush; a failure is reported by its ``handleError``, as logging
    does, and never written twice. ~80,000 instructions a request fewer than a LogRecord through
    logging's handler chain."""
    with handler.lock:  # (what ``acquire`` and ``release`` take, without their Python calls)
        try:
            stream = handler.stream
            stream.write(line + handler.terminator)
            if stream and hasattr(stream, "flush"):  # ``StreamHandler.flush``, already under the lock
                stream.flush()
        except Exception:
            handler.handleError(_record(line))


def _line(scope: Scope, status: int, started: float, request_id: bytes, *, now: float | None = None) -> str:
    """The request's line; its duration from ``started`` to ``now`` (the present when None), in
    milliseconds to the microsecond."""
    if now is None:
        now = time.perf_counter()
    entry: dict[str, Any] = {
        "method": scope.get("method"),
        "path": scope.get("path"),
        "status": status,
        # to the microsecond: ``round(..., 3)`` would cost as much as the rest of the line
        "durationMs": int((now - started) * 1_000_000 + 0.5) / 1000,
        "requestId": request_id.decode("ascii"),
    }
    return msgspec.json.encode(entry).decode()
