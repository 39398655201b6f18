"""``strict_json`` refuses exactly what a full standard-library parse refuses (a key twice in one
object, a number beyond a double's range, an integer of more than 4300 digits, anything not JSON),
with the same message, whatever shortcut it takes: checked against the full parse (its fallback) over
JSON-ish bytes built to hit those cases (escaped keys, nesting, huge numbers)."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import msgspec
from hypothesis import example, given
from hypothesis import strategies as st

from kitflow.domain.errors import InvalidInput
from kitflow_adapters.http import parsing
from kitflow_adapters.http.parsing import _re_encodable, _strict_parse, decode, strict_json
from kitflow_adapters.http.wire import KitPatchInput, OrderInput


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


# ---- typed bodies: a body decoded as a wire type is strict when its value, encoded again, keeps
# every colon of the body (``parsing._read_alike``); otherwise the checks above decide


def _typed_outcome(raw: bytes, wire_type: type[Any], *, shortcut: bool) -> object:
    """What ``decode`` answers: the value, or the refusal's detail. Without ``shortcut``, as before
    the typed check: the typed decode, then ``strict_json``."""
    try:
        if shortcut:
            return decode(raw, wire_type)
        with mock.patch.object(parsing, "_read_alike", lambda *_: False):
            return decode(raw, wire_type)
    except InvalidInput as error:
        return ("refused", error.detail)


_TEXT = st.text(st.sampled_from("ab: é\u2603"), min_size=1, max_size=6)


@st.composite
def _member_text(draw: st.DrawFn, key: str, value: str) -> str:
    """``"key":value``, the key sometimes spelt with an escape (read alike by every reader)."""
    escaped = draw(st.booleans()) and key
    spelt = "".join(f"\\u{ord(c):04x}" for c in key) if escaped else key
    return f'"{spelt}":{draw(_SPACE)}{value}'


@st.composite
def _object(draw: st.DrawFn, members: list[tuple[str, str]]) -> str:
    """A JSON object of ``members``, with a member sometimes repeated (with another value or the
    same), an unknown one added, an optional one sent as null."""
    chosen = list(members)
    if chosen and draw(st.integers(0, 4)) == 0:
        key, value = draw(st.sampled_from(chosen))
        chosen.insert(draw(st.integers(0, len(chosen))), (key, draw(st.sampled_from([value, '"x:y"', "1", "null"]))))
    if draw(st.integers(0, 5)) == 0:
        chosen.append((draw(st.sampled_from(["x", "a:b", "note"])), draw(st.sampled_from(['"p:q"', "1e400", "{}", "2"]))))
    if draw(st.integers(0, 5)) == 0:
        chosen.append((draw(st.sampled_from(["site", "patient", "count", "orderNotes"])), "null"))
    return "{" + ",".join(draw(_member_text(key, value)) for key, value in chosen) + "}"


def _string_text(draw: st.DrawFn, text: str) -> str:
    return _string(text, draw(st.integers(0, 6)) == 0)


@st.composite
def order_bodies(draw: st.DrawFn) -> bytes:
    """``POST /api/v3/order`` bodies as clients write them, and as they should not."""
    ref = lambda: draw(_object([("id", str(draw(st.integers(0, 30))))]))  # noqa: E731
    members: list[tuple[str, str]] = []
    if draw(st.booleans()):
        members.append(("patient", ref()))
    if draw(st.integers(0, 3)) == 0:
        members.append(("site", ref()))
    for name, inner in (("orderItems", "item"), ("orderKits", "kit")):
        if draw(st.booleans()):
            lines = [
                draw(_object([(inner, ref())] + ([("count", str(draw(st.integers(0, 3))))] if draw(st.booleans()) else [])))
                for _ in range(draw(st.integers(0, 3)))
            ]
            members.append((name, "[" + ",".join(lines) + "]"))
    if draw(st.booleans()):
        ids = [_string_text(draw, draw(_TEXT)) for _ in range(draw(st.integers(0, 3)))]
        members.append(("externalOrderIds", "[" + ",".join(ids) + "]"))
    if draw(st.booleans()):
        members.append(("shippingOption", _string_text(draw, draw(st.sampled_from(["standard", "expedited", "x:y"])))))
    if draw(st.booleans()):
        notes = [draw(_object([("note", _string_text(draw, draw(_TEXT)))])) for _ in range(draw(st.integers(0, 2)))]
        members.append(("orderNotes", "[" + ",".join(notes) + "]"))
    return draw(_object(members)).encode()


@given(order_bodies())
@example(b'{"patient":{"id":1},"patient":{"id":2}}')
@example(b'{"patient":{"id":1,"id":1},"orderItems":[{"item":{"id":1}}]}')
@example(b'{"patient":{"id":1},"orderNotes":[{"note":"a:b","note":"c"}]}')
@example(b'{"patient":{"id":1},"x":1e400}')
@example(b'{"patient":{"id":1},"site":null}')
def test_a_typed_body_is_refused_as_the_full_parse_refuses_it(raw: bytes) -> None:
    assert _typed_outcome(raw, OrderInput, shortcut=True) == _typed_outcome(raw, OrderInput, shortcut=False)


def test_types_not_read_back_alike_take_the_full_check() -> None:
    class Loose(msgspec.Struct, omit_defaults=True):
        value: float = 0.0

    class Defaults(msgspec.Struct):  # its defaults would be encoded: their colons could stand in
        a: int = 0                      # for those of a key read twice ({"b":1,"b":2} and {"b":2,"a":0})
        b: int = 0

    assert not _re_encodable(Loose) and not _re_encodable(KitPatchInput)  # a float; Any
    assert not _re_encodable(Defaults)
    assert _re_encodable(OrderInput)
    refused = _typed_outcome(b'{"value": 1e400}', Loose, shortcut=True)
    assert isinstance(refused, tuple) and "out of range" in refused[1]
