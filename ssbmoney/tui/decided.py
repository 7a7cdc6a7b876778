"""Decided proposals: approved ones with what is spent and left, then the rest.

Approved rows come first because they are where money still goes (``s`` records a
spend on the highlighted approved row); rejected and withdrawn ones stay visible
because the record is the point: nothing disappears.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ssbmoney.tui import words
from ssbmoney.tui.table import KeyedTable

COLUMNS = ("outcome", "title", "amount", "spent", "left", "y/n/a/b", "author")
_ORDER = {"approved": 0, "rejected": 1, "withdrawn": 2}


class DecidedProposals(KeyedTable):
    """Approved, rejected and withdrawn proposals."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(COLUMNS, flexible=(1, 6), **kwargs)
        self.border_title = "Decided"

    def show(self, view: dict[str, Any], me: str) -> None:
        cur = view["currency"]
        rows = [p for p in view["proposals"] if p["status"] != "open"]
        rows.sort(key=lambda p: (_ORDER[words.status(p)], -words.claimed_key(p), p["id"]))
        self.border_title = f"Decided ({len(rows)})"
        self.border_subtitle = "s spend on an approved one" if rows else ""

        def cells(p: dict[str, Any]) -> tuple[str | Text, ...]:
            state = words.status(p)
            approved = state == "approved"
            left = words.left(p)
            return (
                Text(state, style="bold green" if approved else "dim"),
                p["title"],
                Text(words.amount(view, p), justify="right"),
                Text(words.money(p["spent"], cur) if p["spent"] else "-", justify="right"),
                Text(words.money(left, cur) if approved and p["amount"] is not None else "-",
                     justify="right",
                     style="bold red" if approved and left < 0 else ""),
                words.tally(p),
                words.name_of(view, p["author"], me),
            )

        self.replace_rows((p["id"], p, cells(p)) for p in rows)
