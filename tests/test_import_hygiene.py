"""The core must not import the TUI or network libraries: checked in a clean process."""

from __future__ import annotations

import json
import subprocess
import sys

CORE = [
    "ssbmoney.entry", "ssbmoney.validate", "ssbmoney.content", "ssbmoney.group",
    "ssbmoney.decide", "ssbmoney.facts", "ssbmoney.ledger", "ssbmoney.statehash", "ssbmoney.money",
    "ssbmoney.keys", "ssbmoney.errors", "ssbmoney.store", "ssbmoney.framing",
    "ssbmoney.home", "ssbmoney.actions", "ssbmoney.audit", "ssbmoney.commands",
    "ssbmoney.cli",
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
