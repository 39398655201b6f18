"""Reading a request: path ids, JSON bodies and query parameters, each with the API's error for bad input.

Order of checks (API.md 10): a bad path id is ``404`` before anything else; a body is read (``413``),
its content type checked (``415``), then decoded (``400 validation_error``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple, TypeVar

import msgspec
import msgspec.inspect
from litestar import Request
from litestar.exceptions import ClientException, InternalServerException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import Empty, Scope
from litestar.utils.scope.state import ScopeState

from kitflow.domain.errors import InvalidInput, NotFound, check
from kitflow.domain.order import OrderStatus
from kitflow.domain.paging import MAX_SIZE
from kitflow.domain.values import MAX_ID
from kitflow.services.listing import ListRequest

T = TypeVar("T")

_ID: Final = re.compile(r"[1-9][0-9]{0,18}")
_JSON: Final = re.compile(r"application/(?:[A-Za-z0-9!#$&^_.+-]+\+)?json", re.IGNORECASE)


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of the header ``name`` (lower case, as ASGI gives names), from the scope."""
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


def text_header(request: Request, name: bytes) -> str | None:
    """The header ``name`` of ``request`` as text (Latin-1, as HTTP defines it), or None."""
    value = header(request.scope, name)
    return None if value is None else value.decode("latin-1")


def parse_id(text: str) -> int | None:
    """``text`` as an id (``[1-9][0-9]*`` up to 2^63-1), or None."""
    if _ID.fullmatch(text):
        value = int(text)
        if value <= MAX_ID:
            return value
    return None


def path_id(request: Request, name: str) -> int:
    """The id in path parameter ``name``. Raises NotFound when it is not a well-formed id."""
    value = parse_id(request.path_params[name])
    if value is None:
        raise NotFound(detail="no resource is at this path")
    return value


def has_bad_path_id(request: Request) -> bool:
    """Whether the request's path fits a route whose id parameter it fills with something that is
    not a well-formed id (for a wrong method, Litestar has not parsed the path parameters)."""
    path = request.scope["path"]
    for route in request.app.routes:
        match = _route_pattern(route.path_format).fullmatch(path)
        if match and any(
            name.endswith("Id") and parse_id(value) is None for name, value in match.groupdict().items()
        ):
            return True
    return False


@functools.lru_cache(maxsize=256)
def _route_pattern(path_format: str) -> re.Pattern[str]:
    """``/api/v3/order/{orderId}`` as a pattern capturing ``orderId``."""
    parts = re.split(r"\{(\w+)\}", path_format)
    pattern = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]*)" for index, part in enumerate(parts)
    )
    return re.compile(pattern + "/?")


# ---------------------------------------------------------------- bodies


def is_json(content_type: str) -> bool:
    """Whether a Content-Type header names JSON: ``application/json`` or ``application/*+json``,
    with or without parameters."""
    return bool(_JSON.fullmatch(content_type.partition(";")[0].strip()))


@functools.cache
def _decoder(wire_type: type[T]) -> msgspec.json.Decoder[T]:
    return msgspec.json.Decoder(wire_type)


_MISSING_FIELD: Final = re.compile(r"missing required field `([^`]+)`")


def _invalid(error: msgspec.ValidationError) -> InvalidInput:
    message, _, where = str(error).partition(" - at `")
    path = where.rstrip("`").removeprefix("$").lstrip(".")
    missing = _MISSING_FIELD.search(message)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    if not path:
        return InvalidInput(detail=message)
    return InvalidInput(detail=message, field=path)


def decode(raw: bytes, wire_type: type[T]) -> T:
    """``raw`` decoded as ``wire_type``, once it is known to be strict JSON (see ``strict_json``).
    Raises InvalidInput naming the field at fault (wire names)."""
    try:
        value = _decoder(wire_type).decode(raw)
    except msgspec.ValidationError as error:
        raise _invalid(error) from None
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as error:
        reason = "the body is empty" if not raw.strip() else f"the body is not valid JSON ({error})"
        raise InvalidInput(detail=reason) from None
    if not _read_alike(raw, value, wire_type):
        strict_json(raw)
    return value


def _read_alike(raw: bytes, value: Any, wire_type: type[Any]) -> bool:
    """A cheap sufficient condition for ``strict_json`` to pass on ``raw``, which decoded as
    ``value`` of ``wire_type``: a type whose values encode back as they were read (``_re_encodable``),
    no escape, no deep nesting, and ``value`` encoded keeps every colon of ``raw``. Each key read
    gives one colon, and each string its own; a key read twice, a field not of the type and a field
    sent at its default are not encoded again, so each would take its colon with it."""
    return _plain(raw) and _re_encodable(wire_type) and _keeps_colons(raw, value)


_KEPT_AS_READ: Final = (
    msgspec.inspect.StrType, msgspec.inspect.IntType, msgspec.inspect.BoolType, msgspec.inspect.NoneType,
    msgspec.inspect.EnumType, msgspec.inspect.LiteralType, msgspec.inspect.DateType,
)
"""Types whose values encode back to what was read, up to the spelling of a number: no float (one
beyond a double's range is read as infinity and written as null), no time (its offset's colons)."""


@functools.cache
def _re_encodable(wire_type: type[Any]) -> bool:
    """Whether every value msgspec decodes as ``wire_type`` encodes back with its strings as read and
    with the keys it was read with, but for fields at their defaults: structs omitting their defaults
    (``omit_defaults``), lists and unions of such, strings, integers, booleans, null, enums, dates."""

    def walk(kind: msgspec.inspect.Type, seen: set[type]) -> bool:
        if isinstance(kind, msgspec.inspect.Metadata):
            return walk(kind.type, seen)
        if isinstance(kind, _KEPT_AS_READ):
            return True
        if isinstance(kind, (msgspec.inspect.ListType, msgspec.inspect.VarTupleType)):
            return walk(kind.item_type, seen)
        if isinstance(kind, msgspec.inspect.UnionType):
            return all(walk(member, seen) for member in kind.types)
        if isinstance(kind, msgspec.inspect.StructType):
            if kind.cls in seen:
                return True
            config = kind.cls.__struct_config__
            if not config.omit_defaults or kind.array_like or kind.tag_field is not None:
                return False
            return all(walk(field.type, seen | {kind.cls}) for field in kind.fields)
        return False

    return walk(msgspec.inspect.type_info(wire_type), set())


class _NotStrict(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = next(k for k in keys if keys.count(k) > 1)
        raise _NotStrict(f"the key {twice!r} appears twice in one object")
    return dict(pairs)


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotStrict(f"the number {text[:40]} is out of range")
    return value


def strict_json(raw: bytes) -> None:
    """Raises InvalidInput unless ``raw`` (which msgspec decoded) is JSON that every reader reads
    alike: no key twice in an object (readers disagree on which one wins), no number beyond a
    double's range, no integer of more digits than Python reads. Unknown fields are checked too."""
    if not _plainly_strict(raw):
        _strict_parse(raw)


_PLAIN_NESTING: Final = 200
"""Bodies with more brackets than this take the full parse (whose recursion limit then decides)."""
_untyped: Final = msgspec.json.Decoder(float_hook=_finite).decode
_plain_encode: Final = msgspec.json.Encoder().encode


def _plain(raw: bytes) -> bool:
    """No escape (``\\u003a`` would read as a colon) and no deep nesting."""
    return b"\\" not in raw and raw.count(b"{") + raw.count(b"[") <= _PLAIN_NESTING


def _keeps_colons(raw: bytes, value: Any) -> bool:
    """Whether ``value`` (what ``raw`` was read as) encoded again has every colon ``raw`` has."""
    return _plain_encode(value).count(b":") == raw.count(b":")


def _plainly_strict(raw: bytes) -> bool:
    """A cheap sufficient condition for ``_strict_parse`` to pass: msgspec reads ``raw`` untyped
    (so it is UTF-8 JSON with finite floats and integers of at most 4300 digits), it has no escape
    (``\\u003a`` would read as a colon) and no deep nesting, and re-encoding what was read keeps every
    colon. Without escapes, colons are key separators or inside strings, kept as they are; a key
    read twice loses its first separator (and its first value)."""
    if not _plain(raw):
        return False
    try:
        return _keeps_colons(raw, _untyped(raw))
    except Exception:  # anything amiss: the full parse says what
        return False


def _strict_parse(raw: bytes) -> None:
    """``strict_json`` by a full parse with the standard library, which sees each key."""
    try:
        json.loads(raw, object_pairs_hook=_unique_keys, parse_float=_finite)
    except _NotStrict as error:
        raise InvalidInput(detail=f"the body is not valid JSON ({error})") from None
    except (ValueError, RecursionError) as error:  # an integer of thousands of digits
        raise InvalidInput(detail=f"the body is not valid JSON ({str(error)[:80]})") from None


async def body(request: Request) -> bytes:
    """The request's body, as ``request.body()`` reads it (413 beyond the route's limit, by the
    announced length or by the bytes received), read here when it announces its length and has not
    been read: Litestar would build its map of every header to find that one, which costs more than
    the rest of reading the body."""
    announced = header(request.scope, b"content-length")
    state = ScopeState.from_scope(request.scope)
    if announced is None or not announced.isdigit() or state.body is not Empty or not request.is_connected:
        return await request.body()  # anything unusual as Litestar does it
    limit = request.route_handler.resolve_request_max_body_size() or math.inf
    if int(announced) > limit:
        raise RequestEntityTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await request.receive()
        if event["type"] == "http.request":
            chunk = event["body"]
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise RequestEntityTooLarge
                chunks.append(chunk)
            if not event.get("more_body", False):
                break
        elif event["type"] == "http.disconnect":
            raise InternalServerException("client disconnected prematurely")
    request.is_connected = False
    state.body = request._body = raw = b"".join(chunks)  # where request.body() keeps it, for later readers
    return raw


async def read_body(request: Request, wire_type: type[T]) -> tuple[T, bytes]:
    """The request's body as ``wire_type``, with the raw bytes. Raises RequestEntityTooLarge
    (over the app's limit), ClientException 415 (a body that is not declared JSON), InvalidInput."""
    raw = await body(request)
    content_type = text_header(request, b"content-type")
    if content_type is None and raw or content_type is not None and not is_json(content_type):
        raise ClientException(status_code=415, detail="send the body as application/json")
    return decode(raw, wire_type), raw


# ---------------------------------------------------------------- query parameters


class Kind(NamedTuple):
    """How one query parameter is read, and how the OpenAPI document describes it."""

    parse: Callable[[str], Any]
    schema: dict[str, Any]


def _integer(text: str) -> int:
    check(text.isascii() and text.isdigit() and len(text) <= 19, "must be a whole number", field="")
    return int(text)


def _id(text: str) -> int:
    value = parse_id(text)
    check(value is not None, f"must be an integer from 1 to {MAX_ID}", field="")
    return value  # type: ignore[return-value]


def _boolean(text: str) -> bool:
    check(text in ("true", "false"), "must be true or false", field="")
    return text == "true"


def _timestamp(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(detail="must be an ISO 8601 timestamp", field="") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # an offset that takes it past year 1 or 9999
        raise InvalidInput(detail="must fall between the years 1 and 9999 in UTC", field="") from None


def _status(text: str) -> OrderStatus:
    try:
        return OrderStatus(text)
    except ValueError:
        raise InvalidInput(detail=f"must be one of {', '.join(OrderStatus)}", field="") from None


INTEGER: Final = Kind(_integer, {"type": "integer", "minimum": 1, "maximum": MAX_ID})
ID: Final = Kind(_id, {"type": "integer", "minimum": 1, "maximum": MAX_ID})
BOOLEAN: Final = Kind(_boolean, {"type": "boolean"})
TEXT: Final = Kind(str, {"type": "string"})
TIMESTAMP: Final = Kind(_timestamp, {"type": "string", "format": "date-time"})
STATUS: Final = Kind(_status, {"type": "string", "enum": [s.value for s in OrderStatus]})


class Param(NamedTuple):
    """A query parameter: its wire name, the filter attribute it sets, how it is read, and whether
    it may repeat (its values then form a tuple)."""

    name: str
    attribute: str
    kind: Kind
    description: str
    repeated: bool = False


PAGING: Final = (
    Param("page", "page", INTEGER, "page number, from 1 (default 1); ignored when cursor is given"),
    Param(
        "size",
        "size",
        Kind(_integer, {"type": "integer", "minimum": 1, "maximum": MAX_SIZE}),
        f"rows per page, 1..{MAX_SIZE} (default 15, or the cursor's size)",
    ),
    Param("sortDescending", "descending", BOOLEAN, "order by id descending (default false)"),
    Param(
        "cursor", "cursor", TEXT, "the nextCursor of the previous page, with the same filters, size and order"
    ),
)


def read_query(request: Request, params: Sequence[Param]) -> dict[str, Any]:
    """The values of ``params`` the request sends, by attribute. A parameter sent twice takes its
    first value unless it repeats. Raises InvalidInput naming the parameter."""
    query = request.query_params
    values: dict[str, Any] = {}
    if not query:
        return values
    for param in params:
        texts = query.getall(param.name, None) if param.repeated else query.get(param.name)
        if texts is None or texts == []:
            continue
        try:
            if param.repeated:
                values[param.attribute] = tuple(param.kind.parse(text) for text in texts)
            else:
                values[param.attribute] = param.kind.parse(texts)
        except InvalidInput as error:
            raise InvalidInput(detail=error.detail, field=param.name) from None
    return values


def list_request(request: Request) -> ListRequest:
    """Page, size, order and cursor of a list request. Raises InvalidInput."""
    return ListRequest(**read_query(request, PAGING))
