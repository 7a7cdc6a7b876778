"""The code stays ruff-clean, and the package mypy --strict clean (settings in pyproject)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ["scripts/bench", "scripts/gen_vectors", "scripts/gen_demo", "scripts/gen_noise_vectors"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True)


def test_ruff_is_clean() -> None:
    out = _run("ruff", "check", "ssbmoney", "tests", *SCRIPTS)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_is_clean(tmp_path: Path) -> None:
    out = _run("mypy", "--cache-dir", str(tmp_path / "cache"), "ssbmoney")
    assert out.returncode == 0, out.stdout + out.stderr
