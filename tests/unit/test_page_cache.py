"""PageCache: an answer only for its key and version, within its byte budget, least recently used
out first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kitflow_adapters.http.page_cache import PageCache

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


@given(steps=_steps, budget=st.integers(0, 120), largest=st.integers(0, 60))
def test_answers_only_what_was_put_for_that_key_and_version_within_budget(
    steps: list[tuple[str, str, int, bytes]], budget: int, largest: int
) -> None:
    cache = PageCache(budget=budget, largest=largest)
    model: dict[str, tuple[int, bytes]] = {}  # the last answer put for each key (forgotten or not)
    for op, key, version, body in steps:
        if op == "put":
            cache.put(key, version, body)
            if len(body) <= largest:
                model[key] = (version, body)
            assert cache.held <= budget
        else:
            got = cache.get(key, version)
            if got is not None:
                assert model.get(key) == (version, got)  # never another key's or version's answer


def test_least_recently_used_goes_first_and_another_version_is_forgotten() -> None:
    cache = PageCache(budget=10, largest=10)
    cache.put("a", 1, b"aaaa")
    cache.put("b", 1, b"bbbb")
    assert cache.get("a", 1) == b"aaaa"  # a is now the most recently used
    cache.put("c", 1, b"cccc")  # 12 bytes: b goes
    assert cache.get("b", 1) is None and cache.get("a", 1) == b"aaaa" and cache.get("c", 1) == b"cccc"
    assert cache.get("a", 2) is None and cache.get("a", 1) is None  # asked under a newer version: dropped
    assert cache.held == 4
    cache.put("big", 1, b"x" * 11)
    assert cache.get("big", 1) is None and cache.held == 4
