"""The one entry point above both faces: it starts the command line, which hands the
terminal UI's start back here, so neither the CLI nor the TUI imports the other."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ssbmoney.cli.main import main as cli_main
from ssbmoney.core.errors import BadInput


def run_tui(home: Path, group: str | None) -> int:
    if not sys.stdout.isatty():
        raise BadInput("the terminal UI needs a terminal, and this output is not one; "
                       "for scripts use commands such as `ssbmoney status --json`")
    from ssbmoney.tui.app import BudgetApp

    BudgetApp(home, group).run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return cli_main(argv, run_tui=run_tui)


if __name__ == "__main__":
    sys.exit(main())
