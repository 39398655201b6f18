"""Text as PostgreSQL keeps it: every string verbatim, NUL included, which ``text`` cannot hold.

A stored string that holds NUL (U+0000) or the escape character U+FFFF is escaped, one character
for two: U+FFFF becomes U+FFFF ``1`` and NUL becomes U+FFFF ``0``. Every other string (all real
ones) is stored as it is. The mapping is one-to-one, so equality, unique constraints and lookups by
value keep their meaning on the stored form.

Search keys (case-folded names and e-mail addresses) are compared by substring, which escaping
would upset; there NUL becomes ``A`` instead. ``str.casefold`` never yields ``A`` (U+0041), so on
case-folded text the replacement is one-to-one and keeps every substring relation exact.
"""

from __future__ import annotations

import re
from typing import Final

ESCAPE: Final = "\uffff"
_ESCAPED: Final = re.compile("\uffff(.)", re.DOTALL)
_UNESCAPE: Final = {"0": "\x00", "1": ESCAPE}


def stored(value: str) -> str:
    """``value`` in the form PostgreSQL can hold."""
    if "\x00" in value or ESCAPE in value:
        return value.replace(ESCAPE, ESCAPE + "1").replace("\x00", ESCAPE + "0")
    return value


def loaded(value: str) -> str:
    """The string whose stored form is ``value``."""
    if ESCAPE in value:
        return _ESCAPED.sub(lambda found: _UNESCAPE[found.group(1)], value)
    return value


def stored_or_none(value: str | None) -> str | None:
    return None if value is None else stored(value)


def loaded_or_none(value: str | None) -> str | None:
    return None if value is None else loaded(value)


def folded(key: str) -> str:
    """A case-folded search key (``kitflow.domain.patient.name_key``, ``search_key``) as stored
    and searched: NUL replaced by ``A``, which case-folded text never holds."""
    return key.replace("\x00", "A")
