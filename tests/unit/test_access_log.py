"""The access log writes the line itself only where logging would write exactly the same: under the
set-up ``kitflow serve`` makes. Any other set-up an operator configures is honoured through logging."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import TestClient

from kitflow_adapters.bootstrap import app_on
from kitflow_adapters.http import access_log
from kitflow_adapters.memory import MemoryStore


@pytest.fixture
def access() -> Iterator[logging.Logger]:
    """The ``kitflow.access`` logger at INFO, not propagating, put back as it was afterwards."""
    logger = logging.getLogger("kitflow.access")
    saved = (logger.handlers[:], logger.filters[:], logger.propagate, logger.level, logger.disabled)
    disabled = logging.root.manager.disable  # an earlier test may have set logging up otherwise
    logger.filters, logger.propagate, logger.disabled = [], False, False
    logger.setLevel(logging.INFO)  # through setLevel: it clears the loggers' cached answers
    logging.disable(logging.NOTSET)
    try:
        yield logger
    finally:
        logger.handlers, logger.filters, logger.propagate, level, logger.disabled = saved
        logger.setLevel(level)
        logging.disable(disabled)


def _stream(logger: logging.Logger, fmt: str = "%(message)s", *, alone: bool = True) -> io.StringIO:
    """A handler writing to the returned stream with ``fmt``: the logger's only one, or one more."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(fmt))
    logger.handlers = [handler] if alone else [*logger.handlers, handler]
    return out


def _requests() -> None:
    with TestClient(app_on(MemoryStore(), operator_key=None)) as client:
        client.get("/health", headers={"X-Request-ID": "req-1"})
        client.get("/nope", headers={"X-Request-ID": "req-2"})


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    text = out.getvalue()
    assert text.endswith("\n")
    return [{k: v for k, v in json.loads(line).items() if k != "durationMs"} for line in text.splitlines()]


def test_the_line_written_directly_is_the_line_logging_writes(
    access: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = _stream(access)
    assert access_log._plain_stream(access) is access.handlers[0]
    _requests()
    through_logging = _stream(access)
    monkeypatch.setattr(access_log, "_plain_stream", lambda logger: None)  # logging's own way
    _requests()
    assert _lines(direct) == _lines(through_logging) == [
        {"method": "GET", "path": "/health", "status": 200, "requestId": "req-1"},
        {"method": "GET", "path": "/nope", "status": 404, "requestId": "req-2"},
    ]
    assert direct.getvalue().count("\n") == through_logging.getvalue().count("\n") == 2


def test_another_format_a_filter_or_more_handlers_go_through_logging(access: logging.Logger) -> None:
    formatted = _stream(access, "%(levelname)s %(name)s %(message)s")
    _requests()
    assert [line.split(" ", 2)[:2] for line in formatted.getvalue().splitlines()] == [["INFO", "kitflow.access"]] * 2

    filtered = _stream(access)
    access.handlers[0].addFilter(lambda record: json.loads(record.getMessage())["status"] != 404)
    second = _stream(access, alone=False)
    _requests()
    assert [line["path"] for line in _lines(filtered)] == ["/health"]
    assert [line["path"] for line in _lines(second)] == ["/health", "/nope"]


def test_a_stream_that_fails_is_reported_the_way_logging_reports_it(
    access: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("disk full")

    access.handlers = [logging.StreamHandler(Broken())]
    access.handlers[0].setFormatter(logging.Formatter("%(message)s"))
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(logging.StreamHandler, "handleError", lambda self, record: reported.append(record))
    with TestClient(app_on(MemoryStore(), operator_key=None)) as client:
        assert client.get("/health").status_code == 200  # the client never sees the log's failure
    assert [json.loads(record.getMessage())["path"] for record in reported] == ["/health"]


def test_a_line_whose_flush_fails_is_written_once_and_reported(
    access: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Unflushable(io.StringIO):
        def flush(self) -> None:
            raise BlockingIOError("the pipe is full")

    out = Unflushable()
    access.handlers = [logging.StreamHandler(out)]
    access.handlers[0].setFormatter(logging.Formatter("%(message)s"))
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(logging.StreamHandler, "handleError", lambda self, record: reported.append(record))
    with TestClient(app_on(MemoryStore(), operator_key=None)) as client:
        assert client.get("/health").status_code == 200
    assert out.getvalue().count("\n") == 1 and len(reported) == 1


def test_made_request_ids_are_unique_and_a_forked_child_draws_its_own_random_bytes() -> None:
    from kitflow_adapters.http.access_log import _ids

    made = {_ids.new() for _ in range(1000)}
    assert len(made) == 1000 and all(len(i) == 24 and i.isalnum() for i in made)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its ids go to the parent through the pipe
        os.write(write, b" ".join(_ids.new() for _ in range(3)))
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    theirs = set(os.read(read, 4096).split())
    os.close(read)
    # not the ids the parent makes next: the child drew its own random bytes
    assert len(theirs) == 3 and not theirs & (made | {_ids.new() for _ in range(3)})


@given(st.floats(min_value=0, max_value=86_400, allow_nan=False))
def test_the_duration_is_in_milliseconds_to_the_microsecond(elapsed: float) -> None:
    line = json.loads(access_log._line({"method": "GET", "path": "/"}, 200, 1000.0, b"id", now=1000.0 + elapsed))
    duration = line["durationMs"]
    assert abs(duration - elapsed * 1000) <= 0.0005 + 1e-9 * elapsed * 1000
    assert round(duration, 3) == duration  # no more than three decimals
