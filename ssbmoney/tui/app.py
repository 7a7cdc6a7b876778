"""The terminal UI's entry point: open the home's group, or explain what is missing.

Kept small on purpose: the app only decides which screen to show. The group screen
(:mod:`ssbmoney.tui.budget`) does the live view and the actions; the empty screen
(:mod:`ssbmoney.tui.empty`) replaces what would otherwise be a traceback.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from ssbmoney.app.home import Clock, Home, wall_clock_ms
from ssbmoney.core.errors import NoIdentity, SsbMoneyError
from ssbmoney.tui.budget import BudgetScreen
from ssbmoney.tui.empty import EmptyScreen, advice
from ssbmoney.tui.live import Live


class BudgetApp(App[None]):
    """``ssbmoney tui``: one member's live view of one group's budget."""

    TITLE = "ssbmoney"
    ENABLE_COMMAND_PALETTE = False  # every action has its key, shown in the footer
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(
        self,
        home: Path,
        group: str | None = None,
        poll_seconds: float = 1.0,
        *,
        clock: Clock = wall_clock_ms,
    ) -> None:
        super().__init__()
        self.home_path = Path(home)
        self.selector = group
        self.poll_seconds = poll_seconds
        self.clock = clock

    def on_mount(self) -> None:
        self.action_reopen()

    def action_reopen(self) -> None:
        """Open the group (again); on anything missing, say what to run."""
        home = Home(self.home_path, clock=self.clock)
        screen: BudgetScreen | EmptyScreen
        try:
            info = home.group(self.selector)
            screen = BudgetScreen(Live(home, info), self.poll_seconds)
            self.title = f"ssbmoney — {info.name}"
        except NoIdentity:
            screen = EmptyScreen(advice(self.home_path, "This home has no identity yet.", False))
        except SsbMoneyError as err:
            screen = self._no_group(home, err.message)
        if isinstance(self.screen, BudgetScreen | EmptyScreen):
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def _no_group(self, home: Home, problem: str) -> EmptyScreen:
        try:
            groups = home.groups()
            home.identity()
        except NoIdentity:
            return EmptyScreen(advice(self.home_path, "This home has no identity yet.", False))
        except SsbMoneyError as err:
            return EmptyScreen(f"{err.message}\n\nPress r to look again, q to quit.")
        if len(groups) > 1 or (groups and self.selector):
            return EmptyScreen(f"{problem[:1].upper()}{problem[1:]}.\n\nPick a group "
                               "(or start with --group NAME):", groups)
        return EmptyScreen(advice(self.home_path, "This home belongs to no group yet.", True))

    def on_empty_screen_picked(self, event: EmptyScreen.Picked) -> None:
        self.selector = event.group
        self.action_reopen()
