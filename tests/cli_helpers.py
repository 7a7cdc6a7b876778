"""Helpers for the end-to-end command-line tests: real subprocesses on real homes.

Imported by ``test_cli.py`` (``tests/`` is on ``sys.path`` under pytest's default
import mode). Nothing here reaches into the running CLI: every command is a fresh
``python -m ssbmoney`` process with ``SSBMONEY_HOME`` unset, so only ``--home``
says where the home is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60

_ENV = {k: v for k, v in os.environ.items() if k != "SSBMONEY_HOME"}
_ENV["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
)


def run(home: Path | str, *args: str) -> tuple[int, str, str]:
    """Run ``ssbmoney --home HOME ARGS...``; returns (exit code, stdout, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "ssbmoney", "--home", str(home), *map(str, args)],
        capture_output=True,
        text=True,
        env=_ENV,
        cwd=REPO_ROOT,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, done.stdout, done.stderr


def one_json(stdout: str) -> dict[str, Any]:
    """The one JSON object that stdout must hold (and nothing else)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one line of JSON on stdout, got {stdout!r}"
    value = json.loads(lines[0])
    assert isinstance(value, dict), f"expected a JSON object, got {value!r}"
    return value


def run_json(home: Path | str, *args: str) -> tuple[int, dict[str, Any], str]:
    """Run with ``--json``; returns (exit code, the one JSON object, stderr)."""
    code, out, err = run(home, *args, "--json")
    return code, one_json(out), err


def ok(home: Path | str, *args: str) -> dict[str, Any]:
    """Run with ``--json``, insist on success, return the object."""
    code, out, err = run(home, *args, "--json")
    assert code == 0, f"ssbmoney {' '.join(args)} exited {code}: {err.strip()} {out.strip()}"
    assert "Traceback" not in err, err
    return one_json(out)


def _is_index(name: str) -> bool:
    return name.startswith("index.sqlite")


def snapshot(home: Path | str) -> dict[str, bytes]:
    """Every file under a home, {relative path: bytes}, except the SQLite index (a
    cache). Directories appear as ``"path/"`` with ``b""``, so a new empty folder also
    counts as a write. A home that does not exist is ``{}``."""
    root = Path(home)
    found: dict[str, bytes] = {}
    if not root.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for name in dirnames:
            found[(base / name).relative_to(root).as_posix() + "/"] = b""
        for name in filenames:
            if _is_index(name):
                continue
            found[(base / name).relative_to(root).as_posix()] = (base / name).read_bytes()
    return found
