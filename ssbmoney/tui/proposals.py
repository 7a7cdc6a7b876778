"""The open proposals: what the group is deciding now, and what a key press acts on.

First on the screen because it is what members come to the TUI for (the contract:
"the first screen shows the balance and the open proposals"). Voting keys act on
the highlighted row. The closing time is the author's claim, shown as such: it is
a reminder for people, never what decides (a ``close`` entry does).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ssbmoney.app.actions import admission_requests
from ssbmoney.tui import words
from ssbmoney.tui.table import KeyedTable

COLUMNS = ("title", "amount", "y/n/a/b", "who voted", "author", "closes (claimed, UTC)")


class OpenProposals(KeyedTable):
    """Open proposals, newest first."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(COLUMNS, flexible=(0, 3, 4), **kwargs)
        self.border_title = "Open proposals"

    def show(self, view: dict[str, Any], me: str) -> None:
        rows = [p for p in view["proposals"] if p["status"] == "open"]
        rows.sort(key=lambda p: (-words.claimed_key(p), p["id"]))
        rows += admission_requests(view)  # asking to be admitted: members vote here too
        self.border_title = f"Open proposals ({len(rows)})"
        self.border_subtitle = (
            "y/n/a/b vote · c close · w withdraw" if rows else "none open · p proposes one"
        )
        self.replace_rows(
            (
                p["id"],
                p,
                (
                    p["title"],
                    Text(words.amount(view, p), justify="right"),
                    words.tally(p),
                    words.voters(view, p),
                    words.name_of(view, p["author"], me),
                    words.claimed(p["closes_ms"]),
                ),
            )
            for p in rows
        )
