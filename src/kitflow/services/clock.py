"""The system clock."""

from __future__ import annotations

import datetime as dt

from kitflow.domain.values import utc


class SystemClock:
    """The real time, UTC, millisecond precision."""

    def now(self) -> dt.datetime:
        return utc(dt.datetime.now(dt.timezone.utc))
