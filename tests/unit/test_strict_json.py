"""``strict_json`` refuses exactly what a full standard-library parse refuses (a key twice in one
object, a number beyond a double's range, an integer of more than 4300 digits, anything not JSON),
with the same message, whatever shortcut it takes: checked against the full parse (its fallback) over
JSON-ish bytes built to hit those cases (escaped keys, nesting, huge numbers)."""

from __future__ import annotations

import json

from hypothesis import example, given
from hypothesis import strategies as st

from kitflow.domain.errors import InvalidInput
from kitflow_adapters.http.parsing import _strict_parse, strict_json


def oracle(raw: bytes) -> str | None:
    """The detail of the refusal by the full standard-library parse (``strict_json`` as it was first
    written, kept as its fallback), or None."""
    try:
        _strict_parse(raw)
    except InvalidInput as error:
        return error.detail
    return None


def outcome(raw: bytes) -> str | None:
    try:
        strict_json(raw)
    except InvalidInput as error:
        return error.detail
    return None


_KEYS = st.sampled_from(["a", "b", "id", "a:b", "é", "\u2603", ""])
_NUMBERS = st.sampled_from(
    [
        "0", "-0", "1", "-1", "1.5", "-0.0e-0", "1e308", "1.7976931348623157e308", "1.8e308", "1e400",
        "-1e400", "1E400", "1e-400", "123456789012345678901234567890", "9" * 309, "9" * 309 + ".0",
        "9" * 4300, "9" * 4301, "-" + "9" * 4301, "1" * 400 + "e-100", "0." + "0" * 400 + "1e400",
    ]
) | st.integers().map(str) | st.floats(allow_nan=False, allow_infinity=False).map(repr)


def _string(text: str, escaped: bool) -> str:
    """``text`` as a JSON string, its characters escaped as ``\\uXXXX`` when ``escaped``."""
    if not escaped:
        return json.dumps(text, ensure_ascii=False)
    return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in text) + '"'


_CHARACTERS = st.sampled_from(':"\\a\u00e9') | st.characters()
_STRINGS = st.builds(_string, _KEYS | st.text(_CHARACTERS, max_size=8), st.booleans())
_SPACE = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])


def _json(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        member = st.tuples(st.builds(_string, _KEYS, st.booleans()), _SPACE, inner)
        return st.lists(inner, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]") | st.lists(
            member, max_size=5
        ).map(lambda ms: "{" + ",".join(f"{k}{s}:{s}{v}" for k, s, v in ms) + "}")

    return st.recursive(leaves, extend, max_leaves=12)


_LEAVES = _NUMBERS | _STRINGS | st.sampled_from(["true", "false", "null", "NaN", "Infinity", "-Infinity"])


@st.composite
def json_ish(draw: st.DrawFn) -> bytes:
    """JSON text, sometimes with a few bytes changed, inserted or cut, in UTF-8 or another encoding."""
    raw = draw(_json(_LEAVES)).encode(
        draw(st.sampled_from(["utf-8"] * 8 + ["utf-16", "utf-8-sig"])), "surrogatepass"
    )
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(raw)))
        noise = draw(st.binary(max_size=2) | st.sampled_from([b"\\", b'"', b":", b"{", b"}", b",", b"\x00"]))
        raw = raw[:at] + noise + raw[at + draw(st.integers(0, 2)) :]
    return raw


@given(json_ish())
@example(b'{"a": 1, "\\u0061": 2}')
@example(b'{"a": {"b": 1, "b": 2}}')
@example(b'{"a": {"b": 1}, "b": {"a": 2}}')
@example(b'{"a": "x:y", "a": 1}')
@example(b'{"a": 1, "a": "\\u003a"}')
@example(b'{"a": 1e400}')
@example(b'[' + b"9" * 4301 + b"]")
@example(b"[" * 300 + b"]" * 300)
@example(b"\xef\xbb\xbf{}")
@example(b'"\xed\xa0\x80"')
def test_strict_json_refuses_what_the_full_parse_refuses(raw: bytes) -> None:
    assert outcome(raw) == oracle(raw)


@given(st.binary(max_size=64))
def test_strict_json_on_any_bytes(raw: bytes) -> None:
    assert outcome(raw) == oracle(raw)
