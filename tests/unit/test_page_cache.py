"""PageCache: an answer only for its key and version, kept from the second time it is put, within
its byte budget, least recently used out first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kitflow_adapters.http.page_cache import LONGEST_KEY, OVERHEAD, SEEN, PageCache

_keys = st.sampled_from(["a", "b", "c", "d"])
_versions = st.integers(0, 3)
_bodies = st.binary(max_size=40)
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("put"), _keys, _versions, _bodies),
        st.tuples(st.just("get"), _keys, _versions, st.just(b"")),
    ),
    max_size=40,
)


@given(
    steps=_steps, budget=st.integers(0, 2000), largest=st.integers(0, 60), entries=st.integers(0, 3),
    key_size=st.sampled_from([0, 10, LONGEST_KEY, LONGEST_KEY + 1]),
)
def test_answers_only_what_was_put_for_that_key_and_version_within_budget(
    steps: list[tuple[str, str, int, bytes]], budget: int, largest: int, entries: int, key_size: int
) -> None:
    cache = PageCache(budget=budget, largest=largest, entries=entries)
    model: dict[str, tuple[int, bytes]] = {}  # the last answer put for each key (forgotten or not)
    for op, key, version, body in steps:
        if op == "put":
            cache.put(key, version, body, key_size=key_size)
            if len(body) <= largest and key_size <= LONGEST_KEY:
                model[key] = (version, body)
            assert cache.held <= budget and len(cache) <= entries
        else:
            got = cache.get(key, version)
            if got is not None:
                assert model.get(key) == (version, got)  # never another key's or version's answer


def _put_twice(cache: PageCache, key: str, version: int, body: bytes, key_size: int = 0) -> None:
    cache.put(key, version, body, key_size=key_size)
    cache.put(key, version, body, key_size=key_size)


def test_a_page_is_kept_the_second_time_and_at_once_after_a_change() -> None:
    cache = PageCache(budget=10_000, largest=10)
    cache.put("a", 1, b"aaaa", key_size=0)
    assert cache.get("a", 1) is None and len(cache) == 0  # built once: only noted
    cache.put("a", 1, b"aaaa", key_size=0)
    assert cache.get("a", 1) == b"aaaa"
    assert cache.get("a", 2) is None  # the data changed: forgotten...
    cache.put("a", 2, b"AAAA", key_size=0)
    assert cache.get("a", 2) == b"AAAA"  # ...and the page made after the change is kept at once


def test_least_recently_used_goes_first_and_another_version_is_forgotten() -> None:
    entry = 4 + OVERHEAD
    cache = PageCache(budget=2 * entry + 3, largest=10)
    _put_twice(cache, "a", 1, b"aaaa")
    _put_twice(cache, "b", 1, b"bbbb")
    assert cache.get("a", 1) == b"aaaa"  # a is now the most recently used
    _put_twice(cache, "c", 1, b"cccc")  # over the budget: b goes
    assert cache.get("b", 1) is None and cache.get("a", 1) == b"aaaa" and cache.get("c", 1) == b"cccc"
    assert cache.get("a", 2) is None and cache.get("a", 1) is None  # asked under a newer version: dropped
    assert cache.held == entry
    _put_twice(cache, "big", 1, b"x" * 11)
    _put_twice(cache, "long", 1, b"x", key_size=LONGEST_KEY + 1)
    assert cache.get("big", 1) is None and cache.get("long", 1) is None and cache.held == entry


def test_a_requests_length_counts_against_the_budget() -> None:
    cache = PageCache(budget=10 * (OVERHEAD + 1000), largest=10)
    for n in range(100):
        _put_twice(cache, str(n), 1, b"", key_size=1000)  # an empty page asked for by a long request
    assert len(cache) == 10 and cache.held <= 10 * (OVERHEAD + 1000)


def test_the_keys_seen_once_are_bounded() -> None:
    cache = PageCache(budget=10_000, largest=10)
    for n in range(3 * SEEN):
        cache.put(n, 1, b"x", key_size=0)  # each built once: only noted
        cache.put(-n - 1, 1, b"y", key_size=0)
        cache.put(-n - 1, 1, b"y", key_size=0)  # kept...
        cache.get(-n - 1, 2)  # ...and found stale: noted again
    assert len(cache._seen) <= SEEN
