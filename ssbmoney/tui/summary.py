"""The summary bar: how much is there, how much is promised, how much is free.

The one question every member asks at any moment ("how much is left, and what is
already promised?"), so it sits at the top and is never scrolled away. Available is
the balance minus what approved proposals have not yet spent.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ssbmoney.tui import words


class SummaryBar(Static):
    """Group name, currency, and the six money figures of the view."""

    DEFAULT_CSS = """
    SummaryBar {
        height: auto;
        padding: 0 1;
        background: $boost;
        border-bottom: solid $primary 30%;
    }
    """

    def show(self, view: dict[str, Any], group_name: str, me: str) -> None:
        cur = view["currency"]
        title = Text.assemble(
            (view["name"] or group_name, "bold"),
            f"  ·  {cur}",
            (f"  ·  {view['group'][:12]}", "dim"),
        )
        if me not in view["members"]:
            who = Text("you are not a member yet: your entries will not count", style="yellow")
        else:
            who = Text(f"you: {words.name_of(view, me)}", style="dim")
        if view["warnings"]:  # on a small terminal the warnings panel is below the fold
            count = len(view["warnings"])
            who = Text.assemble((f"! {count} warning{'s' if count > 1 else ''}  ", "bold red"),
                                who)
        head = Table.grid(expand=True)
        head.add_column()
        head.add_column(justify="right")
        head.add_row(title, who)
        figures = Table.grid(expand=True, padding=(0, 2))
        names = ("balance", "committed", "available", "deposited", "spent")
        for _ in names:
            figures.add_column(no_wrap=True)
        figures.add_row(*(Text(n, style="dim") for n in names))
        figures.add_row(*(
            Text(words.money(view[n], cur), style="bold" if i < 3 else "")
            for i, n in enumerate(names)
        ))
        outer = Table.grid(expand=True)
        outer.add_row(head)
        outer.add_row(figures)
        self.update(outer)
