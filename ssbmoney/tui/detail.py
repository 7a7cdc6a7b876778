"""The highlighted proposal in full: the tables cut long titles to keep the numbers
in view, so what they cut (and what they have no column for: payee, category, id,
when it was proposed) is spelled out here for the row the keys will act on."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from ssbmoney.tui import words


class ProposalDetail(Static):
    """One proposal, a line or two, under the tables."""

    DEFAULT_CSS = """
    ProposalDetail {
        height: auto;
        padding: 0 1;
        color: $text-muted;
    }
    """

    def show(self, view: dict[str, Any] | None, proposal: dict[str, Any] | None,
             me: str) -> None:
        if view is None or proposal is None:
            self.update("")
            return
        facts = [
            f"{words.status(proposal)}, {words.amount(view, proposal)}",
            f"payee {proposal['payee']}" if proposal["payee"] else "",
            f"category {proposal['category']}" if proposal["category"] else "",
            f"by {words.name_of(view, proposal['author'], me)} on "
            f"{words.claimed(proposal['claimed_ms'])} (claimed, UTC)",
            f"id {proposal['id'][:10]}",
        ]
        self.update(Text.assemble(
            (proposal["title"], "bold"), "  ",
            " · ".join(f for f in facts if f), "\n",
            f"votes: {words.voters(view, proposal)}",
        ))
