"""Values a store kept, made again without running their creation checks a second time.

Every value of the domain is checked when it is made (``__post_init__``: trimming, lengths, ranges),
before any store keeps it. A store reading it back already checks its types (msgspec does, on
decode); running the domain's checks again on every read cost most of a read (a page of 25 orders
ran about 3,500 such calls). ``Restorer`` makes the value with the stored fields as they are, and
``shadow`` gives a struct type to decode stored JSON into without the checks.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec
from msgspec.structs import force_setattr

S = TypeVar("S", bound=msgspec.Struct)


class Restorer(Generic[S]):
    """Makes values of the struct type ``kind`` from stored field values, every field by name,
    without ``__post_init__``. The first value it makes is built (and so checked) normally and kept
    as a template; the others are copies of it with every field set (a copy has no cached hash:
    entities keep theirs once computed, ``cache_hash``, and its fields are all set before it is
    hashed). Raises what ``kind`` raises, for that first value only, and TypeError when a field is
    missing (it would keep the template's)."""

    __slots__ = ("_kind", "_count", "_template")

    def __init__(self, kind: type[S]) -> None:
        self._kind = kind
        self._count = len(kind.__struct_fields__)
        self._template: S | None = None

    def __call__(self, **fields: Any) -> S:
        if len(fields) != self._count:
            raise TypeError(f"{self._kind.__name__} needs all of {', '.join(self._kind.__struct_fields__)}")
        template = self._template
        if template is None:
            self._template = template = self._kind(**fields)
            return template
        made = template.__copy__()
        for name, value in fields.items():
            force_setattr(made, name, value)
        return made

    def of(self, twin: msgspec.Struct) -> S:
        """The value of ``kind`` with the fields of ``twin`` (a value of ``shadow(kind)``)."""
        return self(**msgspec.structs.asdict(twin))


def shadow(kind: type[S]) -> type[msgspec.Struct]:
    """A struct type with the fields, types and defaults of ``kind`` but none of its checks: what a
    store decodes stored JSON into (then ``Restorer(kind).of``)."""
    fields: list[Any] = []
    for field in msgspec.structs.fields(kind):
        if field.default is not msgspec.NODEFAULT:
            fields.append((field.name, field.type, field.default))
        elif field.default_factory is not msgspec.NODEFAULT:
            fields.append((field.name, field.type, msgspec.field(default_factory=field.default_factory)))
        else:
            fields.append((field.name, field.type))
    return msgspec.defstruct(f"Stored{kind.__name__}", fields, kw_only=True, frozen=True)
