"""What every handler shares: the store and clock, who is calling, and how answers are made —
including the idempotent replay of ``POST`` answers."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Final, TypeVar

import anyio
import anyio.to_thread
import msgspec
from litestar import Request, Response

from kitflow.domain.errors import Conflict, DomainError, NotFound, RuleBroken
from kitflow.domain.idempotency import StoredResponse
from kitflow.domain.identity import Principal, Role
from kitflow.domain.ports import Clock, UnitOfWork
from kitflow.services.access import authenticate
from kitflow.services.idempotency import execute_once
from kitflow_adapters.http.answer import JSON, Answer
from kitflow_adapters.http.errors import PROBLEM_JSON, domain_error_body
from kitflow_adapters.http.page_cache import PageCache
from kitflow_adapters.http.parsing import read_body, text_header
from kitflow_adapters.http.rendering import to_wire

W = TypeVar("W")
T = TypeVar("T")

API_KEY_HEADER: Final = b"impilo-api-key"
IDEMPOTENCY_HEADER: Final = b"idempotency-key"
REPLAYED_HEADER: Final = {"Idempotent-Replayed": "true"}

CUSTOMER: Final = Role.CUSTOMER
OPERATOR: Final = Role.OPERATOR
ANYONE: Final = None

_KEPT: Final = (RuleBroken, NotFound, Conflict)
"""Errors of a resource's own rules: their answers are kept for an idempotency key (API.md 10)."""


class Reply(msgspec.Struct, frozen=True):
    """An answer made by a handler: status and JSON body, and the body kept for replays when it must
    differ (a secret shown only once is not kept)."""

    status: int
    body: bytes
    kept: bytes | None = None

    def response(self) -> Answer:
        return Answer(self.body, self.status)


def fingerprint(method: str, path: str, raw: bytes) -> str:
    """What makes two requests "the same" for an idempotency key: method, path and JSON value
    (whitespace and key order do not matter). ``raw`` is empty or valid JSON."""
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    if raw.strip():
        digest.update(msgspec.json.encode(msgspec.json.decode(raw), order="sorted"))
    return digest.hexdigest()


class Api:
    """The store, the clock and the operator key an app serves with; handlers close over one."""

    def __init__(self, store: UnitOfWork, *, operator_digest: str | None, clock: Clock, threads: int = 0) -> None:
        self.store = store
        self.clock = clock
        self.operator_digest = operator_digest
        self.threads = threads
        self.offload = threads > 0
        """Whether store work leaves the event loop for worker threads (a networked store)."""
        self._limiter: anyio.CapacityLimiter | None = None
        self.pages = PageCache()
        """List pages answered lately, for as long as the store's version token holds."""

    async def run(self, work: Callable[[], T]) -> T:
        """The result of ``work`` (store work): called here for a local store, or for a networked one
        in one of ``threads`` worker threads, so that no round trip blocks the event loop."""
        if not self.offload:
            return work()
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.threads)
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)

    def offloaded(self, handler: Callable[[Request], T]) -> Callable[[Request], Awaitable[T]]:
        """``handler`` (whose whole work is store work) as an async handler that does it through
        ``run``. (Litestar's own ``sync_to_thread`` breaks on a path whose handlers are registered one
        by one: registered again, the handler is wrapped twice and answers a coroutine, a 500.)"""

        if not self.offload:  # (a coroutine and a closure less a request: see ``run``)

            @functools.wraps(handler)
            async def local_handler(request: Request) -> T:
                return handler(request)

            return local_handler

        @functools.wraps(handler)
        async def offloaded_handler(request: Request) -> T:
            return await self.run(lambda: handler(request))

        return offloaded_handler

    def reading(self, handler: Callable[[Request], T]) -> Callable[[Request], Awaitable[T]]:
        """``handler`` (a read: who calls, then one read use case) offloaded as ``offloaded`` does, in
        one read transaction that the key's check and the use case join: one snapshot, and one
        ``BEGIN``/``COMMIT`` (a round trip each on a networked store) fewer per request. Not for
        lists: their first page may write the cursor key (``services.listing``)."""

        def in_snapshot(request: Request) -> T:
            with self.store.begin():
                return handler(request)

        return self.offloaded(functools.wraps(handler)(in_snapshot))

    def caller(self, request: Request, role: Role | None) -> Principal:
        """Who calls, checked to have ``role`` (any role when None). Raises Unauthorized, Forbidden."""
        principal = authenticate(
            text_header(request, API_KEY_HEADER), uow=self.store, operator_digest=self.operator_digest
        )
        if role is CUSTOMER:
            principal.customer()
        elif role is OPERATOR:
            principal.operator()
        return principal

    def caller_and_version(
        self, request: Request, role: Role | None, version: Callable[..., Hashable | None]
    ) -> tuple[Principal, Hashable | None]:
        """Who calls (see ``caller``), and the version token ``version(caller=, uow=)`` (a use case)
        gives for them, read in the same read transaction."""
        with self.store.begin():
            principal = self.caller(request, role)
            return principal, version(caller=principal, uow=self.store)

    def remembered(
        self,
        request: Request,
        key: Hashable,
        version: Hashable | None,
        make: Callable[[], Any],
        wire_type: type[Any],
    ) -> Response[Any]:
        """The value ``make`` gives (a list page) as a JSON response of ``wire_type``, or the same
        answer made earlier for ``key`` (the parsed ``request``) while ``version`` (read before
        ``make`` would run) holds. Made under an older token than its data, an answer is at worst
        never used: the token a later request reads has changed with that data."""
        if version is None:
            return self.show(make(), wire_type)
        body = self.pages.get(key, version)
        if body is None:
            body = to_wire(make(), wire_type)
            self.pages.put(key, version, body, key_size=len(request.scope["query_string"]))
        return Answer(body)

    async def caller_and_body(
        self, request: Request, role: Role | None, wire_type: type[W]
    ) -> tuple[Principal, W, bytes]:
        """Who calls (see ``caller``), then the body as ``wire_type`` with its raw bytes (see
        ``read_body``): the API's order of checks, 401 and 403 before 413, 415 and 400."""
        if self.offload:
            principal = await self.run(lambda: self.caller(request, role))
        else:
            principal = self.caller(request, role)  # (a coroutine less: this is every write's path)
        payload, raw = await read_body(request, wire_type)
        return principal, payload, raw

    @staticmethod
    def show(value: Any, wire_type: type[Any], status: int = 200) -> Response[Any]:
        """``value`` as a JSON response of ``wire_type``."""
        return Answer(to_wire(value, wire_type), status)

    @staticmethod
    def reply(value: Any, wire_type: type[Any], status: int, *, kept: Any = None) -> Reply:
        """``value`` as a reply of ``wire_type``; ``kept`` is the value to keep for replays instead."""
        return Reply(status, to_wire(value, wire_type), None if kept is None else to_wire(kept, wire_type))

    async def once(
        self, request: Request, caller: Principal, raw: bytes, act: Callable[[], Reply]
    ) -> Response[Any]:
        """``_once`` run as store work (see ``run``)."""
        if not self.offload:
            return self._once(request, caller, raw, act)
        return await self.run(lambda: self._once(request, caller, raw, act))

    def _once(
        self, request: Request, caller: Principal, raw: bytes, act: Callable[[], Reply]
    ) -> Response[Any]:
        """The answer of ``act`` (which calls one use case), made at most once per ``Idempotency-Key``.

        Without the header ``act`` just runs. With it: the same request again replays the first
        answer (with ``Idempotent-Replayed: true``); the resource's rule errors are kept and replayed
        too; validation, auth and unexpected errors release the key. Raises InvalidInput (a malformed
        key), IdempotencyKeyReused, Conflict(idempotency_key_in_use), and what ``act`` raises.
        """
        key = text_header(request, IDEMPOTENCY_HEADER)
        if key is None:
            return act().response()
        made: list[Reply] = []

        def perform() -> StoredResponse:
            reply = act()
            made.append(reply)
            body = reply.body if reply.kept is None else reply.kept
            return StoredResponse(status=reply.status, content_type=JSON, body=body)

        def render(error: DomainError) -> StoredResponse | None:
            if not isinstance(error, _KEPT):
                return None
            status, body = domain_error_body(error)
            return StoredResponse(status=status, content_type=PROBLEM_JSON, body=body)

        outcome = execute_once(
            key,
            fingerprint(request.method, request.scope["path"], raw),
            caller=caller,
            perform=perform,
            render=render,
            uow=self.store,
            clock=self.clock,
        )
        if made and not outcome.replayed:
            return made[0].response()
        stored = outcome.response
        return Answer(
            stored.body,
            stored.status,
            media_type=stored.content_type,
            headers=REPLAYED_HEADER if outcome.replayed else None,
        )
