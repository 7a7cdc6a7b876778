"""The screen shown when there is nothing to open yet, instead of a traceback.

A first-time user runs ``ssbmoney`` and lands here: it says what this home lacks
(an identity, a group, or which of several groups to show) and the exact commands
to run, and looks again on ``r`` so they can run them in another terminal. When the
home holds several groups, they can be picked from a list.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from ssbmoney.app.home import GroupInfo


def advice(home: Path, problem: str, has_identity: bool) -> str:
    """What to run next, with this home's path filled in so it can be copied."""
    cmd = f"ssbmoney --home {shlex.quote(str(home))}"
    lines = [problem, ""]
    if not has_identity:
        lines += ["Create your identity first:", f"    {cmd} init --name NAME", ""]
    lines += [
        "Then found a group:",
        f"    {cmd} group create NAME --currency EUR",
        "or join one with an invite code from a member:",
        f"    {cmd} group join INVITE",
        "",
        "Press r to look again once that is done, q to quit.",
    ]
    return "\n".join(lines)


class EmptyScreen(Screen[None]):
    """Explains what is missing; posts :class:`Picked` if the user picks a group."""

    class Picked(Message):
        """The user chose one of the home's groups (its id in hex)."""

        def __init__(self, group: str) -> None:
            super().__init__()
            self.group = group

    DEFAULT_CSS = """
    EmptyScreen {
        align: center middle;
    }
    EmptyScreen > Vertical {
        width: auto;
        max-width: 100%;
        height: auto;
        border: round $primary;
        padding: 1 2;
    }
    EmptyScreen #message {
        width: auto;
    }
    EmptyScreen OptionList {
        width: 64;
        height: auto;
        max-height: 12;
        margin-top: 1;
    }
    """
    BINDINGS = [Binding("r", "app.reopen", "Look again")]

    def __init__(self, message: str, groups: list[GroupInfo] | None = None) -> None:
        super().__init__()
        self.message = message
        self.groups = groups or []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.message), id="message")
            if self.groups:
                yield OptionList(
                    *(Option(f"{g.name} ({g.currency})  {g.id.hex()[:12]}", id=g.id.hex())
                      for g in self.groups),
                    id="groups",
                )
        yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.post_message(self.Picked(event.option.id))
