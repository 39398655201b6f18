"""Lists: page numbers, sizes and signed keyset cursors (API.md section 3)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import weakref
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import msgspec

from kitflow.domain.errors import InvalidInput, check
from kitflow.domain.identity import Principal
from kitflow.domain.paging import DEFAULT_SIZE, MAX_SIZE, Page, PageSpec
from kitflow.domain.ports import Transaction, UnitOfWork
from kitflow.domain.values import MAX_ID

T = TypeVar("T")
V = TypeVar("V")


class ListRequest(msgspec.Struct, frozen=True, kw_only=True):
    """How a caller asks for a page: by number, or by the cursor of the page before."""

    page: int = 1
    size: int | None = None
    descending: bool = False
    cursor: str | None = None


class Listing(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """One page of a list as the API answers it."""

    content: tuple[T, ...]
    page: int
    size: int
    total: int
    first: bool
    last: bool
    next_cursor: str | None


class _Cursor(msgspec.Struct, frozen=True, array_like=True):
    scope: str
    resource: str
    filters: str
    size: int
    descending: bool
    after: int
    page: int


_SECRET_NAME = "cursor-signing-key"
_secrets: weakref.WeakKeyDictionary[UnitOfWork, bytes] = weakref.WeakKeyDictionary()


def _secret(uow: UnitOfWork) -> bytes:
    """The store's cursor-signing key: made once per store, shared by every process using it."""
    key = _secrets.get(uow)
    if key is None:
        with uow.begin(write=True) as tx:
            made = tx.settings.get_or_create(_SECRET_NAME, lambda: secrets.token_hex(32))
        key = _secrets[uow] = bytes.fromhex(made)
    return key


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()[:16]


def _encode(cursor: _Cursor, secret: bytes) -> str:
    payload = msgspec.json.encode(cursor)
    return f"{_b64(payload)}.{_b64(_sign(secret, payload))}"


def _decode(text: str, secret: bytes) -> _Cursor:
    bad = InvalidInput(detail="the cursor is not valid here", field="cursor")
    try:
        body, _, signature = text.partition(".")
        payload = _unb64(body)
        if not hmac.compare_digest(_unb64(signature), _sign(secret, payload)):
            raise bad
        return msgspec.json.decode(payload, type=_Cursor)
    except (ValueError, binascii.Error, msgspec.DecodeError, UnicodeError):
        raise bad from None


def list_page(
    request: ListRequest,
    *,
    caller: Principal,
    resource: str,
    where: msgspec.Struct,
    fetch: Callable[[Transaction, PageSpec], Page[T]],
    show: Callable[[Transaction, Sequence[T]], Sequence[V]],
    key: Callable[[T], int],
    uow: UnitOfWork,
) -> Listing[V]:
    """One page of ``resource`` for ``caller``: checks the request and its cursor, fetches the rows
    with ``fetch`` and shows them with ``show``, in one read transaction.

    Raises InvalidInput for a bad page or size, and for a cursor that was tampered with or that
    belongs to another caller, resource, filter set, size or order.
    """
    check(1 <= request.page <= MAX_ID, "must be a whole number from 1", field="page")
    if request.size is not None:
        check(1 <= request.size <= MAX_SIZE, f"must be 1..{MAX_SIZE}", field="size")
    filters = hashlib.sha256(msgspec.json.encode(where)).hexdigest()[:32]
    secret = _secret(uow)
    with uow.begin() as tx:
        if request.cursor is not None:
            cursor = _decode(request.cursor, secret)
            check(
                cursor.scope == caller.scope
                and cursor.resource == resource
                and cursor.filters == filters
                and cursor.descending == request.descending
                and (request.size is None or request.size == cursor.size),
                "the cursor belongs to other filters, size or order",
                field="cursor",
            )
            size, number = cursor.size, cursor.page
            spec = PageSpec(size=size, descending=cursor.descending, after=cursor.after)
        else:
            size, number = request.size or DEFAULT_SIZE, request.page
            spec = PageSpec(size=size, descending=request.descending, offset=min((number - 1) * size, MAX_ID))
        page = fetch(tx, spec)
        next_cursor = None
        if page.more and page.items:
            next_cursor = _encode(
                _Cursor(
                    scope=caller.scope,
                    resource=resource,
                    filters=filters,
                    size=size,
                    descending=spec.descending,
                    after=key(page.items[-1]),
                    page=number + 1,
                ),
                secret,
            )
        content = tuple(show(tx, page.items))
    return Listing(
        content=content,
        page=number,
        size=size,
        total=page.total,
        first=request.cursor is None and number == 1,
        last=not page.more,
        next_cursor=next_cursor,
    )
