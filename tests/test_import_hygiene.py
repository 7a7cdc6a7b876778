"""The core must not import the TUI or network libraries: checked in a clean process."""

from __future__ import annotations

import json
import subprocess
import sys

CORE = [
    "ssbmoney.core.entry", "ssbmoney.core.validate", "ssbmoney.core.content",
    "ssbmoney.core.group", "ssbmoney.core.decide", "ssbmoney.core.facts",
    "ssbmoney.core.ledger", "ssbmoney.core.statehash", "ssbmoney.core.money",
    "ssbmoney.core.keys", "ssbmoney.core.errors", "ssbmoney.core.framing",
    "ssbmoney.store.group_store", "ssbmoney.app.home", "ssbmoney.app.actions",
    "ssbmoney.app.audit", "ssbmoney.cli.commands", "ssbmoney.cli.main", "ssbmoney",
]


def test_core_imports_neither_textual_nor_aiohttp() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {CORE!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('textual', 'aiohttp', 'rich'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == []
