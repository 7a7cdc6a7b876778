"""The state hash line, just above the footer.

Two members (or an auditor) holding the same entries see the same hash, so reading
the first characters aloud on the weekly call is a quick check that everyone is
looking at the same books.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static


class StateLine(Static):
    """State hash and entry count."""

    DEFAULT_CSS = """
    StateLine {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    """

    def show(self, view: dict[str, Any]) -> None:
        self.update(Text.assemble(
            "state hash ", (view["state_hash"], "bold"), f"  ·  {view['entries']} entries",
        ))
