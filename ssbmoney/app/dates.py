"""Dates as people read them: claimed times and closing times, shown, never trusted.

Every time this program writes or shows lies in years 1970 to 9999 (UTC), the range
``datetime`` can show: ``MIN_MS`` to ``MAX_MS`` milliseconds since the epoch. Times
from elsewhere (another member's device, a damaged entry) may be anything: ``when``
shows any integer without raising.
"""

from __future__ import annotations

import datetime as dt

from ssbmoney.core.errors import BadInput

MIN_MS = 0
"""1970-01-01T00:00:00Z."""
MAX_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z."""
INVALID = "(invalid time)"

_MAX_DATE_TEXT = 64
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def when(ms: int | None) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC); ``INVALID`` for anything outside 1970–9999."""
    if ms is None:
        return ""
    if type(ms) is not int or not MIN_MS <= ms <= MAX_MS:
        return INVALID
    return (_EPOCH + dt.timedelta(milliseconds=ms)).strftime("%Y-%m-%d %H:%M")


def in_range(ms: int) -> bool:
    return MIN_MS <= ms <= MAX_MS


def closes_ms(text: str | None) -> int | None:
    """A closing time to show members (ISO 8601; UTC unless it says otherwise), in
    ms since the epoch; it never decides anything. Refuses (``BadInput``) anything
    that is not a date or time in years 1970–9999 once converted to UTC."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    shown = repr(text) if len(text) <= _MAX_DATE_TEXT else f"{text[:_MAX_DATE_TEXT]!r}..."
    if len(text) > _MAX_DATE_TEXT:
        raise BadInput(f"a closing time must be an ISO 8601 date or time, not {shown}")
    try:
        moment = dt.datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise BadInput(
            f"a closing time must be an ISO 8601 date or time such as 2025-06-30 or "
            f"2025-06-30T18:00+02:00, not {shown}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    # Exact (no float), whole seconds, and no overflow even at the edges with an offset.
    ms = (moment - _EPOCH) // dt.timedelta(seconds=1) * 1000
    if not MIN_MS <= ms <= MAX_MS:
        raise BadInput(f"a closing time must be from 1970 to 9999 (UTC), not {shown}")
    return ms
