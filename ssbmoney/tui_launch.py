"""Start the terminal UI (kept apart so commands never import textual)."""

from __future__ import annotations

from pathlib import Path


def run_tui(home: Path, group: str | None) -> int:
    from ssbmoney.tui.app import BudgetApp

    BudgetApp(home, group).run()
    return 0
