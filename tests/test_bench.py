"""scripts/bench: the JSON shape of a quick run (never its timings), and its imports."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "scripts" / "bench"

FIGURES = {
    "append_durable": ("entries/s", "raw_sign"),
    "verify_full": ("entries/s", "raw_verify"),
    "verify_chain": ("entries/s", "raw_verify"),
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


@pytest.fixture(scope="module")
def quick() -> dict[str, dict[str, object]]:
    done = _run("--json", "--quick", "-q", *FIGURES)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)  # exactly one JSON object, nothing else
    assert isinstance(out, dict)
    return out


def test_quick_json_has_every_figure(quick: dict[str, dict[str, object]]) -> None:
    assert set(quick) == set(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_quick_json_figure_shape(quick: dict[str, dict[str, object]], name: str) -> None:
    unit, ratio_to = FIGURES[name]
    figure = quick[name]
    assert figure["unit"] == unit
    assert _positive(figure["value"])
    assert _positive(figure["ratio"])
    assert figure["ratio_to"] == ratio_to


def test_all_figures_by_default_include_the_feed_figures() -> None:
    done = _run("--list")
    assert done.returncode == 0, done.stderr
    names = done.stdout.split()
    assert set(FIGURES) <= set(names)
    assert names[:3] == ["append_durable", "verify_full", "verify_chain"]


def test_unknown_figure_is_bad_usage() -> None:
    done = _run("--json", "--quick", "no_such_figure")
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"]["kind"] == "bad_usage"
    assert "no_such_figure" in done.stderr


def test_table_output_names_the_figure() -> None:
    done = _run("--entries", "2000", "-q", "verify_chain")
    assert done.returncode == 0, done.stderr
    assert "verify_chain" in done.stdout and "raw_verify" in done.stdout


def test_discovery_imports_neither_textual_nor_aiohttp() -> None:
    # Every bench module is imported to find the figures, so none may pull in the
    # TUI or network stacks at import time (they belong inside their functions).
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import ssbmoney.bench as b; b.discover();"
        "print(sorted(m for m in ('textual', 'aiohttp') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
