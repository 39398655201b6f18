"""List pages remembered as the bytes answered, while the store's version token holds.

A client polling a list (page 1, every few seconds, for new orders) asks for the same page again and
again; rendering it costs a read and a render of every order on it. The store gives a token that
changes in the transaction that changes anything such a list shows (``Orders.version``): a page
remembered under a token is answered again only while the token read for the new request is equal.
Entries are keyed by the customer and the parsed request, so one tenant never sees another's page.
A page is remembered the second time it is built (a walk through a list, each page asked once,
does not push out the page a client polls).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from typing import Final

BUDGET: Final = 1024 * 1024
"""Bytes remembered at most, per app (per worker process): pages, their keys' requests, and
``OVERHEAD`` for each entry."""
LARGEST: Final = 256 * 1024
"""A larger page is not remembered: a few would push the others out."""
LONGEST_KEY: Final = 1024
"""A page asked for by a longer request (a query string of many ids, a long external order id) is not
remembered: its key alone would take what a page takes."""
OVERHEAD: Final = 512
"""What an entry costs besides its page and its request: the parsed key, the token, the dict's slot."""
ENTRIES: Final = 1024
"""Entries remembered at most, whatever their size."""
SEEN: Final = 1024
"""Keys of pages built lately but not remembered (a hash each, ~0.1 MiB in all besides ``BUDGET``),
for the second-time rule."""


class PageCache:
    """Answers by key, each valid for the one version token it was made under, kept from the second
    time a key's answer is put; least recently used first out once ``budget`` bytes are held.
    Thread-safe."""

    def __init__(self, *, budget: int = BUDGET, largest: int = LARGEST, entries: int = ENTRIES) -> None:
        self._budget = budget
        self._largest = largest
        self._most = entries
        self._entries: OrderedDict[Hashable, tuple[Hashable, bytes, int]] = OrderedDict()
        self._held = 0
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._lock = threading.Lock()
        _CACHES.add(self)

    def _forget_all(self) -> None:
        """In a forked child: start empty, with a lock no thread of the parent can be holding."""
        self._entries = OrderedDict()
        self._held = 0
        self._seen = OrderedDict()
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Bytes remembered now (see ``BUDGET``)."""
        return self._held

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, version: Hashable) -> bytes | None:
        """The answer remembered for ``key`` under ``version``, or None (an answer made under
        another version is forgotten)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] != version:  # made before a change: the next one made is kept at once
                self._drop(key)
                self._note(hash(key))
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, version: Hashable, body: bytes, *, key_size: int) -> None:
        """Remember ``body`` as the answer for ``key`` (whose request is ``key_size`` bytes long)
        under ``version``, unless the page or the request is too large, or ``key`` was not put lately
        (then it is only noted as seen)."""
        if len(body) > self._largest or key_size > LONGEST_KEY:
            return
        cost = len(body) + key_size + OVERHEAD
        with self._lock:
            if key in self._entries:
                self._drop(key)
            elif not self._second(hash(key)):
                return
            self._entries[key] = (version, body, cost)
            self._held += cost
            while self._held > self._budget or len(self._entries) > self._most:
                self._drop(next(iter(self._entries)))

    def _second(self, digest: int) -> bool:
        """Whether a key of this hash was seen lately; notes it as seen."""
        if digest in self._seen:
            del self._seen[digest]
            return True
        self._note(digest)
        return False

    def _note(self, digest: int) -> None:
        self._seen[digest] = None
        if len(self._seen) > SEEN:
            self._seen.popitem(last=False)

    def _drop(self, key: Hashable) -> None:
        _, _, cost = self._entries.pop(key)
        self._held -= cost


_CACHES: Final[weakref.WeakSet[PageCache]] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for cache in list(_CACHES):
        cache._forget_all()


os.register_at_fork(after_in_child=_after_fork_in_child)
