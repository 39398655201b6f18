"""Patches: change only the fields sent, with the API's rules for null."""

from __future__ import annotations

from typing import TypeVar

import msgspec

from kitflow.domain.errors import InvalidInput

S = TypeVar("S", bound=msgspec.Struct)


def patched(base: S, patch: msgspec.Struct) -> S:
    """``base`` with every field that ``patch`` sets (not UNSET) replaced, re-checked.

    ``None`` clears an optional field and restores a defaulted one to its default; ``None`` for a
    required field raises ``InvalidInput``. Fields of ``patch`` that ``base`` lacks raise too.
    """
    known = {f.name: f for f in msgspec.structs.fields(base)}
    values = msgspec.structs.asdict(base)
    for name in patch.__struct_fields__:
        value = getattr(patch, name)
        if value is msgspec.UNSET:
            continue
        info = known.get(name)
        if info is None:
            raise InvalidInput(detail="this field cannot be changed", field=name)
        if value is None:
            if info.required:
                raise InvalidInput(detail="must not be null", field=name)
            value = info.default_factory() if info.default is msgspec.NODEFAULT else info.default
        values[name] = value
    return type(base)(**values)


def draft_of(entity: msgspec.Struct, draft_type: type[S]) -> S:
    """The writable part of ``entity`` as a ``draft_type``."""
    return draft_type(**{name: getattr(entity, name) for name in draft_type.__struct_fields__})


def promoted(draft: msgspec.Struct, entity_type: type[S], **identity: object) -> S:
    """An entity of ``entity_type`` made of ``draft``'s fields plus ``identity`` (id, owner, times)."""
    return entity_type(**{name: getattr(draft, name) for name in draft.__struct_fields__}, **identity)
