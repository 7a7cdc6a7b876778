"""Dates as people read them: claimed times and closing times, shown, never trusted."""

from __future__ import annotations

import datetime as dt


def when(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")
