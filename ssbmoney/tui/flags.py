"""Warnings: entries the fold flagged, in words a treasurer can act on.

The ledger never drops a fact (an overspend still reduces the balance), it flags
it; this is where those flags become visible. Empty is the normal case and says so.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from ssbmoney.tui import words


class WarningsList(Static):
    """One line per flagged entry or feed."""

    DEFAULT_CSS = """
    WarningsList {
        height: auto;
        width: 2fr;
        border: round $primary 40%;
        padding: 0 1;
    }
    WarningsList.-flagged {
        border: round $warning;
    }
    """

    def on_mount(self) -> None:
        self.border_title = "Warnings"

    def show(self, view: dict[str, Any]) -> None:
        items: list[dict[str, Any]] = view["warnings"]
        self.border_title = f"Warnings ({len(items)})"
        self.set_class(bool(items), "-flagged")
        if not items:
            self.update(Text("none: every entry counted as written", style="dim"))
            return
        self.update(Text("\n").join(
            Text("! " + words.warning(view, item), style="yellow") for item in items
        ))
