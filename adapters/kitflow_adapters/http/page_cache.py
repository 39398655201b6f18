"""List pages remembered as the bytes answered, while the store's version token holds.

A client polling a list (page 1, every few seconds, for new orders) asks for the same page again and
again; rendering it costs a read and a render of every order on it. The store gives a token that
changes in the transaction that changes anything such a list shows (``Orders.version``): a page
remembered under a token is answered again only while the token read for the new request is equal.
Entries are keyed by the customer and the parsed request, so one tenant never sees another's page.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Final

BUDGET: Final = 2 * 1024 * 1024
"""Bytes of pages remembered at most, per app (per worker process)."""
LARGEST: Final = 256 * 1024
"""A larger page is not remembered: a few would push the others out."""


class PageCache:
    """Answers by key, each valid for the one version token it was made under; least recently
    used first out once ``budget`` bytes are held. Thread-safe."""

    def __init__(self, *, budget: int = BUDGET, largest: int = LARGEST) -> None:
        self._budget = budget
        self._largest = largest
        self._entries: OrderedDict[Hashable, tuple[Hashable, bytes]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Bytes of answers remembered now."""
        return self._held

    def get(self, key: Hashable, version: Hashable) -> bytes | None:
        """The answer remembered for ``key`` under ``version``, or None (an answer made under
        another version is forgotten)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] != version:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, version: Hashable, body: bytes) -> None:
        """Remember ``body`` as the answer for ``key`` under ``version`` (unless it is too large)."""
        if len(body) > self._largest:
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = (version, body)
            self._held += len(body)
            while self._held > self._budget:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: Hashable) -> None:
        _, body = self._entries.pop(key)
        self._held -= len(body)
