"""Pilot helpers for the TUI tests: wait for workers, read the screen as text."""

from __future__ import annotations

import io

from rich.console import Console
from textual.pilot import Pilot
from textual.worker import WorkerState


async def settle(pilot: Pilot[None], pauses: int = 100) -> None:
    """Wait until no worker is pending or running (a finished action starts a
    refresh, so this loops), then let the screen update."""
    app = pilot.app
    for _ in range(pauses):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        busy = [w for w in app.workers if w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
        if not busy:
            return
    raise AssertionError("workers did not finish")


def screen_text(pilot: Pilot[None]) -> str:
    """What the terminal shows, as plain text (as ``App.export_screenshot`` renders
    it, but exported as text instead of SVG)."""
    app = pilot.app
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()
