"""Who is in the group: the people whose votes and money count.

Shown beside the warnings so a member can tell at a glance whether the person whose
entry was flagged ``non_member`` should have been added by a proposal.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from ssbmoney.tui import words


class MembersList(Static):
    """Member names and the start of their ids, the user marked."""

    DEFAULT_CSS = """
    MembersList {
        height: auto;
        width: 1fr;
        border: round $primary 40%;
        padding: 0 1;
    }
    """

    def on_mount(self) -> None:
        self.border_title = "Members"

    def show(self, view: dict[str, Any], me: str) -> None:
        names = view.get("member_names", {})
        members = sorted(view["members"], key=lambda m: (names.get(m, "~").casefold(), m))
        self.border_title = f"Members ({len(members)})"
        lines = [
            Text.assemble(words.name_of(view, m, me), "  ", (words.short(m), "dim"))
            for m in members
        ]
        self.update(Text("\n").join(lines) if lines else Text("(not yet synced)", style="dim"))
